"""Known answers for shared.lowrank.svd."""

from __future__ import annotations

import math

import pytest
import torch

from shared.errors import BadInput
from shared.lowrank.svd import choose_method, randomized_error_estimate, svd

DTYPES = [torch.float32, torch.float64, torch.complex64, torch.complex128]
METHODS = ["full", "gram", "randomized", "auto"]


def low_rank_matrix(m, n, r, dtype, batch=(), seed=0):
    """``U diag(s) V^H`` with orthonormal U, V and singular values in [1, 2]."""
    g = torch.Generator().manual_seed(seed)
    U = torch.linalg.qr(torch.randn(*batch, m, r, dtype=dtype, generator=g)).Q
    V = torch.linalg.qr(torch.randn(*batch, n, r, dtype=dtype, generator=g)).Q
    s = torch.linspace(2.0, 1.0, r, dtype=torch.float64).to(U.real.dtype)
    return (U * s.to(dtype)) @ V.mH, s


def rel(A, B):
    return (torch.linalg.vector_norm(A - B) / torch.linalg.vector_norm(B)).item()


def recon(U, S, Vh):
    return (U * S.to(U.dtype).unsqueeze(-2)) @ Vh


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("shape", [(60, 90), (90, 60)])
def test_exact_recovery_of_low_rank_matrix(dtype, method, shape):
    A, s = low_rank_matrix(*shape, 7, dtype)
    U, S, Vh = svd(A, 7, method=method, seed=0)
    assert U.shape == (shape[0], 7) and S.shape == (7,) and Vh.shape == (7, shape[1])
    assert U.dtype == dtype and Vh.dtype == dtype and S.dtype == A.real.dtype
    assert rel(recon(U, S, Vh), A) < 1e-5
    assert torch.allclose(S.double(), s.double(), atol=1e-5)
    eye = torch.eye(7, dtype=dtype)
    assert torch.allclose(U.mH @ U, eye, atol=1e-5)
    assert torch.allclose(Vh @ Vh.mH, eye, atol=1e-5)


@pytest.mark.parametrize("dtype", [torch.float32, torch.complex128])
@pytest.mark.parametrize("method", ["full", "gram", "randomized"])
def test_batched(dtype, method):
    A, _ = low_rank_matrix(40, 30, 5, dtype, batch=(2, 3))
    U, S, Vh = svd(A, 5, method=method, seed=1)
    assert U.shape == (2, 3, 40, 5) and S.shape == (2, 3, 5) and Vh.shape == (2, 3, 5, 30)
    assert rel(recon(U, S, Vh), A) < 1e-5


@pytest.mark.parametrize("dtype", [torch.float64, torch.complex128])
def test_signs_agree_across_solvers(dtype):
    A, _ = low_rank_matrix(50, 80, 6, dtype)
    ref = svd(A, 6, method="full")
    for method in ("gram", "randomized"):
        U, S, Vh = svd(A, 6, method=method, seed=3)
        assert torch.allclose(U, ref[0], atol=1e-8)
        assert torch.allclose(Vh, ref[2], atol=1e-8)
    # The largest-magnitude entry of each left singular vector is real positive.
    U = ref[0]
    pivot = torch.gather(U, 0, U.abs().argmax(0, keepdim=True))
    assert torch.all(pivot.real > 0) and torch.allclose(pivot.imag if dtype.is_complex else 0 * pivot, torch.zeros(1, dtype=torch.float64))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_randomized_near_optimal_on_decaying_spectrum(dtype):
    g = torch.Generator().manual_seed(0)
    m, n, k = 400, 300, 20
    U = torch.linalg.qr(torch.randn(m, n, generator=g, dtype=torch.float64)).Q
    V = torch.linalg.qr(torch.randn(n, n, generator=g, dtype=torch.float64)).Q
    s = torch.exp(-torch.arange(n, dtype=torch.float64) / 15)
    A = ((U * s) @ V.T).to(dtype)
    optimal = torch.linalg.vector_norm(s[k:]).item()
    Ur, Sr, Vhr = svd(A, k, method="randomized", seed=0)
    err = torch.linalg.vector_norm(A.double() - recon(Ur, Sr, Vhr).double()).item()
    assert err <= 1.05 * optimal
    # The a-posteriori estimate bounds the spectral error (with probability
    # 1 - 10^-5 for 5 probes) and is not absurdly loose.
    spectral = torch.linalg.matrix_norm(A.double() - Ur.double() @ (Ur.double().T @ A.double()), ord=2).item()
    est = randomized_error_estimate(A, Ur, seed=1).item()
    assert spectral <= est < 40 * s[k].item()


