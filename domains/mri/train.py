"""Training loop shared by the operator, the VarNet baseline and the adaptation runs.

Loss: ``(1 - SSIM) + L1`` on magnitude images normalised by each target's
maximum (MONAI's ``SSIMLoss`` with fastMRI's 7x7 uniform window). Adam,
constant learning rate; every model gets the same steps, batch size and
data stream (same generator seed), which is what "equal training budget" means.

Multi-resolution training: the operator is discretization-agnostic, so the
same weights can be trained on the same field of view sampled on several
grids. With ``extra`` grids, every ``every``-th step draws its batch from
the next extra grid (in turn) and the operator's DISCO layers are set to
that grid's pixel density (``model.set_grid``); a model without
``set_grid`` (the VarNet CNN) simply runs on the larger array, so both
models see the same data stream.

Mask zoom (``mask_zooms``): the families' densities and centre boxes are
defined relative to the k-space extent, so a z-times larger acquisition of the
same field of view samples the band that a 1x grid holds more densely (2x, 2-D
families at 4x: in-band acceleration about 2). Drawing some training masks as
the centre of a mask for a 1.5, 2 or 3 times larger k-space (the default)
shows the model those samplings without any larger data; without it, the
zero-shot weights met a mask distribution at 2x that training never showed
(the bulk of the resolution gap, ``docs/benchmarks.md``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import torch
from torch import Tensor, nn

from domains.mri.data import Batch, MaskPool, training_batch
from shared.progress import progress


@dataclass
class History:
    loss: list[float] = field(default_factory=list)
    seconds: float = 0.0
    steps: int = 0


def make_loss(device) -> nn.Module:
    from monai.losses import SSIMLoss

    return SSIMLoss(spatial_dims=2, data_range=1.0, kernel_type="uniform", win_size=7).to(device)


def loss_fn(ssim_loss: nn.Module, pred: Tensor, target: Tensor) -> Tensor:
    """``(1 - SSIM) + L1`` of ``(B, H, W)`` magnitudes, each normalised by its target's maximum."""
    peak = target.flatten(1).amax(1).clamp_min(1e-8)[:, None, None]
    p, t = (pred / peak).unsqueeze(1), (target / peak).unsqueeze(1)
    return ssim_loss(p, t) + (p - t).abs().mean()


def train(model: nn.Module, kspace: Tensor, target: Tensor, *, steps: int, batch: int, lr: float,
          families: list[str], accelerations: list[float], seed: int, device, augment: bool = True,
          mask_seeds: int = 8, params=None, desc: str = "train",
          extra: list[tuple[Tensor, Tensor, float]] = (), every: int = 0, density: float = 1.0,
          on_step=None, mask_zooms: list[float] = (1.0,), masks: MaskPool | None = None) -> History:
    """Train ``model(y, mask, sens) -> |x|`` on slices of one volume.

    Parameters
    ----------
    model : nn.Module
    kspace : Tensor (S, C, H, W) complex
        Fully sampled training k-space, on any device: it moves to ``device``
        once, so augmentation, coil maps and masking of every batch run there.
    target : Tensor (S, H, W)
    steps, batch : int
    lr : float
    families, accelerations : list
        Each sample draws one family and one acceleration (multi-pattern training).
    seed : int
        Seeds the data stream; equal seeds give two models identical batches.
    params : iterable of Parameters, optional
        What to optimise (default: the trainable parameters of ``model``).
    extra : list of (kspace (S', C, H', W'), target (S', H', W'), density)
        Further training grids of the same field of view; ``density = H' / H``.
    every : int
        Every ``every``-th step uses an extra grid (0: never).
    density : float
        Pixel density of ``kspace`` relative to the model's reference grid (2: train
        a 64-reference operator on 128 x 128 slices of the same field of view).
    mask_zooms : list of float
        Each sample's mask is the centre of one drawn for a k-space this many times
        larger (:func:`domains.mri.data.zoomed_mask`); ``(1.0,)``: the plain masks.
    masks : MaskPool, optional
        Where the drawn masks are kept; pass one pool to every model trained on
        the same stream (they then draw each mask once). None: a pool for this run.
    on_step : callable(steps_done, model), optional
        Called after each step (e.g. to score the model part-way through one
        training run, as ``bench/mri.py --gap-study`` does); it may switch the
        model to eval mode and change its grid, both are restored here.
    """
    gen = torch.Generator().manual_seed(int(seed))  # CPU draws: the same stream on every device
    masks = MaskPool() if masks is None else masks
    # the volumes move once, not each batch: preparing a batch on the CPU (FFTs, coil maps) would
    # otherwise dominate a GPU step at full size
    kspace, target = kspace.to(device), target.to(device)
    extra = [(k.to(device), t.to(device), d) for k, t, d in extra]
    model.to(device).train()
    ssim_loss = make_loss(device)
    params = [p for p in (params if params is not None else model.parameters()) if p.requires_grad]
    opt = torch.optim.Adam(params, lr=lr)
    hist = History()
    t0 = time.perf_counter()
    n_extra = 0
    for step in progress(range(steps), desc=desc, total=steps, unit="step"):
        k, t, d = kspace, target, density
        if extra and every and (step + 1) % every == 0:
            k, t, d = extra[n_extra % len(extra)]
            n_extra += 1
        if hasattr(model, "set_grid"):  # same field of view, finer pixels: k-space spacing unchanged
            model.set_grid(d, 1.0)
        b: Batch = training_batch(k, t, batch, families, accelerations, gen, mask_seeds=mask_seeds,
                                  do_augment=augment, mask_zooms=mask_zooms, masks=masks).to(device)
        pred = model(b.y, b.mask, b.sens)
        loss = loss_fn(ssim_loss, pred, b.target)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        hist.loss.append(float(loss.detach()))
        if on_step is not None:
            on_step(step + 1, model)
            model.train()
    hist.seconds = time.perf_counter() - t0
    hist.steps = steps
    if hasattr(model, "set_grid"):
        model.set_grid(1.0, 1.0)
    model.eval()
    return hist


@torch.no_grad()
def reconstruct(model: nn.Module, b: Batch, chunk: int = 16) -> Tensor:
    """``|x|`` (B, H, W) in the batch's scaled units, in chunks of ``chunk`` slices."""
    model.eval()
    outs = [model(b.y[i:i + chunk], b.mask[i:i + chunk], b.sens[i:i + chunk]) for i in range(0, b.y.shape[0], chunk)]
    return torch.cat(outs)
