"""Coil compression (core SVD) and fastMRI metrics (issue 11)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from skimage.metrics import peak_signal_noise_ratio

from domains.mri.coils import coil_basis, compress, n_virtual
from domains.mri.metrics import nmse, psnr, slice_metrics, ssim, volume_metrics


def test_virtual_coils_are_exact_for_rank_deficient_coils():
    g = torch.Generator().manual_seed(0)
    base = torch.randn(3, 2, 16, 16, generator=g, dtype=torch.complex128)  # 2 independent coil signals
    mix = torch.randn(6, 2, generator=g, dtype=torch.complex128)
    k = torch.einsum("cv,svhw->schw", mix, base)  # 6 coils of rank 2
    U, energy = coil_basis(k)
    assert n_virtual(energy, 0.999999) == 2
    kc = compress(k, U, 2)
    # projecting back loses nothing, and coil-combined energy is kept
    back = torch.einsum("cv,svhw->schw", U[:, :2], kc)
    assert torch.allclose(back, k, atol=1e-10)
    assert torch.allclose(kc.norm(), k.norm(), rtol=1e-10)
    assert n_virtual(energy, 0.5, max_coils=1) == 1
    # max_coils caps the count, it never raises it
    assert n_virtual(energy, 0.999999, max_coils=1) == 1 and n_virtual(energy, 0.999999, max_coils=4) == 2


def test_metrics_match_fastmri_definitions():
    rng = np.random.default_rng(0)
    gt = rng.random((3, 20, 20))
    pred = gt + 0.01 * rng.standard_normal(gt.shape)
    assert psnr(gt, pred) == pytest.approx(peak_signal_noise_ratio(gt, pred, data_range=gt.max()), rel=1e-9)
    assert nmse(gt, pred) == pytest.approx(np.sum((gt - pred) ** 2) / np.sum(gt ** 2))
    assert ssim(gt, gt) == pytest.approx(1.0)
    assert ssim(gt, pred) < 1.0
    m = volume_metrics(gt, pred)
    assert set(m) == {"psnr_db", "ssim", "nmse"}


def test_slice_metrics_use_the_volume_data_range():
    """fastMRI scores every slice of a volume with the volume's ``gt.max()``, not the slice's own."""
    rng = np.random.default_rng(1)
    gt = rng.random((2, 16, 16)) * np.array([1.0, 0.25])[:, None, None]  # slice 1 peaks at a quarter
    pred = gt + 0.01 * rng.standard_normal(gt.shape)
    dr = float(gt.max())
    rows = slice_metrics(gt, pred, dr)
    assert rows[1]["psnr_db"] == pytest.approx(peak_signal_noise_ratio(gt[1], pred[1], data_range=dr), rel=1e-9)
    assert rows[1]["psnr_db"] > peak_signal_noise_ratio(gt[1], pred[1], data_range=gt[1].max()) + 5


def test_evaluate_setting_scores_reconstructions_in_the_files_units():
    """Methods return images in the batch's scaled units; the scores are of the rescaled images against the
    file's target: the zero-filled method is RSS(F^-1 (M k)) with slice i's mask drawn at seed + i."""
    from domains.mri.embedded import coil_maps
    from domains.mri.evaluate import combine, evaluate_setting
    from domains.mri.fft import fft2c, ifft2c, rss
    from domains.mri.masks import make_mask
    from domains.mri.operators import zero_filled

    H = W = 32
    yy, xx = torch.meshgrid(torch.linspace(-1, 1, H), torch.linspace(-1, 1, W), indexing="ij")
    imgs = torch.stack([((yy ** 2 + xx ** 2) < r).double() * (1 + 0.4 * yy) for r in (0.5, 0.7)])
    k = (1e3 * fft2c(coil_maps(4, (H, W)).to(torch.complex128) * imgs[:, None])).to(torch.complex64)
    target = rss(ifft2c(k)).float()  # the file's units, far from the prepared ones (99th percentile = 1)
    methods = {"zero_filled": lambda b: zero_filled(b.y), "oracle": lambda b: b.target}
    row = evaluate_setting(methods, k, target, "equispaced", 4, seed=5, device="cpu")
    zf = torch.stack([zero_filled(k[i] * make_mask("equispaced", (H, W), 4, seed=5 + i)) for i in range(2)])
    assert torch.allclose(row["recon"]["zero_filled"], zf, rtol=1e-4, atol=1e-3 * float(zf.max()))
    assert torch.allclose(row["recon"]["oracle"], target, rtol=1e-5)
    assert row["metrics"]["oracle"]["nmse"] < 1e-10
    assert row["metrics"]["zero_filled"] == pytest.approx(volume_metrics(target, zf, float(target.max())), rel=1e-3)
    assert row["effective_acceleration"] == pytest.approx(W / round(W / 4))
    other = dict(row, family="random", metrics={"oracle": {"nmse": 1.0}})
    assert combine([row, other])["oracle"]["nmse"] == pytest.approx(0.5 + row["metrics"]["oracle"]["nmse"] / 2)
    assert combine([row, other], families=["equispaced"])["oracle"]["nmse"] == row["metrics"]["oracle"]["nmse"]
