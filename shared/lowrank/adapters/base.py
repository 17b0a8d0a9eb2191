"""Common machinery of the low-rank adapters: wrapping, freezing, merging.

An adapter wraps a frozen ``nn.Linear`` or ``nn.Conv1d/2d/3d`` (``base``) and
adds a trainable weight change ``dW`` of the base weight's own shape
``(out, in / groups, *kernel)``:

    y = base(x) + op(dropout(x), dW)

where ``op`` is the base's own linear map (same stride, padding, dilation,
groups and padding mode) without bias.  Because ``dW`` has the weight's shape,
grouped convolutions need no special case, and ``merge()`` is exact:
``W <- W + dW``.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from shared.errors import BadInput

SUPPORTED = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)


def weight_matrix_shape(base: nn.Module) -> tuple[int, int]:
    """``(out, in / groups * prod(kernel))``: the weight seen as a matrix."""
    w = base.weight
    return int(w.shape[0]), int(w[0].numel())


class AdapterLayer(nn.Module):
    """Base class: a frozen ``base`` layer plus a trainable ``delta_weight()``.

    Parameters
    ----------
    base : nn.Linear or nn.Conv1d/2d/3d
        The layer to adapt; its parameters are frozen (``requires_grad=False``).
    dropout : float
        Dropout on the adapter branch's input (training only).
    """

    def __init__(self, base: nn.Module, dropout: float = 0.0):
        super().__init__()
        if not isinstance(base, SUPPORTED):
            raise BadInput("target", f"adapters support nn.Linear and nn.Conv1d/2d/3d, not {type(base).__name__}")
        if isinstance(base, nn.modules.conv._ConvTransposeNd):
            raise BadInput("target", "transposed convolutions are not supported")
        self.base = base
        for p in base.parameters():
            p.requires_grad_(False)
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.merged = False

    # Subclasses provide the weight change, shape base.weight.shape.
    def delta_weight(self) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def _apply_weight(self, x: torch.Tensor, W: torch.Tensor) -> torch.Tensor:
        """The base layer's linear map with weight ``W`` and no bias."""
        if isinstance(self.base, nn.Linear):
            return F.linear(x, W)
        return self.base._conv_forward(x, W, None)

    def delta_forward(self, x: torch.Tensor) -> torch.Tensor:
        """The adapter branch on (already dropped-out) input ``x``."""
        return self._apply_weight(x, self.delta_weight().to(x.dtype))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.base(x)
        if self.merged:
            return out
        return out + self.delta_forward(self.dropout(x))

    @torch.no_grad()
    def merge(self) -> "AdapterLayer":
        """Fold ``dW`` into the base weight (``W <- W + dW``); forward then skips the branch."""
        if not self.merged:
            self.base.weight.add_(self.delta_weight().to(self.base.weight.dtype))
            self.merged = True
        return self

    @torch.no_grad()
    def unmerge(self) -> "AdapterLayer":
        """Undo :meth:`merge` (``W <- W - dW``)."""
        if self.merged:
            self.base.weight.sub_(self.delta_weight().to(self.base.weight.dtype))
            self.merged = False
        return self

    def extra_repr(self) -> str:
        return f"merged={self.merged}"
