"""Fixtures for the MRI tests: one torch thread, one quick run shared by the flow tests."""

from __future__ import annotations

import pytest
import torch



@pytest.fixture(scope="session")
def quick_run(tmp_path_factory):
    """The quick profile end to end without Prefect (about a minute on 2 cores).

    Training, the baselines and evaluation are the quick profile's; the FLoRA
    adaptation and the 2x-resolution test are left to the Prefect flow test
    (at a few steps) to keep the suite within its time budget.
    """
    from domains.mri.steps import SPEC
    from pipelines.flowkit import call_directly, execute

    out = tmp_path_factory.mktemp("mri-quick")
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        run_dir, ev = execute(SPEC, call_directly, profile="quick", out=str(out), device="cpu", seed=0,
                              sets=["model.adapt=false", "ingest.adapt_contrast=false",
                                    "ingest.twice_resolution=false", "evaluate.extended_fov=false"])
    finally:
        torch.set_num_threads(n)
    return run_dir, ev
