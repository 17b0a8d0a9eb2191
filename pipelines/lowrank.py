"""Prefect flow of the ``lowrank`` domain."""

from __future__ import annotations

from prefect import flow

from domains.lowrank import SPEC
from pipelines.flowkit import run_flow


@flow(name="lowrank", description=SPEC.summary)
def lowrank_flow(profile: str = "quick", data: str | None = None, dataset: str | None = None,
                 device: str = "auto", out: str = "runs", seed: int = 0,
                 sets: list[str] | None = None) -> str:
    """Compress a tensor with the shared core; return the run directory."""
    return run_flow(SPEC, profile=profile, data=data, dataset=dataset, device=device, out=out,
                    seed=seed, sets=sets)
