"""fastMRI's reconstruction metrics, per slice and per volume.

Definitions (``fastmri/evaluate.py``): on magnitude images,
``NMSE = ||gt - pred||^2 / ||gt||^2``; ``PSNR`` is scikit-image's
``peak_signal_noise_ratio`` with ``data_range = gt.max()`` over the *volume*;
``SSIM`` is the mean over slices of scikit-image's ``structural_similarity``
(7x7 uniform window, K1 0.01, K2 0.03) with the same volume ``data_range``.
A "volume" is any stack ``(slices, H, W)``; a single slice is ``(H, W)``.
"""

from __future__ import annotations

import numpy as np


def _np(a) -> np.ndarray:
    if hasattr(a, "detach"):
        a = a.detach().cpu().numpy()
    return np.asarray(a, dtype=np.float64)


def nmse(gt, pred) -> float:
    """Normalised MSE ``||gt - pred||^2 / ||gt||^2`` (any shape)."""
    gt, pred = _np(gt), _np(pred)
    return float(np.sum((gt - pred) ** 2) / np.sum(gt ** 2))


def psnr(gt, pred, data_range: float | None = None) -> float:
    """PSNR in dB with ``data_range = gt.max()`` unless given (fastMRI)."""
    gt, pred = _np(gt), _np(pred)
    dr = float(gt.max()) if data_range is None else float(data_range)
    mse = float(np.mean((gt - pred) ** 2))
    return float(10 * np.log10(dr ** 2 / max(mse, 1e-30)))


def ssim(gt, pred, data_range: float | None = None) -> float:
    """Mean SSIM over the slices of ``(S, H, W)`` (or one ``(H, W)`` slice)."""
    from skimage.metrics import structural_similarity

    gt, pred = _np(gt), _np(pred)
    if gt.ndim == 2:
        gt, pred = gt[None], pred[None]
    dr = float(gt.max()) if data_range is None else float(data_range)
    return float(np.mean([structural_similarity(g, p, data_range=dr) for g, p in zip(gt, pred)]))


def volume_metrics(gt, pred, data_range: float | None = None) -> dict[str, float]:
    """``{"psnr_db", "ssim", "nmse"}`` of one volume ``(S, H, W)`` (fastMRI's per-volume numbers)."""
    gt, pred = _np(gt), _np(pred)
    dr = float(gt.max()) if data_range is None else float(data_range)
    return {"psnr_db": psnr(gt, pred, dr), "ssim": ssim(gt, pred, dr), "nmse": nmse(gt, pred)}


def slice_metrics(gt, pred, data_range: float) -> list[dict[str, float]]:
    """Per-slice ``{"psnr_db", "ssim", "nmse"}`` with a shared (volume) ``data_range``."""
    gt, pred = _np(gt), _np(pred)
    return [volume_metrics(g[None], p[None], data_range) for g, p in zip(gt, pred)]
