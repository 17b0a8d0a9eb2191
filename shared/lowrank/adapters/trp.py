"""Trained Rank Pruning as a training-loop callback.

Every ``every_n_steps`` optimiser steps, each selected weight matrix is
replaced by its truncated SVD, keeping the smallest rank whose squared
singular values reach ``energy`` of the total; optionally a nuclear-norm
sub-gradient ``lambda_nuc * U V^H`` is added to the gradient after every
backward pass, which pushes the spectrum to decay.  Convolution weights are
seen as ``(out, in / groups * prod(kernel))`` matrices, one per group.

Reference: Y. Xu et al., "TRP: Trained Rank Pruning for Efficient Deep Neural
Networks", IJCAI 2020 (arXiv 1812.02402).
"""

from __future__ import annotations

import torch
from torch import nn

from shared.errors import BadInput
from shared.lowrank._utils import lapack_svd, rank_from_energy
from shared.lowrank.adapters.base import SUPPORTED, AdapterLayer
from shared.lowrank.adapters.inject import matches


class TrainedRankPruning:
    """Callback: periodic energy-threshold truncation of layer weights.

    Parameters
    ----------
    every_n_steps : int
        Truncate after every this many calls of :meth:`on_step_end`.
    energy : float in (0, 1]
        Fraction of the squared singular values kept per weight (per group).
    lambda_nuc : float
        Weight of the nuclear-norm sub-gradient added in :meth:`on_after_backward`.
    target : None, str, list of str or callable
        Layers to prune (as in :func:`apply_adapters`); only weights with
        ``requires_grad`` are touched, so frozen adapter bases are left alone.

    Attributes
    ----------
    step_ : int
        Steps seen.
    ranks_ : dict of str to list of int
        Rank kept per layer (one entry per group) at the last truncation.

    Examples
    --------
    >>> trp = TrainedRankPruning(every_n_steps=50, energy=0.98)  # doctest: +SKIP
    >>> loss.backward(); trp.on_after_backward(model); opt.step(); trp.on_step_end(model)  # doctest: +SKIP
    """

    def __init__(self, every_n_steps: int = 100, energy: float = 0.99, lambda_nuc: float = 0.0, target=None):
        if int(every_n_steps) < 1:
            raise BadInput("every_n_steps", f"must be at least 1, got {every_n_steps}")
        if not (0.0 < float(energy) <= 1.0):
            raise BadInput("energy", f"energy must be in (0, 1], got {energy}")
        if lambda_nuc < 0:
            raise BadInput("lambda_nuc", f"must be non-negative, got {lambda_nuc}")
        self.every_n_steps = int(every_n_steps)
        self.energy = float(energy)
        self.lambda_nuc = float(lambda_nuc)
        self.target = target
        self.step_ = 0
        self.ranks_: dict[str, list[int]] = {}

    def _layers(self, model: nn.Module):
        inside = {id(m.base) for m in model.modules() if isinstance(m, AdapterLayer)}
        for name, mod in model.named_modules():
            if (
                isinstance(mod, SUPPORTED)
                and id(mod) not in inside
                and mod.weight.requires_grad
                and matches(name, mod, self.target)
            ):
                yield name, mod

    @staticmethod
    def _grouped(mod: nn.Module) -> torch.Tensor:
        """The weight as ``(groups, out / groups, in / groups * prod(kernel))`` (a view)."""
        g = getattr(mod, "groups", 1)
        w = mod.weight
        return w.reshape(g, w.shape[0] // g, -1)

    @torch.no_grad()
    def on_after_backward(self, model: nn.Module) -> None:
        """Add ``lambda_nuc * U V^H`` (a nuclear-norm sub-gradient) to each weight's gradient."""
        if not self.lambda_nuc:
            return
        for _, mod in self._layers(model):
            if mod.weight.grad is None:
                continue
            U, _, Vh = lapack_svd(self._grouped(mod))
            mod.weight.grad.add_((self.lambda_nuc * (U @ Vh)).reshape(mod.weight.shape))

    @torch.no_grad()
    def truncate(self, model: nn.Module) -> dict[str, list[int]]:
        """Truncate every selected weight now; returns the ranks kept."""
        ranks = {}
        for name, mod in self._layers(model):
            W = self._grouped(mod)
            U, S, Vh = lapack_svd(W)
            keep = [rank_from_energy(S[g] ** 2, self.energy) for g in range(W.shape[0])]
            mask = torch.arange(S.shape[-1], device=S.device)[None, :] < torch.tensor(keep, device=S.device)[:, None]
            S = S * mask
            mod.weight.copy_(((U * S.to(U.dtype).unsqueeze(-2)) @ Vh).reshape(mod.weight.shape))
            ranks[name] = keep
        self.ranks_ = ranks
        return ranks

    def on_step_end(self, model: nn.Module) -> bool:
        """Count an optimiser step; truncate on every ``every_n_steps``-th. Returns whether it did."""
        self.step_ += 1
        if self.step_ % self.every_n_steps == 0:
            self.truncate(model)
            return True
        return False

    __call__ = on_step_end
