"""Known answers for shared.lowrank.intrinsic."""

from __future__ import annotations

import math

import pytest
import torch

from shared.errors import BadInput
from shared.lowrank import intrinsic_dimension


def subspace_points(n, k, D, dtype=torch.float64, seed=0):
    g = torch.Generator().manual_seed(seed)
    basis = torch.linalg.qr(torch.randn(D, k, dtype=torch.float64, generator=g)).Q
    return (torch.randn(n, k, dtype=torch.float64, generator=g) @ basis.T).to(dtype)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_twonn_recovers_5d_subspace_in_100d(dtype):
    X = subspace_points(1500, 5, 100, dtype)
    assert abs(intrinsic_dimension(X) - 5) <= 1


def test_twonn_circle_is_one_dimensional():
    # Random angles: on an even grid r2 = r1 exactly and TwoNN is undefined.
    g = torch.Generator().manual_seed(1)
    t = 2 * math.pi * torch.rand(1000, dtype=torch.float64, generator=g)
    X = torch.stack([t.cos(), t.sin()], 1) @ torch.randn(2, 20, dtype=torch.float64, generator=g)
    assert abs(intrinsic_dimension(X) - 1) < 0.3


def test_twonn_is_facco_et_al_fit_through_the_origin():
    # Facco et al. (2017): sort mu = r2 / r1, empirical CDF F_i = i / N, and fit
    # -log(1 - F_i) = d log mu_i through the origin on the first 90 %;
    # neighbour distances here from scikit-learn
    from sklearn.neighbors import NearestNeighbors

    X = subspace_points(300, 4, 12, seed=3)
    dist = NearestNeighbors(n_neighbors=3).fit(X.numpy()).kneighbors(X.numpy())[0]
    mu = torch.from_numpy(dist[:, 2] / dist[:, 1]).sort().values
    keep = int(0.9 * 300)
    x = mu[:keep].log()
    y = -torch.log1p(-torch.arange(1, keep + 1, dtype=torch.float64) / 300)
    assert intrinsic_dimension(X, fraction=0.9) == pytest.approx(float((x * y).sum() / (x * x).sum()), rel=1e-10)


def test_duplicates_are_ignored():
    X = subspace_points(600, 3, 30)
    with_dups = torch.cat([X, X[:200], X[:50]])
    assert intrinsic_dimension(with_dups) == pytest.approx(intrinsic_dimension(X))


def test_subsample_seeded():
    X = subspace_points(3000, 4, 20)
    a = intrinsic_dimension(X, max_points=500, seed=3)
    assert a == intrinsic_dimension(X, max_points=500, seed=3)
    assert abs(a - 4) <= 1


def test_complex_counts_real_coordinates():
    Z = subspace_points(800, 3, 10, torch.complex128)  # real points, imaginary part 0
    Zc = Z + 1j * subspace_points(800, 3, 10, seed=5)
    assert abs(intrinsic_dimension(Zc) - 6) <= 1


def test_pca_counts_components():
    X = subspace_points(500, 5, 40) + 1e-3 * torch.randn(500, 40, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    assert intrinsic_dimension(X, "pca") == 5.0
    assert intrinsic_dimension(X, "pca", variance=0.1) == 1.0


def test_pca_dimension_centres_the_points_like_sklearn():
    """A 3-D subspace shifted far from the origin: PCA (centred, as scikit-learn's) still counts 3."""
    from sklearn.decomposition import PCA

    g = torch.Generator().manual_seed(3)
    X = subspace_points(400, 3, 20) + 50.0 * torch.randn(1, 20, dtype=torch.float64, generator=g)
    ratio = PCA().fit(X.numpy()).explained_variance_ratio_.cumsum()
    for v in (0.5, 0.95):
        assert intrinsic_dimension(X, "pca", variance=v) == float(int((ratio < v - 1e-12).sum()) + 1)
    assert intrinsic_dimension(X, "pca", variance=0.95) == 3.0


def test_bad_input():
    with pytest.raises(BadInput):
        intrinsic_dimension(torch.randn(10, 3), method="mle")
    with pytest.raises(BadInput):
        intrinsic_dimension(torch.ones(10, 3))  # one distinct point
    with pytest.raises(BadInput):
        intrinsic_dimension(torch.randn(10))
    with pytest.raises(BadInput):
        intrinsic_dimension(torch.full((10, 3), float("nan")))
    for frac in (0.0, 1.5):  # TwoNN keeps a fraction of the ratios, in (0, 1]
        with pytest.raises(BadInput, match="fraction"):
            intrinsic_dimension(torch.randn(50, 3), fraction=frac)


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda():
    X = subspace_points(1000, 5, 100, torch.float32).cuda()
    assert abs(intrinsic_dimension(X) - 5) <= 1
    assert intrinsic_dimension(X, "pca") == 5.0
