"""Centred, orthonormal 2-D Fourier transforms over the last two axes.

Every array in the domain keeps its leading dimensions (batch, slice, coil)
untouched, so one function serves single slices, coil stacks and volumes.
The convention matches fastMRI and MONAI's ``fftn_centered_t``: k-space has
its DC sample at ``(H // 2, W // 2)`` and the transform is unitary
(``norm="ortho"``), so ``||F x|| = ||x||``.
"""

from __future__ import annotations

import torch
from torch import Tensor

DIMS = (-2, -1)


def fft2c(x: Tensor) -> Tensor:
    """Centred unitary FFT of ``x`` (..., H, W), complex; same device and shape."""
    return torch.fft.fftshift(torch.fft.fft2(torch.fft.ifftshift(x, dim=DIMS), norm="ortho"), dim=DIMS)


def ifft2c(k: Tensor) -> Tensor:
    """Centred unitary inverse FFT of ``k`` (..., H, W), complex."""
    return torch.fft.fftshift(torch.fft.ifft2(torch.fft.ifftshift(k, dim=DIMS), norm="ortho"), dim=DIMS)


def rss(x: Tensor, dim: int = -3) -> Tensor:
    """Root sum of squares of complex coil images over ``dim`` (the coil axis)."""
    return torch.sqrt((x.real ** 2 + x.imag ** 2).sum(dim))


def center_crop(x: Tensor, shape: tuple[int, int]) -> Tensor:
    """The central ``shape`` window of the last two axes (fastMRI's crop)."""
    h, w = x.shape[-2:]
    ch, cw = shape
    if ch > h or cw > w:
        raise ValueError(f"crop {shape} larger than the image {(h, w)}")
    top, left = (h - ch) // 2, (w - cw) // 2
    return x[..., top:top + ch, left:left + cw]


def crop_kspace(k: Tensor, shape: tuple[int, int]) -> Tensor:
    """Keep the central ``shape`` frequencies: a lower-resolution image of the same field of view.

    The result is rescaled so that, with the unitary FFT, image intensities
    are preserved (``ifft2c`` of the crop has the same mean intensity).
    """
    h, w = k.shape[-2:]
    scale = ((shape[0] * shape[1]) / (h * w)) ** 0.5
    return center_crop(k, shape) * scale
