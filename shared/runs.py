"""The run store: one directory per run, written atomically.

Layout (DESIGN.md, "Run directory")::

    <out>/<domain>/<run_id>.partial/   while the run is in progress
    <out>/<domain>/<run_id>/           after it completed (renamed)
    <out>/<domain>/<run_id>.failed/    after it failed; holds error.txt

A completed directory holds ``config.json``, ``metrics.json``, ``report.md``,
``results.h5`` and ``figures/*.png``. Only the final rename makes a run look
complete, so a crash can never leave a directory that passes for a result.

A partial directory also holds ``owner.json`` (process id, host, start time):
a partial run whose process is gone is listed as ``interrupted``, and
:func:`clean_runs` removes interrupted and failed runs. Runs in progress in
this process are registered, so a signal handler can mark them failed
(:func:`fail_active_runs`).
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import os
import secrets
import shutil
import socket
import tempfile
import threading
import traceback
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from shared.errors import BadInput

PARTIAL, FAILED = ".partial", ".failed"
OWNER = "owner.json"
STEPS = ("ingest", "reduce", "model", "evaluate")
_VERSIONED = ("lowdim", "torch", "numpy", "scipy", "tensorly", "prefect", "h5py",
              "scikit-learn", "monai", "mne", "rasterio", "umap-learn", "pydantic")


# --------------------------------------------------------------------------- schema
class DataInfo(BaseModel):
    model_config = ConfigDict(extra="forbid")
    source: str
    sha256: str | None = None
    synthetic: bool


class IntrinsicDimension(BaseModel):
    model_config = ConfigDict(extra="forbid")
    estimator: str
    value: float


class MetricsFile(BaseModel):
    """Schema of ``metrics.json``; validated before a run is marked complete."""

    model_config = ConfigDict(extra="forbid")
    domain: str
    run_id: str
    profile: str
    device: str
    seed: int
    status: Literal["completed"]
    seconds: dict[str, float]
    data: DataInfo
    metrics: dict[str, float]
    baselines: dict[str, dict[str, float]]
    intrinsic_dimension: IntrinsicDimension

    @field_validator("seconds")
    @classmethod
    def _all_steps(cls, v: dict[str, float]) -> dict[str, float]:
        missing = [s for s in STEPS if s not in v]
        if missing:
            raise ValueError(f"missing step timings: {missing}")
        return v

    @field_validator("metrics")
    @classmethod
    def _snake_case(cls, v: dict[str, float]) -> dict[str, float]:
        bad = [k for k in v if k != k.lower() or " " in k]
        if bad:
            raise ValueError(f"metric names must be lower_snake_case: {bad}")
        return v


# --------------------------------------------------------------------------- context
def new_run_id() -> str:
    """A sortable, unique run id: ``YYYYmmdd-HHMMSS-xxxxxx``."""
    now = _dt.datetime.now(_dt.timezone.utc).strftime("%Y%m%d-%H%M%S")
    return f"{now}-{secrets.token_hex(3)}"


@dataclass
class RunContext:
    """What every step needs to know about its run; small and JSON-serialisable.

    Steps receive this record (not arrays) and write their outputs under
    ``run_dir``, which is the ``.partial`` directory while the run is going.
    """

    domain: str
    run_id: str
    run_dir: str
    profile: str
    device: str
    seed: int
    config: dict[str, Any] = field(default_factory=dict)
    data: str | None = None  # --data: a file, or file.h5:/dataset
    dataset: str | None = None  # --dataset: a manifest id

    def path(self, name: str) -> Path:
        """Path of a file inside the run directory."""
        return Path(self.run_dir) / name

    @property
    def figures(self) -> Path:
        return Path(self.run_dir) / "figures"

    @property
    def results_h5(self) -> Path:
        return Path(self.run_dir) / "results.h5"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def package_versions() -> dict[str, str]:
    """Installed versions of the packages a result depends on."""
    from importlib import metadata

    out = {}
    for name in _VERSIONED:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return out


def check_out(out: str | os.PathLike) -> Path:
    """Check that runs can be written under ``out``, creating nothing.

    Raises
    ------
    BadInput
        ``--out`` lies under a regular file, or its nearest existing
        directory is not writable.
    """
    p = Path(out)
    if p.exists() and not p.is_dir():
        raise BadInput("--out", f"{p} is a file, not a directory")
    anchor = p
    while not anchor.exists():
        anchor = anchor.parent
    if not anchor.is_dir():
        raise BadInput("--out", f"{p} lies under {anchor}, which is a file, not a directory")
    try:  # os.access is not enough: root passes it on read-only or virtual file systems
        os.rmdir(tempfile.mkdtemp(prefix=".lowdim-write-test-", dir=anchor))
    except OSError as err:
        raise BadInput("--out", f"cannot write under {anchor} ({err.strerror or type(err).__name__})") from None
    return p


def check_seed(seed: Any) -> int:
    """The seed as an int in ``[0, 2**63 - 5]`` (each step adds its index to it)."""
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= MAX_SEED:
        raise BadInput("--seed", f"must be an integer in [0, 2**63 - 5], got {seed!r}")
    return seed


MAX_SEED = 2**63 - 5

#: Runs in progress in this process: run_dir -> context (see fail_active_runs).
_ACTIVE: dict[str, RunContext] = {}
#: Held while a run directory is renamed, so a signal handler and a finishing
#: step never rename the same run. Reentrant: the handler may run in the
#: thread that holds it.
_RENAME = threading.RLock()


def start_run(out: str | os.PathLike, domain: str, *, profile: str, device: str, seed: int,
              config: dict[str, Any], data: str | None = None, dataset: str | None = None,
              run_id: str | None = None) -> RunContext:
    """Create ``<out>/<domain>/<run_id>.partial/`` and write ``config.json`` and ``owner.json``."""
    run_id = run_id or new_run_id()
    partial = Path(out) / domain / f"{run_id}{PARTIAL}"
    try:
        (partial / "figures").mkdir(parents=True, exist_ok=False)
    except OSError as err:
        raise BadInput("--out", f"cannot create {partial} ({err.strerror or type(err).__name__})") from None
    ctx = RunContext(domain=domain, run_id=run_id, run_dir=str(partial), profile=profile,
                     device=device, seed=seed, config=config, data=data, dataset=dataset)
    started = _dt.datetime.now(_dt.timezone.utc).isoformat()
    _write_json(partial / OWNER, {"pid": os.getpid(), "host": socket.gethostname(),
                                  "create_time": _create_time(os.getpid()), "started_utc": started})
    payload = {"domain": domain, "run_id": run_id, "profile": profile, "device": device,
               "seed": seed, "data": data, "dataset": dataset, "config": config, "versions": package_versions(),
               "started_utc": started}
    _write_json(partial / "config.json", payload)
    with _RENAME:
        _ACTIVE[ctx.run_dir] = ctx
    return ctx


def _create_time(pid: int) -> float | None:
    import psutil

    try:
        return psutil.Process(pid).create_time()
    except psutil.Error:
        return None


def owner_alive(run_dir: str | os.PathLike) -> bool | None:
    """Whether the process that owns a partial run is still running.

    ``None`` when unknown: no ``owner.json`` (an older run) or another host.
    A recorded start time guards against a recycled process id.
    """
    import psutil

    try:
        owner = json.loads((Path(run_dir) / OWNER).read_text())
    except (OSError, ValueError):
        return None
    if owner.get("host") != socket.gethostname():
        return None
    pid = owner.get("pid")
    if not isinstance(pid, int) or not psutil.pid_exists(pid):
        return False
    t, t0 = _create_time(pid), owner.get("create_time")
    return t is not None and (t0 is None or abs(t - t0) < 1.0)


def complete_run(ctx: RunContext, metrics: dict[str, Any], report_md: str) -> Path:
    """Validate and write ``metrics.json`` and ``report.md``, then rename the run.

    Returns
    -------
    Path
        The final run directory ``<out>/<domain>/<run_id>``.
    """
    record = MetricsFile.model_validate(
        {"domain": ctx.domain, "run_id": ctx.run_id, "profile": ctx.profile,
         "device": ctx.device, "seed": ctx.seed, "status": "completed", **metrics})
    partial = Path(ctx.run_dir)
    for name, v in record.metrics.items():
        if not math.isfinite(v):
            raise ValueError(f"metric {name} is not finite: {v}")
    with _RENAME:
        if ctx.run_dir not in _ACTIVE and not partial.exists():
            raise RuntimeError(f"run {ctx.run_id} was already marked failed (interrupted)")
        (partial / "report.md").write_text(report_md)
        _write_json(partial / "metrics.json", record.model_dump(mode="json"))
        (partial / OWNER).unlink(missing_ok=True)
        final = partial.with_name(ctx.run_id)
        partial.rename(final)
        _ACTIVE.pop(ctx.run_dir, None)
    return final


def fail_run(ctx: RunContext, exc: BaseException) -> Path:
    """Write ``error.txt`` and rename the run to ``<run_id>.failed``."""
    partial = Path(ctx.run_dir)
    failed = partial.with_name(ctx.run_id + FAILED)
    with _RENAME:
        _ACTIVE.pop(ctx.run_dir, None)
        if not partial.exists():
            return failed
        if isinstance(exc, BadInput):  # a file inside the run (inputs/...) is named where it will be
            exc.where = exc.where.replace(str(partial), str(failed))
            exc.message = exc.message.replace(str(partial), str(failed))
        text = f"{type(exc).__name__}: {exc}\n\n" + "".join(
            traceback.format_exception(type(exc), exc, exc.__traceback__))
        (partial / "error.txt").write_text(text.replace(str(partial), str(failed)))
        # a metrics.json in a failed run would let a reader mistake it for a result
        (partial / "metrics.json").unlink(missing_ok=True)
        (partial / OWNER).unlink(missing_ok=True)
        partial.rename(failed)
    return failed


def fail_active_runs(exc: BaseException) -> list[Path]:
    """Mark every run in progress in this process failed with ``exc`` (e.g. an interrupt)."""
    with _RENAME:
        return [fail_run(ctx, exc) for ctx in list(_ACTIVE.values())]


def _write_json(path: Path, payload: dict[str, Any]) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(payload, indent=2, sort_keys=False, default=_json_default) + "\n")
    tmp.replace(path)


def _json_default(o: Any) -> Any:
    if hasattr(o, "item"):
        return o.item()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON-serialisable: {type(o).__name__}")


# --------------------------------------------------------------------------- results.h5
def write_array(h5, name: str, array: Any, *, unit: str, **attrs: Any) -> None:
    """Write one array into an open ``h5py.File`` with its unit in ``attrs``.

    Parameters
    ----------
    h5 : h5py.File or h5py.Group
    name : str
        Dataset path, groups are created as needed.
    array : array-like or torch.Tensor
        Moved to CPU/NumPy here, at the end of a step, never in a hot loop.
    unit : str
        Physical unit, ``"1"`` for dimensionless.
    """
    if hasattr(array, "detach"):
        array = array.detach().cpu().numpy()
    if name in h5:
        del h5[name]
    ds = h5.create_dataset(name, data=array)
    ds.attrs["unit"] = unit
    for k, v in attrs.items():
        ds.attrs[k] = v


# --------------------------------------------------------------------------- reader
@dataclass
class RunInfo:
    """One entry of ``lowdim runs ls``."""

    domain: str
    run_id: str
    status: str  # completed | failed | partial (running) | interrupted (its process is gone)
    path: Path


def list_runs(out: str | os.PathLike, domain: str | None = None) -> list[RunInfo]:
    """All runs under ``out``, oldest first (run ids sort by time)."""
    root = Path(out)
    if not root.is_dir():
        return []
    domains = [domain] if domain else sorted(p.name for p in root.iterdir() if p.is_dir())
    runs: list[RunInfo] = []
    for d in domains:
        ddir = root / d
        if not ddir.is_dir():
            continue
        for p in sorted(ddir.iterdir()):
            if not p.is_dir():
                continue
            if p.name.endswith(PARTIAL):
                status = "interrupted" if owner_alive(p) is False else "partial"
                runs.append(RunInfo(d, p.name[: -len(PARTIAL)], status, p))
            elif p.name.endswith(FAILED):
                runs.append(RunInfo(d, p.name[: -len(FAILED)], "failed", p))
            elif (p / "metrics.json").is_file():
                runs.append(RunInfo(d, p.name, "completed", p))
    return sorted(runs, key=lambda r: (r.run_id, r.domain))


def find_run(out: str | os.PathLike, run_id: str) -> RunInfo | None:
    """The run with this id (a unique prefix is enough)."""
    hits = [r for r in list_runs(out) if r.run_id == run_id]
    if not hits:
        hits = [r for r in list_runs(out) if r.run_id.startswith(run_id)]
    return hits[0] if len(hits) == 1 else None


def read_json(path: Path) -> dict[str, Any]:
    """A JSON object from a run directory; a BadInput naming the file when it is broken."""
    try:
        obj = json.loads(path.read_text())
    except OSError as err:
        raise BadInput(str(path), f"cannot read ({err.strerror or type(err).__name__})") from None
    except ValueError as err:
        raise BadInput(str(path), f"not valid JSON (truncated or corrupt: {err})") from None
    if not isinstance(obj, dict):
        raise BadInput(str(path), f"expected a JSON object, got {type(obj).__name__}")
    return obj


def read_metrics(path: Path) -> dict[str, Any]:
    """A ``metrics.json``, checked against :class:`MetricsFile`; BadInput naming the file."""
    obj = read_json(path)
    try:
        MetricsFile.model_validate(obj)
    except ValidationError as err:
        e = err.errors()[0]
        key = ".".join(str(x) for x in e["loc"])
        what = f"missing key '{key}'" if e["type"] == "missing" else f"'{key}': {e['msg']}"
        raise BadInput(str(path), f"{what} (not a lowdim metrics file)") from None
    return obj


def load_run(info: RunInfo) -> dict[str, Any]:
    """Config, metrics, report text and file lists of one run.

    Raises
    ------
    BadInput
        When ``config.json`` or ``metrics.json`` is truncated, not JSON, or
        (metrics) misses keys; the message names the file.
    """
    p = info.path
    rec: dict[str, Any] = {"domain": info.domain, "run_id": info.run_id, "status": info.status,
                           "path": str(p)}
    rec["config"] = read_json(p / "config.json") if (p / "config.json").is_file() else None
    rec["metrics"] = read_metrics(p / "metrics.json") if (p / "metrics.json").is_file() else None
    rec["report"] = (p / "report.md").read_text() if (p / "report.md").is_file() else None
    rec["error"] = (p / "error.txt").read_text() if (p / "error.txt").is_file() else None
    rec["figures"] = sorted(str(f) for f in (p / "figures").glob("*.png")) if (p / "figures").is_dir() else []
    rec["results"] = str(p / "results.h5") if (p / "results.h5").is_file() else None
    return rec


def run_age_s(info: RunInfo, now: _dt.datetime | None = None) -> float:
    """Seconds since the run started (from its id; the directory's mtime otherwise)."""
    now = now or _dt.datetime.now(_dt.timezone.utc)
    try:
        t = _dt.datetime.strptime(info.run_id[:15], "%Y%m%d-%H%M%S").replace(tzinfo=_dt.timezone.utc)
    except ValueError:
        t = _dt.datetime.fromtimestamp(info.path.stat().st_mtime, _dt.timezone.utc)
    return (now - t).total_seconds()


def clean_runs(out: str | os.PathLike, older_than_s: float = 0.0, domain: str | None = None,
               dry_run: bool = False) -> list[RunInfo]:
    """Remove interrupted and failed runs at least ``older_than_s`` old; return them.

    Completed runs and partial runs whose process is alive (or unknown) are kept.
    """
    gone = [r for r in list_runs(out, domain)
            if r.status in ("interrupted", "failed") and run_age_s(r) >= older_than_s]
    if not dry_run:
        for r in gone:
            shutil.rmtree(r.path)
    return gone
