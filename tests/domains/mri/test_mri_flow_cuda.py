"""The mri quick flow end to end on the GPU (skipped without CUDA): the CPU flow test's thresholds."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

pytestmark = [pytest.mark.cuda, pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")]


def test_quick_flow_on_cuda_beats_zero_filled(tmp_path):
    from domains.mri.steps import SPEC
    from pipelines.flowkit import call_directly, execute

    # the quick run of tests/domains/mri/conftest.py (quick_run), on cuda
    run_dir, ev = execute(SPEC, call_directly, profile="quick", out=str(tmp_path), device="cuda", seed=0,
                          sets=["model.adapt=false", "ingest.adapt_contrast=false",
                                "ingest.twice_resolution=false", "evaluate.extended_fov=false",
                                "evaluate.upsampled_2x=false", "evaluate.cs_lambdas=[0.01,0.03,0.1,0.3]",
                                "evaluate.cs_wavelet_lambdas=[0.02,0.1,0.5]"])
    m = json.loads((Path(run_dir) / "metrics.json").read_text())
    met, base = m["metrics"], m["baselines"]
    assert m["device"].startswith("cuda")
    # the thresholds of test_quick_profile_beats_zero_filled_and_writes_outputs
    assert met["psnr_db"] - base["zero_filled"]["psnr_db"] >= 3.0
    assert met["psnr_db_heldout"] > base["zero_filled"]["psnr_db_heldout"]
    assert met["ssim"] > base["zero_filled"]["ssim"]
    assert set(base) == {"zero_filled", "cs_tv", "cs_wavelet", "varnet"}
    assert base["cs_tv"]["psnr_db"] > base["zero_filled"]["psnr_db"]
    for name, fams in (("cs_tv", ("equispaced", "random", "gaussian_2d", "poisson_2d", "radial")),
                       ("cs_wavelet", ("gaussian_2d", "poisson_2d"))):
        assert base[name]["lambda_8x"] > base[name]["lambda_4x"], name
        for fam in fams:
            k = f"psnr_db_{fam}_8x"
            assert base[name][k] > base["zero_filled"][k] + 1, (name, k)
    k = "psnr_db_poisson_2d_4x"
    assert base["cs_wavelet"][k] > base["zero_filled"][k] + 3
    assert 1 <= met["virtual_coils"] < 8 and met["coil_energy_kept"] >= 0.99
    for k in ("coil_compression_speedup", "coil_compression_psnr_loss_db",
              "time_ratio_varnet_over_operator", "time_ratio_cs_tv_over_operator"):
        assert np.isfinite(met[k]), k
