"""PLAIN: compression -> decoupled per-mode estimation -> fusion.

Re-implemented from the method (Tahir, Svoboda, Rupp, arXiv:2503.21242 and
the authors' MIT-licensed reference code, brief sections 4-6); no code ported.
"""

from __future__ import annotations

import math

import torch

from domains.isac.atoms import check_tensor, ls_gains
from domains.isac.phase import wrap
from domains.isac.plain.compress import check_factors, compress, expand_frequency
from domains.isac.plain.fusion import tensor_ls, tensor_omp, tensor_omp_tucker
from domains.isac.plain.modal import METHODS, estimate_mode_batch
from domains.isac.simulate import vandermonde
from domains.isac.types import Estimate
from shared.errors import BadInput

__all__ = ["plain", "plain_batch", "check_tensor"]




def _normalise_compression(compression):
    if compression is None or compression == "none":
        return "none", (1, 1, 1)
    if isinstance(compression, str):
        raise BadInput("compression", f"expected (method, factors), got {compression!r}")
    method, factors = compression
    return str(method), tuple(factors) if method != "none" else (1, 1, 1)


def plain(y: torch.Tensor, n_targets: int | None = None,
          compression=("averaging", (1, 2, 2)), method: str = "root-music",
          order: str | int = "aic", fusion: str = "omp", fba: bool = True,
          center=None, pfa: float = 1e-3, refit: bool = True) -> Estimate:
    """PLAIN estimate of the targets in one data tensor.

    Parameters
    ----------
    y : torch.Tensor
        ``(N1, N2, N3)`` complex (antennas, subcarriers, symbols).
    n_targets : int, optional
        Number of targets to return (PLAIN's ``useTrueN_P = 1``: per-mode
        orders still come from ``order``). ``None``: the fusion stops by a
        noise-threshold rule.
    compression : (method, factors) or None
        ``method`` in ``none | decimation | averaging``, per-mode integer
        factors. Frequencies must satisfy ``|mu_m| < pi / Delta_m`` (after
        ``center``) to map back uniquely.
    method : {"root-music", "esprit", "esprit-music"}
        Per-mode frequency estimator: root-MUSIC (PLAIN's), least-squares
        ESPRIT (fast, but its variance grows to ~N_m/3 times the bound), or
        ESPRIT polished by Newton steps on the MUSIC spectrum (root-MUSIC's
        accuracy for separated frequencies at ESPRIT's cost).
    order : {"aic", "mdl", "true"} or int
        Per-mode model order rule.
    fusion : {"omp", "omp-tucker", "ls"}
        Tensor-OMP over Kronecker atoms with a joint amplitude refit
        (default), the reference code's Tucker-residual variant, or TensorLS.
    fba : bool
        Forward-backward averaging of the per-mode covariances.
    center : sequence of 3 floats, optional
        Per-mode frequency offsets (rad/sample) removed before compression
        and added back after: moves the band centre to 0, which reduces the
        averaging edge loss and re-centres the unambiguous interval.
    pfa : float
        False-alarm probability of the stopping rule when ``n_targets`` is None.
    refit : bool
        Refit the amplitudes by least squares on the *uncompressed* tensor
        (the compressed amplitudes carry the averaging gains ``g(mu)``).

    Returns
    -------
    Estimate
        ``mu`` ``(K, 3)`` rad/sample, ``gains`` ``(K,)``; ``extra`` holds the
        per-mode candidates (full-rate rad/sample) and orders, the support
        (candidate index per mode), the compressed shape, the noise-variance
        estimate (per entry of ``y``) and the compressed residual energy.

    Raises
    ------
    BadInput
        A bad tensor, more targets than a mode can resolve, or a compression
        factor that leaves a mode shorter than ``n_targets + 1``.
    """
    y = check_tensor(y)
    return _run(y[None], n_targets, compression, method, order, fusion, fba, center, pfa, refit)[0]


def _validate(shape, n_targets, compression, method, order, fusion):
    for m, n in enumerate(shape):
        if n < 2:
            raise BadInput("Y", f"mode {m} has {n} sample(s); every mode needs at least 2 "
                           f"(shape {list(shape)})")
    if n_targets is not None:
        n_targets = int(n_targets)
        if n_targets < 1:
            raise BadInput("n_targets", f"must be >= 1, got {n_targets}")
        for m, n in enumerate(shape):
            if n_targets >= n:
                raise BadInput("n_targets", f"{n_targets} targets requested but mode {m} has "
                               f"{n} samples and resolves at most {n - 1}")
    cmethod, factors = _normalise_compression(compression)
    factors = check_factors(shape, cmethod, factors, n_targets)
    if method not in METHODS:
        raise BadInput("method", f"unknown per-mode method {method!r}; use one of {list(METHODS)}")
    if order == "true" and n_targets is None:
        raise BadInput("order", "order='true' needs n_targets")
    if not (order in ("aic", "mdl", "true") or (isinstance(order, int) and order >= 1)):
        raise BadInput("order", f"unknown model-order rule {order!r}; use 'aic', 'mdl', 'true' or an int >= 1")
    if fusion not in _FUSIONS:
        raise BadInput("fusion", f"unknown fusion {fusion!r}; use 'omp', 'omp-tucker' or 'ls'")
    return n_targets, cmethod, factors


