"""Evaluation: every method on the same prepared test slices, per mask family and acceleration.

The unit of work is one (family, acceleration) setting over one volume
(:func:`evaluate_setting`); :func:`combine` averages the rows. Methods are
callables ``fn(batch) -> |x|`` in the batch's scaled units; reconstructions
are rescaled and scored against the file's target with fastMRI's metrics.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import torch
from torch import Tensor

from domains.mri.data import Batch, prepare, stack
from domains.mri.fft import center_crop
from domains.mri.masks import make_mask
from domains.mri.metrics import volume_metrics
from shared.timing import measure

Method = Callable[[Batch], Tensor]


def prepared(kspace: Tensor, target: Tensor | None, family: str, acceleration: float, seed: int,
             device, file_mask: Tensor | None = None) -> Batch:
    """Test slices with one mask family/acceleration (slice ``i`` uses seed ``seed + i``)."""
    out = []
    for i in range(kspace.shape[0]):
        m = file_mask if file_mask is not None else make_mask(family, tuple(kspace.shape[-2:]), acceleration,
                                                              seed=seed + i)
        out.append(prepare(kspace[i].to(device), m, None if target is None else target[i]))
    return stack(out)


def score(target: Tensor, recon: Tensor) -> dict[str, float]:
    """fastMRI per-volume metrics, the reconstruction centre-cropped to the target."""
    rec = center_crop(recon, tuple(target.shape[-2:]))
    return volume_metrics(target, rec, float(target.max()))


def evaluate_setting(methods: dict[str, Method], kspace: Tensor, target: Tensor | None, family: str,
                     acceleration: float, seed: int, device, file_mask: Tensor | None = None) -> dict:
    """One unit: every method on one family x acceleration; ``{"recon": {...}, "metrics": {...}}``."""
    b = prepared(kspace, target, family, acceleration, seed, device, file_mask)
    recon, metrics = {}, {}
    for name, fn in methods.items():
        r = (fn(b) * b.scale[:, None, None]).detach().cpu().float()
        recon[name] = r
        if target is not None:
            metrics[name] = score(target.float(), r)
    return {"family": family, "acceleration": float(acceleration), "recon": recon, "metrics": metrics,
            "effective_acceleration": float(b.mask[0].numel() / b.mask[0].sum())}


def combine(rows: list[dict], families: list[str] | None = None) -> dict[str, dict[str, float]]:
    """Mean metric per method over the rows (optionally only ``families``)."""
    sel = [r for r in rows if families is None or r["family"] in families]
    out: dict[str, dict[str, float]] = {}
    for r in sel:
        for name, ms in r["metrics"].items():
            for k, v in ms.items():
                out.setdefault(name, {}).setdefault(k, []).append(v)
    return {n: {k: float(np.mean(v)) for k, v in ms.items()} for n, ms in out.items()}


def time_per_slice(methods: dict[str, Method], b: Batch, repeats: int, device) -> dict[str, float]:
    """Median seconds to reconstruct one slice (batch of 1), per method (``shared.timing.measure``)."""
    one = Batch(b.y[:1], b.mask[:1], b.sens[:1], None, b.scale[:1])
    out = {}
    for name, fn in methods.items():
        with torch.no_grad():
            t, _ = measure(lambda fn=fn: fn(one), repeats=repeats, warmup=1, device=device)
        out[name] = t.median_s
    return out
