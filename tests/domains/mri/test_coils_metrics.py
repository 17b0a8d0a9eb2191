"""Coil compression (core SVD) and fastMRI metrics (issue 11)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from skimage.metrics import peak_signal_noise_ratio

from domains.mri.coils import coil_basis, compress, n_virtual
from domains.mri.metrics import nmse, psnr, ssim, volume_metrics


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