_FUSIONS = {"omp": tensor_omp, "omp-tucker": tensor_omp_tucker, "ls": tensor_ls}


def _run(y, n_targets, compression, method, order, fusion, fba, center, pfa, refit) -> list[Estimate]:
    """PLAIN on a ``(T, N1, N2, N3)`` batch: batched front end, per-trial fusion."""
    shape = tuple(y.shape[-3:])
    n_targets, cmethod, factors = _validate(shape, n_targets, compression, method, order, fusion)
    real = y.real.dtype
    shift = None if center is None else torch.as_tensor(center, dtype=real, device=y.device)
    yc = compress(y, cmethod, factors, center=center)
    # a mode holds at most n_targets distinct frequencies
    per_mode = [estimate_mode_batch(yc, m, order=order, method=method, fba=fba, n_targets=n_targets)
                for m in range(3)]
    out = []
    for t in range(y.shape[0]):
        modes = [per_mode[m][t] for m in range(3)]
        out.append(_fuse(y[t], yc[t], modes, n_targets, cmethod, factors, shift, fusion, pfa, refit))
    return out


def _fuse(y, yc, modes, n_targets, cmethod, factors, shift, fusion, pfa, refit) -> Estimate:
    real = y.real.dtype
    shape_c = tuple(yc.shape)
    cand = [r.mu.to(real) for r in modes]
    fac_c = [vandermonde(cand[m], shape_c[m], y.dtype) for m in range(3)]
    # noise variance per entry of the compressed tensor, pooled over modes by noise dimension
    dof = [shape_c[m] - modes[m].order for m in range(3)]
    noise_c = sum(modes[m].noise_var * dof[m] for m in range(3)) / max(sum(dof), 1)
    fused = _FUSIONS[fusion](yc, fac_c, n_atoms=n_targets, noise_var=noise_c, pfa=pfa)
    sup = fused.support
    mu_c = torch.stack([cand[m][sup[:, m]] for m in range(3)], dim=-1) if sup.shape[0] else \
        torch.zeros(0, 3, dtype=real, device=y.device)
    mu = torch.stack([expand_frequency(mu_c[:, m], factors[m]) for m in range(3)], dim=-1)
    if shift is not None:
        mu = wrap(mu + shift)
    if refit and mu.shape[0]:
        gains = ls_gains(y, mu)
    else:
        gains = fused.gains
    # averaging divides the noise variance by the block size; decimation keeps it
    noise_full = noise_c * (math.prod(factors) if cmethod == "averaging" else 1.0)
    full_cand = []
    for m in range(3):
        c = expand_frequency(cand[m], factors[m])
        if shift is not None:
            c = wrap(c + shift[m])
        full_cand.append(c)
    extra = {
        "method": "plain",
        "candidates": full_cand,
        "mode_orders": [r.order for r in modes],
        "support": sup,
        "compression": (cmethod, factors),
        "compressed_shape": shape_c,
        "noise_var": noise_full,
        "residual_energy_compressed": fused.residual_energy,
        "fusion": fusion,
    }
    return Estimate(mu=mu, gains=gains, extra=extra)


def plain_batch(y: torch.Tensor, n_targets: int | None = None,
                compression=("averaging", (1, 2, 2)), method: str = "root-music",
                order: str | int = "aic", fusion: str = "omp", fba: bool = True,
                center=None, pfa: float = 1e-3, refit: bool = True) -> list[Estimate]:
    """:func:`plain` on every trial of a ``(T, N1, N2, N3)`` Monte Carlo batch.

    Compression, the per-mode covariances, their eigendecompositions, the
    model orders and the root-MUSIC polynomial roots run batched over the
    trials (the polynomial degree does not depend on the order); the fusion,
    whose candidate counts differ from trial to trial, runs per trial. Same
    results as calling :func:`plain` trial by trial.

    Returns
    -------
    list of Estimate
        One per trial (a 3-D ``y`` gives a one-element list).
    """
    if isinstance(y, torch.Tensor) and y.ndim == 3:
        y = y[None]
    if not isinstance(y, torch.Tensor) or y.ndim != 4:
        raise BadInput("Y", "expected a (trials, antennas, subcarriers, symbols) tensor")
    if not torch.is_complex(y):
        raise BadInput("Y", f"must be complex, got {y.dtype}")
    if not bool(torch.isfinite(y).all()):
        raise BadInput("Y", "contains NaN or Inf values")
    return _run(y, n_targets, compression, method, order, fusion, fba, center, pfa, refit)
