"""Known answers for shared.lowrank.sampling."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from shared.errors import BadInput
from shared.lowrank import leverage_sample
from shared.lowrank.sampling import _draw, leverage_scores


def heavy_rows(n=4000, d=10, dtype=torch.float64, seed=0):
    """Rows with very unequal norms, so leverage differs from uniform."""
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(n, d, dtype=torch.float64, generator=g)
    X = X * (torch.rand(n, 1, dtype=torch.float64, generator=g) ** 4 * 20 + 0.1)
    beta = torch.randn(d, 1, dtype=torch.float64, generator=g)
    y = X @ beta + torch.randn(n, 1, dtype=torch.float64, generator=g)
    return X.to(dtype), y.to(dtype)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_exact_scores_sum_to_rank(dtype):
    X, _ = heavy_rows(dtype=dtype)
    s = leverage_scores(X, approximate=False)
    assert s.shape == (4000,) and s.dtype == dtype
    assert s.sum().item() == pytest.approx(10, rel=1e-4)
    assert s.max().item() <= 1 + 1e-5


def test_approximate_scores_within_constant_factor():
    X, _ = heavy_rows()
    exact = leverage_scores(X, approximate=False)
    approx = leverage_scores(X, approximate=True, seed=1)
    ratio = approx / exact
    assert 0.4 < ratio.min().item() and ratio.max().item() < 2.5


@pytest.mark.parametrize("approximate", [True, False])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_sampled_least_squares_within_1_5x(approximate, dtype):
    X, y = heavy_rows(dtype=dtype)
    full = torch.linalg.lstsq(X, y).solution
    r_full = torch.linalg.vector_norm(X @ full - y)
    idx, w = leverage_sample(X, 200, seed=0, approximate=approximate)
    assert idx.shape == (200,) and w.shape == (200,)
    beta = torch.linalg.lstsq(X[idx] * w[:, None], y[idx] * w[:, None]).solution
    r = torch.linalg.vector_norm(X @ beta - y)
    assert r <= 1.5 * r_full


@pytest.mark.parametrize("mix", [0.0, 0.5])
def test_weights_unbiased_gram(mix):
    X, _ = heavy_rows(n=2000, d=4)
    idx, w = leverage_sample(X, 20000, seed=2, mix=mix)
    G = (X[idx] * w[:, None]).T @ (X[idx] * w[:, None])
    assert torch.allclose(G, X.T @ X, rtol=0.1, atol=0.05 * (X.T @ X).diagonal().max().item())


def test_mixed_probabilities_are_the_stated_formula():
    # weights are 1 / sqrt(m p_i) with p = (1 - mix) lev / rank + mix / n, a distribution
    X, _ = heavy_rows(n=300, d=4)
    m, mix = 500, 0.3
    idx, w = leverage_sample(X, m, seed=1, approximate=False, mix=mix)
    p = (1 - mix) * numpy_leverage(X, 4) / 4 + mix / 300
    assert p.sum() == pytest.approx(1.0, abs=1e-12)
    np.testing.assert_allclose(w.numpy(), 1 / np.sqrt(m * p[idx.numpy()]), rtol=1e-10)


def test_jl_branch_scores_within_constant_factor():
    # d > 8 log n (80 > 61 for n = 2000): the sketch is further projected to
    # ceil(8 log n) columns by a scaled Gaussian; the scores keep their size
    g = torch.Generator().manual_seed(3)
    n, d = 2000, 80
    X = torch.randn(n, d, dtype=torch.float64, generator=g)
    X = X * (torch.rand(n, 1, dtype=torch.float64, generator=g) ** 4 * 20 + 0.1)
    exact = leverage_scores(X, approximate=False)
    approx = leverage_scores(X, approximate=True, seed=1)
    assert approx.sum().item() == pytest.approx(d, rel=0.1)
    ratio = approx / exact
    assert 0.3 < ratio.min().item() and ratio.max().item() < 3.0
    assert 0.8 < ratio.median().item() < 1.25


def test_without_replacement_and_complex():
    X, _ = heavy_rows(n=500, d=5)
    Xc = X.to(torch.complex128) * (1 + 1j)
    idx, w = leverage_sample(Xc, 100, seed=0, replace=False)
    assert idx.unique().numel() == 100 and w.dtype == torch.float64
    # Scores are unitarily invariant in the column space: complex scaling changes nothing.
    assert torch.allclose(leverage_scores(Xc, approximate=False), leverage_scores(X, approximate=False), atol=1e-10)


def test_seeded():
    X, _ = heavy_rows(n=500, d=5)
    a, _ = leverage_sample(X, 50, seed=4)
    b, _ = leverage_sample(X, 50, seed=4)
    assert torch.equal(a, b)


def test_bad_input():
    X, _ = heavy_rows(n=100, d=3)
    with pytest.raises(BadInput):
        leverage_sample(X, 0)
    with pytest.raises(BadInput):
        leverage_sample(X, 101, replace=False)
    with pytest.raises(BadInput):
        leverage_sample(X[:, 0], 10)


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda():
    X, _ = heavy_rows(dtype=torch.float32)
    idx, w = leverage_sample(X.cuda(), 100, seed=0)
    assert idx.is_cuda and w.is_cuda
    assert leverage_scores(X.cuda(), approximate=False).sum().item() == pytest.approx(10, rel=1e-3)


def rank_deficient(n, d, r, seed=0, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    A = torch.randn(n, r, dtype=torch.float64, generator=g) * (torch.rand(n, 1, dtype=torch.float64, generator=g) ** 3 * 10 + 0.1)
    return (A @ torch.randn(r, d, dtype=torch.float64, generator=g)).to(dtype)


def numpy_leverage(X, r):
    U = np.linalg.svd(X.double().numpy(), full_matrices=False)[0]
    return (np.abs(U[:, :r]) ** 2).sum(1)


@pytest.mark.parametrize("n", [2000, 15])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_exact_scores_rank_deficient_match_numpy(n, dtype):
    # rank 3 in 10 columns: the scores sum to 3 (not 10) and equal numpy's
    # row norms of U[:, :3]; n = 15 <= 2d takes the exact path in the default call.
    X = rank_deficient(n, 10, 3, dtype=dtype)
    want = numpy_leverage(X, 3)
    calls = [leverage_scores(X, approximate=False)] + ([leverage_scores(X)] if n <= 20 else [])
    for s in calls:
        assert s.sum().item() == pytest.approx(3, rel=1e-4)
        np.testing.assert_allclose(s.numpy(), want, atol=1e-4 if dtype == torch.float32 else 1e-10)


def test_approximate_scores_rank_deficient():
    X = rank_deficient(4000, 10, 3)
    want = numpy_leverage(X, 3)
    s = leverage_scores(X, approximate=True, seed=0).numpy()
    assert np.isfinite(s).all()
    assert s.sum() == pytest.approx(3, rel=0.3)
    ratio = s / want
    assert ratio.min() > 0.3 and ratio.max() < 3
    assert np.corrcoef(s, want)[0, 1] > 0.95


@pytest.mark.parametrize("shape", [(40, 10), (15, 10)])
def test_all_zero_x_gives_zero_scores_and_uniform_draws(shape):
    X = torch.zeros(shape, dtype=torch.float64)
    for approx in (True, False):
        s = leverage_scores(X, approximate=approx)
        assert torch.equal(s, torch.zeros(shape[0], dtype=torch.float64))
    idx, w = leverage_sample(X, 4000, seed=0)
    counts = np.bincount(idx.numpy(), minlength=shape[0]) / 4000
    assert np.abs(counts - 1 / shape[0]).max() < 0.03
    np.testing.assert_allclose(w.numpy(), 1 / np.sqrt(4000 / shape[0]))


@pytest.mark.parametrize("replace", [True, False])
def test_draw_frequencies_match_probabilities(replace):
    # The frequencies of the draws are the leverage probabilities (the first
    # draw of each call for sampling without replacement).
    X, _ = heavy_rows(n=30, d=3)
    p = numpy_leverage(X, 3) / 3
    g = torch.Generator().manual_seed(5)
    trials = 20000
    if replace:
        idx, w = leverage_sample(X, trials, seed=g, approximate=False)
        np.testing.assert_allclose(w.numpy(), 1 / np.sqrt(trials * p[idx.numpy()]), rtol=1e-10)
    else:
        pt = torch.from_numpy(p)
        idx = torch.cat([_draw(pt, 3, False, g)[:1] for _ in range(trials)])
    freq = np.bincount(idx.numpy(), minlength=30) / trials
    sd = np.sqrt(p * (1 - p) / trials)
    assert np.all(np.abs(freq - p) < 5 * sd + 1e-9)


def test_without_replacement_draws_are_distinct():
    X, _ = heavy_rows(n=500, d=4)
    idx, _ = leverage_sample(X, 200, seed=7, replace=False)
    assert len(set(idx.tolist())) == 200


@pytest.mark.parametrize("replace", [True, False])
def test_draw_more_than_2_24_rows(replace):
    # torch.multinomial refuses n > 2^24 categories; the draw must not. The
    # mass sits on the last three rows, past 2^24, in the ratio 1:2:1.
    n = 2**24 + 3
    p = torch.zeros(n, dtype=torch.float64)
    p[-3:] = torch.tensor([0.25, 0.5, 0.25], dtype=torch.float64)
    g = torch.Generator().manual_seed(0)
    idx = _draw(p, 2000 if replace else 3, replace, g)
    if replace:
        freq = np.bincount(idx.numpy() - (n - 3), minlength=3) / 2000
        np.testing.assert_allclose(freq, [0.25, 0.5, 0.25], atol=0.05)
    else:
        assert sorted(idx.tolist()) == [n - 3, n - 2, n - 1]
