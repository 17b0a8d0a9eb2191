"""Fixtures for the MRI tests: one torch thread, one quick run shared by the flow tests."""

from __future__ import annotations

import pytest
import torch



@pytest.fixture(scope="session")
def quick_run(tmp_path_factory):
    """The quick profile end to end without Prefect (about a minute on 2 cores).

    Training, the baselines and evaluation are the quick profile's; the FLoRA
    adaptation and the 2x-resolution tests are left to the Prefect flow test
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
                                    "ingest.twice_resolution=false", "evaluate.extended_fov=false",
                                    "evaluate.upsampled_2x=false",
                                    # sub-grids holding the default grids' picks (TV 0.03 / 0.3, L1-wavelet
                                    # 0.02 / 0.5 at 4x / 8x), so the choice is the default's, at 7 of 11 solves
                                    "evaluate.cs_lambdas=[0.01,0.03,0.1,0.3]",
                                    "evaluate.cs_wavelet_lambdas=[0.02,0.1,0.5]"])
    finally:
        torch.set_num_threads(n)
    return run_dir, ev
