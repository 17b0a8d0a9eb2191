"""Clustering on torch and the external scores of a clustering against labels.

:class:`KMeans` is Lloyd's algorithm with k-means++ seeding (Arthur &
Vassilvitskii 2007; greedy variant with ``2 + log k`` local trials as in
scikit-learn), restarted ``n_init`` times, keeping the lowest inertia.  It
follows the device and dtype of its input, computes distances in chunks (so a
few million rows fit in memory) and never copies to NumPy.

The scores work on a contingency matrix ``C[true, predicted]``, which a
windowed pass can accumulate tile by tile (:func:`contingency` per tile, then
a sum): one-to-one Hungarian matching accuracy, many-to-one (purity) accuracy,
ARI (Hubert & Arabie 1985) and NMI (arithmetic normalisation, scikit-learn's
default), per-class F1 under the Hungarian matching.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from scipy.optimize import linear_sum_assignment

from shared.errors import BadInput


# ------------------------------------------------------------------------ k-means
def _sq_dist(X: torch.Tensor, C: torch.Tensor, x_sq: torch.Tensor, c_sq: torch.Tensor) -> torch.Tensor:
    """Squared Euclidean distances ``(n, k)`` from the rows of ``X`` to ``C``."""
    return torch.addmm(x_sq[:, None] + c_sq[None, :], X, C.T, alpha=-2.0).clamp_min_(0)


def _assign(X: torch.Tensor, C: torch.Tensor, chunk: int,
            x_sq: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Nearest centre and its squared distance for every row, in chunks of rows."""
    c_sq = (C * C).sum(1)
    x_sq = (X * X).sum(1) if x_sq is None else x_sq
    if X.shape[0] <= chunk:
        v, i = _sq_dist(X, C, x_sq, c_sq).min(1)
        return i, v
    labels = torch.empty(X.shape[0], dtype=torch.int64, device=X.device)
    dmin = torch.empty(X.shape[0], dtype=X.dtype, device=X.device)
    for s in range(0, X.shape[0], chunk):
        v, i = _sq_dist(X[s:s + chunk], C, x_sq[s:s + chunk], c_sq).min(1)
        labels[s:s + chunk], dmin[s:s + chunk] = i, v
    return labels, dmin


def _dist_to(X: torch.Tensor, C: torch.Tensor, x_sq: torch.Tensor, chunk: int) -> torch.Tensor:
    """All squared distances ``(n, m)`` to a few points ``C`` (m small), chunked."""
    c_sq = (C * C).sum(1)
    return torch.cat([_sq_dist(X[s:s + chunk], C, x_sq[s:s + chunk], c_sq) for s in range(0, X.shape[0], chunk)])


def kmeans_plusplus(X: torch.Tensor, k: int, gen: torch.Generator,
                    n_local_trials: int | None = None, chunk: int = 1 << 18,
                    x_sq: torch.Tensor | None = None) -> torch.Tensor:
    """Greedy k-means++ seeding: ``(k, d)`` centres drawn from the rows of ``X``.

    Each new centre is the best (lowest potential) of ``n_local_trials``
    candidates drawn with probability proportional to the squared distance to
    the nearest chosen centre.
    """
    n = X.shape[0]
    x_sq = (X * X).sum(1) if x_sq is None else x_sq
    trials = n_local_trials or 2 + int(math.log(k))
    first = int(torch.randint(n, (1,), generator=gen, device=gen.device).item())
    idx = [first]
    closest = _dist_to(X, X[first:first + 1], x_sq, chunk)[:, 0]
    pot = closest.sum()
    for _ in range(1, k):
        if float(pot) <= 0:  # fewer distinct points than k: repeat a point
            idx.append(int(torch.randint(n, (1,), generator=gen, device=gen.device).item()))
            continue
        p = (closest / pot).to(torch.float64)
        cand = torch.multinomial(p.to(gen.device), trials, replacement=True, generator=gen).to(X.device)
        d = torch.minimum(closest[:, None], _dist_to(X, X[cand], x_sq, chunk))  # (n, trials)
        pots = d.sum(0)
        b = int(pots.argmin())
        idx.append(int(cand[b]))
        closest, pot = d[:, b].contiguous(), pots[b]
    return X[torch.tensor(idx, device=X.device)]


