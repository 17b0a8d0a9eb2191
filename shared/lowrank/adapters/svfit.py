"""SVFit: fine-tune only the top-``r`` singular values of a frozen weight.

With the weight matrix ``W = U S V^H`` (shape ``(out, in / groups *
prod(kernel))``), the adapted weight is ``W + U_r diag(delta) V_r^H``: the
singular vectors are frozen buffers and only ``delta`` (``r`` numbers, zero
at start) is trained, i.e. the top-``r`` singular values become
``S_r + delta``.

Reference: C. Sun et al., "SVFit: Parameter-Efficient Fine-Tuning of Large
Pre-Trained Models Using Singular Values", arXiv 2409.05926, 2024.
"""

from __future__ import annotations

import torch
from torch import nn

from shared.lowrank._utils import check_rank
from shared.lowrank.adapters.base import AdapterLayer, weight_matrix_shape
from shared.lowrank.svd import svd


class SVFit(AdapterLayer):
    """Train only the top-``rank`` singular values of a Linear or ConvNd weight.

    Parameters
    ----------
    base : nn.Linear or nn.Conv1d/2d/3d
        Frozen layer.
    rank : int
        Number of singular values trained, at most ``min`` of the weight
        matrix's sides.
    dropout : float
        Dropout on the adapter input.

    Attributes
    ----------
    delta : nn.Parameter
        ``(rank,)``, the change of the top singular values (the only trainable tensor).
    U, Vh, S0 : buffers
        Frozen ``(out, rank)``, ``(rank, in)`` singular vectors and ``(rank,)``
        initial singular values.
    """

    def __init__(self, base: nn.Module, rank: int = 8, dropout: float = 0.0):
        super().__init__(base, dropout)
        out, inp = weight_matrix_shape(base)
        self.rank = check_rank(rank, min(out, inp), "rank", "min(out, in) of the weight matrix")
        w = base.weight.detach()
        U, S, Vh = svd(w.reshape(out, inp), self.rank, method="full")
        self.register_buffer("U", U.contiguous())
        self.register_buffer("Vh", Vh.contiguous())
        self.register_buffer("S0", S.contiguous())
        # Training delta (zero at start) rather than S itself keeps dW exactly 0.
        self.delta = nn.Parameter(torch.zeros(self.rank, dtype=w.dtype, device=w.device))

    @property
    def singular_values(self) -> torch.Tensor:
        """The current top-``rank`` singular values ``S0 + delta``."""
        return self.S0 + self.delta

    def delta_weight(self) -> torch.Tensor:
        return ((self.U * self.delta) @ self.Vh).reshape(self.base.weight.shape)

    def delta_forward(self, x: torch.Tensor) -> torch.Tensor:
        if isinstance(self.base, nn.Linear):
            return ((x @ self.Vh.to(x.dtype).T) * self.delta.to(x.dtype)) @ self.U.to(x.dtype).T
        return super().delta_forward(x)

    def extra_repr(self) -> str:
        return f"rank={self.rank}, merged={self.merged}"
