"""The ``lowdim`` command line.

Exit codes: 0 success, 2 bad input or configuration (one line on stderr
naming the file or field), 1 internal error. Heavy libraries (torch, Prefect,
monai, umap) are imported only inside the commands, so ``--help`` is fast.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Sequence

from shared.errors import BadInput

EPILOG = """\
examples:
  lowdim run lowrank                              synthetic tensor, quick profile
  lowdim run lowrank --data x.h5:/volume --set ranks=[8,8,8]
  lowdim run all --profile quick                  every domain, one after the other
  lowdim runs ls lowrank                          what ran, newest last
  lowdim runs show 20261127-181500-ab12cd         metrics, baselines, figures, report
  lowdim data ls                                  the dataset manifests
  lowdim serve lowrank --interval 3600            a scheduled deployment on a Prefect server

outputs: <out>/<domain>/<run_id>/ with config.json, metrics.json, report.md,
results.h5 and figures/*.png (default out: ./runs).
"""


def _parser() -> argparse.ArgumentParser:
    from pipelines.registry import REGISTRY

    domains = ", ".join(REGISTRY)
    p = argparse.ArgumentParser(
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
    r.add_argument("--seed", type=int, default=0, help="seed; the same seed on CPU gives the same metrics")
    r.add_argument("--runner", default="local",
                   help="local (threads) or dask[=ADDRESS] (a local cluster, or the scheduler at ADDRESS)")
    r.add_argument("--set", dest="sets", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config field, e.g. --set ranks=[8,8,8] (YAML values; repeatable)")
    r.add_argument("-v", "--verbose", action="store_true", help="show Prefect's run logs")

    rs = sub.add_parser("runs", help="list and inspect runs").add_subparsers(dest="runs_cmd", required=True)
    ls = rs.add_parser("ls", help="list runs (completed, failed, partial)")
    ls.add_argument("domain", nargs="?")
    ls.add_argument("--out", default="runs")
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


def cmd_run(a: argparse.Namespace) -> int:
    from pipelines import env
    from pipelines.registry import REGISTRY, get

    names = list(REGISTRY) if a.domain == "all" else [get(a.domain).name]
    # Validate every config and the data path before Prefect starts: a typo then
    # costs no server start-up (10-40 s in ephemeral mode).
    if a.data:
        from pathlib import Path

        file_part = a.data if Path(a.data).exists() else a.data.rsplit(":", 1)[0]
        if not Path(file_part).is_file():
            raise BadInput(file_part, "file not found")
    from shared.device import resolve

    resolve(a.device)  # cuda without a GPU is a bad input, found before Prefect starts
    for n in names:
        spec = get(n).load_spec()
        cfg = spec.resolve_config(a.profile, a.sets if a.domain != "all" else [])
        spec.check(a.data, a.dataset, cfg)  # headers, dtypes, shapes: no run dir, no Prefect
    env.configure(quiet=not a.verbose)
    runner = _task_runner(a.runner)
    dirs = []
    for n in names:
        fl = get(n).load_flow()
        if runner is not None:
            fl = fl.with_options(task_runner=runner)
        dirs.append(fl(profile=a.profile, data=a.data, dataset=a.dataset, device=a.device,
                       out=a.out, seed=a.seed, sets=a.sets if a.domain != "all" else []))
        print(dirs[-1], flush=True)
    return 0


# ---------------------------------------------------------------------- runs
def cmd_runs(a: argparse.Namespace) -> int:
    from shared.runs import find_run, list_runs, load_run

    if a.runs_cmd == "ls":
        runs = list_runs(a.out, a.domain)
        if not runs:
            print(f"no runs under {a.out}")
            return 0
        print(f"{'run_id':<24} {'domain':<8} {'status':<10} headline")
        for r in runs:
            head = ""
            if r.status == "completed":
                m = load_run(r)["metrics"]["metrics"]
                head = ", ".join(f"{k}={_fmt(v)}" for k, v in list(m.items())[:3])
            print(f"{r.run_id:<24} {r.domain:<8} {r.status:<10} {head}")
        return 0
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
    from shared.manifests import all_manifests, get_manifest, verify

    if a.data_cmd == "ls":
        for m in all_manifests().values():
            print(f"{m.id:<28} {m.domain:<8} {m.access:<12} {m.title}")
        return 0
    if a.data_cmd == "info":
        print(get_manifest(a.id).model_dump_json(indent=2))
        return 0
    ms = [get_manifest(a.id)] if a.id else list(all_manifests().values())
    bad = False
    for m in ms:
        if not m.files:
            print(f"{m.id}: {m.access}, no files to verify")
        for name, status in verify(m, a.dir):
            print(f"{m.id}/{name}: {status}")
            bad |= status == "sha256 mismatch"
    if bad:
        print("error: a file does not match its manifest's sha256", file=sys.stderr)
        return 2
    return 0


# --------------------------------------------------------------------- serve
def build_deployments(domains: list[str], *, interval: float | None, cron: str | None,
                      profile: str, out: str) -> list:
    """One Prefect deployment per domain, named ``<domain>-<profile>``, on a schedule."""
    from pipelines.registry import REGISTRY, get

    if interval is None and cron is None:
        raise BadInput("--interval/--cron", "give a schedule")
    if interval is not None and interval <= 0:
        raise BadInput("--interval", f"must be positive, got {interval}")
    return [get(n).load_flow().to_deployment(
        name=f"{n}-{profile}", interval=interval, cron=cron,
        parameters={"profile": profile, "out": out}) for n in domains or list(REGISTRY)]


def cmd_serve(a: argparse.Namespace) -> int:
    from pipelines import env

    env.configure(quiet=False)
    deployments = build_deployments(a.domains, interval=a.interval, cron=a.cron,
                                    profile=a.profile, out=a.out)
    from prefect import serve

    serve(*deployments)
    return 0


COMMANDS = {"run": cmd_run, "runs": cmd_runs, "data": cmd_data, "serve": cmd_serve}


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``lowdim`` console script; returns the exit code."""
    args = _parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
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
