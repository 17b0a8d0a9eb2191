"""Known answers for shared.lowrank.tucker (HOSVD, HOOI, streamed HOSVD, HDF5)."""

from __future__ import annotations

import h5py
import numpy as np
import pytest
import torch

from shared.errors import BadInput
from shared.lowrank import TuckerTensor, hooi, hosvd, hosvd_streamed
from shared.lowrank._utils import mode_dot

DTYPES = [torch.float32, torch.float64, torch.complex64, torch.complex128]
SHAPE, RANKS = (10, 12, 14), (3, 4, 5)


def tucker_tensor(shape=SHAPE, ranks=RANKS, dtype=torch.float64, seed=0):
    """A random exactly-multilinear-rank tensor with a well-conditioned core."""
    g = torch.Generator().manual_seed(seed)
    core = torch.randn(*ranks, dtype=dtype, generator=g) + 2.0
    Us = [torch.linalg.qr(torch.randn(n, r, dtype=dtype, generator=g)).Q for n, r in zip(shape, ranks)]
    return TuckerTensor(core, Us).to_tensor()


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("method", ["auto", "gram", "full", "randomized"])
@pytest.mark.parametrize("sequential", [False, True])
def test_hosvd_exact_recovery(dtype, method, sequential):
    X = tucker_tensor(dtype=dtype)
    t = hosvd(X, list(RANKS), method=method, sequential=sequential, seed=0)
    assert t.rank == RANKS and t.shape == SHAPE
    assert t.core.dtype == dtype and all(U.dtype == dtype for U in t.factors)
    assert t.rel_error(X) < 1e-5
    for U in t.factors:
        assert torch.allclose(U.mH @ U, torch.eye(U.shape[1], dtype=dtype), atol=1e-5)


