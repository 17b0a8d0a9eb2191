"""Turning a domain's four Prefect-free steps into a Prefect flow run.

``execute`` holds the run logic (config, run directory, steps, metrics,
atomic completion) and takes the step caller as an argument: the flow passes
one that submits Prefect tasks, tests of the science may pass
:func:`call_directly`. Both run the same code.
"""

from __future__ import annotations

import time
from typing import Any, Callable

from shared.device import resolve, seed_everything
from shared.domain import DomainSpec
from shared.interrupts import stop_on_signals
from shared.runs import STEPS, RunContext, check_out, check_seed, complete_run, fail_run, start_run
from shared.threads import cpu_threads

Caller = Callable[[DomainSpec, str, RunContext, dict[str, dict]], dict[str, Any]]


def timed_step(fn: Callable, ctx_dict: dict[str, Any], prev: dict[str, dict], offset: int) -> dict:
    """Run one step with its own seed; return its record and wall seconds.

    A domain whose config has a top-level ``threads`` field runs each step
    under :func:`shared.threads.cpu_threads` (this thread only, restored):
    many small kernels on 2 OpenMP threads of a loaded 2-core machine were
    measured 10-25x slower than on one.
    """
    ctx = RunContext(**ctx_dict)
    seed_everything(ctx.seed + offset)
    t0 = time.perf_counter()
    with cpu_threads(int(ctx.config.get("threads") or 0)):
        record = fn(ctx, prev)
    return {"record": record, "seconds": time.perf_counter() - t0}


def call_directly(spec: DomainSpec, step: str, ctx: RunContext, prev: dict[str, dict]) -> dict:
    """A step caller with no orchestration (same code path as the tasks)."""
    return timed_step(getattr(spec, step), ctx.to_dict(), prev, STEPS.index(step))


def execute(spec: DomainSpec, caller: Caller, *, profile: str = "quick", data: str | None = None,
            dataset: str | None = None, device: str = "auto", out: str = "runs", seed: int = 0,
            sets: list[str] | None = None) -> tuple[str, dict[str, Any]]:
    """Run ingest -> reduce -> model -> evaluate into a new run directory.

    Returns
    -------
    run_dir : str
        The completed ``<out>/<domain>/<run_id>``.
    evaluation : dict
        The evaluate step's record (metrics, baselines, report).

    Raises
    ------
    BadInput
        Before anything is written for a bad config, seed, ``out`` or input;
        from a step for bad data, after the run directory was renamed to
        ``<run_id>.failed``.
    shared.interrupts.Interrupted
        On SIGINT/SIGTERM (when called in the main thread), after the run was
        marked failed; the ``lowdim`` CLI exits 130/143 instead.
    """
    cfg = spec.resolve_config(profile, sets)
    check_seed(seed)
    dev = str(resolve(device))
    spec.check(data, dataset, cfg)  # bad input leaves no run directory
    check_out(out)
    # Prefect's flow engine installs its own SIGTERM handler; the run's own
    # comes back on top for the run's duration (and the previous one after).
    with stop_on_signals():
        return _execute(spec, caller, cfg, profile=profile, data=data, dataset=dataset,
                        device=dev, out=out, seed=seed)


def _execute(spec: DomainSpec, caller: Caller, cfg: Any, *, profile: str, data: str | None,
             dataset: str | None, device: str, out: str, seed: int) -> tuple[str, dict[str, Any]]:
    ctx = start_run(out, spec.name, profile=profile, device=device, seed=seed,
                    config=cfg.model_dump(mode="json"), data=data, dataset=dataset)
    try:
        prev: dict[str, dict] = {}
        seconds: dict[str, float] = {}
        for step in STEPS:
            res = caller(spec, step, ctx, prev)
            prev[step], seconds[step] = res["record"], res["seconds"]
        ev = prev["evaluate"]
        payload = {"seconds": seconds, "data": prev["ingest"]["data"], "metrics": ev["metrics"],
                   "baselines": ev["baselines"], "intrinsic_dimension": ev["intrinsic_dimension"]}
        final = complete_run(ctx, payload, ev["report"])
    except BaseException as exc:
        fail_run(ctx, exc)
        raise
    return str(final), {**ev, "seconds": seconds}


# ---------------------------------------------------------------- Prefect side
def _task_for(spec: DomainSpec, step: str):
    from prefect import task
    from prefect.cache_policies import NO_CACHE

    # Results are files in the run directory; Prefect need not persist or hash them.
    return task(timed_step, name=f"{spec.name}-{step}", cache_policy=NO_CACHE,
                persist_result=False, cache_result_in_memory=False)


def call_as_task(spec: DomainSpec, step: str, ctx: RunContext, prev: dict[str, dict]) -> dict:
    """Submit a step as a Prefect task on the flow's task runner and wait for it."""
    fut = _task_for(spec, step).submit(getattr(spec, step), ctx.to_dict(), prev, STEPS.index(step))
    return fut.result()


def metrics_table(ev: dict[str, Any]) -> list[dict[str, Any]]:
    """Rows ``{method, metric, value}``: ours first, then each baseline."""
    rows = [{"method": "lowdim", "metric": k, "value": v} for k, v in ev["metrics"].items()]
    for method, ms in ev["baselines"].items():
        rows += [{"method": method, "metric": k, "value": v} for k, v in ms.items()]
    return rows


def run_flow(spec: DomainSpec, **params: Any) -> str:
    """The body of every domain flow: execute with tasks, publish artifacts."""
    from prefect.artifacts import create_markdown_artifact, create_table_artifact

    run_dir, ev = execute(spec, call_as_task, **params)
    create_markdown_artifact(key=f"{spec.name}-report", markdown=ev["report"],
                             description=f"{spec.name} report: {run_dir}")
    create_table_artifact(key=f"{spec.name}-metrics", table=metrics_table(ev),
                          description=f"{spec.name} metrics against baselines: {run_dir}")
    return run_dir
