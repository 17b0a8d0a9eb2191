"""Known answers for shared.lowrank.sampling."""

from __future__ import annotations

import pytest
import torch

from shared.errors import BadInput
from shared.lowrank import leverage_sample
from shared.lowrank.sampling import leverage_scores


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


def test_weights_unbiased_gram():
    X, _ = heavy_rows(n=2000, d=4)
    idx, w = leverage_sample(X, 20000, seed=2)
    G = (X[idx] * w[:, None]).T @ (X[idx] * w[:, None])
    assert torch.allclose(G, X.T @ X, rtol=0.1, atol=0.05 * (X.T @ X).diagonal().max().item())


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
