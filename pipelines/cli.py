"""The ``lowdim`` command line.

Exit codes: 0 success, 2 bad input or configuration (one line on stderr
naming the file or field, usage errors included), 1 internal error, 130 or
143 when SIGINT or SIGTERM stopped a run (which is then ``<run_id>.failed``
with ``error.txt`` saying so). Heavy libraries (torch, Prefect, monai, umap)
are imported only inside the commands, so ``--help`` is fast. Everything a
user can get wrong is checked before Prefect starts.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Sequence

from shared.config import scope_sets
from shared.errors import BadInput

__all__ = ["main", "run", "scope_sets", "build_deployments"]

EPILOG = """\
examples:
  lowdim run lowrank                              synthetic tensor, quick profile
  lowdim run lowrank --data x.h5:/volume --set ranks=[8,8,8]
  lowdim run all --profile quick                  every domain, one after the other
  lowdim run all --set isac.n_trials=5            with `all`, scope --set keys by domain
  lowdim config lowrank --profile full            every --set key: type, default, profile value
  lowdim runs ls lowrank                          what ran, newest last
  lowdim runs show 20261127-181500-ab12cd         metrics, baselines, figures, report
  lowdim runs clean --older-than 7d               remove interrupted and failed runs
  lowdim data ls                                  the dataset manifests
  lowdim serve lowrank --interval 3600            a scheduled deployment on a Prefect server

