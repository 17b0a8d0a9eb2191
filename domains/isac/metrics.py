"""Detection and accuracy metrics for multidimensional frequency estimates.

Estimates and truth are point sets in the space of normalized frequencies
(radians per sample, one column per mode). Frequencies live on the circle, so
every difference is wrapped to (-pi, pi] before it is squared; physical-unit
errors (deg, m, m/s) are computed by the caller after conversion and passed
with ``circular=False``.

Matching is an optimal assignment (Hungarian algorithm on the normalised
distance), not a sort on one coordinate, so a missed target or a false target
never shifts the pairing of the others. Misses and false targets are reported,
never dropped.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
from scipy.optimize import linear_sum_assignment
from torch import Tensor

from domains.isac.phase import wrap

__all__ = [
    "wrap",
    "pairwise_distance",
    "Match",
    "match",
    "ospa",
    "rmse",
]


def _as_points(x, like: Tensor | None = None) -> Tensor:
    # lists go straight to float64: a float32 detour would cost 1e-7 rad
    t = x if isinstance(x, Tensor) else torch.as_tensor(x, dtype=torch.float64)
    if like is not None:
        t = t.to(device=like.device)
    if t.is_complex():
        raise TypeError("point sets must be real")
    t = t.to(torch.float64)
    if t.ndim == 1:
        t = t.reshape(-1, 1) if t.numel() else t.reshape(0, 1)
    return t


def _scaled_difference(a: Tensor, b: Tensor, scale, circular: bool) -> Tensor:
    """Signed differences a_i - b_j, shape (m, n, d), wrapped and scaled."""
    diff = a[:, None, :] - b[None, :, :]
    if circular:
        diff = wrap(diff)
    if scale is not None:
        diff = diff / torch.as_tensor(scale, dtype=diff.dtype, device=diff.device)
    return diff


def pairwise_distance(a, b, scale=None, circular: bool = True) -> Tensor:
    """Euclidean distance between every pair of points, after scaling.

    Parameters
    ----------
    a : array-like (m, d)
    b : array-like (n, d)
    scale : float or array-like (d,), optional
        Per-dimension unit; each coordinate difference is divided by it (e.g.
        the Rayleigh resolution ``2*pi/N_m`` to measure in resolution cells).
    circular : bool
        Wrap coordinate differences to (-pi, pi] first (normalized
        frequencies). Set False for physical units.

    Returns
    -------
    Tensor (m, n), float64
    """
    a = _as_points(a)
    b = _as_points(b, like=a)
    if a.shape[0] == 0 or b.shape[0] == 0:
        return a.new_zeros((a.shape[0], b.shape[0]))
    return _scaled_difference(a, b, scale, circular).square().sum(-1).sqrt()


@dataclass
class Match:
    """Result of `match`.

    Attributes
    ----------
    pairs : list of (int, int)
        ``(i_hat, i_true)`` index pairs, sorted by ``i_true``.
    misses : list of int
        Indices of true targets with no estimate assigned (within the gate).
    false_targets : list of int
        Indices of estimates assigned to no true target.
    errors : Tensor (n_pairs, d), float64
        Signed errors ``mu_hat - mu_true`` of the pairs (wrapped when circular),
        in the input units (not scaled).
    distances : Tensor (n_pairs,), float64
        Scaled distance of each pair.
    """

    pairs: list[tuple[int, int]]
    misses: list[int]
    false_targets: list[int]
    errors: Tensor
    distances: Tensor = field(repr=False)

    @property
    def n_misses(self) -> int:
        return len(self.misses)

    @property
    def n_false(self) -> int:
        return len(self.false_targets)


def match(mu_hat, mu_true, scale=None, gate: float | None = None,
          circular: bool = True) -> Match:
    """Optimal assignment of estimates to true targets.

    Minimises the summed scaled Euclidean distance over one-to-one pairings
    (``scipy.optimize.linear_sum_assignment``; the cost matrix is K_hat x K,
    small, so the numpy round trip is negligible).

    Parameters
    ----------
    mu_hat : array-like (K_hat, d)
        Estimates (normalized frequencies in rad/sample unless
        ``circular=False``).
    mu_true : array-like (K, d)
        True values in the same units.
    scale : float or array-like (d,), optional
        Per-dimension unit for the distance (e.g. ``2*pi/N`` per mode).
    gate : float, optional
        Largest scaled distance of a pair. The gate is part of the assignment:
        it maximises the number of pairs within the gate, then minimises their
        summed distance (so a far estimate never displaces a near one). None
        keeps every assigned pair.
    circular : bool
        Wrap differences to (-pi, pi].

    Returns
    -------
    Match
        With K - n_pairs misses and K_hat - n_pairs false targets.
    """
    est = _as_points(mu_hat)
    tru = _as_points(mu_true, like=est)
    k_hat, k = est.shape[0], tru.shape[0]
    d = tru.shape[1] if k else est.shape[1]
    pairs: list[tuple[int, int]] = []
    if k_hat and k:
        if est.shape[1] != tru.shape[1]:
            raise ValueError(f"dimension mismatch: {est.shape[1]} vs {tru.shape[1]}")
        dist = pairwise_distance(est, tru, scale, circular).detach().cpu().numpy()
        if gate is None:
            cost = dist
        else:
            # The gate belongs in the cost: a pair inside it earns a bonus larger
            # than any sum of gated distances, a pair outside it costs nothing
            # (it is as good as no pair). The optimum then has the most gated
            # pairs and, among those, the smallest summed distance; gating after
            # a raw-distance assignment lets one far estimate pull a good one away.
            bonus = gate * (min(k_hat, k) + 1) + 1.0
            cost = np.where(dist <= gate, dist - bonus, 0.0)
        rows, cols = linear_sum_assignment(cost)
        for r, c in zip(rows.tolist(), cols.tolist()):
            if gate is None or float(dist[r, c]) <= gate:
                pairs.append((r, c))
    pairs.sort(key=lambda rc: rc[1])
    matched_hat = {r for r, _ in pairs}
    matched_true = {c for _, c in pairs}
    if pairs:
        ih = torch.tensor([r for r, _ in pairs], device=est.device)
        it = torch.tensor([c for _, c in pairs], device=est.device)
        err = est[ih] - tru[it]
        if circular:
            err = wrap(err)
        dvec = err if scale is None else err / torch.as_tensor(
            scale, dtype=err.dtype, device=err.device)
        dists = dvec.square().sum(-1).sqrt()
    else:
        err = est.new_zeros((0, d))
        dists = est.new_zeros((0,))
    return Match(
        pairs=pairs,
        misses=[j for j in range(k) if j not in matched_true],
        false_targets=[i for i in range(k_hat) if i not in matched_hat],
        errors=err,
        distances=dists,
    )


def ospa(x, y, c: float, p: float = 2.0, scale=None, circular: bool = True) -> float:
    """Optimal sub-pattern assignment distance (Schuhmacher, Vo & Vo, 2008).

    For sets of sizes m <= n (swapped otherwise)::

        d = ( (1/n) * ( min_pi sum_{i<=m} min(c, ||x_i - y_pi(i)||)^p + c^p (n - m) ) )^(1/p)

    The first term is localisation, the second the cardinality penalty.

    Parameters
    ----------
    x, y : array-like (m, d), (n, d)
        The two point sets, same units.
    c : float
        Cut-off, in the scaled units: the cost of a miss or false target.
    p : float
        Order, >= 1.
    scale, circular
        As in `pairwise_distance`.

    Returns
    -------
    float
        0 when both sets are empty; ``c`` when exactly one is.
    """
    if c <= 0 or p < 1:
        raise ValueError("need c > 0 and p >= 1")
    a = _as_points(x)
    b = _as_points(y, like=a)
    m, n = a.shape[0], b.shape[0]
    if m == 0 and n == 0:
        return 0.0
    if m == 0 or n == 0:
        return float(c)
    if m > n:
        a, b, m, n = b, a, n, m
    dist = pairwise_distance(a, b, scale, circular).clamp(max=c).pow(p)
    cost = dist.detach().cpu().numpy()
    rows, cols = linear_sum_assignment(cost)
    local = float(np.sum(cost[rows, cols]))
    return float(((local + c ** p * (n - m)) / n) ** (1.0 / p))


def rmse(errors, dim: int = 0) -> Tensor:
    """Root-mean-square of errors along ``dim`` (NaN when there are none).

    Parameters
    ----------
    errors : array-like (n, d) or (n,)
        Signed errors, already wrapped where needed.
    dim : int
        Axis to average over.

    Returns
    -------
    Tensor
        ``sqrt(mean(errors**2, dim))``, float64.
    """
    e = errors if isinstance(errors, Tensor) else torch.as_tensor(errors, dtype=torch.float64)
    e = e.to(torch.float64)
    if e.shape[dim] == 0:
        shape = list(e.shape)
        shape.pop(dim)
        return e.new_full(shape, float("nan"))
    return e.square().mean(dim).sqrt()
