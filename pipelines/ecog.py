"""Prefect flow of the ``ecog`` domain."""

from __future__ import annotations

from prefect import flow

from domains.ecog.steps import SPEC
from pipelines.flowkit import run_flow


@flow(name="ecog", description=SPEC.summary)
def ecog_flow(profile: str = "quick", data: str | None = None, dataset: str | None = None,
              device: str = "auto", out: str = "runs", seed: int = 0,
              sets: list[str] | None = None) -> str:
    """UMAP + KNN screen, LSTM-CNN and baselines per participant; return the run directory."""
    return run_flow(SPEC, profile=profile, data=data, dataset=dataset, device=device, out=out,
                    seed=seed, sets=sets)
