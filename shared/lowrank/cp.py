"""CP (CANDECOMP/PARAFAC) decomposition through TensorLy's PyTorch backend.

The ALS itself is TensorLy's ``parafac``; this module only pins the backend
for the calling thread, validates input and wraps the result in
:class:`CPTensor`, which mirrors :class:`shared.lowrank.tucker.TuckerTensor`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch

from shared.errors import BadInput
from shared.lowrank._utils import tensorly_pytorch

__all__ = ["CPTensor", "cp"]


@dataclass(eq=False)
class CPTensor:
    """A CP model ``X ~= sum_r w_r  a_r^(1) o ... o a_r^(N)``.

    Parameters
    ----------
    weights : torch.Tensor
        Shape ``(R,)``.
    factors : list of torch.Tensor
        ``factors[n]`` has shape ``(I_n, R)``.
    """

    weights: torch.Tensor
    factors: list[torch.Tensor] = field(default_factory=list)

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(int(U.shape[0]) for U in self.factors)

    @property
    def rank(self) -> int:
        return int(self.weights.shape[0])

    @property
    def n_params(self) -> int:
        """Stored entries ``R + R * sum(I_n)``."""
        return int(self.weights.numel() + sum(U.numel() for U in self.factors))

    @property
    def compression_ratio(self) -> float:
        return math.prod(self.shape) / self.n_params

    def to_tensor(self) -> torch.Tensor:
        """The full tensor, shape ``(I_1, ..., I_N)``."""
        out = self.factors[0] * self.weights.to(self.factors[0].dtype)
        for U in self.factors[1:]:
            # (..., R) x (I_n, R) -> (..., I_n, R): one outer product per mode.
            out = out.unsqueeze(-2) * U
        return out.sum(-1)

    def rel_error(self, X: torch.Tensor) -> float:
        """Relative Frobenius error ``||X - X_hat|| / ||X||``."""
        if tuple(X.shape) != self.shape:
            raise BadInput("X", f"shape {tuple(X.shape)} does not match the CP shape {self.shape}")
        den = torch.linalg.vector_norm(X)
        num = torch.linalg.vector_norm(X - self.to_tensor().to(X.dtype))
        return float((num / den).item()) if den > 0 else float(num.item())


def cp(
    X: torch.Tensor,
    rank: int,
    n_iter: int = 100,
    init: str = "svd",
    tol: float = 1e-8,
    seed: int | None = None,
    normalize_factors: bool = True,
    **kwargs,
) -> CPTensor:
    """CP decomposition by alternating least squares (``tensorly.decomposition.parafac``).

    Parameters
    ----------
    X : torch.Tensor
        Shape ``(I_1, ..., I_N)``, real or complex, any device.
    rank : int
        Number ``R`` of rank-one terms.
    n_iter : int
        Maximum ALS sweeps (``n_iter_max``).
    init : {"svd", "random"}
        Initialisation.
    tol : float
        Relative change of the reconstruction error that stops the ALS.
    seed : int, optional
        Seed of the random initialisation (TensorLy takes ints only).
    normalize_factors : bool
        Unit-norm factor columns with the scale in ``weights``.
    **kwargs
        Passed to ``parafac`` (e.g. ``l2_reg``, ``linesearch``).

    Returns
    -------
    CPTensor
        Weights ``(R,)`` and factors ``(I_n, R)`` on ``X``'s device and dtype.
    """
    from tensorly.decomposition import parafac

    if not isinstance(X, torch.Tensor) or X.ndim < 2:
        raise BadInput("X", "expected a torch.Tensor with at least 2 modes")
    if isinstance(rank, bool) or not isinstance(rank, int) or rank < 1:
        raise BadInput("rank", f"rank must be a positive integer, got {rank!r}")
    if seed is not None and not isinstance(seed, int):
        raise BadInput("seed", "cp() takes an int seed (TensorLy draws its own random numbers)")
    with tensorly_pytorch():  # this thread's backend only, restored after
        weights, factors = parafac(
            X,
            rank,
            n_iter_max=n_iter,
            init=init,
            tol=tol,
            random_state=seed,
            normalize_factors=normalize_factors,
            **kwargs,
        )
    return CPTensor(weights, list(factors))
