"""Adapting the trained operator to a new contrast: FLoRA adapters against full fine-tuning.

FLoRA (``shared.lowrank.adapters``) wraps every DISCO layer of the operator
(``DiscoConv2d`` is an ``nn.Conv1d`` with weight ``(out, in, K)``, see
:mod:`domains.mri.disco`) with a Tucker-structured weight change and freezes
everything else; full fine-tuning updates all weights. Both get the same
steps, batch and data stream.
"""

from __future__ import annotations

import copy

from torch import nn

from domains.mri.disco import DiscoConv2d
from domains.mri.data import MaskPool
from domains.mri.train import train
from shared.lowrank.adapters import apply_adapters, count_trainable, merge


def is_disco(name: str, module: nn.Module) -> bool:
    return isinstance(module, DiscoConv2d)


def flora_model(model: nn.Module, rank: int, scale: float) -> tuple[nn.Module, int, int]:
    """A copy of ``model`` with FLoRA on every DISCO layer; ``(model, trainable, total)``."""
    total = sum(p.numel() for p in model.parameters())
    m = apply_adapters(copy.deepcopy(model), "flora", rank, target=is_disco, scale=scale)
    return m, count_trainable(m), total


def adapt_both(model: nn.Module, kspace, target, *, steps: int, batch: int, rank: int, scale: float,
               lr_flora: float, lr_full: float, families, accelerations, seed: int, device) -> dict:
    """Train a FLoRA copy and a fully fine-tuned copy; return both models and their costs."""
    fl, n_train, n_total = flora_model(model, rank, scale)
    masks = MaskPool()  # both runs see the same stream: each mask drawn once
    h_fl = train(fl, kspace, target, steps=steps, batch=batch, lr=lr_flora, families=families,
                 accelerations=accelerations, seed=seed, device=device, desc="FLoRA", masks=masks)
    merge(fl)  # inference runs the merged weights: no adapter overhead
    full = copy.deepcopy(model)
    for p in full.parameters():
        p.requires_grad_(True)
    h_ft = train(full, kspace, target, steps=steps, batch=batch, lr=lr_full, families=families,
                 accelerations=accelerations, seed=seed, device=device, desc="fine-tune", masks=masks)
    return {"flora": fl, "full": full, "flora_trainable": n_train, "total": n_total,
            "flora_seconds": h_fl.seconds, "full_seconds": h_ft.seconds,
            "flora_loss": h_fl.loss, "full_loss": h_ft.loss}
