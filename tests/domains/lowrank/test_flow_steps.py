"""The lowrank steps end to end without Prefect (same code the tasks run)."""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch

from domains.lowrank import SPEC
from domains.lowrank.data import synthetic_tensor
from pipelines.flowkit import call_directly, execute


def _run(tmp_path, **kw):
    run_dir, ev = execute(SPEC, call_directly, out=str(tmp_path), device="cpu", **kw)
    return Path(run_dir), json.loads((Path(run_dir) / "metrics.json").read_text())


def test_exact_low_rank_is_recovered_and_ranks_found_by_energy(tmp_path):
    run_dir, m = _run(tmp_path)
    assert m["metrics"]["rel_error"] < 1e-5
    with h5py.File(run_dir / "results.h5") as h5:
        core_shape = h5["tucker/core"].shape if "tucker/core" in h5 else None
        assert h5["spectrum/mode_0"].attrs["unit"]
    assert core_shape == (6, 5, 4)
    # compression ratio from the formula: dense / (core + factors)
    dense = 48 * 40 * 32
    stored = 6 * 5 * 4 + 48 * 6 + 40 * 5 + 32 * 4
    assert m["metrics"]["compression_ratio"] == pytest.approx(dense / stored)
    # TensorLy's HOSVD at the same ranks reaches the same (rounding-level) error
    assert m["baselines"]["tensorly_hosvd"]["rel_error"] < 1e-5
    # fibres of mode 0 live in a 6-dim subspace
    assert abs(m["intrinsic_dimension"]["value"] - 6) <= 1
    assert {p.name for p in (run_dir / "figures").glob("*.png")} == {"spectrum.png", "energy.png"}


def test_truncation_error_matches_tail_energy_and_seed_is_deterministic(tmp_path):
    sets = ["noise=0.05", "ranks=[6,5,4]"]
    _, a = _run(tmp_path / "a", sets=sets, seed=7)
    _, b = _run(tmp_path / "b", sets=sets, seed=7)
    assert a["metrics"]["rel_error"] == b["metrics"]["rel_error"]
    # at the true ranks the error is the part of the 5% noise outside the signal subspace
    assert 0.03 < a["metrics"]["rel_error"] < 0.05
    assert a["metrics"]["rel_error"] <= a["baselines"]["tensorly_hosvd"]["rel_error"] * 1.0001


def test_two_way_hdf5_uses_randomized_svd_near_optimal(tmp_path):
    rng = np.random.default_rng(0)
    u, _ = np.linalg.qr(rng.standard_normal((300, 60)))
    v, _ = np.linalg.qr(rng.standard_normal((80, 60)))
    a = (u * 0.8 ** np.arange(60)) @ v.T
    f = tmp_path / "m.h5"
    with h5py.File(f, "w") as h5:
        h5["grp/a"] = a
    run_dir, m = _run(tmp_path, data=f"{f}:/grp/a", sets=["ranks=[10,10]"])
    opt = m["baselines"]["full_svd"]["rel_error"]
    assert m["metrics"]["rel_error"] <= 1.05 * opt
    assert m["metrics"]["compression_ratio"] == pytest.approx(300 * 80 / (10 * (300 + 80 + 1)))
    with h5py.File(run_dir / "results.h5") as h5:
        assert h5["svd/U"].shape == (300, 10)


def test_two_way_rank_by_energy_counts_squared_singular_values(tmp_path):
    """Without ranks, a matrix keeps the smallest r whose squared singular values reach ``energy``:
    spectrum 0.8^i, energy 0.99 -> 1 - 0.64^r >= 0.99 -> r = 11 (unsquared values would give 21)."""
    rng = np.random.default_rng(1)
    u, _ = np.linalg.qr(rng.standard_normal((120, 60)))
    v, _ = np.linalg.qr(rng.standard_normal((70, 60)))
    s = 0.8 ** np.arange(60)
    f = tmp_path / "m.h5"
    with h5py.File(f, "w") as h5:
        h5["a"] = (u * s) @ v.T
    expected = int(np.searchsorted(np.cumsum(s ** 2) / np.sum(s ** 2), 0.99) + 1)
    assert expected == 11
    run_dir, m = _run(tmp_path, data=f"{f}:/a", sets=["energy=0.99"])
    with h5py.File(run_dir / "results.h5") as h5:
        assert h5["svd/U"].shape == (120, expected)
    assert m["metrics"]["rel_error"] == pytest.approx(np.sqrt(np.sum(s[expected:] ** 2) / np.sum(s ** 2)), rel=1e-3)


def test_synthetic_tensor_has_the_requested_multilinear_rank():
    x = synthetic_tensor([10, 9, 8], [3, 2, 4], 0.0, seed=0)
    for n, r in enumerate([3, 2, 4]):
        assert torch.linalg.matrix_rank(torch.movedim(x, n, 0).reshape(x.shape[n], -1)) == r


def test_embedded_manifest_dataset_is_generated_from_its_params(tmp_path):
    _, m = _run(tmp_path, dataset="synthetic-tucker")
    assert m["data"] == {"source": "manifest:synthetic-tucker", "sha256": None, "synthetic": True}
    assert m["metrics"]["rel_error"] < 1e-5


def test_a_dataset_of_another_domain_is_bad_input(tmp_path):
    from shared.errors import BadInput

    with pytest.raises(BadInput, match="--dataset simulated-default"):
        _run(tmp_path, dataset="simulated-default")
