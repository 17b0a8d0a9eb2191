"""Forward models: the masked multi-coil SENSE operator and coil sensitivities.

Shapes (any leading dims ``...`` for batch, slices; ``C`` coils):

* image ``x`` (..., H, W) complex
* sensitivities ``S`` (..., C, H, W) complex
* mask ``M`` broadcastable to (..., 1, H, W), bool or {0, 1} real
* k-space ``y`` (..., C, H, W) complex

``A x = M * F(S x)`` and ``A^H y = sum_c conj(S_c) F^-1(M * y_c)``. With the
unitary FFT and a 0/1 mask, ``<A x, y> = <x, A^H y>`` exactly (tested).
"""

from __future__ import annotations

import torch
from torch import Tensor

from domains.mri.fft import fft2c, ifft2c


def _m(mask: Tensor, like: Tensor) -> Tensor:
    return mask.to(device=like.device, dtype=like.real.dtype)


def sense_forward(x: Tensor, sens: Tensor, mask: Tensor) -> Tensor:
    """``A x = M F(S x)``: image (..., H, W) -> masked coil k-space (..., C, H, W)."""
    return _m(mask, sens) * fft2c(sens * x.unsqueeze(-3))


def sense_adjoint(y: Tensor, sens: Tensor, mask: Tensor) -> Tensor:
    """``A^H y = sum_c conj(S_c) F^-1(M y_c)``: coil k-space -> image (..., H, W)."""
    return (sens.conj() * ifft2c(_m(mask, y) * y)).sum(-3)


def sense_normal(x: Tensor, sens: Tensor, mask: Tensor) -> Tensor:
    """``A^H A x`` (the mask is idempotent, so it is applied once)."""
    return (sens.conj() * ifft2c(_m(mask, sens) * fft2c(sens * x.unsqueeze(-3)))).sum(-3)


def acs_region(mask: Tensor) -> Tensor:
    """The fully sampled centre of a mask (its autocalibration region), as a 0/1 mask.

    The largest centred rectangle ``(2a+1) x (2b+1)`` (capped by the image)
    whose every sample is acquired: for 1-D column masks a band of full
    columns, for 2-D masks a centred box. Shape of ``mask`` (..., H, W); the
    region is computed from the first element of the leading dims (one mask
    per call, as everywhere in the domain).
    """
    m = mask.reshape(-1, *mask.shape[-2:])[0].bool()
    h, w = m.shape
    ch, cw = h // 2, w // 2
    full_cols = m.all(0)  # 1-D column masks: every row of a column sampled
    if full_cols[cw]:
        b = 0
        while cw - b - 1 >= 0 and cw + b + 1 < w and full_cols[cw - b - 1] and full_cols[cw + b + 1]:
            b += 1
        out = torch.zeros_like(m)
        out[:, cw - b:cw + b + 1] = True
        return out.to(mask.dtype)
    a = 0
    while a + 1 <= min(ch, cw) - 1 and m[ch - a - 1:ch + a + 2, cw - a - 1:cw + a + 2].all():
        a += 1
    out = torch.zeros_like(m)
    if m[ch, cw]:
        out[ch - a:ch + a + 1, cw - a:cw + a + 1] = True
    return out.to(mask.dtype)


def estimate_sensitivities(y: Tensor, mask: Tensor, eps: float = 1e-6) -> Tensor:
    """Coil maps from the autocalibration region: low-resolution coil images over their RSS.

    This is the fixed part of E2E-VarNet's sensitivity model (the centre band
    of k-space, inverse FFT, division by the root sum of squares); a Hann
    window on the ACS region avoids ringing from its sharp edges.

    Parameters
    ----------
    y : Tensor (..., C, H, W) complex
        Undersampled coil k-space.
    mask : Tensor broadcastable to (..., 1, H, W)
        Its sampling mask.

    Returns
    -------
    Tensor (..., C, H, W) complex, ``sum_c |S_c|^2 = 1`` wherever signal is.
    """
    acs = acs_region(mask).to(device=y.device, dtype=y.real.dtype)
    h, w = acs.shape
    rows, cols = acs.any(1), acs.any(0)
    win = torch.outer(_hann(rows), _hann(cols)).to(device=y.device, dtype=y.real.dtype)
    low = ifft2c(y * (acs * win))
    norm = torch.sqrt((low.real ** 2 + low.imag ** 2).sum(-3, keepdim=True))
    return low / (norm + eps * norm.amax(dim=(-2, -1), keepdim=True).clamp_min(1e-30))


def _hann(sel: Tensor) -> Tensor:
    """A Hann window over the True run of ``sel`` (1-D), zero elsewhere."""
    idx = torch.nonzero(sel).flatten()
    out = torch.zeros(sel.shape[0], dtype=torch.float64, device=sel.device)  # idx is on sel's device
    if idx.numel() == 0:
        return out
    n = int(idx.numel())
    # periodic-free Hann that does not vanish at the ends of the band
    t = torch.arange(n, dtype=torch.float64, device=sel.device)
    out[idx] = 0.5 - 0.5 * torch.cos(2 * torch.pi * (t + 1) / (n + 1))
    return out


def zero_filled(y: Tensor, mask: Tensor | None = None) -> Tensor:
    """fastMRI's zero-filled reconstruction: RSS of the inverse FFT of the coils, (..., H, W)."""
    if mask is not None:
        y = _m(mask, y) * y
    x = ifft2c(y)
    return torch.sqrt((x.real ** 2 + x.imag ** 2).sum(-3))
