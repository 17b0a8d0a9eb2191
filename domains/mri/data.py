"""From fastMRI volumes to model inputs: undersampling, coil maps, scaling, augmentation.

:func:`prepare` is the per-slice unit (one k-space, one mask); batches are
stacks of prepared slices. Every model (operator, VarNet, CS) gets the same
prepared inputs, so they differ only in the reconstruction.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from domains.mri.fft import fft2c, ifft2c
from domains.mri.masks import make_mask
from domains.mri.operators import estimate_sensitivities, zero_filled


@dataclass
class Batch:
    """Prepared slices; ``scale`` divides k-space (so zero-filled images peak near 1).

    Attributes
    ----------
    y : Tensor (B, C, H, W) complex, undersampled and scaled k-space
    mask : Tensor (B, 1, H, W) float {0, 1}
    sens : Tensor (B, C, H, W) complex, ACS coil maps
    target : Tensor (B, H, W) or None, scaled the same way
    scale : Tensor (B,)
    """

    y: Tensor
    mask: Tensor
    sens: Tensor
    target: Tensor | None
    scale: Tensor

    def to(self, device) -> "Batch":
        return Batch(self.y.to(device), self.mask.to(device), self.sens.to(device),
                     None if self.target is None else self.target.to(device), self.scale.to(device))


def prepare(kspace: Tensor, mask: Tensor, target: Tensor | None = None) -> Batch:
    """One slice: mask ``(H, W)`` applied to ``kspace (C, H, W)``, coil maps, scaling.

    Returns a Batch of size 1. The scale is the 99th percentile of the
    zero-filled magnitude (robust to the centre spike), identical for every method.
    """
    m = mask.to(device=kspace.device, dtype=torch.float32).reshape(1, 1, *mask.shape[-2:])
    y = kspace.unsqueeze(0) * m
    zf = zero_filled(y)
    scale = torch.quantile(zf.flatten(), 0.99).clamp_min(1e-12).reshape(1)
    y = y / scale
    sens = estimate_sensitivities(y, m)
    t = None if target is None else (target.to(kspace.device) / scale).unsqueeze(0)
    return Batch(y, m, sens, t, scale)


def stack(batches: list[Batch]) -> Batch:
    """Combine prepared slices into one batch."""
    return Batch(torch.cat([b.y for b in batches]), torch.cat([b.mask for b in batches]),
                 torch.cat([b.sens for b in batches]),
                 None if batches[0].target is None else torch.cat([b.target for b in batches]),
                 torch.cat([b.scale for b in batches]))


def center_target(target: Tensor, shape: tuple[int, int]) -> Tensor:
    """fastMRI targets may be smaller than k-space (320 x 320 crops): crop predictions to them."""
    from domains.mri.fft import center_crop

    return center_crop(target, shape)


def augment(kspace: Tensor, target: Tensor, gen: torch.Generator) -> tuple[Tensor, Tensor]:
    """Random flips, a global phase and an intensity scale for one training slice.

    Flips act on the coil images (so coil maps flip with the anatomy); the
    global phase and the scale (log-uniform in [0.5, 2]) change nothing a
    reconstruction should depend on, which is what the model must learn.
    """
    img = ifft2c(kspace)
    t = target
    if torch.rand((), generator=gen) < 0.5:
        img, t = img.flip(-1), t.flip(-1)
    if torch.rand((), generator=gen) < 0.5:
        img, t = img.flip(-2), t.flip(-2)
    phase = float(torch.rand((), generator=gen)) * 2 * math.pi
    s = math.exp((float(torch.rand((), generator=gen)) * 2 - 1) * math.log(2))
    img = img * (s * complex(math.cos(phase), math.sin(phase)))
    return fft2c(img), t * s


def zoomed_mask(family: str, shape: tuple[int, int], acceleration: float, seed: int, zoom: float) -> Tensor:
    """The centre ``shape`` of a mask drawn for a ``zoom`` times larger k-space.

    The same field of view acquired at ``zoom`` times the matrix size has its
    mask defined over ``zoom`` times the k-extent; its central ``shape`` is
    the part that falls inside this grid's band (denser than a mask drawn for
    ``shape``: the families' densities and centre boxes scale with the extent).
    ``zoom = 1`` is the plain mask.
    """
    h, w = int(shape[0]), int(shape[1])
    if zoom == 1.0:
        return make_mask(family, (h, w), acceleration, seed=seed)
    hb, wb = int(round(zoom * h)), int(round(zoom * w))
    big = make_mask(family, (hb, wb), acceleration, seed=seed, cache=False)  # only its centre is kept
    t, l = hb // 2 - h // 2, wb // 2 - w // 2  # keeps the k-space centre at index (h // 2, w // 2)
    return big[t:t + h, l:l + w].contiguous()


class MaskPool:
    """Every training mask drawn so far, by ``(family, shape, acceleration, seed, zoom)``.

    Training draws its masks from a finite set (families x accelerations x
    ``mask_seeds`` x zooms x training grids: 1 280 masks in the ``full``
    profile), each a deterministic function of its key, so each is drawn once
    and kept. The process-wide LRU of :func:`domains.mri.masks.make_mask` (512
    masks) is smaller than that set: cycled through at random, most draws
    missed it, and a 2-D mask for a zoomed 480 grid (1440 x 1440) takes 1-3 s
    to draw. Memory: one ``(H, W)`` bool per key (about 210 MB for the
    ``full`` profile's 1 280 keys at 320 and 480). Share one pool between
    models trained on the same stream (the operator and VarNet) so the second
    draws nothing.
    """

    def __init__(self):
        self._masks: dict[tuple, Tensor] = {}
        self.draws = 0  # masks drawn (pool misses)

    def get(self, family: str, shape: tuple[int, int], acceleration: float, seed: int, zoom: float) -> Tensor:
        """:func:`zoomed_mask` of the key, drawn on first use ``(H, W)`` bool (do not modify it)."""
        key = (family, (int(shape[0]), int(shape[1])), float(acceleration), int(seed), float(zoom))
        m = self._masks.get(key)
        if m is None:
            m = self._masks[key] = zoomed_mask(family, key[1], key[2], key[3], key[4])
            self.draws += 1
        return m

    def __len__(self) -> int:
        return len(self._masks)


def training_batch(kspace: Tensor, target: Tensor, batch: int, families: list[str], accelerations: list[float],
                   gen: torch.Generator, mask_seeds: int = 8, do_augment: bool = True,
                   mask_zooms: list[float] = (1.0,), masks: MaskPool | None = None) -> Batch:
    """Draw ``batch`` slices, each with a random family, acceleration and mask seed (multi-pattern training).

    ``mask_zooms``: each sample's mask is the centre of a mask drawn for a k-space this many
    times larger (one drawn at random per sample; see :func:`zoomed_mask`). With one
    value no extra random number is drawn, so the stream is that of the plain masks.
    ``masks``: where the masks are kept (a fresh pool when None; pass one pool for a
    whole training run).
    """
    masks = MaskPool() if masks is None else masks
    out = []
    n = kspace.shape[0]
    for _ in range(batch):
        i = int(torch.randint(n, (), generator=gen))
        fam = families[int(torch.randint(len(families), (), generator=gen))]
        acc = accelerations[int(torch.randint(len(accelerations), (), generator=gen))]
        seed = int(torch.randint(mask_seeds, (), generator=gen))
        zoom = float(mask_zooms[int(torch.randint(len(mask_zooms), (), generator=gen))]) if len(mask_zooms) > 1 \
            else float(mask_zooms[0])
        k, t = kspace[i], target[i]
        if do_augment:
            k, t = augment(k, t, gen)
        out.append(prepare(k, masks.get(fam, tuple(k.shape[-2:]), acc, seed, zoom), t))
    return stack(out)
