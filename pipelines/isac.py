"""Prefect flow of the ``isac`` domain."""

from __future__ import annotations

from prefect import flow

from domains.isac.steps import SPEC
from pipelines.flowkit import run_flow


@flow(name="isac", description=SPEC.summary)
def isac_flow(profile: str = "quick", data: str | None = None, dataset: str | None = None,
              device: str = "auto", out: str = "runs", seed: int = 0,
              sets: list[str] | None = None) -> str:
    """PLAIN against the CRB and the baselines; return the run directory."""
    return run_flow(SPEC, profile=profile, data=data, dataset=dataset, device=device, out=out,
                    seed=seed, sets=sets)