def test_hosvd_matches_tensorly_subspaces():
    import tensorly as tl
    from tensorly.decomposition import tucker

    X = tucker_tensor() + 0.01 * torch.randn(SHAPE, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    ours = hosvd(X, RANKS)
    core, factors = tucker(X, rank=list(RANKS), n_iter_max=0, init="svd")
    assert tl.get_backend() == "pytorch"
    for U, V in zip(ours.factors, factors):
        # Same subspaces: the projectors agree.
        assert torch.allclose(U @ U.T, V @ V.T, atol=1e-8)
    err_tl = torch.linalg.vector_norm(X - tl.tucker_to_tensor((core, factors))) / torch.linalg.vector_norm(X)
    assert abs(ours.rel_error(X) - err_tl.item()) < 1e-10


def test_energy_picks_true_ranks():
    X = tucker_tensor(ranks=(2, 3, 4))
    t = hosvd(X, energy=0.999999)
    assert t.rank == (2, 3, 4)
    # Ranks act as caps when given together with energy.
    assert hosvd(X, [2, 2, 2], energy=0.999999).rank == (2, 2, 2)


def test_energy_threshold_definition():
    # Mode spectra of a diagonal tensor are its diagonal entries squared.
    X = torch.zeros(4, 4, 4, dtype=torch.float64)
    for i, v in enumerate([3.0, 2.0, 1.0, 0.5]):
        X[i, i, i] = v
    # Energies: 9, 4, 1, 0.25 of 14.25 -> cumulative 0.632, 0.912, 0.982, 1.
    assert hosvd(X, energy=0.9).rank == (2, 2, 2)
    assert hosvd(X, energy=0.95).rank == (3, 3, 3)
    assert hosvd(X, energy=1.0).rank == (4, 4, 4)


@pytest.mark.parametrize("dtype", [torch.float64, torch.complex128])
def test_hooi_improves_on_hosvd(dtype):
    g = torch.Generator().manual_seed(2)
    X = tucker_tensor(dtype=dtype) + 0.3 * torch.randn(SHAPE, dtype=dtype, generator=g)
    h0 = hosvd(X, RANKS)
    h, errs = hooi(X, RANKS, n_iter=30, return_errors=True)
    assert h.rank == RANKS
    assert h.rel_error(X) <= h0.rel_error(X) + 1e-12
    assert abs(errs[-1] - h.rel_error(X)) < 1e-8  # the cheap error formula is the true error
    assert all(b <= a + 1e-12 for a, b in zip(errs, errs[1:]))  # monotone


def test_hooi_converges_to_tensorlys_tucker():
    # same HOSVD start, both iterated to convergence: the same local optimum
    import tensorly as tl
    from tensorly.decomposition import tucker

    g = torch.Generator().manual_seed(2)
    X = tucker_tensor() + 0.3 * torch.randn(SHAPE, dtype=torch.float64, generator=g)
    h, errs = hooi(X, RANKS, n_iter=100, return_errors=True)
    # it stopped because the error settled (below the default tol, 1000 eps), not at n_iter
    assert len(errs) < 101 and abs(errs[-2] - errs[-1]) < 1000 * torch.finfo(torch.float64).eps
    core, factors = tucker(X, rank=list(RANKS), n_iter_max=100, init="svd", tol=1e-14)
    assert tl.get_backend() == "pytorch"
    err_tl = (torch.linalg.vector_norm(X - tl.tucker_to_tensor((core, factors))) / torch.linalg.vector_norm(X)).item()
    assert h.rel_error(X) == pytest.approx(err_tl, abs=1e-10)
    for U, V in zip(h.factors, factors):
        assert torch.allclose(U @ U.T, V @ V.T, atol=1e-5)


@pytest.mark.parametrize("dtype", [torch.float32, torch.complex64])
def test_hooi_exact_recovery(dtype):
    X = tucker_tensor(dtype=dtype)
    assert hooi(X, RANKS, n_iter=3).rel_error(X) < 1e-5


def test_properties():
    t = hosvd(tucker_tensor(), RANKS)
    assert t.n_params == 3 * 4 * 5 + 10 * 3 + 12 * 4 + 14 * 5
    assert t.compression_ratio == pytest.approx(10 * 12 * 14 / t.n_params)


@pytest.mark.parametrize("dtype", [torch.float32, torch.complex128])
def test_save_load_h5_roundtrip(tmp_path, dtype):
    X = tucker_tensor(dtype=dtype)
    t = hosvd(X, RANKS)
    path = tmp_path / "model.h5"
    t.save_h5(path, "tucker")
    t.save_h5(path, "tucker")  # overwriting is allowed
    with h5py.File(path, "a") as f:
        t.save_h5(f.require_group("runs"), "second")
    with h5py.File(path, "r") as f:
        assert np.iscomplexobj(f["tucker/core"][()]) == dtype.is_complex
    for loaded in (TuckerTensor.load_h5(path, "tucker"), TuckerTensor.load_h5(h5py.File(path, "r")["runs"], "second")):
        assert loaded.core.dtype == dtype
        assert torch.equal(loaded.core, t.core)
        assert all(torch.equal(a, b) for a, b in zip(loaded.factors, t.factors))
    with pytest.raises(BadInput):
        TuckerTensor.load_h5(path, "missing")
    with pytest.raises(BadInput):
        TuckerTensor.load_h5(tmp_path / "nope.h5")


@pytest.mark.parametrize("dtype", [torch.float64, torch.complex128])
@pytest.mark.parametrize("axis", [0, 1, 2])
def test_streamed_equals_in_memory(tmp_path, dtype, axis):
    g = torch.Generator().manual_seed(3)
    X = tucker_tensor(dtype=dtype) + 0.05 * torch.randn(SHAPE, dtype=dtype, generator=g)
    path = tmp_path / "x.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("x", data=X.numpy(), chunks=True)
    with h5py.File(path, "r") as f:
        s = hosvd_streamed(f["x"], RANKS, axis=axis, block=3)
    others = [n for n in range(3) if n != axis]
    plain = hosvd(X, RANKS)
    for n in others:  # the non-streamed factors are exactly the HOSVD's
        assert torch.allclose(s.factors[n], plain.factors[n], atol=1e-10)
    # The streamed factor: leading subspace of X projected on the others.
    proj = X
    for n in others:
        proj = torch.movedim(torch.tensordot(plain.factors[n].mH, proj, dims=([1], [n])), 0, n)
    ref = hosvd(proj, [RANKS[n] if n == axis else proj.shape[n] for n in range(3)])
    assert torch.allclose(s.factors[axis], ref.factors[axis], atol=1e-10)
    # ... which is optimal given the other factors: never worse than HOSVD.
    assert s.rel_error(X) <= plain.rel_error(X) + 1e-12


def test_streamed_exact_recovery_and_energy():
    X = tucker_tensor(dtype=torch.complex64)
    s = hosvd_streamed(X.numpy(), RANKS, axis=2, block=4)
    assert s.rel_error(X) < 1e-5
    assert hosvd_streamed(X, energy=0.99999, axis=0, block=5).rank == RANKS


class CountingDataset:
    """Records every slice read, to check that each block is read once per pass."""

    def __init__(self, array):
        self.array, self.reads = array, []
        self.shape, self.ndim = array.shape, array.ndim

    def __getitem__(self, idx):
        self.reads.append(idx)
        return self.array[idx]


def test_streamed_reads_each_block_once_per_pass():
    ds = CountingDataset(tucker_tensor().numpy())
    hosvd_streamed(ds, RANKS, axis=1, block=5)
    starts = [idx[1].start for idx in ds.reads]
    assert starts == [0, 5, 10, 0, 5, 10]


@pytest.mark.parametrize(
    "ranks, where",
    [([3, 4], "ranks"), ([3, 4, 15], "ranks"), ([0, 4, 5], "ranks"), ([3, 4, 5, 6], "ranks")],
)
def test_bad_ranks(ranks, where):
    X = tucker_tensor()
    with pytest.raises(BadInput) as e:
        hosvd(X, ranks)
    assert e.value.where == where
    with pytest.raises(BadInput):
        hosvd_streamed(X, ranks, axis=0)


def test_bad_input_other():
    X = tucker_tensor()
    with pytest.raises(BadInput, match="rank 15 exceeds mode 2 of size 14"):
        hosvd(X, [3, 4, 15])
    with pytest.raises(BadInput):
        hosvd(X, energy=1.5)
    with pytest.raises(BadInput):
        hosvd(torch.randn(5))
    with pytest.raises(BadInput):
        hosvd(X, energy=0.9, method="randomized")
    with pytest.raises(BadInput):
        hosvd_streamed(X, RANKS, axis=3)
    with pytest.raises(BadInput):
        TuckerTensor(torch.zeros(2, 3), [torch.zeros(5, 2)])


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda():
    X = tucker_tensor(dtype=torch.complex64).cuda()
    for t in (hosvd(X, RANKS), hooi(X, RANKS, n_iter=2), hosvd_streamed(X, RANKS, axis=1, block=4, device="cuda")):
        assert t.core.is_cuda and all(U.is_cuda for U in t.factors)
        assert t.rel_error(X) < 1e-5
    from shared.lowrank import Tucker, cp

    assert Tucker(RANKS).fit(X).decomposition_.core.is_cuda
    model = cp(X, 4, n_iter=20, seed=0)
    assert all(U.is_cuda for U in model.factors) and model.to_tensor().is_cuda


def test_tucker_estimator_pair():
    from shared.lowrank import Tucker

    X = tucker_tensor(dtype=torch.complex128)
    est = Tucker(RANKS)
    assert est.fit(X) is est and est.rank_ == RANKS
    assert torch.allclose(est.decomposition_.core, hosvd(X, RANKS).core)
    assert torch.allclose(est.inverse_transform(est.transform(X)), X, atol=1e-10)
    assert Tucker(RANKS, n_iter=2).fit_transform(X).rel_error(X) < 1e-10
    with pytest.raises(BadInput):
        Tucker(RANKS).transform(X)


@pytest.mark.parametrize("dtype", [torch.float64, torch.complex128])
def test_cp_recovers_low_rank_tensor(dtype):
    from shared.lowrank import cp

    g = torch.Generator().manual_seed(5)
    facs = [torch.randn(n, 3, dtype=dtype, generator=g) for n in (6, 7, 8)]
    X = torch.einsum("ar,br,cr->abc", *facs)
    model = cp(X, 3, n_iter=500, tol=1e-14, seed=0)
    assert model.rank == 3 and model.factors[0].dtype == dtype
    assert model.rel_error(X) < 1e-5
    assert model.n_params == 3 + 3 * (6 + 7 + 8)


def test_cp_survives_a_switched_global_backend():
    import tensorly as tl

    from shared.lowrank import cp

    X = tucker_tensor(ranks=(2, 2, 2))
    tl.set_backend("numpy")
    try:
        out = cp(X, 2, n_iter=5, seed=0)
        assert isinstance(out.weights, torch.Tensor)
    finally:
        tl.set_backend("pytorch")


@pytest.mark.slow
def test_paper_scale_hosvd_matches_tensorly_error():
    """Bench case (a) at full size: same error as TensorLy's one-pass HOSVD."""
    import tensorly as tl
    from tensorly.decomposition import tucker

    X = tucker_tensor((256, 256, 256), (32, 32, 32), dtype=torch.float32)
    X = X + 0.1 * X.std() * torch.randn(X.shape, generator=torch.Generator().manual_seed(9))
    ours = hosvd(X, [32, 32, 32])
    core, factors = tucker(X, rank=[32, 32, 32], n_iter_max=0, init="svd")
    ref = (torch.linalg.vector_norm(X - tl.tucker_to_tensor((core, factors))) / torch.linalg.vector_norm(X)).item()
    assert ours.rel_error(X) <= ref * (1 + 1e-4)


def test_save_h5_writes_units(tmp_path):
    # results.h5 convention: every dataset has a unit; the core keeps the data's, factors are "1".
    t = hosvd(tucker_tensor(), RANKS)
    t.save_h5(tmp_path / "a.h5", "tucker", unit="V")
    t.save_h5(tmp_path / "b.h5")
    for path, core_unit in ((tmp_path / "a.h5", "V"), (tmp_path / "b.h5", "1")):
        with h5py.File(path, "r") as f:
            assert f["tucker/core"].attrs["unit"] == core_unit
            assert [f["tucker/factors"][str(n)].attrs["unit"] for n in range(3)] == ["1", "1", "1"]
            np.testing.assert_array_equal(f["tucker/core"][()], t.core.numpy())


def noisy_tensor(shape=(20, 30, 250), ranks=(5, 6, 8), noise=0.6, seed=0):
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(ranks, dtype=torch.float64, generator=g)
    for n, (size, r) in enumerate(zip(shape, ranks)):
        X = mode_dot(X, torch.randn(size, r, dtype=torch.float64, generator=g), n)
    E = torch.randn(shape, dtype=torch.float64, generator=g)
    return X + E * (noise * torch.linalg.vector_norm(X) / torch.linalg.vector_norm(E))


@pytest.mark.parametrize("order", [None, (2, 1, 0)])
@pytest.mark.parametrize("energy", [0.5, 0.9, 0.99])
def test_sequential_energy_bound_and_minimal_ranks(energy, order):
    # rel_err^2 <= 1 - energy (it was 0.86 at energy 0.5 on this kind of tensor),
    # and each mode's rank is the smallest one whose discarded energy, from
    # numpy's SVD of the partly projected tensor, fits (1 - energy) ||X||^2 / 3.
    X = noisy_tensor()
    t = hosvd(X, energy=energy, sequential=True, order=order)
    assert t.rel_error(X) ** 2 <= (1 - energy) * (1 + 1e-9)
    budget = (1 - energy) * float(torch.linalg.vector_norm(X)) ** 2 / 3
    Y = X.numpy()
    for n in order or (0, 1, 2):
        s2 = np.linalg.svd(np.moveaxis(Y, n, 0).reshape(Y.shape[n], -1), compute_uv=False) ** 2
        tail = np.concatenate([np.cumsum(s2[::-1])[::-1], [0.0]])  # tail[r] = energy past rank r
        r = t.rank[n]
        assert tail[r] <= budget * (1 + 1e-9)
        assert r == 1 or tail[r - 1] > budget
        U = t.factors[n].numpy()
        Y = np.moveaxis(np.tensordot(U.conj().T, Y, axes=([1], [n])), 0, n)


def test_plain_hosvd_energy_bound():
    X = noisy_tensor()
    for energy in (0.5, 0.9):
        assert hosvd(X, energy=energy).rel_error(X) ** 2 <= 3 * (1 - energy)
