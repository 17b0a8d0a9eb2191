"""Prefect flow of the ``geo`` domain."""

from __future__ import annotations

from prefect import flow

from domains.geo.steps import SPEC
from pipelines.flowkit import run_flow


@flow(name="geo", description=SPEC.summary)
def geo_flow(profile: str = "quick", data: str | None = None, dataset: str | None = None,
             device: str = "auto", out: str = "runs", seed: int = 0,
             sets: list[str] | None = None) -> str:
    """Unit maps from a scene (synthetic by default) scored against its reference; return the run directory."""
    return run_flow(SPEC, profile=profile, data=data, dataset=dataset, device=device, out=out,
                    seed=seed, sets=sets)