class KMeans:
    """k-means (Lloyd) on torch, scikit-learn style.

    Parameters
    ----------
    n_clusters : int
    n_init : int
        Restarts from independent k-means++ seedings; the lowest inertia wins.
    max_iter : int
        Lloyd iterations per restart.
    tol : float
        Stop when the squared centre shift is below ``tol`` times the mean
        per-feature variance (scikit-learn's rule).
    seed : int
        Seed of a private generator (global RNG state is untouched).
    chunk : int
        Rows per distance block.

    Attributes
    ----------
    cluster_centers_ : torch.Tensor
        ``(n_clusters, n_features)``, on the input's device and dtype.
    inertia_ : float
        Sum of squared distances to the nearest centre (weighted when
        ``sample_weight`` is given).
    n_iter_ : int
    labels_ : torch.Tensor
        ``(n_samples,)`` int64.
    """

    def __init__(self, n_clusters: int, n_init: int = 1, max_iter: int = 100, tol: float = 1e-4,
                 seed: int = 0, chunk: int = 1 << 18):
        self.n_clusters = n_clusters
        self.n_init = n_init
        self.max_iter = max_iter
        self.tol = tol
        self.seed = seed
        self.chunk = chunk

    def fit(self, X: torch.Tensor, sample_weight: torch.Tensor | None = None) -> "KMeans":
        """Fit on ``X`` of shape ``(n_samples, n_features)``; returns ``self``."""
        if not isinstance(X, torch.Tensor) or X.ndim != 2 or not X.dtype.is_floating_point:
            raise BadInput("X", "expected a 2-D floating-point torch.Tensor")
        n, k = X.shape[0], int(self.n_clusters)
        if k < 1 or k > n:
            raise BadInput("n_clusters", f"k={k} must be between 1 and the number of samples ({n})")
        w = torch.ones(n, dtype=X.dtype, device=X.device) if sample_weight is None else sample_weight.to(X)
        gen = torch.Generator(device=X.device if X.device.type == "cuda" else "cpu").manual_seed(int(self.seed))
        tol = float(self.tol) * float(X.var(0).mean()) if n > 1 else 0.0
        best = None
        x_sq = (X * X).sum(1)
        for _ in range(max(1, int(self.n_init))):
            C = kmeans_plusplus(X, k, gen, chunk=self.chunk, x_sq=x_sq)
            for it in range(1, int(self.max_iter) + 1):
                labels, _ = _assign(X, C, self.chunk, x_sq)
                sums = torch.zeros_like(C).index_add_(0, labels, X * w[:, None])
                cnt = torch.zeros(k, dtype=X.dtype, device=X.device).index_add_(0, labels, w)
                newC = torch.where(cnt[:, None] > 0, sums / cnt.clamp_min(1e-30)[:, None], C)
                empty = (cnt == 0).nonzero().flatten()
                if empty.numel():  # relocate empty clusters onto the worst-served points
                    d = _assign(X, newC, self.chunk, x_sq)[1]
                    newC[empty] = X[d.topk(empty.numel()).indices]
                shift = float(((newC - C) ** 2).sum())
                C = newC
                if shift <= tol:
                    break
            labels, d = _assign(X, C, self.chunk, x_sq)
            inertia = float((d * w).sum())
            if best is None or inertia < best[0]:
                best = (inertia, C, labels, it)
        self.inertia_, self.cluster_centers_, self.labels_, self.n_iter_ = best
        return self

    def predict(self, X: torch.Tensor) -> torch.Tensor:
        """Index of the nearest centre for each row of ``X``: ``(n,)`` int64."""
        if not hasattr(self, "cluster_centers_"):
            raise BadInput("KMeans", "not fitted yet: call fit first")
        return _assign(X.to(self.cluster_centers_), self.cluster_centers_, self.chunk)[0]

    def score(self, X: torch.Tensor) -> float:
        """Inertia of ``X`` under the fitted centres (sum of squared distances)."""
        return float(_assign(X.to(self.cluster_centers_), self.cluster_centers_, self.chunk)[1].sum())


def elbow_k(ks: list[int], inertias: list[float]) -> int:
    """The elbow of an inertia curve: the ``k`` farthest below the chord (kneedle).

    Both axes are normalised to [0, 1]; the elbow is the point of largest
    distance between the chord from the first to the last point and the
    (convex, decreasing) curve.
    """
    x = np.asarray(ks, float)
    y = np.asarray(inertias, float)
    if len(x) < 3:
        return int(x[0])
    xn = (x - x[0]) / (x[-1] - x[0])
    yn = (y - y.min()) / max(y.max() - y.min(), 1e-30)
    chord = 1.0 - xn  # straight line from (0, 1) to (1, 0)
    return int(x[int(np.argmax(chord - yn))])


