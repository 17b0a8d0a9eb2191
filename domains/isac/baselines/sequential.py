"""Sequential radar pipeline: range-Doppler first, then angle per detected cell.

The classical OFDM radar chain (the radar-pipeline variant of the brief, as in
system-level ISAC simulators):

1. per antenna, a zero-padded 2-D FFT over (subcarrier, symbol) -> range-Doppler
   spectra ``F[n1, k2, k3]``;
2. non-coherent integration over antennas: ``P_rd = sum_n1 |F|^2``;
3. peaks of ``P_rd`` (circular 3x3 local maxima), the strongest ``n_targets``
   cells (or those above a noise-floor threshold), parabolic refinement;
4. per detected cell, the antenna snapshot ``F[:, k2, k3]`` gives the angle by a
   zero-padded 1-D FFT; every angle peak within ``angle_dynamic_range_db`` of
   the cell's strongest becomes a candidate, so two targets in one
   range-Doppler cell are still found;
5. the candidates, ranked by their 3-D power, are cut to ``n_targets``, and the
   amplitudes refitted by least squares.

Why this variant: it is what a radar receiver does, costs O(N log N), and shows
the two failure modes the joint methods avoid - range-Doppler resolution is
limited to one Rayleigh cell because the antenna dimension is integrated
non-coherently, and the angle step only sees what the range-Doppler step found.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from domains.isac.baselines.common import (
    as_tuple, bins_to_mu, check_tensor, local_maxima, ls_gains, noise_floor,
    parabolic_offset, taper,
)
from domains.isac.types import Estimate

__all__ = ["sequential", "range_doppler_spectra"]


def range_doppler_spectra(Y: Tensor, pad: int | Sequence[int] = 2,
                          window_kind: str | None = None) -> Tensor:
    """Per-antenna zero-padded 2-D FFT over subcarriers and symbols.

    Parameters
    ----------
    Y : Tensor (N1, N2, N3), complex
    pad : int or (Z2, Z3)
        Zero-padding factors of the subcarrier and symbol modes.
    window_kind : None or "hann"
        Separable taper over subcarriers and symbols.

    Returns
    -------
    Tensor (N1, Z2 N2, Z3 N3), complex
        Bin k of mode m is normalized frequency ``2*pi*k/(Z_m N_m)``.
    """
    z2, z3 = as_tuple(pad, 2, "sequential.pad")
    X = Y
    for d in (1, 2):
        w = taper(window_kind, Y.shape[d], Y)
        if w is not None:
            shape = [1, 1, 1]
            shape[d] = -1
            X = X * w.reshape(shape)
    return torch.fft.fft2(X, s=(z2 * Y.shape[1], z3 * Y.shape[2]), dim=(1, 2))


def sequential(Y: Tensor, n_targets: int | None, pad: int | Sequence[int] = 2,
               angle_pad: int = 4, window: str | None = None, refine: bool = True,
               threshold_db: float = 13.0, dynamic_range_db: float | None = None,
               angle_dynamic_range_db: float = 9.0) -> Estimate:
    """Range-Doppler-then-angle estimator (radar pipeline).

    Parameters
    ----------
    Y : Tensor (N1, N2, N3), complex
        One data tensor (antennas x subcarriers x symbols).
    n_targets : int or None
        Number of targets to return. None: range-Doppler cells above
        ``threshold_db`` over the noise floor and within ``dynamic_range_db`` of
        the strongest cell; every accepted angle peak is returned.
    pad : int or (Z2, Z3)
        Zero padding of the range-Doppler FFT.
    angle_pad : int
        Zero padding of the angle FFT.
    window : None or "hann"
        Taper for both FFT stages.
    refine : bool
        Parabolic interpolation on log power (range-Doppler map and angle
        spectrum).
    threshold_db, dynamic_range_db
        Detection thresholds when ``n_targets`` is None (defaults as in
        `~domains.isac.baselines.fft3d.fft3d`: 9 dB without a window, 25 dB with
        Hann).
    angle_dynamic_range_db : float
        Angle peaks of one cell more than this below its strongest angle peak
        are taken as sidelobes.

    Returns
    -------
    Estimate
        ``mu`` (K_hat, 3) rad/sample, LS ``gains`` (K_hat,),
        ``extra = {"power": 3-D peak power (K_hat,), "rd_cells": (C, 2) bins}``.
    """
    Y = check_tensor(Y, "sequential.Y")
    N1 = Y.shape[0]
    F = range_doppler_spectra(Y, pad, window)
    P_rd = (F.real.square() + F.imag.square()).sum(0)
    M2, M3 = P_rd.shape
    mask = local_maxima(P_rd)
    vals = torch.where(mask, P_rd, torch.zeros_like(P_rd)).flatten()
    if n_targets is not None:
        # one cell per target at most; extra candidates come from the angle step
        flat = torch.topk(vals, min(int(n_targets), int(mask.sum()))).indices
    else:
        if dynamic_range_db is None:
            dynamic_range_db = 9.0 if window is None else 25.0
        floor = noise_floor(P_rd) * 10 ** (threshold_db / 10)
        side = vals.max() * 10 ** (-dynamic_range_db / 10)
        flat = torch.nonzero(vals > torch.maximum(floor, side)).flatten()
    cells = torch.stack(torch.unravel_index(flat, (M2, M3)), dim=1)
    rd_bins = cells.to(P_rd.dtype)
    if not cells.shape[0]:  # nothing above the floor (noise only): no target, and no empty FFT batch
        return Estimate(mu=P_rd.new_zeros((0, 3)), gains=Y.new_zeros((0,)),
                        extra={"power": P_rd.new_zeros((0,)), "rd_cells": rd_bins})
    if refine and cells.shape[0]:
        logP = torch.log(P_rd.clamp_min(torch.finfo(P_rd.dtype).tiny))
        rd_bins = rd_bins + torch.stack([parabolic_offset(logP, cells, d) for d in (0, 1)], dim=1)

    # angle step: all detected cells at once, a (C, N1) batch of antenna snapshots
    snap = F[:, cells[:, 0], cells[:, 1]].T
    w1 = taper(window, N1, Y)
    if w1 is not None:
        snap = snap * w1
    M1 = angle_pad * N1
    S = torch.fft.fft(snap, n=M1, dim=1)
    Pa = S.real.square() + S.imag.square()                       # (C, M1)
    # circular 1-D maxima per cell (a 3x1 neighbourhood along the angle axis)
    amask = (Pa >= Pa.roll(1, 1)) & (Pa >= Pa.roll(-1, 1)) & (Pa > 0)
    rel = Pa >= Pa.amax(1, keepdim=True) * 10 ** (-angle_dynamic_range_db / 10)
    ci, ai = torch.nonzero(amask & rel, as_tuple=True)
    power = Pa[ci, ai]
    order = torch.argsort(power, descending=True)
    if n_targets is not None:
        order = order[: int(n_targets)]
    ci, ai, power = ci[order], ai[order], power[order]
    a_bins = ai.to(Pa.dtype)
    if refine and ai.numel():
        logPa = torch.log(Pa.clamp_min(torch.finfo(Pa.dtype).tiny))
        a_bins = a_bins + parabolic_offset(logPa, torch.stack([ci, ai], 1), 1)
    mu = torch.stack([bins_to_mu(a_bins, M1), bins_to_mu(rd_bins[ci, 0], M2),
                      bins_to_mu(rd_bins[ci, 1], M3)], dim=1) if ai.numel() \
        else P_rd.new_zeros((0, 3))
    return Estimate(mu=mu, gains=ls_gains(Y, mu), extra={"power": power, "rd_cells": rd_bins})
