"""The mri quick flow end to end on the GPU (skipped without CUDA): the CPU flow test's thresholds."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

pytestmark = [pytest.mark.cuda, pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")]


def test_quick_flow_on_cuda_beats_zero_filled(tmp_path, run_quick, quick_thresholds):
    run_dir, ev = run_quick(tmp_path, "cuda")  # the quick run of conftest.py (quick_run), on cuda
    m = json.loads((Path(run_dir) / "metrics.json").read_text())
    met, base = m["metrics"], m["baselines"]
    assert m["device"].startswith("cuda")
    quick_thresholds(met, base)  # test_quick_profile_beats_zero_filled_and_writes_outputs's bars
