"""Known answers for shared.lowrank.pca: agreement with scikit-learn."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

from shared.errors import BadInput
from shared.lowrank import PCA


def data(n=300, d=40, dtype=torch.float64, seed=0):
    g = torch.Generator().manual_seed(seed)
    # A spectral gap after 5 components, so the randomized solver is accurate.
    scale = torch.cat([torch.linspace(5.0, 3.0, 5), torch.linspace(0.5, 0.05, d - 5)]).double()
    X = torch.randn(n, d, dtype=torch.float64, generator=g) * scale + 5.0
    return X.to(dtype)


def same_up_to_sign(A, B, atol):
    signs = np.sign(np.sum(A * B, axis=1, keepdims=True))
    return np.allclose(A, signs * B, atol=atol)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("n_components", [5, 0.9, None])
@pytest.mark.parametrize("method", ["auto", "full", "gram", "randomized"])
def test_matches_sklearn(dtype, n_components, method):
    from sklearn.decomposition import PCA as SkPCA

    X = data(dtype=dtype)
    ours = PCA(n_components, method=method, seed=0).fit(X)
    ref = SkPCA(n_components, svd_solver="full").fit(X.double().numpy())
    tol = 1e-4 if dtype == torch.float32 else 1e-8
    assert ours.n_components_ == ref.n_components_
    assert ours.components_.dtype == dtype and ours.mean_.dtype == dtype
    assert same_up_to_sign(ours.components_.double().numpy(), ref.components_, atol=tol)
    assert np.allclose(ours.explained_variance_.double().numpy(), ref.explained_variance_, rtol=tol)
    assert np.allclose(ours.explained_variance_ratio_.double().numpy(), ref.explained_variance_ratio_, atol=tol)
    assert np.allclose(ours.mean_.double().numpy(), ref.mean_, atol=tol)
    Z = ours.transform(X).double().numpy()
    Zr = ref.transform(X.double().numpy())
    assert same_up_to_sign(Z.T, Zr.T, atol=10 * tol)


@pytest.mark.parametrize("n, d", [(30, 40), (300, 40)])
@pytest.mark.parametrize("method", ["full", "gram"])
def test_noise_variance_matches_sklearn(n, d, method):
    # the mean of the discarded min(n, d) - k variances (sklearn's definition),
    # n < d included: there the divisor is n - k, not d - k
    from sklearn.decomposition import PCA as SkPCA

    X = data(n, d)
    ours = PCA(5, method=method).fit(X)
    ref = SkPCA(5, svd_solver="full").fit(X.numpy())
    assert ours.noise_variance_ == pytest.approx(ref.noise_variance_, rel=1e-8)


def test_inverse_transform_exact_at_full_rank():
    X = data(50, 8)
    p = PCA().fit(X)
    assert torch.allclose(p.inverse_transform(p.transform(X)), X, atol=1e-10)
    pw = PCA(8, whiten=True).fit(X)
    Z = pw.transform(X)
    assert torch.allclose(Z.var(0), torch.ones(8, dtype=X.dtype), atol=1e-10)
    assert torch.allclose(pw.inverse_transform(Z), X, atol=1e-10)


def test_fit_returns_self_and_params():
    p = PCA(3)
    assert p.fit(data()) is p
    assert p.get_params()["n_components"] == 3
    assert p.set_params(n_components=4).n_components == 4
    assert not hasattr(PCA(2), "components_")  # __init__ only stores parameters


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.complex128])
def test_partial_fit_equals_fit(dtype):
    X = data(dtype=torch.float64)
    if dtype.is_complex:
        X = X + 1j * data(seed=1)
    X = X.to(dtype)
    batch = PCA(6).fit(X)
    inc = PCA(6)
    for chunk in X.split(37):
        assert inc.partial_fit(chunk) is inc
    tol = 1e-4 if dtype == torch.float32 else 1e-9
    assert inc.n_samples_seen_ == X.shape[0]
    assert torch.allclose(inc.mean_, batch.mean_, atol=tol)
    assert torch.allclose(inc.components_, batch.components_, atol=tol)
    assert torch.allclose(inc.explained_variance_, batch.explained_variance_, rtol=tol)
    assert torch.allclose(inc.explained_variance_ratio_, batch.explained_variance_ratio_, atol=tol)


def test_bad_input():
    X = data()
    with pytest.raises(BadInput):
        PCA(41).fit(X)
    with pytest.raises(BadInput):
        PCA(1.5).fit(X)
    with pytest.raises(BadInput):
        PCA(3, method="arpack").fit(X)
    with pytest.raises(BadInput):
        PCA(3).transform(X)
    p = PCA(3).fit(X)
    with pytest.raises(BadInput):
        p.transform(X[:, :5])
    with pytest.raises(BadInput):
        PCA(3).set_params(solver="x")


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda():
    X = data(dtype=torch.float32)
    cpu = PCA(5).fit(X)
    gpu = PCA(5).fit(X.cuda())
    assert gpu.components_.is_cuda and gpu.transform(X.cuda()).is_cuda
    assert torch.allclose(gpu.components_.cpu(), cpu.components_, atol=1e-4)
    inc = PCA(5)
    for c in X.cuda().split(100):
        inc.partial_fit(c)
    assert torch.allclose(inc.components_.cpu(), cpu.components_, atol=1e-4)


def test_float_one_is_all_the_variance():
    # n_components=1.0 is the variance fraction 1.0 (it used to keep one
    # component): on rank-7 centred data it keeps the 7 components numpy's
    # matrix_rank finds, and reconstructs exactly; partial_fit agrees.
    g = torch.Generator().manual_seed(3)
    X = torch.randn(200, 7, dtype=torch.float64, generator=g) @ torch.randn(7, 30, dtype=torch.float64, generator=g) + 2.0
    want = int(np.linalg.matrix_rank((X - X.mean(0)).numpy()))
    assert want == 7
    for dtype in (torch.float64, torch.float32):
        Xd = X.to(dtype)
        p = PCA(n_components=1.0).fit(Xd)
        assert p.n_components_ == want
        assert float(p.explained_variance_ratio_.sum()) == pytest.approx(1.0, abs=1e-5)
        tol = 1e-8 if dtype == torch.float64 else 1e-3
        assert torch.allclose(p.inverse_transform(p.transform(Xd)), Xd, atol=tol)
        assert PCA(n_components=1.0).partial_fit(Xd[:120]).partial_fit(Xd[120:]).n_components_ == want
    assert PCA(n_components=1).fit(X).n_components_ == 1  # the int 1 is still one component


def test_to_moves_every_fitted_tensor_and_keeps_the_answer():
    X = data(n=120, d=12)
    for fitted in (PCA(n_components=3, whiten=True).fit(X),
                   PCA(n_components=3).partial_fit(X[:60]).partial_fit(X[60:])):
        ref = fitted.transform(X)
        moved = copy.deepcopy(fitted).to("meta")  # a device with no data: a tensor left behind stays on cpu
        tensors = {k: v for k, v in vars(moved).items() if isinstance(v, torch.Tensor)}
        assert "explained_variance_" in tensors and all(v.device.type == "meta" for v in tensors.values()), \
            {k: v.device.type for k, v in tensors.items()}
        assert fitted.to("cpu") is fitted
        torch.testing.assert_close(fitted.transform(X), ref, rtol=0, atol=0)