def test_seed_reproducible():
    A = torch.randn(120, 80, dtype=torch.float64)
    a = svd(A, 5, method="randomized", seed=7, power_iters=0)
    b = svd(A, 5, method="randomized", seed=7, power_iters=0)
    assert torch.equal(a[0], b[0])
    g = torch.Generator().manual_seed(7)
    c = svd(A, 5, method="randomized", seed=g, power_iters=0)
    assert torch.equal(a[0], c[0])


def test_rank_none_is_full():
    A = torch.randn(8, 5, dtype=torch.float64)
    U, S, Vh = svd(A)
    assert S.shape == (5,)
    assert torch.allclose(recon(U, S, Vh), A, atol=1e-12)


def test_choose_method_known_answers():
    assert choose_method(20000, 2000, 50) == "randomized"
    assert choose_method(256, 65536, 32) == "gram"
    assert choose_method(100, 100, 100) == "full"
    assert choose_method(100, 100, 10) == "gram"
    assert choose_method(100, 1000, 100) == "gram"
    assert choose_method(1000, 1000, 800) == "full"
    assert choose_method(256, 65536, 5) == "gram"
    assert choose_method(1000, 2000, 100) == "randomized"


@pytest.mark.parametrize(
    "kwargs",
    [dict(rank=41), dict(rank=0), dict(method="qr"), dict(rank=2.5)],
)
def test_bad_input(kwargs):
    with pytest.raises(BadInput):
        svd(torch.randn(40, 50), **kwargs)


@pytest.mark.parametrize("field", ["oversample", "power_iters"])
@pytest.mark.parametrize("method", ["randomized", "auto"])
def test_negative_oversample_or_power_iters_is_bad_input(field, method):
    with pytest.raises(BadInput) as e:
        svd(torch.randn(40, 50), 5, method=method, **{field: -1})
    assert str(e.value).startswith(f"{field}:")


def test_error_estimate_is_hmt_eq_4_3():
    # residual (I - U U^H) A = 2 e_1 e_1^T: one probe w gives ||R w|| = 2 |w_1|, so
    # the bound 10 sqrt(2/pi) max_j ||R w_j|| averages 10 sqrt(2/pi) * 2 E|w_1| = 40 / pi
    # over independent probes (a batch of 4000 matrices draws 4000 of them)
    b = 4000
    A = torch.zeros(b, 3, 3, dtype=torch.float64)
    A[:, 0, 0] = 2.0
    U = torch.eye(3, dtype=torch.float64)[:, 1:].expand(b, 3, 2)
    est = randomized_error_estimate(A, U, n_probes=1, seed=0)
    assert est.shape == (b,)
    assert est.mean().item() == pytest.approx(40 / math.pi, rel=0.05)
    # five probes: the bound holds (spectral residual 2) for every matrix of the batch
    assert bool((randomized_error_estimate(A, U, n_probes=5, seed=0) >= 2.0).all())


def test_bad_input_message_names_rank():
    with pytest.raises(BadInput, match="rank 41 exceeds"):
        svd(torch.randn(40, 50), 41)


def test_rejects_vector_and_int_tensors():
    with pytest.raises(BadInput):
        svd(torch.randn(5))
    with pytest.raises(BadInput):
        svd(torch.ones(4, 4, dtype=torch.int64))


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("method", ["full", "gram", "randomized"])
def test_cuda(method):
    A, _ = low_rank_matrix(60, 90, 7, torch.complex64)
    U, S, Vh = svd(A.cuda(), 7, method=method, seed=0)
    assert U.is_cuda and S.is_cuda and Vh.is_cuda and U.dtype == torch.complex64
    assert rel(recon(U, S, Vh).cpu(), A) < 1e-5


@pytest.mark.parametrize("dtype", [torch.float64, torch.complex128])
def test_svdvals_resolves_an_exact_rank_below_the_gram_floor(dtype):
    from shared.lowrank import svdvals

    g = torch.Generator().manual_seed(0)
    a = torch.randn(60, 4, generator=g, dtype=dtype) @ torch.randn(4, 50, generator=g, dtype=dtype)
    s = svdvals(a)
    assert s.shape == (50,) and s.dtype == torch.float64
    assert torch.all(s[:-1] >= s[1:])
    # beyond the rank the values are at round-off (~eps), far below sqrt(eps) ~ 1e-8
    assert float(s[4] / s[0]) < 1e-13 < float(s[3] / s[0])