outputs: <out>/<domain>/<run_id>/ with config.json, metrics.json, report.md,
results.h5 and figures/*.png (default out: ./runs).

exit codes: 0 success; 2 bad input or configuration (one line naming the file or
field); 1 internal error; 130/143 stopped by SIGINT/SIGTERM (the run is marked failed).
"""


class _Parser(argparse.ArgumentParser):
    """argparse with one-line usage errors that exit 2 like every other bad input."""

    def error(self, message: str):  # noqa: D401 - argparse's hook
        raise BadInput(self.prog, f"{message} (see {self.prog} --help)")


def _parser() -> argparse.ArgumentParser:
    from pipelines.registry import REGISTRY

    domains = ", ".join(REGISTRY)
    p = _Parser(
        prog="lowdim", formatter_class=argparse.RawDescriptionHelpFormatter, epilog=EPILOG,
        description="Domain science pipelines (ingest -> reduce -> model -> evaluate) as "
                    "Prefect flows on one low-rank PyTorch core.")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    r = sub.add_parser("run", help="run a domain's flow into a new run directory",
                       description=f"Run one domain ({domains}) or all of them. "
                                   "The run directory is printed as the last line of stdout.")
    r.add_argument("domain", help=f"one of: {domains}, all")
    r.add_argument("--profile", default="quick", choices=["quick", "full"],
                   help="quick: small data, 2 CPU cores, minutes; full: paper scale, GPU if present")
    r.add_argument("--data", help="input file; for HDF5 name the dataset as file.h5:/path/in/file")
    r.add_argument("--dataset", help="a manifest id (see `lowdim data ls`)")
    r.add_argument("--device", default="auto", help="auto (cuda when available), cpu or cuda")
    r.add_argument("--out", default="runs", help="root of the run store (default ./runs)")
    r.add_argument("--seed", type=int, default=0,
                   help="seed in [0, 2**63-5]; the same seed on CPU gives the same metrics "
                        "(timings aside; see the README for each domain's tolerance)")
    r.add_argument("--runner", default="local",
                   help="local (threads) or dask[=ADDRESS] (a local cluster, or the scheduler at ADDRESS)")
    r.add_argument("--set", dest="sets", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config field, e.g. --set ranks=[8,8,8] (YAML values; repeatable; "
                        "dotted keys for sections; with `all`, DOMAIN.KEY=VALUE); "
                        "`lowdim config DOMAIN` lists the keys")
    r.add_argument("-v", "--verbose", action="store_true", help="show Prefect's run logs")

    rs = sub.add_parser("runs", help="list and inspect runs").add_subparsers(dest="runs_cmd", required=True)
    ls = rs.add_parser("ls", help="list runs (completed, failed, partial = running, interrupted)")
    ls.add_argument("domain", nargs="?")
    ls.add_argument("--out", default="runs")
    cl = rs.add_parser("clean", help="remove interrupted and failed runs, saying which")
    cl.add_argument("domain", nargs="?")
    cl.add_argument("--out", default="runs")
    cl.add_argument("--older-than", default="0s", metavar="AGE",
                    help="only runs started at least AGE ago: 90s, 30m, 12h, 7d (default: all)")
    cl.add_argument("--dry-run", action="store_true", help="say what would be removed, remove nothing")
    sh = rs.add_parser("show", help="metrics, baselines, figures and report of one run")
    sh.add_argument("run_id", help="a run id or a unique prefix")
    sh.add_argument("--out", default="runs")
    sh.add_argument("--json", action="store_true", help="print the metrics.json record")

    ds = sub.add_parser("data", help="dataset manifests").add_subparsers(dest="data_cmd", required=True)
    ds.add_parser("ls", help="list manifests")
    info = ds.add_parser("info", help="one manifest in full")
    info.add_argument("id")
    ver = ds.add_parser("verify", help="check files against their sha256 (under $LOWDIM_DATA_DIR/<id>/)")
    ver.add_argument("id", nargs="?")
    ver.add_argument("--dir", help="data directory (default $LOWDIM_DATA_DIR or ./data)")

    cf = sub.add_parser("config", help="every --set key of a domain: type, default, profile value, description")
    cf.add_argument("domain", help=f"one of: {domains}")
    cf.add_argument("--profile", default="quick", choices=["quick", "full"])
    cf.add_argument("--json", action="store_true", help="print the rows as JSON")

    sv = sub.add_parser("serve", help="serve deployments with schedules on a Prefect server",
                        description="Create one deployment per domain and serve them until stopped. "
                                    "Point PREFECT_API_URL at your server first.")
    sv.add_argument("domains", nargs="*", help=f"domains to serve (default: all of {domains})")
    sv.add_argument("--interval", type=float, help="seconds between scheduled runs")
    sv.add_argument("--cron", help="cron schedule, e.g. '0 3 * * *'")
    sv.add_argument("--profile", default="quick", choices=["quick", "full"])
    sv.add_argument("--out", default="runs")
    return p


# ----------------------------------------------------------------------- run
def _task_runner(spec: str):
    if spec == "local":
        return None
    if spec.startswith("dask"):
        from prefect_dask import DaskTaskRunner

        address = spec.split("=", 1)[1] if "=" in spec else None
        if address:
            return DaskTaskRunner(address=address)
        return DaskTaskRunner(cluster_kwargs={"n_workers": 1, "processes": False,
                                              "dashboard_address": ":0"})
    raise BadInput("--runner", f"unknown runner '{spec}' (use local or dask[=ADDRESS])")


def check_run_inputs(a: argparse.Namespace) -> dict[str, list[str]]:
    """Everything about a ``run`` that can be checked without Prefect; ``--set`` per domain.

    Seed, ``--out``, ``--data``'s file, the device, every domain's config and
    its ``check`` of the data's headers: a user's mistake costs no Prefect
    start-up (10-40 s in ephemeral mode) and leaves no run directory.
    """
    from pipelines.registry import REGISTRY, get
    from shared.device import resolve
    from shared.h5data import check_file, split_spec
    from shared.runs import check_out, check_seed

    names = list(REGISTRY) if a.domain == "all" else [get(a.domain).name]
    sets = scope_sets(a.sets, names) if a.domain == "all" else {names[0]: list(a.sets)}
    check_seed(a.seed)
    check_out(a.out)
    if not (a.runner == "local" or a.runner == "dask" or a.runner.startswith("dask=")):
        raise BadInput("--runner", f"unknown runner '{a.runner}' (use local or dask[=ADDRESS])")
    if a.data:
        check_file(split_spec(a.data)[0], allow_dir=True)  # a domain may read a folder
    cfgs = {}
    for n in names:  # every config first, from the light config modules: a typo fails in < 1 s
        try:
            cfgs[n] = get(n).resolve_config(a.profile, sets[n])
        except BadInput as err:
            if a.domain == "all" and err.where.startswith("--set "):  # name the key as given
                raise BadInput(f"--set {n}.{err.where[6:]}", err.message) from None
            raise
    for n in names:
        get(n).load_check()(a.data, a.dataset, cfgs[n])  # from a light module where the domain has one
    resolve(a.device)  # cuda without a GPU is a bad input (this imports torch, so it comes last)
    return sets


def cmd_run(a: argparse.Namespace) -> int:
    from pipelines import env, watchdog
    from pipelines.registry import get

    sets = check_run_inputs(a)
    watchdog.start()  # the temporary Prefect server must not outlive this process
    env.configure(quiet=not a.verbose)
    runner = _task_runner(a.runner)
    for n, domain_sets in sets.items():
        fl = get(n).load_flow()
        if runner is not None:
            fl = fl.with_options(task_runner=runner)
        run_dir = fl(profile=a.profile, data=a.data, dataset=a.dataset, device=a.device,
                     out=a.out, seed=a.seed, sets=domain_sets)
        print(run_dir, flush=True)
    return 0


# ---------------------------------------------------------------------- runs
def parse_age(text: str) -> float:
    """``"90s"``, ``"30m"``, ``"12h"``, ``"7d"`` or plain seconds, in seconds."""
    import math

    units = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
    t = text.strip().lower()
    try:
        v = float(t[:-1]) * units[t[-1]] if t and t[-1] in units else float(t)
    except ValueError:
        v = float("nan")
    if not math.isfinite(v) or v < 0:
        raise BadInput("--older-than", f"expected an age such as 90s, 30m, 12h or 7d, got {text!r}")
    return v


def cmd_runs(a: argparse.Namespace) -> int:
    from pathlib import Path

    from pipelines.registry import REGISTRY, get
    from shared.runs import clean_runs, find_run, list_runs, load_run

    if getattr(a, "domain", None) and a.domain not in REGISTRY and not (Path(a.out) / a.domain).is_dir():
        get(a.domain)  # an unknown domain with no runs: BadInput naming it
    if a.runs_cmd == "clean":
        gone = clean_runs(a.out, parse_age(a.older_than), a.domain, dry_run=a.dry_run)
        verb = "would remove" if a.dry_run else "removed"
        for r in gone:
            print(f"{verb} {r.status:<11} {r.path}")
        print(f"{verb} {len(gone)} run(s) under {a.out}" if gone else f"nothing to clean under {a.out}")
        return 0
    if a.runs_cmd == "ls":
        runs = list_runs(a.out, a.domain)
        if not runs:
            print(f"no runs under {a.out}")
            return 0
        print(f"{'run_id':<24} {'domain':<8} {'status':<11} headline")
        broken = 0
        for r in runs:
            head, status = "", r.status
            if r.status == "completed":
                try:
                    m = load_run(r)["metrics"]["metrics"]
                    head = ", ".join(f"{k}={_fmt(v)}" for k, v in list(m.items())[:3])
                except BadInput as err:  # name the file, list the others
                    print(f"error: {err}", file=sys.stderr)
                    status, head, broken = "unreadable", "see stderr", broken + 1
            print(f"{r.run_id:<24} {r.domain:<8} {status:<11} {head}")
        return 2 if broken else 0
    info = find_run(a.out, a.run_id)
    if info is None:
        raise BadInput(f"run {a.run_id}", f"no single run with this id under {a.out}")
    rec = load_run(info)
    if a.json:
        print(json.dumps(rec["metrics"], indent=2))
        return 0
    print(f"{rec['domain']} run {rec['run_id']} ({rec['status']}) at {rec['path']}")
    if rec["error"]:
        print("error: " + rec["error"].splitlines()[0])
    if rec["metrics"]:
        m = rec["metrics"]
        print(f"profile {m['profile']}, device {m['device']}, seed {m['seed']}, data {m['data']['source']}")
        print("seconds: " + ", ".join(f"{k} {v:.2f}" for k, v in m["seconds"].items()))
        print("metrics:")
        for k, v in m["metrics"].items():
            print(f"  {k:<28} {_fmt(v)}")
        for method, ms in m["baselines"].items():
            print(f"baseline {method}:")
            for k, v in ms.items():
                print(f"  {k:<28} {_fmt(v)}")
        i = m["intrinsic_dimension"]
        print(f"intrinsic dimension ({i['estimator']}): {_fmt(i['value'])}")
    for f in rec["figures"]:
        print(f"figure: {f}")
    if rec["results"]:
        print(f"results: {rec['results']}")
    if rec["report"]:
        print(f"report: {rec['path']}/report.md")
    return 0


def _fmt(v: float) -> str:
    return f"{v:.4g}" if isinstance(v, float) else str(v)


# ---------------------------------------------------------------------- data
def cmd_data(a: argparse.Namespace) -> int:
    from pathlib import Path

    from shared import manifests

    if a.data_cmd == "ls":
        for m in manifests.all_manifests().values():
            print(f"{m.id:<28} {m.domain:<8} {m.access:<12} {m.title}")
        return 0
    if a.data_cmd == "info":
        print(manifests.get_manifest(a.id, where=f"dataset {a.id!r}").model_dump_json(indent=2))
        return 0
    base = Path(a.dir) if a.dir else manifests.data_dir()
    ms = [manifests.get_manifest(a.id, where=f"dataset {a.id!r}")] if a.id else list(manifests.all_manifests().values())
    problems: dict[str, list[str]] = {}
    for m in ms:
        if not m.files:
            print(f"{m.id}: {m.access}, no files to verify")
            continue
        if not a.id and not (base / m.id).is_dir():
            # verifying everything: a dataset never downloaded is not an error
            print(f"{m.id}: not downloaded (no {base / m.id}/)")
            continue
        for name, status in manifests.verify(m, base):
            print(f"{m.id}/{name}: {status}")
            if status in ("missing", "sha256 mismatch"):
                problems.setdefault(status, []).append(f"{m.id}/{name}")
    if problems:
        parts = [f"{k}: {', '.join(v)}" for k, v in problems.items()]
        raise BadInput(str(base), "; ".join(parts))
    return 0


# -------------------------------------------------------------------- config
def cmd_config(a: argparse.Namespace) -> int:
    from pipelines.registry import get
    from shared.config import describe

    spec = get(a.domain).load_spec()
    if a.profile not in spec.profiles:
        raise BadInput("--profile", f"unknown profile '{a.profile}' for {spec.name}")
    rows = describe(spec.config, spec.profiles[a.profile])
    if a.json:
        print(json.dumps(rows, indent=2))
        return 0
    show = lambda v: json.dumps(v) if not isinstance(v, str) else v  # noqa: E731
    table = [(r["key"], r["type"], show(r["default"]), show(r["profile"]), r["description"]) for r in rows]
    head = ("key", "type", "default", a.profile, "description")
    widths = [min(36, max(len(t[i]) for t in [head, *table])) for i in range(4)]
    print(f"{spec.name}: --set KEY=VALUE (YAML values); profile {a.profile}")
    for t in [head, *table]:
        print("  ".join(c.ljust(w) for c, w in zip(t[:4], widths)) + "  " + t[4])
    return 0


# --------------------------------------------------------------------- serve
def check_schedule(interval: float | None, cron: str | None) -> None:
    """A schedule is one positive, finite ``--interval`` or one valid ``--cron``."""
    import math

    if interval is None and cron is None:
        raise BadInput("--interval/--cron", "give a schedule")
    if interval is not None and cron is not None:
        raise BadInput("--interval/--cron", "give one schedule, not both")
    if interval is not None and not (math.isfinite(interval) and interval > 0):
        raise BadInput("--interval", f"must be a positive number of seconds, got {interval}")
    if cron is not None:
        from prefect._internal.schemas.validators import validate_cron_string

        try:
            validate_cron_string(cron)
        except ValueError:
            raise BadInput("--cron", f"not a cron expression: {cron!r} (e.g. '0 3 * * *')") from None


def build_deployments(domains: list[str], *, interval: float | None, cron: str | None,
                      profile: str, out: str) -> list:
    """One Prefect deployment per domain, named ``<domain>-<profile>``, on a schedule."""
    from pipelines.registry import REGISTRY, get

    check_schedule(interval, cron)
    return [get(n).load_flow().to_deployment(
        name=f"{n}-{profile}", interval=interval, cron=cron,
        parameters={"profile": profile, "out": out}) for n in domains or list(REGISTRY)]


def cmd_serve(a: argparse.Namespace) -> int:
    import asyncio
    import threading

    from pipelines import env, watchdog
    from pipelines.registry import get

    for n in a.domains:
        get(n)
    env.configure(quiet=False)
    check_schedule(a.interval, a.cron)
    watchdog.start()
    deployments = build_deployments(a.domains, interval=a.interval, cron=a.cron,
                                    profile=a.profile, out=a.out)
    from prefect.runner import Runner

    # The runner runs in a thread, so that the main thread keeps the signal
    # handlers (the runner would install its own SIGTERM handler, which waits
    # for a graceful shutdown). On a signal, the runner gets 5 s to stop.
    runner = Runner(pause_on_shutdown=True)
    for d in deployments:
        runner.add_deployment(d)
    errors: list[BaseException] = []

    def serve_forever() -> None:
        try:
            asyncio.run(runner.start())
        except BaseException as err:  # noqa: BLE001 - reported by the main thread
            errors.append(err)

    def stop(signum: int) -> None:
        loop = getattr(runner, "_loop", None)
        if loop is not None and loop.is_running():
            asyncio.run_coroutine_threadsafe(runner.astop(), loop).result(timeout=5)

    from shared.interrupts import stop_on_signals

    t = threading.Thread(target=serve_forever, name="lowdim-serve", daemon=True)
    with stop_on_signals(before_exit=stop):
        t.start()
        print(f"serving {', '.join(d.name for d in deployments)} (Ctrl-C stops)", file=sys.stderr, flush=True)
        while t.is_alive():
            t.join(0.5)
    if errors:
        raise errors[0]
    return 0


COMMANDS = {"run": cmd_run, "runs": cmd_runs, "data": cmd_data, "config": cmd_config,
            "serve": cmd_serve}


def _dispatch(args: argparse.Namespace) -> int:
    if args.command not in ("run", "serve"):
        return COMMANDS[args.command](args)
    # A run or a server: SIGINT/SIGTERM mark the run failed and end the process
    # at once with 130/143 (shared.interrupts), whatever Prefect is doing.
    from shared.interrupts import set_exit_on_signal, stop_on_signals

    set_exit_on_signal(True)
    try:
        with stop_on_signals():
            return COMMANDS[args.command](args)
    finally:
        set_exit_on_signal(False)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``lowdim`` console script; returns the exit code."""
    try:
        args = _parser().parse_args(argv)
        return _dispatch(args)
    except BadInput as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # `lowdim runs show ... | head`: the reader left, not an error
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as err:  # the run's error.txt keeps the traceback
        print(f"internal error: {type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}",
              file=sys.stderr)
        return 1



def run() -> None:
    """Console-script wrapper: exit with :func:`main`'s code."""
    sys.exit(main())


if __name__ == "__main__":
    run()
