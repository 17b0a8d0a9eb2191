"""DISCO: discrete-continuous convolution on an equidistant grid, resolution-agnostic.

A DISCO layer parameterises a *continuous* kernel ``kappa(u) = sum_k W_k psi_k(u)``
on a disc of radius ``r`` (in units where the reference image spans [-1, 1]),
with piecewise-linear ("hat") basis functions ``psi_k`` on ``n_rings`` radii
times ``n_angles`` angles ((n_rings - 1) * n_angles + 1 functions; (3, 4) gives 9,
like a 3x3 convolution). At a grid of spacing ``h`` the kernel is sampled on
the ``(2 floor(r/h) + 1)^2`` local grid and applied by ``F.conv2d`` with the
quadrature weight ``h^2`` (normalised by the disc area), so one set of
weights ``W (out, in, K)`` approximates the same integral operator at every
resolution: the output at twice the resolution, averaged down, matches the
output at the first (tested). Re-implemented from Ocampo et al. (DISCO) and
Liu-Schiaffini et al., arXiv 2402.16845, as used by NO-MRI's UDNO.

The layer subclasses ``nn.Conv1d`` with weight ``(out, in, K)`` and overrides
``_conv_forward``: the core's adapters (``shared.lowrank.adapters``, which
call ``base._conv_forward(x, dW, None)``) then adapt a DISCO layer with a
weight change in its own ``(out, in, K)`` shape, with no special case.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def hat_basis(half: int, spacing: float, radius: float, n_rings: int, n_angles: int,
              dtype=torch.float32, device=None, normalise: bool = True) -> Tensor:
    """Basis functions on the local grid, ``(K, 2 half + 1, 2 half + 1)``.

    Ring ``j`` (``j = 0 .. n_rings - 1``) is centred at radius ``j r / (n_rings - 1)``
    with a hat of that width; rings ``j >= 1`` are split by periodic hat
    functions over ``n_angles`` angles. Values are scaled by the quadrature
    weight ``spacing^2 / (pi r^2)``.
    """
    t = torch.arange(-half, half + 1, dtype=torch.float64) * spacing
    yy, xx = torch.meshgrid(t, t, indexing="ij")
    rho = torch.sqrt(yy ** 2 + xx ** 2)
    phi = torch.atan2(yy, xx)
    dr = radius / max(1, n_rings - 1)
    inside = (rho <= radius + 1e-12).double()
    funcs = []
    for j in range(n_rings):
        radial = (1 - (rho - j * dr).abs() / dr).clamp_min(0) * inside
        if j == 0:
            funcs.append(radial)
            continue
        for a in range(n_angles):
            da = 2 * math.pi / n_angles
            d = torch.remainder(phi - a * da + math.pi, 2 * math.pi) - math.pi
            funcs.append(radial * (1 - d.abs() / da).clamp_min(0))
    basis = torch.stack(funcs) * (spacing ** 2 / (math.pi * radius ** 2))
    if normalise:
        # Quadrature correction: each function's discrete sum equals its integral
        # (taken on a 40x finer grid), so coarse grids keep the kernel's moments.
        fine = hat_basis(int(math.ceil(radius / (radius / 40))), radius / 40, radius, n_rings, n_angles,
                         dtype=torch.float64, normalise=False)
        total = fine.sum((-2, -1))
        got = basis.sum((-2, -1))
        basis = basis * torch.where(got > 0, total / got.clamp_min(1e-30), torch.zeros_like(got))[:, None, None]
    return basis.to(dtype=dtype, device=device)


class DiscoConv2d(nn.Conv1d):
    """Equidistant DISCO convolution ``(B, in, H, W) -> (B, out, H, W)``.

    Parameters
    ----------
    in_channels, out_channels : int
    radius : float
        Kernel support radius, in units where an image of ``ref_size`` pixels spans
        [-1, 1] (so the pixel spacing at the reference resolution is ``2 / ref_size``).
    ref_size : int
        The training resolution (pixels per side).
    kernel_shape : (n_rings, n_angles)
        Basis size; ``K = (n_rings - 1) n_angles + 1``.
    bias : bool

    Notes
    -----
    ``resolution`` (default 1) is the ratio of the current pixel density to the
    reference one: 2 means pixels half as large (super-resolution); an extended
    field of view at the training pixel size keeps 1. The basis is rebuilt
    (cached) per (grid, device, dtype) and is never part of the state dict.
    """

    def __init__(self, in_channels: int, out_channels: int, radius: float, ref_size: int,
                 kernel_shape: tuple[int, int] = (3, 4), bias: bool = True):
        n_rings, n_angles = kernel_shape
        k = (n_rings - 1) * n_angles + 1
        super().__init__(in_channels, out_channels, kernel_size=k, bias=bias)
        self.radius = float(radius)
        self.ref_size = int(ref_size)
        self.kernel_shape = (int(n_rings), int(n_angles))
        self.resolution = 1.0
        self._cache: dict = {}
        with torch.no_grad():  # unit-gain start: sum_k psi_k ~ 1, so scale like a 1x1 conv
            nn.init.kaiming_uniform_(self.weight, a=math.sqrt(5))
            self.weight.mul_(math.sqrt(k))

    @property
    def spacing(self) -> float:
        return 2.0 / self.ref_size / self.resolution

    def basis(self, device, dtype) -> Tensor:
        """``(K, s, s)`` at the current resolution (cached)."""
        key = (self.resolution, str(device), dtype)
        if key not in self._cache:
            h = self.spacing
            half = int(math.floor(self.radius / h + 1e-9))
            self._cache[key] = hat_basis(half, h, self.radius, *self.kernel_shape, dtype=dtype, device=device)
        return self._cache[key]

    def _conv_forward(self, input: Tensor, weight: Tensor, bias: Tensor | None) -> Tensor:  # noqa: A002
        psi = self.basis(input.device, input.dtype)
        kernel = torch.einsum("oik,kyx->oiyx", weight.to(input.dtype), psi)
        pad = psi.shape[-1] // 2
        return F.conv2d(input, kernel, bias, padding=pad)

    def extra_repr(self) -> str:
        return (f"{self.in_channels}, {self.out_channels}, radius={self.radius}, ref_size={self.ref_size}, "
                f"kernel_shape={self.kernel_shape}, resolution={self.resolution}")


def set_resolution(model: nn.Module, factor: float) -> nn.Module:
    """Set every DISCO layer's ``resolution`` (pixel density relative to training)."""
    for m in model.modules():
        if isinstance(m, DiscoConv2d):
            m.resolution = float(factor)
    return model
