"""FFT, SENSE and TV operators: adjointness, unitarity, coil maps (issue 11, tests)."""

from __future__ import annotations

import pytest
import torch

from domains.mri.cs import div, grad, lambda_for, tune_lambda, tv_recon
from domains.mri.embedded import coil_maps
from domains.mri.fft import crop_kspace, fft2c, ifft2c, rss
from domains.mri.masks import make_mask
from domains.mri.operators import (acs_region, estimate_sensitivities, sense_adjoint, sense_forward,
                                   sense_normal, zero_filled)


def _inner(a, b):
    return torch.sum(a * b.conj())


def _c(*shape, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(*shape, generator=g, dtype=torch.complex128)


@pytest.mark.parametrize("shape", [(3, 16, 16), (2, 5, 12, 10)])  # leading batch/coil/slice dims
def test_fft_is_unitary_and_inverse(shape):
    x = _c(*shape)
    k = fft2c(x)
    assert torch.allclose(ifft2c(k), x, atol=1e-12)
    assert torch.allclose(k.norm(), x.norm(), rtol=1e-12)
    y = _c(*shape, seed=1)
    assert torch.allclose(_inner(fft2c(x), y), _inner(x, ifft2c(y)), rtol=1e-10)
    # centred: a constant image puts all of its energy at (H // 2, W // 2)
    one = torch.ones(*shape[-2:], dtype=torch.complex128)
    kk = fft2c(one)
    assert kk.abs().argmax() == (shape[-2] // 2) * shape[-1] + shape[-1] // 2


@pytest.mark.parametrize("family", ["random", "poisson_2d"])
def test_sense_adjointness(family):
    """<A x, y> = <x, A^H y> for the masked multi-coil operator, with slice and batch dims."""
    B, C, H, W = 2, 4, 24, 20
    sens = _c(B, C, H, W, seed=2)
    mask = make_mask(family, (H, W), 4, seed=3).double()
    x, y = _c(B, H, W, seed=4), _c(B, C, H, W, seed=5)
    lhs = _inner(sense_forward(x, sens, mask), y)
    rhs = _inner(x, sense_adjoint(y, sens, mask))
    assert torch.allclose(lhs, rhs, rtol=1e-10)
    assert torch.allclose(sense_normal(x, sens, mask), sense_adjoint(sense_forward(x, sens, mask), sens, mask))


def test_tv_gradient_adjoint():
    x, q = _c(3, 9, 11), _c(3, 2, 9, 11, seed=1)
    assert torch.allclose(_inner(grad(x), q), -_inner(x, div(q)), rtol=1e-10)


def test_acs_region_and_sensitivities_recover_simulated_maps():
    H = W = 48
    true = coil_maps(6, (H, W)).to(torch.complex128)
    yy, xx = torch.meshgrid(torch.linspace(-1, 1, H), torch.linspace(-1, 1, W), indexing="ij")
    img = ((yy ** 2 + xx ** 2) < 0.6).double() * (1 + 0.3 * yy)
    k = fft2c(true * img)
    for fam in ("equispaced", "gaussian_2d"):
        m = make_mask(fam, (H, W), 4, seed=0)
        acs = acs_region(m)
        assert bool(m[acs.bool()].all()) and acs.sum() >= 9  # the region is fully sampled
        est = estimate_sensitivities(k * m, m)
        inside = img > 0
        # maps agree up to one global phase per pixel: |<S_est, S_true>_coils| ~ 1 inside the object
        corr = (est.conj() * true).sum(0).abs()
        assert corr[inside].mean() > 0.95
        assert torch.allclose(rss(est)[inside], torch.ones(()).double(), atol=1e-3)


def test_crop_kspace_keeps_intensity_and_zero_filled_is_rss():
    x = torch.ones(2, 32, 32, dtype=torch.complex128)
    low = ifft2c(crop_kspace(fft2c(x), (16, 16)))
    assert torch.allclose(low.abs(), torch.ones(()).double(), atol=1e-10)
    k = _c(3, 16, 16)
    assert torch.allclose(zero_filled(k), rss(ifft2c(k), dim=-3))


def test_center_crop_is_fastmris_on_odd_margins():
    """fastMRI's ``center_crop``: ``from = (size - crop) // 2`` on each axis, also when the margin is odd."""
    from domains.mri.fft import center_crop

    x = torch.arange(7 * 10).reshape(7, 10)
    for crop in [(4, 5), (3, 8), (7, 10), (2, 1)]:
        top, left = (7 - crop[0]) // 2, (10 - crop[1]) // 2
        assert torch.equal(center_crop(x, crop), x[top:top + crop[0], left:left + crop[1]])
    assert torch.equal(center_crop(x, (4, 5))[0], torch.tensor([12, 13, 14, 15, 16]))
    with pytest.raises(ValueError):
        center_crop(x, (8, 4))


def test_tv_recon_beats_zero_filled_on_a_piecewise_constant_phantom():
    H = W = 32
    sens = coil_maps(4, (H, W)).to(torch.complex64)
    yy, xx = torch.meshgrid(torch.linspace(-1, 1, H), torch.linspace(-1, 1, W), indexing="ij")
    img = (((yy ** 2 + xx ** 2) < 0.7).float() + ((yy - 0.2) ** 2 + xx ** 2 < 0.1).float()).to(torch.complex64)
    m = make_mask("poisson_2d", (H, W), 4, seed=0).float()
    y = sense_forward(img, sens, m)[None]
    rec = tv_recon(y, sens[None], m[None, None], lam=0.01, iterations=150)[0]
    zf = zero_filled(y)[0]
    err = lambda r: float((r - img.abs()).norm() / img.abs().norm())  # noqa: E731
    assert err(rec) < 0.5 * err(zf)


def test_tv_recon_with_full_sampling_and_a_large_weight_is_rofs_constant_mean():
    """With one unit coil and every sample, SENSE-TV is ROF denoising, min 1/2 ||x - x0||^2 + lam TV(x);
    for lam above the noise's dual (G-) norm its minimiser is the constant mean of x0 (ROF keeps the mean).
    A solver of the constrained problem (A x = y, a dual step without the 1 / (1 + sigma)) returns x0."""
    g = torch.Generator().manual_seed(0)
    H = 16
    x0 = (1 + 0.1 * torch.randn(H, H, generator=g, dtype=torch.float64)).to(torch.complex128)
    sens, mask = torch.ones(1, 1, H, H, dtype=torch.complex128), torch.ones(1, 1, H, H, dtype=torch.float64)
    y = fft2c(x0)[None, None]
    assert torch.allclose(tv_recon(y, sens, mask, 0.0, iterations=20)[0], x0.abs(), atol=1e-12)
    r = tv_recon(y, sens, mask, 5.0, iterations=300)[0]
    assert float(r.mean()) == pytest.approx(float(x0.real.mean()), rel=1e-9)
    assert float(r.std()) < 0.01 * float(x0.real.std())  # measured 0.0018


def test_wavelet_shrink_is_the_l1_prox_of_an_orthonormal_wavelet():
    """Zero threshold returns the image; a threshold shrinks the wavelet coefficients' magnitudes by exactly it."""
    import pywt

    from domains.mri.cs import wavelet_shrink

    torch.manual_seed(0)
    x = torch.randn(2, 32, 32, dtype=torch.complex128)
    assert torch.allclose(wavelet_shrink(x, torch.zeros(2)), x, atol=1e-10)
    out = wavelet_shrink(x, torch.tensor([0.3, 0.0]))
    c_in, _ = pywt.coeffs_to_array(pywt.wavedec2(x[0].numpy(), "db4", mode="periodization", level=2))
    c_out, _ = pywt.coeffs_to_array(pywt.wavedec2(out[0].numpy(), "db4", mode="periodization", level=2))
    import numpy as np

    np.testing.assert_allclose(np.abs(c_out), np.maximum(np.abs(c_in) - 0.3, 0), atol=1e-6)
    assert torch.allclose(out[1], x[1], atol=1e-10)  # per-slice thresholds


def test_wavelet_shrink_keeps_an_odd_matrix_size():
    """PyWavelets' periodisation returns an even side; the result is cropped back (a 63 x 61 user file)."""
    from domains.mri.cs import wavelet_recon, wavelet_shrink

    torch.manual_seed(0)
    x = torch.randn(1, 63, 61, dtype=torch.complex128)
    assert wavelet_shrink(x, torch.zeros(1)).shape == x.shape
    assert torch.allclose(wavelet_shrink(x, torch.zeros(1)), x, atol=1e-10)
    y = torch.fft.fft2(x)[:, None]
    mask = torch.ones(1, 1, 63, 61)
    assert wavelet_recon(y, torch.ones_like(y), mask, 0.01, iterations=2).shape == (1, 63, 61)


def test_cs_weight_is_the_one_tuned_at_the_nearest_acceleration():
    lams = {4.0: 0.03, 8.0: 0.3}
    assert lambda_for(lams, 4.0) == 0.03 and lambda_for(lams, 8.0) == 0.3
    assert lambda_for(lams, 5.5) == 0.03 and lambda_for(lams, 5.8) == 0.3  # geometric midpoint 5.66
    assert lambda_for(lams, 2.0) == 0.03 and lambda_for(lams, 16.0) == 0.3


def _phantom_problem(H=32, accel=4):
    """Piecewise-constant phantom, 4 simulated coils, Poisson-disc mask: ``(img, y, sens, mask)`` batched."""
    sens = coil_maps(4, (H, H)).to(torch.complex128)
    yy, xx = torch.meshgrid(torch.linspace(-1, 1, H), torch.linspace(-1, 1, H), indexing="ij")
    img = (((yy ** 2 + xx ** 2) < 0.7).double() + ((yy - 0.2) ** 2 + xx ** 2 < 0.1).double()).to(torch.complex128)
    m = make_mask("poisson_2d", (H, H), accel, seed=0).double()
    return img, sense_forward(img, sens, m)[None], sens[None], m[None, None]


def test_wavelet_recon_fista_converges_faster_than_ista():
    """FISTA's momentum: after 30 iterations it is much nearer the L1-wavelet minimiser than 30 plain
    proximal-gradient (ISTA) steps, written here from the definition; the minimiser is 500 ISTA steps."""
    from domains.mri.cs import wavelet_recon, wavelet_shrink

    _, y, sens, mask = _phantom_problem()
    lam = torch.tensor([0.01])

    def ista(n):
        x = sense_adjoint(y, sens, mask)
        for _ in range(n):
            x = wavelet_shrink(x - sense_adjoint(sense_forward(x, sens, mask) - y, sens, mask), lam)
        return x.abs()

    ref = ista(500)
    dist = lambda r: float((r - ref).norm() / ref.norm())  # noqa: E731
    d_fista, d_ista = dist(wavelet_recon(y, sens, mask, 0.01, iterations=30)), dist(ista(30))
    assert d_fista < 0.01 and d_fista < 0.3 * d_ista  # measured: 0.0027 vs 0.019


def test_tune_lambda_picks_the_weight_with_the_best_validation_score():
    img, y, sens, mask = _phantom_problem()
    target = img.abs()[None]
    metric = lambda t, r: -float((r - t).norm() / t.norm())  # noqa: E731  higher is better
    lams = [1e-3, 1e-2, 10.0]
    best, scores = tune_lambda(y, sens, mask, target, lams, 60, metric)
    assert set(scores) == set(lams)
    # known answer: a huge TV weight flattens the phantom, so it scores worst; the pick is the best score
    assert scores[10.0] < min(scores[1e-3], scores[1e-2]) - 0.1
    assert best != 10.0 and scores[best] == max(scores.values())
    # the batched scores are those of solving each weight alone
    for lam in lams:
        alone = metric(target, tv_recon(y, sens, mask, lam, iterations=60))
        assert abs(scores[lam] - alone) < 1e-6
