"""FLoRA: a Tucker-structured weight change in the weight's own N-D shape.

``dW = scale * G x_1 U_1 x_2 U_2 ... x_N U_N`` where the weight has shape
``(d_1, ..., d_N)`` = ``(out, in / groups, *kernel)`` (``N = 2`` for Linear,
``N = 3, 4, 5`` for Conv1d/2d/3d), the core ``G`` ``(r_1, ..., r_N)`` starts
at zero (output unchanged at start) and the factors ``U_i`` ``(d_i, r_i)``
are Kaiming-normal.  Re-implemented from the paper; merging, groups and
per-mode ranks added.

Reference: C. Si et al., "FLoRA: Low-Rank Core Space for N-dimension",
arXiv 2405.14739, 2024.
"""

from __future__ import annotations

import math
from typing import Sequence

import torch
from torch import nn

from shared.errors import BadInput
from shared.lowrank._utils import check_rank, multi_mode_dot
from shared.lowrank.adapters.base import AdapterLayer


class FLoRA(AdapterLayer):
    """Tucker adapter ``dW = scale * core x_i factors[i]`` on a Linear or ConvNd layer.

    Parameters
    ----------
    base : nn.Linear or nn.Conv1d/2d/3d
        Frozen layer, weight shape ``(d_1, ..., d_N)``.
    rank : int or sequence of int
        Per-mode ranks ``r_i``; an ``int`` is clipped to each mode size
        (kernel modes are usually small).
    scale : float
        Multiplier of ``dW`` (FLoRA's ``scale``; the paper's ConvNeXt setting is 4).
    dropout : float
        Dropout on the adapter input.

    Notes
    -----
    Trainable parameters: ``prod(r_i) + sum(d_i * r_i)`` (see :meth:`n_trainable_formula`).
    """

    def __init__(self, base: nn.Module, rank: int | Sequence[int] = 8, scale: float = 1.0, dropout: float = 0.0):
        super().__init__(base, dropout)
        w = base.weight
        dims = tuple(int(d) for d in w.shape)
        if isinstance(rank, int) and not isinstance(rank, bool):
            ranks = [min(int(rank), d) for d in dims]
            if rank < 1:
                raise BadInput("rank", f"rank {rank} must be at least 1")
        else:
            ranks = list(rank)
            if len(ranks) != len(dims):
                raise BadInput("rank", f"expected {len(dims)} ranks for a weight of shape {dims}, got {len(ranks)}")
        self.ranks = tuple(check_rank(r, d, "rank", f"weight mode {i}") for i, (r, d) in enumerate(zip(ranks, dims)))
        self.scale = float(scale)
        self.core = nn.Parameter(torch.zeros(self.ranks, dtype=w.dtype, device=w.device))
        self.factors = nn.ParameterList()
        for d, r in zip(dims, self.ranks):
            U = torch.empty(d, r, dtype=w.dtype, device=w.device)
            nn.init.kaiming_normal_(U, a=math.sqrt(3))
            self.factors.append(nn.Parameter(U))

    @staticmethod
    def n_trainable_formula(dims: Sequence[int], ranks: Sequence[int]) -> int:
        """``prod(r_i) + sum(d_i r_i)``."""
        return math.prod(ranks) + sum(d * r for d, r in zip(dims, ranks))

    def delta_weight(self) -> torch.Tensor:
        return self.scale * multi_mode_dot(self.core, list(self.factors))

    def extra_repr(self) -> str:
        return f"ranks={self.ranks}, scale={self.scale}, merged={self.merged}"
