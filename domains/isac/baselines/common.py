"""Pieces the classical ISAC baselines share: spectra, peaks, LS gains.

All functions are torch-only, keep the input's device and dtype, and avoid
Python loops over tensor entries.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor

from domains.isac.atoms import check_tensor, ls_gains  # noqa: F401  (shared with PLAIN)
from domains.isac.phase import wrap
from shared.errors import BadInput

__all__ = [
    "check_tensor",
    "as_tuple",
    "real_dtype",
    "taper",
    "local_maxima",
    "parabolic_offset",
    "noise_floor",
    "bins_to_mu",
    "ls_gains",
]




def as_tuple(value: int | Sequence[int], n: int, where: str) -> tuple[int, ...]:
    """Broadcast an int to an n-tuple, or check a sequence's length."""
    if isinstance(value, int):
        return (value,) * n
    out = tuple(int(v) for v in value)
    if len(out) != n:
        raise BadInput(where, f"expected {n} values, got {len(out)}")
    return out


def real_dtype(dtype: torch.dtype) -> torch.dtype:
    """The real dtype matching a complex one (complex128 -> float64)."""
    return torch.float64 if dtype in (torch.complex128, torch.float64) else torch.float32


def taper(kind: str | None, n: int, like: Tensor) -> Tensor | None:
    """1-D taper of length n on ``like``'s device, real dtype, or None.

    ``"hann"`` is the symmetric Hann window (sidelobes -31 dB, main lobe twice
    as wide as the rectangular one, coherent gain 0.5).
    """
    if kind is None or kind == "none":
        return None
    if kind != "hann":
        raise BadInput("window", f"unknown window {kind!r}; use None or 'hann'")
    return torch.hann_window(n, periodic=False, dtype=real_dtype(like.dtype), device=like.device) \
        if n > 1 else torch.ones(n, dtype=real_dtype(like.dtype), device=like.device)


def local_maxima(P: Tensor) -> Tensor:
    """Boolean mask of circular local maxima in a 3^d neighbourhood.

    The 3^d max filter is separable, so it costs 2d rolls instead of 3^d - 1.
    Circular because normalized frequencies live on the circle (FFT bins wrap).

    Parameters
    ----------
    P : Tensor, real, any shape (d dims)

    Returns
    -------
    Tensor bool, same shape
        True where ``P`` equals the maximum of its neighbourhood and is > 0.
    """
    m = P
    for d in range(P.ndim):
        if P.shape[d] > 1:
            m = torch.maximum(m, torch.maximum(m.roll(1, d), m.roll(-1, d)))
    return (P >= m) & (P > 0)


def parabolic_offset(logP: Tensor, idx: Tensor, dim: int) -> Tensor:
    """Sub-bin offset of peaks by a parabola through three log-power samples.

    Parameters
    ----------
    logP : Tensor, real, shape (M1, ..., Md)
        Log power spectrum.
    idx : Tensor, long, shape (n, d)
        Peak bins.
    dim : int
        Dimension to refine.

    Returns
    -------
    Tensor (n,), real
        Offset in bins, clipped to [-0.5, 0.5] (a peak stays in its bin).
    """
    M = logP.shape[dim]
    if M < 3:
        return torch.zeros(idx.shape[0], dtype=logP.dtype, device=logP.device)

    def at(shift: int) -> Tensor:
        j = idx.clone()
        j[:, dim] = (j[:, dim] + shift) % M
        return logP[tuple(j.T)]

    lm, l0, lp = at(-1), at(0), at(1)
    den = lm - 2 * l0 + lp
    off = torch.where(den < 0, 0.5 * (lm - lp) / den.clamp(max=-1e-300), torch.zeros_like(den))
    return off.clamp(-0.5, 0.5)


def noise_floor(P: Tensor) -> Tensor:
    """Mean noise power of a spectrum from its median.

    For pure noise |FFT|^2 is exponential, whose mean is median / ln 2. A
    spectrum with few sparse peaks barely moves its median, so this is a
    robust floor without knowing the noise variance.
    """
    return P.flatten().median() / math.log(2.0)


def bins_to_mu(k: Tensor, M: int) -> Tensor:
    """FFT bin (possibly fractional) of a length-M transform -> rad/sample in (-pi, pi]."""
    return wrap(2 * math.pi * k / M)

