"""Intrinsic dimension of a point cloud: TwoNN and PCA estimators.

References
----------
E. Facco, M. d'Errico, A. Rodriguez, A. Laio, "Estimating the intrinsic
dimension of datasets by a minimal neighborhood information", Scientific
Reports 7:12140, 2017 (TwoNN).
"""

from __future__ import annotations

import torch

from shared.errors import BadInput
from shared.lowrank._utils import lapack_threads, make_generator, rank_from_energy

METHODS = ("twonn", "pca")


def _as_points(X: torch.Tensor) -> torch.Tensor:
    """``(n, d)`` real points: trailing modes flattened, complex split into (re, im)."""
    if not isinstance(X, torch.Tensor):
        raise BadInput("X", f"expected a torch.Tensor, got {type(X).__name__}")
    if X.ndim < 2:
        raise BadInput("X", f"expected points of shape (n, d), got shape {tuple(X.shape)}")
    X = X.reshape(X.shape[0], -1)
    if X.is_complex():
        X = torch.view_as_real(X.resolve_conj()).reshape(X.shape[0], -1)
    if not X.dtype.is_floating_point:
        X = X.to(torch.get_default_dtype())
    if not torch.isfinite(X).all():
        raise BadInput("X", "contains NaN or infinite values")
    return X


def intrinsic_dimension(
    X: torch.Tensor,
    method: str = "twonn",
    *,
    fraction: float = 0.9,
    variance: float = 0.95,
    max_points: int = 2000,
    seed: int | torch.Generator | None = 0,
    chunk: int = 1024,
) -> float:
    """Estimate the intrinsic dimension of a point cloud.

    Parameters
    ----------
    X : torch.Tensor
        Points, shape ``(n, d)`` (trailing modes beyond the first are
        flattened; complex coordinates count as two real ones).
    method : {"twonn", "pca"}
        ``twonn``: Facco et al.'s two-nearest-neighbour estimator.  ``pca``:
        the number of principal components explaining ``variance`` of the
        total variance (a linear, upper-bound estimate).
    fraction : float
        TwoNN: fraction of the sorted ratios ``mu = r2 / r1`` kept for the
        fit (the largest ``1 - fraction``, dominated by noise and curvature,
        are discarded; Facco et al. use 0.9).
    variance : float
        PCA: explained-variance threshold in (0, 1].
    max_points : int
        Random subsample size (drawn with ``seed``) above which the
        ``O(n^2)`` distance computation is not worth it.
    seed : int, torch.Generator or None
        Seed of the subsample.
    chunk : int
        Rows per ``torch.cdist`` block (memory ``chunk * n``).

    Returns
    -------
    float
        The estimate (TwoNN: real-valued; PCA: an integer count).

    Notes
    -----
    Exact duplicate points are removed first (they make ``r1 = 0``).  TwoNN
    fits ``-log(1 - F(mu)) = d log(mu)`` through the origin, with ``F`` the
    empirical CDF ``i / n`` of the sorted ratios.  Distances are computed in
    float64 on the input's device.
    """
    if method not in METHODS:
        raise BadInput("method", f"unknown intrinsic-dimension method {method!r}; expected one of {', '.join(METHODS)}")
    P = _as_points(X)
    if method == "pca":
        return _pca_dimension(P, variance)
    if not (0.0 < fraction <= 1.0):
        raise BadInput("fraction", f"fraction must be in (0, 1], got {fraction}")
    return _twonn(P, fraction, max_points, seed, chunk)


def _pca_dimension(P: torch.Tensor, variance: float) -> float:
    if not (0.0 < variance <= 1.0):
        raise BadInput("variance", f"variance must be in (0, 1], got {variance}")
    if P.shape[0] < 2:
        raise BadInput("X", "need at least 2 points")
    Pc = P.to(torch.float64) - P.to(torch.float64).mean(0)
    with lapack_threads(Pc):
        s2 = torch.linalg.svdvals(Pc) ** 2
    if s2.sum() <= 0:
        return 0.0
    return float(rank_from_energy(s2, variance))


def _twonn(P: torch.Tensor, fraction: float, max_points: int, seed, chunk: int) -> float:
    n = P.shape[0]
    if n > max_points:
        # Subsample first: deduplicating a million rows costs more than TwoNN.
        gen = make_generator(seed)
        idx = torch.randperm(n, generator=gen, device=gen.device if gen is not None else "cpu")[:max_points]
        P = P[idx.to(P.device)]
    P = torch.unique(P, dim=0)
    n = P.shape[0]
    if n < 3:
        raise BadInput("X", f"TwoNN needs at least 3 distinct points, got {n}")
    P = P.to(torch.float64)
    r12 = []
    for start in range(0, n, chunk):
        # Exact differences, not the |x|^2 - 2xy + |y|^2 shortcut: near
        # neighbours are what TwoNN measures.
        D = torch.cdist(P[start : start + chunk], P, compute_mode="donot_use_mm_for_euclid_dist")
        rows = torch.arange(D.shape[0], device=D.device)
        D[rows, rows + start] = float("inf")  # not one's own neighbour
        r12.append(torch.topk(D, 2, dim=1, largest=False).values)
    r = torch.cat(r12)
    mu = r[:, 1] / r[:, 0]
    mu = torch.sort(mu).values
    keep = max(2, int(fraction * n))
    x = torch.log(mu[:keep])
    F = torch.arange(1, keep + 1, dtype=torch.float64, device=mu.device) / n
    y = -torch.log1p(-F)
    denom = (x * x).sum()
    if denom <= 0:
        raise BadInput("X", "all neighbour-distance ratios are 1; the dimension is undefined")
    return float(((x * y).sum() / denom).item())