# ------------------------------------------------------------------------- scores
def contingency(true: np.ndarray, pred: np.ndarray, n_true: int, n_pred: int) -> np.ndarray:
    """``C[i, j]`` = number of items of class ``i`` labelled ``j`` (int64).

    Items with a label outside ``[0, n_true)`` / ``[0, n_pred)`` (nodata) are
    ignored, so tiles can be scored with their nodata in place and summed.
    """
    t = np.asarray(true).ravel().astype(np.int64)
    p = np.asarray(pred).ravel().astype(np.int64)
    ok = (t >= 0) & (t < n_true) & (p >= 0) & (p < n_pred)
    return np.bincount(t[ok] * n_pred + p[ok], minlength=n_true * n_pred).reshape(n_true, n_pred)


def hungarian_matching(C: np.ndarray) -> dict[int, int]:
    """One-to-one map predicted cluster -> true class maximising the matched count."""
    r, c = linear_sum_assignment(-np.asarray(C))
    return {int(j): int(i) for i, j in zip(r, c)}


def matching_accuracy(C: np.ndarray) -> float:
    """One-to-one (Hungarian) accuracy: matched counts over all items; unmatched are errors."""
    C = np.asarray(C)
    r, c = linear_sum_assignment(-C)
    return float(C[r, c].sum() / max(C.sum(), 1))


def purity(C: np.ndarray) -> float:
    """Many-to-one accuracy: every cluster votes for its majority class."""
    C = np.asarray(C)
    return float(C.max(0).sum() / max(C.sum(), 1))


def _comb2(x: np.ndarray) -> float:
    x = np.asarray(x, dtype=np.float64)
    return float((x * (x - 1) / 2).sum())


def adjusted_rand(C: np.ndarray) -> float:
    """Adjusted Rand index from a contingency matrix (Hubert & Arabie)."""
    C = np.asarray(C, dtype=np.float64)
    n = C.sum()
    if n < 2:
        return 1.0
    sum_ij, sum_a, sum_b = _comb2(C), _comb2(C.sum(1)), _comb2(C.sum(0))
    expected = sum_a * sum_b / (n * (n - 1) / 2)
    maximum = (sum_a + sum_b) / 2
    if maximum == expected:
        return 1.0
    return float((sum_ij - expected) / (maximum - expected))


def normalized_mutual_info(C: np.ndarray) -> float:
    """NMI with the arithmetic mean of the entropies (scikit-learn's default)."""
    C = np.asarray(C, dtype=np.float64)
    n = C.sum()
    if n == 0:
        return 0.0
    pij = C / n
    pi, pj = pij.sum(1), pij.sum(0)
    nz = pij > 0
    mi = float((pij[nz] * np.log(pij[nz] / np.outer(pi, pj)[nz])).sum())
    h = lambda p: float(-(p[p > 0] * np.log(p[p > 0])).sum())  # noqa: E731
    hi, hj = h(pi), h(pj)
    if hi == 0 and hj == 0:
        return 1.0
    denom = (hi + hj) / 2
    return float(mi / denom) if denom > 0 else 0.0


def per_class_f1(C: np.ndarray) -> np.ndarray:
    """F1 of every true class against its Hungarian-matched cluster (0 when unmatched)."""
    C = np.asarray(C, dtype=np.float64)
    f1 = np.zeros(C.shape[0])
    for j, i in hungarian_matching(C).items():
        tp = C[i, j]
        prec = tp / max(C[:, j].sum(), 1)
        rec = tp / max(C[i].sum(), 1)
        f1[i] = 2 * prec * rec / (prec + rec) if prec + rec > 0 else 0.0
    return f1


def scores(C: np.ndarray) -> dict[str, float]:
    """``matching_accuracy``, ``majority_accuracy``, ``ari``, ``nmi``, ``mean_f1`` of ``C``."""
    return {"matching_accuracy": matching_accuracy(C), "majority_accuracy": purity(C),
            "ari": adjusted_rand(C), "nmi": normalized_mutual_info(C),
            "mean_f1": float(per_class_f1(C).mean())}
