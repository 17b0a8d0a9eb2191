"""The run store: one directory per run, written atomically.

Layout (DESIGN.md, "Run directory")::

    <out>/<domain>/<run_id>.partial/   while the run is in progress
    <out>/<domain>/<run_id>/           after it completed (renamed)
    <out>/<domain>/<run_id>.failed/    after it failed; holds error.txt

A completed directory holds ``config.json``, ``metrics.json``, ``report.md``,
``results.h5`` and ``figures/*.png``. Only the final rename makes a run look
complete, so a crash can never leave a directory that passes for a result.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import os
import secrets
import traceback
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, field_validator

PARTIAL, FAILED = ".partial", ".failed"
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


def start_run(out: str | os.PathLike, domain: str, *, profile: str, device: str, seed: int,
              config: dict[str, Any], data: str | None = None, dataset: str | None = None,
              run_id: str | None = None) -> RunContext:
    """Create ``<out>/<domain>/<run_id>.partial/`` and write ``config.json``."""
    run_id = run_id or new_run_id()
    partial = Path(out) / domain / f"{run_id}{PARTIAL}"
    (partial / "figures").mkdir(parents=True, exist_ok=False)
    ctx = RunContext(domain=domain, run_id=run_id, run_dir=str(partial), profile=profile,
                     device=device, seed=seed, config=config, data=data, dataset=dataset)
    payload = {"domain": domain, "run_id": run_id, "profile": profile, "device": device,
               "seed": seed, "data": data, "dataset": dataset, "config": config, "versions": package_versions(),
               "started_utc": _dt.datetime.now(_dt.timezone.utc).isoformat()}
    _write_json(partial / "config.json", payload)
    return ctx


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
    (partial / "report.md").write_text(report_md)
    _write_json(partial / "metrics.json", record.model_dump(mode="json"))
    final = partial.with_name(ctx.run_id)
    partial.rename(final)
    return final


def fail_run(ctx: RunContext, exc: BaseException) -> Path:
    """Write ``error.txt`` and rename the run to ``<run_id>.failed``."""
    partial = Path(ctx.run_dir)
    failed = partial.with_name(ctx.run_id + FAILED)
    if not partial.exists():
        return failed
    text = f"{type(exc).__name__}: {exc}\n\n" + "".join(
        traceback.format_exception(type(exc), exc, exc.__traceback__))
    (partial / "error.txt").write_text(text)
    # a metrics.json in a failed run would let a reader mistake it for a result
    (partial / "metrics.json").unlink(missing_ok=True)
    partial.rename(failed)
    return failed


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
    status: str  # completed | failed | partial
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
                runs.append(RunInfo(d, p.name[: -len(PARTIAL)], "partial", p))
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


def load_run(info: RunInfo) -> dict[str, Any]:
    """Config, metrics, report text and file lists of one run."""
    p = info.path
    rec: dict[str, Any] = {"domain": info.domain, "run_id": info.run_id, "status": info.status,
                           "path": str(p)}
    for name in ("config", "metrics"):
        f = p / f"{name}.json"
        rec[name] = json.loads(f.read_text()) if f.is_file() else None
    rec["report"] = (p / "report.md").read_text() if (p / "report.md").is_file() else None
    rec["error"] = (p / "error.txt").read_text() if (p / "error.txt").is_file() else None
    rec["figures"] = sorted(str(f) for f in (p / "figures").glob("*.png")) if (p / "figures").is_dir() else []
    rec["results"] = str(p / "results.h5") if (p / "results.h5").is_file() else None
    return rec
