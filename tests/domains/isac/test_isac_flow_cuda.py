"""The isac flow end to end on the GPU (skipped without CUDA): the CPU flow test's CRB thresholds."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from domains.isac.steps import SPEC
from pipelines.flowkit import call_directly, execute

pytestmark = [pytest.mark.cuda, pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")]

# the reduced quick profile of tests/domains/isac/test_flow_steps.py (SMALL there)
SMALL = ["snr_db=[-5,20]", "n_trials=3", "esprit_trials=1", "scaling_sizes=[32]", "esprit_max_size=16",
         "timing_repeats=1", "baselines=[fft3d,sequential]"]


def test_simulated_run_on_cuda_meets_the_crb(tmp_path):
    run_dir, ev = execute(SPEC, call_directly, out=str(tmp_path), device="cuda", seed=1, sets=SMALL)
    m = json.loads((Path(run_dir) / "metrics.json").read_text())
    met = m["metrics"]
    assert m["device"].startswith("cuda")
    assert met["p_success"] == 1.0 and met["mean_false_targets"] == 0.0
    assert met["n_failed_trials"] == 0 and met["n_batch_fallbacks"] == 0
    for d in ("angle", "range", "velocity"):
        assert met[f"rmse_over_crb_{d}"] < 2.0, d
    assert m["baselines"]["fft3d"]["rmse_over_crb_range"] > 3.0  # the FFT grid floor
    assert m["intrinsic_dimension"]["value"] == 4
    assert max(met[f"model_order_mode_{i}"] for i in range(3)) == 3
    assert met["snr_threshold_db_plain"] <= 20.0
