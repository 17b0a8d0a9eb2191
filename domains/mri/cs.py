"""Classical compressed-sensing baselines: SENSE + total variation and SENSE + L1-wavelet.

TV, by primal-dual (Chambolle-Pock):

``min_x 1/2 ||A x - y||^2 + lam ||grad x||_{2,1}`` with ``A = M F S``
(isotropic TV on the complex image), batched over slices on the input's
device. With unitary FFT and ``sum_c |S_c|^2 <= 1``, ``||A|| <= 1`` and
``||grad||^2 <= 8``, so ``tau = sigma = 1/3`` satisfies ``tau sigma ||K||^2 < 1``.
SigPy's ``TotalVariationRecon`` solves the same problem slice by slice in
NumPy; this version keeps all slices and masks in one batched torch loop.
``lam`` is in the units of the prepared data (zero-filled 99th percentile = 1),
tuned on validation slices (:func:`tune_lambda`).

L1-wavelet, by FISTA: ``min_x 1/2 ||A x - y||^2 + lam ||W x||_1`` with ``W`` an
orthonormal 2-D wavelet transform (PyWavelets, Daubechies-4 with periodic
extension, as SigPy's ``L1WaveletRecon`` default), every coefficient
soft-thresholded on its complex magnitude. ``||A|| <= 1`` allows step 1.
The wavelet transform runs in NumPy (PyWavelets has no torch backend); the
SENSE operator stays on the input's device.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from domains.mri.operators import sense_adjoint, sense_forward


def grad(x: Tensor) -> Tensor:
    """Forward differences (Neumann boundary), ``(..., H, W) -> (..., 2, H, W)``."""
    gy = torch.zeros_like(x)
    gx = torch.zeros_like(x)
    gy[..., :-1, :] = x[..., 1:, :] - x[..., :-1, :]
    gx[..., :, :-1] = x[..., :, 1:] - x[..., :, :-1]
    return torch.stack([gy, gx], dim=-3)


def div(q: Tensor) -> Tensor:
    """The negative adjoint of :func:`grad`: ``<grad x, q> = -<x, div q>``."""
    qy, qx = q[..., 0, :, :], q[..., 1, :, :]
    dy = torch.zeros_like(qy)
    dx = torch.zeros_like(qx)
    dy[..., 0, :] = qy[..., 0, :]
    dy[..., 1:-1, :] = qy[..., 1:-1, :] - qy[..., :-2, :]
    dy[..., -1, :] = -qy[..., -2, :]
    dx[..., :, 0] = qx[..., :, 0]
    dx[..., :, 1:-1] = qx[..., :, 1:-1] - qx[..., :, :-2]
    dx[..., :, -1] = -qx[..., :, -2]
    return dy + dx


@torch.no_grad()
def tv_recon(y: Tensor, sens: Tensor, mask: Tensor, lam: float | Tensor, iterations: int = 100) -> Tensor:
    """SENSE-TV reconstruction ``|x|`` (B, H, W) of coil k-space ``y`` (B, C, H, W).

    ``lam`` may be a tensor (B,) to solve several regularisation weights in one batch.
    """
    lam_t = torch.as_tensor(lam, dtype=y.real.dtype, device=y.device).reshape(-1, 1, 1, 1)
    tau = sigma = 1.0 / 3.0
    x = sense_adjoint(y, sens, mask)
    xbar = x.clone()
    p = torch.zeros_like(y)
    q = torch.zeros(*x.shape[:-2], 2, *x.shape[-2:], dtype=x.dtype, device=x.device)
    for _ in range(iterations):
        p = (p + sigma * (sense_forward(xbar, sens, mask) - y)) / (1 + sigma)
        q = q + sigma * grad(xbar)
        norm = q.abs().pow(2).sum(-3, keepdim=True).sqrt()
        q = q / torch.clamp(norm / lam_t, min=1.0)
        x_new = x - tau * (sense_adjoint(p, sens, mask) - div(q))
        xbar = 2 * x_new - x
        x = x_new
    return x.abs()


def wavelet_shrink(x: Tensor, thresh: Tensor, wavelet: str = "db4", level: int | None = None) -> Tensor:
    """``W^T soft(W x, thresh)`` for complex images ``x`` (B, H, W); ``thresh`` (B,) or scalar.

    The prox of ``thresh ||W x||_1`` for the orthonormal (periodised) wavelet ``W``.
    On an odd side, PyWavelets' periodisation extends the image by one sample
    (so the transform is orthonormal on the extended grid only and the prox is
    approximate there); the result is cropped back to ``(H, W)``.
    """
    import pywt

    arr = x.detach().cpu().numpy()
    if level is None:
        level = pywt.dwt_max_level(min(arr.shape[-2:]), pywt.Wavelet(wavelet).dec_len)
    coeffs = pywt.wavedec2(arr, wavelet, mode="periodization", level=level, axes=(-2, -1))
    flat, slices = pywt.coeffs_to_array(coeffs, axes=(-2, -1))
    t = np.asarray(thresh.detach().cpu().numpy() if isinstance(thresh, Tensor) else thresh,
                   dtype=np.float64).reshape(-1, *([1] * (flat.ndim - 1)))
    mag = np.abs(flat)
    flat = flat * np.maximum(1.0 - t / np.maximum(mag, 1e-30), 0.0)
    coeffs = pywt.array_to_coeffs(flat, slices, output_format="wavedec2")
    out = pywt.waverec2(coeffs, wavelet, mode="periodization", axes=(-2, -1))
    out = out[..., :arr.shape[-2], :arr.shape[-1]]  # odd sides come back one sample longer
    return torch.from_numpy(np.ascontiguousarray(out)).to(device=x.device, dtype=x.dtype)


@torch.no_grad()
def wavelet_recon(y: Tensor, sens: Tensor, mask: Tensor, lam: float | Tensor, iterations: int = 100,
                  wavelet: str = "db4") -> Tensor:
    """SENSE + L1-wavelet reconstruction ``|x|`` (B, H, W) of coil k-space ``y`` (B, C, H, W) by FISTA.

    ``lam`` may be a tensor (B,) to solve several regularisation weights in one batch.
    """
    lam_t = torch.as_tensor(lam, dtype=y.real.dtype, device=y.device).reshape(-1)
    x = sense_adjoint(y, sens, mask)
    z, t = x.clone(), 1.0
    for _ in range(iterations):
        x_new = wavelet_shrink(z - sense_adjoint(sense_forward(z, sens, mask) - y, sens, mask), lam_t, wavelet)
        t_new = 0.5 * (1.0 + (1.0 + 4.0 * t * t) ** 0.5)
        z = x_new + ((t - 1.0) / t_new) * (x_new - x)
        x, t = x_new, t_new
    return x.abs()


def tune_lambda(y: Tensor, sens: Tensor, mask: Tensor, target: Tensor, lambdas: list[float],
                iterations: int, metric, recon=None) -> tuple[float, dict[float, float]]:
    """The ``lam`` of ``lambdas`` with the best mean ``metric(target, recon)`` (higher is better).

    ``recon(y, sens, mask, lam, iterations)`` is the CS solver (default :func:`tv_recon`);
    all weights are solved in one batch.
    """
    recon = tv_recon if recon is None else recon
    n = y.shape[0]
    L = len(lambdas)
    lam = torch.tensor(lambdas, dtype=y.real.dtype, device=y.device).repeat_interleave(n)
    rec = recon(y.repeat(L, 1, 1, 1), sens.repeat(L, 1, 1, 1), mask.repeat(L, 1, 1, 1) if mask.shape[0] > 1
                   else mask, lam, iterations)
    scores = {float(l): float(metric(target, rec[i * n:(i + 1) * n])) for i, l in enumerate(lambdas)}
    best = max(scores, key=scores.get)
    return best, scores


def lambda_for(lambdas: dict[float, float], acceleration: float) -> float:
    """The weight tuned at the acceleration nearest to ``acceleration`` (log scale).

    ``lambdas`` maps tuned accelerations to weights (see the ``mri`` evaluate step).
    """
    a = max(float(acceleration), 1e-9)
    return lambdas[min(lambdas, key=lambda k: abs(np.log(float(k) / a)))]
