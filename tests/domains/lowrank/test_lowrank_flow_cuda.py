"""The lowrank flow end to end on the GPU (skipped without CUDA): the CPU flow test's known answers."""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import pytest
import torch

from domains.lowrank import SPEC
from pipelines.flowkit import call_directly, execute

pytestmark = [pytest.mark.cuda, pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")]


def _run(tmp_path, **kw):
    run_dir, ev = execute(SPEC, call_directly, out=str(tmp_path), device="cuda", **kw)
    return Path(run_dir), json.loads((Path(run_dir) / "metrics.json").read_text())


def test_quick_flow_on_cuda_recovers_the_exact_low_rank_tensor(tmp_path):
    run_dir, m = _run(tmp_path)
    assert m["device"].startswith("cuda")
    # as tests/domains/lowrank/test_flow_steps.py on the CPU: ranks (6, 5, 4) found by energy,
    # rounding-level error, the formula's compression ratio, TensorLy at the same error
    assert m["metrics"]["rel_error"] < 1e-5
    with h5py.File(run_dir / "results.h5") as h5:
        assert h5["tucker/core"].shape == (6, 5, 4)
    dense = 48 * 40 * 32
    stored = 6 * 5 * 4 + 48 * 6 + 40 * 5 + 32 * 4
    assert m["metrics"]["compression_ratio"] == pytest.approx(dense / stored)
    assert m["baselines"]["tensorly_hosvd"]["rel_error"] < 1e-5
    assert abs(m["intrinsic_dimension"]["value"] - 6) <= 1


def test_truncation_error_on_cuda_matches_the_tail_energy(tmp_path):
    _, a = _run(tmp_path, sets=["noise=0.05", "ranks=[6,5,4]"], seed=7)
    # the part of the 5% noise outside the signal subspace, as on the CPU
    assert 0.03 < a["metrics"]["rel_error"] < 0.05
    assert a["metrics"]["rel_error"] <= a["baselines"]["tensorly_hosvd"]["rel_error"] * 1.0001
