"""Row sampling by (approximate) statistical leverage scores.

The leverage score of row ``i`` of a tall ``X`` (``n x d``, rank ``r``) is
``l_i = ||Q_i||^2`` for any orthonormal basis ``Q`` (``n x r``) of
``range(X)``; ``sum l_i = r``.  Sampling ``m = O(r log r / eps^2)`` rows with
probabilities ``p_i = l_i / r`` and weights ``1 / sqrt(m p_i)`` gives a subspace embedding:
sampled least squares is within ``1 + eps`` of the full solution.

The approximate scores follow Drineas, Magdon-Ismail, Mahoney and Woodruff:
sketch ``S X`` (CountSketch, ``O(nd)``), its small SVD ``S X = W S V^H``
truncated at the numerical rank ``k``, and
``l_i ~= ||(X V_k S_k^{-1} G)_i||^2`` with a small Gaussian ``G`` (Johnson-
Lindenstrauss) when ``d`` is large; accurate to a constant factor, which only
costs a constant factor in ``m``.  (With full-rank ``X`` this equals the
paper's ``X R^{-1}`` from ``qr(S X)``; the SVD also handles rank-deficient
``X``, where ``R`` would be singular.)

Numerical rank: singular values above ``S_max * max(n, d) * eps`` of the
dtype count (numpy's ``matrix_rank`` rule).  An all-zero ``X`` has rank 0:
its scores are all zero and :func:`leverage_sample` then draws uniformly.

References
----------
P. Drineas, M. Magdon-Ismail, M. W. Mahoney, D. P. Woodruff, "Fast
approximation of matrix coherence and statistical leverage", JMLR
13:3475-3506, 2012.  K. L. Clarkson, D. P. Woodruff, "Low rank approximation
and regression in input sparsity time", STOC 2013 (CountSketch).
"""

from __future__ import annotations

import math

import torch

from shared.errors import BadInput
from shared.lowrank._utils import lapack_svd, make_generator


def leverage_scores(
    X: torch.Tensor,
    approximate: bool = True,
    sketch_size: int | None = None,
    jl_dim: int | None = None,
    seed: int | torch.Generator | None = 0,
) -> torch.Tensor:
    """Leverage scores of the rows of ``X``.

    Parameters
    ----------
    X : torch.Tensor
        Shape ``(n, d)`` (trailing modes are flattened), real or complex.
    approximate : bool
        Sketch-based estimate (``O(nd log n)``) instead of the exact scores
        from a thin SVD (``O(nd^2)``, always used when ``n <= 2 d``).
    sketch_size : int, optional
        Rows of the CountSketch (default ``min(n, max(20 d, 200))``).
    jl_dim : int, optional
        Columns of the Johnson-Lindenstrauss projection (default
        ``ceil(8 log n)``; not used when ``d`` is smaller).
    seed : int, torch.Generator or None
        Randomness of the sketches.

    Returns
    -------
    torch.Tensor
        Shape ``(n,)``, real dtype of ``X``, on ``X``'s device; sums to the
        numerical rank of ``X`` (exactly for the exact scores, about for the
        sketched ones); all zeros when ``X`` is all zero.
    """
    X = _check(X)
    n, d = X.shape
    if not bool((X != 0).any()):
        # rank 0: no direction has any leverage (leverage_sample then draws uniformly).
        return torch.zeros(n, dtype=X.real.dtype, device=X.device)
    if not approximate or n <= 2 * d:
        # U[:, :r] of the thin SVD spans range(X) even when X is rank-deficient
        # (a QR's Q would span d directions and the scores would sum to d).
        U, S, _ = lapack_svd(X)
        r = numerical_rank(S, n, d)
        return torch.linalg.vector_norm(U[:, :r], dim=1) ** 2
    gen = make_generator(seed)
    r = min(n, sketch_size or max(20 * d, 200))
    # CountSketch: every row goes to one random bucket with a random sign.
    bucket = torch.randint(0, r, (n,), generator=gen, device=gen.device if gen else "cpu").to(X.device)
    sign = (torch.randint(0, 2, (n,), generator=gen, device=gen.device if gen else "cpu") * 2 - 1).to(X.device, X.dtype)
    SX = torch.zeros(r, d, dtype=X.dtype, device=X.device).index_add_(0, bucket, X * sign[:, None])
    # SX = W S V^H (a small r x d SVD). range(X^H) = range(SX^H) with high
    # probability, so X V_k S_k^{-1} (k = numerical rank) has the leverage of X
    # up to the embedding's constant factor, rank-deficient X included.
    _, S, Vh = lapack_svd(SX)
    k_rank = numerical_rank(S, r, d)
    # Floor the divisor at the dtype's tiny so a numerically-zero sketch cannot give inf/NaN.
    T = Vh[:k_rank].mH / S[:k_rank].clamp_min(torch.finfo(S.dtype).tiny).to(X.dtype)  # (d, k_rank)
    k = jl_dim or math.ceil(8 * math.log(max(n, 2)))
    if k < k_rank:
        G = torch.randn(k_rank, k, generator=gen, device=gen.device if gen else "cpu", dtype=X.real.dtype).to(X.device)
        T = T @ (G / math.sqrt(k)).to(X.dtype)
    return torch.linalg.vector_norm(X @ T, dim=1) ** 2


