"""One energy-to-rank rule (``rank_from_energy``) behind every caller, and no copies of it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch

from shared.lowrank import PCA, intrinsic_dimension, rank_from_energy

ROOT = Path(__file__).resolve().parents[3]


def test_rank_from_energy_known_answers():
    s2 = torch.tensor([4.0, 3.0, 2.0, 1.0])  # cumulative 0.4, 0.7, 0.9, 1.0
    assert [rank_from_energy(s2, e) for e in (0.1, 0.4, 0.41, 0.7, 0.9, 0.95, 1.0)] == [1, 1, 2, 2, 3, 4, 4]
    assert rank_from_energy(torch.tensor([1.0, 1e-20, 0.0]), 1.0) == 1  # numerically-zero tail not asked for


def test_callers_use_the_same_rule():
    g = torch.Generator().manual_seed(0)
    scales = 0.7 ** torch.arange(12, dtype=torch.float64)
    X = torch.randn(200, 12, generator=g, dtype=torch.float64) * scales
    Xc = X - X.mean(0)
    s2 = torch.linalg.svdvals(Xc) ** 2
    for e in (0.5, 0.8, 0.95, 0.999):
        k = rank_from_energy(s2, e)
        assert PCA(n_components=e).fit(X).n_components_ == k
        assert PCA(n_components=e).partial_fit(X[:100]).partial_fit(X[100:]).n_components_ == k
        assert intrinsic_dimension(X, method="pca", variance=e) == k


def test_lowrank_flow_2way_energy_rank(tmp_path):
    import h5py
    import numpy as np

    from domains.lowrank import SPEC
    from pipelines.flowkit import call_directly, execute

    rng = np.random.default_rng(1)
    u, _ = np.linalg.qr(rng.standard_normal((60, 20)))
    v, _ = np.linalg.qr(rng.standard_normal((50, 20)))
    s = 0.6 ** np.arange(20)
    with h5py.File(tmp_path / "m.h5", "w") as f:
        f["a"] = (u * s) @ v.T
    run_dir, ev = execute(SPEC, call_directly, out=str(tmp_path / "runs"), device="cpu",
                          data=f"{tmp_path}/m.h5:/a", sets=["energy=0.99"])
    assert ev["metrics"]["n_modes"] == 2
    with h5py.File(Path(run_dir) / "results.h5") as h5:
        assert h5["svd/S"].shape == (rank_from_energy(torch.tensor(s**2), 0.99),)


@pytest.mark.parametrize("tree", ["shared", "domains/lowrank"])
def test_no_other_copy_of_the_energy_rule(tree):
    """A cumulative-energy search written again elsewhere is a second home for the rule."""
    home = ROOT / "shared" / "lowrank" / "_utils.py"
    # sampling.py inverts a probability CDF (leverage draws), not an energy fraction.
    cdf_draw = ROOT / "shared" / "lowrank" / "sampling.py"
    copies = [str(p.relative_to(ROOT)) for p in (ROOT / tree).rglob("*.py")
              if p not in (home, cdf_draw) and re.search(r"searchsorted\(", p.read_text())]
    assert copies == []


def _tucker_lowrank(shape, ranks, seed=0):
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(ranks, dtype=torch.float64, generator=g)
    for n, (size, r) in enumerate(zip(shape, ranks)):
        U = torch.linalg.qr(torch.randn(size, r, dtype=torch.float64, generator=g)).Q
        X = torch.movedim(torch.tensordot(U, X, dims=([1], [n])), 0, n)
    return X


@pytest.mark.parametrize("shape,ranks", [((12, 17, 118), (3, 4, 5)), ((48, 40, 32), (6, 5, 4))])
@pytest.mark.parametrize("energy", [1.0, 0.999999999999])
def test_float32_exact_low_rank_gets_true_ranks(shape, ranks, energy):
    # Float32 round-off fills the tail of each unfolding's spectrum to ~1e-7 of
    # the total; a 1e-12 tolerance kept (12, 17, 118) here. The true ranks are
    # numpy's matrix_rank of the float64 unfoldings.
    import numpy as np

    from shared.lowrank import hosvd
    from shared.lowrank._utils import unfold

    X = _tucker_lowrank(shape, ranks)
    want = tuple(int(np.linalg.matrix_rank(unfold(X, n).numpy())) for n in range(3))
    assert want == ranks
    for dtype in (torch.float32, torch.complex64, torch.float64):
        for sequential in (False, True):
            assert hosvd(X.to(dtype), energy=energy, sequential=sequential).rank == want


def test_energy_tolerance_follows_dtype():
    # A tail of 1e-9 of the total: float64 resolves it (energy 1.0 keeps it),
    # float32 cannot (it is below k * eps32 = 3.6e-7); float64 results keep the 1e-12 rule.
    s2 = torch.tensor([0.6, 0.4 - 1e-9, 1e-9], dtype=torch.float64)
    assert rank_from_energy(s2, 1.0) == 3
    assert rank_from_energy(s2.float(), 1.0) == 2
    assert rank_from_energy(torch.tensor([1.0, 1e-13], dtype=torch.float64), 1.0) == 1
