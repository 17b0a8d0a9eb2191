"""LoRA: ``dW = (alpha / r) B A`` with ``A`` ``(r, in)`` and ``B`` ``(out, r)``, ``B = 0`` at start.

For convolutions ``A`` spans the flattened ``(in / groups) * prod(kernel)``
input of the weight matrix and ``dW = B A`` is reshaped to the weight's shape
(so grouped convolutions work for any ``r``, and merging is exact).

Reference: E. J. Hu et al., "LoRA: Low-Rank Adaptation of Large Language
Models", ICLR 2022 (arXiv 2106.09685).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from shared.lowrank._utils import check_rank
from shared.lowrank.adapters.base import AdapterLayer, weight_matrix_shape


class LoRA(AdapterLayer):
    """Low-rank adapter ``dW = scaling * B @ A`` on a Linear or ConvNd layer.

    Parameters
    ----------
    base : nn.Linear or nn.Conv1d/2d/3d
        Frozen layer.
    rank : int
        ``r``, at most ``min(out, in / groups * prod(kernel))``.
    alpha : float, optional
        ``scaling = alpha / r``; default ``alpha = r`` (scaling 1).
    dropout : float
        Dropout on the adapter input.

    Notes
    -----
    Trainable parameters: ``r * (out + in / groups * prod(kernel))``.
    """

    def __init__(self, base: nn.Module, rank: int = 8, alpha: float | None = None, dropout: float = 0.0):
        super().__init__(base, dropout)
        out, inp = weight_matrix_shape(base)
        self.rank = check_rank(rank, min(out, inp), "rank", "min(out, in) of the weight matrix")
        self.alpha = float(self.rank if alpha is None else alpha)
        self.scaling = self.alpha / self.rank
        w = base.weight
        self.lora_A = nn.Parameter(torch.empty(self.rank, inp, dtype=w.dtype, device=w.device))
        self.lora_B = nn.Parameter(torch.zeros(out, self.rank, dtype=w.dtype, device=w.device))
        # A random, B zero: dW = 0 at start, yet B receives gradients at once.
        nn.init.kaiming_uniform_(self.lora_A, a=math.sqrt(5))

    def delta_weight(self) -> torch.Tensor:
        return (self.scaling * (self.lora_B @ self.lora_A)).reshape(self.base.weight.shape)

    def delta_forward(self, x: torch.Tensor) -> torch.Tensor:
        if isinstance(self.base, nn.Linear):
            # Two thin products instead of materialising the out x in matrix.
            return (x @ self.lora_A.to(x.dtype).T) @ self.lora_B.to(x.dtype).T * self.scaling
        return super().delta_forward(x)

    def extra_repr(self) -> str:
        return f"rank={self.rank}, alpha={self.alpha}, merged={self.merged}"