# (m, n, k, solvers timed) with a clear winner on the 2-core CPU, timed as below
# (2026-12-01, load 7-10; CPU seconds): full keeps most singular values of a tall matrix
# (0.009 vs gram 0.019), gram for very wide ones (0.018 vs full 0.11; 0.005 vs 0.025),
# randomized for a few of a large square one (0.010 vs gram 0.21). Full is not timed
# where it is slower than gram by construction (k << min(m, n)), nor randomized where
# its sketch would be nearly as wide as the matrix.
AUTO_CASES = [(1200, 200, 170, ("full", "gram")),
              (100, 20000, 20, ("full", "gram")),
              (60, 12000, 10, ("full", "gram")),
              (1200, 1200, 8, ("gram", "randomized"))]


@pytest.mark.parametrize("m, n, k, methods", AUTO_CASES)
def test_auto_picks_the_fastest_solver_on_this_cpu(m, n, k, methods):
    """Each solver timed here, interleaved, on one thread, as CPU time of this process.

    One thread and CPU time keep other processes' load out of the ratios (wall
    time on a loaded 2-core machine scatters 5x); min of 3 after a warm-up.
    auto's pick must be within 1.5x of the fastest; each wrong pick is 2x or more off.
    """
    import time

    from shared.threads import cpu_threads

    A = torch.randn(m, n, generator=torch.Generator().manual_seed(0), dtype=torch.float32)
    best = {x: float("inf") for x in methods}
    with cpu_threads(1):
        for rep in range(4):  # the first round is the warm-up
            for x in methods:
                t0 = time.process_time()
                svd(A, k, method=x, seed=0)
                if rep:
                    best[x] = min(best[x], time.process_time() - t0)
    pick = choose_method(m, n, k, device=A.device)
    fastest = min(best, key=best.get)
    assert pick in methods and best[pick] / best[fastest] < 1.5, (pick, best)


def test_auto_is_device_aware(monkeypatch):
    """On a non-CPU device the randomized cost factor comes from that device's calibration."""
    import importlib

    svd_mod = importlib.import_module("shared.lowrank.svd")

    assert svd_mod.randomized_penalty("cpu") == svd_mod.RANDOMIZED_PENALTY
    calls = []

    def fake_calibration(key, *a, **k):
        calls.append(key)
        return 1e-3  # a device where the randomized passes are nearly free

    monkeypatch.setattr(svd_mod, "_penalties", {})
    monkeypatch.setattr(svd_mod, "calibrate_penalty", fake_calibration)
    monkeypatch.setattr(svd_mod, "_device_key", lambda d: str(torch.device(d if d is not None else "cpu")))
    assert choose_method(256, 65536, 5, device="cpu") == "gram"
    assert choose_method(256, 65536, 5, device="cuda:0") == "randomized"
    assert choose_method(300, 50000, 5, device="cuda:0") == "randomized"
    assert calls == ["cuda:0"]  # calibrated once, then cached


def test_calibration_measures_a_positive_factor():
    from shared.lowrank.svd import calibrate_penalty

    p = calibrate_penalty("cpu", probe=(256, 1024, 8), repeats=1)
    assert 0 < p < 1e3


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("m, n, k", [(4096, 4096, 16), (512, 65536, 16), (2048, 2048, 1500), (20000, 2000, 50)])
def test_auto_on_cuda_is_near_the_fastest(m, n, k):
    """On the GPU, auto's calibrated choice is within 1.5x of the fastest solver (timed here)."""
    from shared.timing import measure

    A = torch.randn(m, n, device="cuda", generator=torch.Generator(device="cuda").manual_seed(0))
    methods = [x for x in ("full", "gram", "randomized") if not (x == "randomized" and k + 10 >= min(m, n))]
    t = {x: measure(lambda: svd(A, k, method=x, seed=0), repeats=3, device=A.device)[0].min_s for x in methods}
    pick = choose_method(m, n, k, device=A.device)
    assert t[pick] / min(t.values()) < 1.5, (pick, t)
