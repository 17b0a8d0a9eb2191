"""PLAIN stage 1: per-mode compression of the data tensor.

* ``decimation``: keep every ``Delta_m``-th sample of mode m. The factor stays
  Vandermonde with frequency ``Delta_m mu``; noise variance unchanged.
* ``averaging``: mean of ``Delta_m`` consecutive samples. Averaging
  ``e^{j mu n}`` over a block gives ``g(mu) e^{j Delta mu i}`` with
  ``g(mu) = (1/Delta) sum_{q<Delta} e^{j mu q}``, so the compressed factor is
  *still Vandermonde* (frequency ``Delta mu``, length ``N // Delta``) times a
  per-target gain: the aperture and hence the resolution are kept, the noise
  variance drops by ``Delta``.

Either way the compressed frequency is ``Delta mu`` wrapped to ``(-pi, pi]``:
only ``|mu| < pi / Delta`` maps back uniquely (the ambiguity caveat).
"""

from __future__ import annotations

import torch

from domains.isac.factors import METHODS, check_factors

__all__ = ["METHODS", "check_factors", "compress", "demodulate", "averaging_gain", "expand_frequency"]


def demodulate(y: torch.Tensor, center) -> torch.Tensor:
    """Shift every mode's frequencies by ``-center_m``: ``y[..., n] e^{-j center_m n_m}``.

    Moves the band centre to 0 before compression, so the compressed
    interval ``|mu - center| < pi / Delta`` is the one the caller wants
    (e.g. non-negative ranges, :meth:`domains.isac.physics.OFDMRadar.band`).
    """
    shape = y.shape[-3:]
    real = y.real.dtype
    out = y
    for m, c in enumerate(center):
        if float(c) == 0.0:
            continue
        n = torch.arange(shape[m], device=y.device, dtype=real)
        ph = torch.polar(torch.ones_like(n), -float(c) * n).to(y.dtype)
        out = out * ph.reshape([-1] + [1] * (2 - m))
    return out


def compress(y: torch.Tensor, method: str = "averaging", factors=(1, 1, 1),
             n_targets: int | None = None, center=None) -> torch.Tensor:
    """Compress the last three modes of ``y``.

    Parameters
    ----------
    y : torch.Tensor
        ``(..., N1, N2, N3)`` complex.
    method : {"none", "decimation", "averaging"}
    factors : tuple of int
        ``(Delta_1, Delta_2, Delta_3)``.
    n_targets : int, optional
        Used only to validate the factors.
    center : sequence of 3 floats, optional
        Per-mode band centre (rad/sample) moved to 0 first (:func:`demodulate`).

    Returns
    -------
    torch.Tensor
        ``(..., N1', N2', N3')``; ``N' = ceil(N/Delta)`` for decimation and
        ``floor(N/Delta)`` for averaging (a trailing partial block is dropped).
    """
    factors = check_factors(y.shape[-3:], method, factors, n_targets)
    out = y if center is None else demodulate(y, center)
    for m, f in enumerate(factors):
        if f == 1:
            continue
        axis = y.ndim - 3 + m
        if method == "decimation":
            idx = torch.arange(0, out.shape[axis], f, device=y.device)
            out = out.index_select(axis, idx)
        else:
            n_keep = (out.shape[axis] // f) * f
            out = out.narrow(axis, 0, n_keep)
            new_shape = out.shape[:axis] + (n_keep // f, f) + out.shape[axis + 1:]
            out = out.reshape(new_shape).mean(dim=axis + 1)
    return out


def averaging_gain(mu: torch.Tensor, factor: int) -> torch.Tensor:
    """Complex gain ``g(mu) = (1/Delta) sum_{q<Delta} e^{j mu q}`` of block averaging."""
    q = torch.arange(factor, device=mu.device, dtype=mu.dtype)
    ph = mu.unsqueeze(-1) * q
    return torch.polar(torch.ones_like(ph), ph).mean(dim=-1)


def expand_frequency(mu_c: torch.Tensor, factor: int) -> torch.Tensor:
    """Map a compressed frequency back: ``mu = mu' / Delta`` in ``(-pi/Delta, pi/Delta]``.

    Frequencies outside that interval alias before compression and cannot be
    told apart from their images ``mu + 2 pi i / Delta``.
    """
    return mu_c / factor