def numerical_rank(S: torch.Tensor, n: int, d: int) -> int:
    """Number of singular values above ``S_max * max(n, d) * eps`` (numpy's ``matrix_rank`` rule).

    Parameters
    ----------
    S : torch.Tensor
        Singular values of an ``n x d`` matrix, shape ``(min(n, d),)``, descending.
    n, d : int
        Shape of the matrix.
    """
    if S.numel() == 0 or not bool(S[0] > 0):
        return 0
    tol = S[0] * max(n, d) * torch.finfo(S.dtype).eps
    return int((S > tol).sum().item())


def leverage_sample(
    X: torch.Tensor,
    m: int,
    seed: int | torch.Generator | None = 0,
    approximate: bool = True,
    replace: bool = True,
    mix: float = 0.0,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Sample ``m`` rows of ``X`` with probabilities proportional to their leverage.

    Parameters
    ----------
    X : torch.Tensor
        Shape ``(n, d)``: one row per pixel/sample, one column per feature.
    m : int
        Number of rows drawn.
    seed : int, torch.Generator or None
        Randomness of the sketch and the draw.
    approximate : bool
        Use sketched leverage scores (see :func:`leverage_scores`).
    replace : bool
        Draw with replacement (the setting of the guarantees).  Without
        replacement every index appears once; the weights are then only
        approximately unbiased.  Any number of rows (no 2^24 limit).
    mix : float in [0, 1)
        Mix ``mix`` of the uniform distribution into the probabilities, so no
        row has probability ~0.

    Returns
    -------
    indices : torch.Tensor
        Shape ``(m,)``, int64, on ``X``'s device.
    weights : torch.Tensor
        Shape ``(m,)``, real dtype: ``1 / sqrt(m p_i)``.  Multiply the sampled
        rows (and targets) by them so that ``(W X_s)^H (W X_s)`` estimates
        ``X^H X`` without bias.
    """
    X = _check(X)
    n = X.shape[0]
    if isinstance(m, bool) or not isinstance(m, int) or m < 1:
        raise BadInput("m", f"m must be a positive integer, got {m!r}")
    if not replace and m > n:
        raise BadInput("m", f"cannot draw {m} distinct rows out of {n}")
    if not (0.0 <= mix < 1.0):
        raise BadInput("mix", f"mix must be in [0, 1), got {mix}")
    gen = make_generator(seed)
    scores = leverage_scores(X, approximate=approximate, seed=gen)
    p = scores.to(torch.float64)
    total = p.sum()
    # Rank-0 X (all zero): no leverage anywhere, so draw uniformly.
    p = p / total if bool(total > 0) else torch.full_like(p, 1.0 / n)
    if mix:
        p = (1 - mix) * p + mix / n
    idx = _draw(p.to(gen.device if gen else p.device), m, replace, gen).to(X.device)
    w = 1.0 / torch.sqrt(m * p[idx])
    return idx, w.to(X.real.dtype)


def _draw(p: torch.Tensor, m: int, replace: bool, gen) -> torch.Tensor:
    """``m`` indices drawn from the probabilities ``p`` ``(n,)``, any ``n``.

    ``torch.multinomial`` refuses more than 2^24 categories; these are its
    algorithms (same random stream, so the same draws) without that limit:
    with replacement, inverse-CDF on the cumulative sum; without, the
    exponential-keys method (the ``m`` largest ``p_i / E_i``, ``E_i ~ Exp(1)``),
    which is successive draws proportional to ``p`` among the rows left.
    """
    if replace:
        cdf = torch.cumsum(p, 0)
        u = torch.rand(m, dtype=p.dtype, device=p.device, generator=gen) * cdf[-1]
        return torch.searchsorted(cdf, u, right=True).clamp_max(p.numel() - 1)
    keys = p / torch.empty_like(p).exponential_(1, generator=gen)
    return torch.topk(keys, m).indices


def _check(X) -> torch.Tensor:
    if not isinstance(X, torch.Tensor):
        raise BadInput("X", f"expected a torch.Tensor, got {type(X).__name__}")
    if X.ndim < 2:
        raise BadInput("X", f"expected shape (n, d), got {tuple(X.shape)}")
    X = X.reshape(X.shape[0], -1)
    if not (X.dtype.is_floating_point or X.dtype.is_complex) or X.dtype in (torch.float16, torch.bfloat16):
        raise BadInput("X", f"dtype {X.dtype} is not supported; use float32/64 or complex64/128")
    return X
