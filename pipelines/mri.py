"""Prefect flow of the ``mri`` domain."""

from __future__ import annotations

from prefect import flow

from domains.mri.steps import SPEC
from pipelines.flowkit import run_flow


@flow(name="mri", description=SPEC.summary)
def mri_flow(profile: str = "quick", data: str | None = None, dataset: str | None = None,
             device: str = "auto", out: str = "runs", seed: int = 0,
             sets: list[str] | None = None) -> str:
    """Neural operator against zero-filled, CS and VarNet; return the run directory."""
    return run_flow(SPEC, profile=profile, data=data, dataset=dataset, device=device, out=out,
                    seed=seed, sets=sets)
