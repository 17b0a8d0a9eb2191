"""Row sampling by (approximate) statistical leverage scores.

The leverage score of row ``i`` of a tall ``X`` (``n x d``, rank ``d``) is
``l_i = ||Q_i||^2`` for any orthonormal basis ``Q`` of ``range(X)``;
``sum l_i = d``.  Sampling ``m = O(d log d / eps^2)`` rows with probabilities
``p_i = l_i / d`` and weights ``1 / sqrt(m p_i)`` gives a subspace embedding:
sampled least squares is within ``1 + eps`` of the full solution.

The approximate scores follow Drineas, Magdon-Ismail, Mahoney and Woodruff:
sketch ``S X`` (CountSketch, ``O(nd)``), ``R`` from ``qr(S X)``, and
``l_i ~= ||(X R^{-1} G)_i||^2`` with a small Gaussian ``G`` (Johnson-
Lindenstrauss) when ``d`` is large; accurate to a constant factor, which only
costs a constant factor in ``m``.

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
from shared.lowrank._utils import lapack_threads, make_generator, qr_q


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
        Sketch-based estimate (``O(nd log n)``) instead of a thin QR (``O(nd^2)``).
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
        Shape ``(n,)``, real dtype of ``X``, on ``X``'s device; sums to about
        ``rank(X)``.
    """
    X = _check(X)
    n, d = X.shape
    if not approximate or n <= 2 * d:
        Q = qr_q(X)
        return torch.linalg.vector_norm(Q, dim=1) ** 2
    gen = make_generator(seed)
    r = min(n, sketch_size or max(20 * d, 200))
    # CountSketch: every row goes to one random bucket with a random sign.
    bucket = torch.randint(0, r, (n,), generator=gen, device=gen.device if gen else "cpu").to(X.device)
    sign = (torch.randint(0, 2, (n,), generator=gen, device=gen.device if gen else "cpu") * 2 - 1).to(X.device, X.dtype)
    SX = torch.zeros(r, d, dtype=X.dtype, device=X.device).index_add_(0, bucket, X * sign[:, None])
    with lapack_threads(SX):
        R = torch.linalg.qr(SX).R
    # Rank-deficient X: regularise the triangular solve on (numerically) zero pivots.
    diag = R.diagonal().abs()
    tiny = diag.max() * d * torch.finfo(diag.dtype).eps
    R = R + torch.diag(torch.where(diag > tiny, torch.zeros_like(diag), tiny.expand_as(diag)).to(R.dtype))
    k = jl_dim or math.ceil(8 * math.log(max(n, 2)))
    if k < d:
        G = torch.randn(d, k, generator=gen, device=gen.device if gen else "cpu", dtype=X.real.dtype).to(X.device)
        G = (G / math.sqrt(k)).to(X.dtype)
        # X R^{-1} G without forming R^{-1}: solve R Y = G first (d x k).
        Y = torch.linalg.solve_triangular(R, G, upper=True)
        return torch.linalg.vector_norm(X @ Y, dim=1) ** 2
    XR = torch.linalg.solve_triangular(R, X, upper=True, left=False)
    return torch.linalg.vector_norm(XR, dim=1) ** 2


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
        approximately unbiased.
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
    p = p / p.sum()
    if mix:
        p = (1 - mix) * p + mix / n
    idx = torch.multinomial(p.to(gen.device if gen else p.device), m, replacement=replace, generator=gen).to(X.device)
    w = 1.0 / torch.sqrt(m * p[idx])
    return idx, w.to(X.real.dtype)


def _check(X) -> torch.Tensor:
    if not isinstance(X, torch.Tensor):
        raise BadInput("X", f"expected a torch.Tensor, got {type(X).__name__}")
    if X.ndim < 2:
        raise BadInput("X", f"expected shape (n, d), got {tuple(X.shape)}")
    X = X.reshape(X.shape[0], -1)
    if not (X.dtype.is_floating_point or X.dtype.is_complex) or X.dtype in (torch.float16, torch.bfloat16):
        raise BadInput("X", f"dtype {X.dtype} is not supported; use float32/64 or complex64/128")
    return X
