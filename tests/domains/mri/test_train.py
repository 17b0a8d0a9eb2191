"""Multi-resolution training: which grid each step uses, and the operator's grid during it (issue 11)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from domains.mri.embedded import coil_maps
from domains.mri.fft import fft2c, rss
from domains.mri.train import train


class _Recorder(nn.Module):
    """A one-parameter 'reconstruction' that records the grid of every forward call."""

    def __init__(self):
        super().__init__()
        self.gain = nn.Parameter(torch.ones(()))
        self.density, self.seen = 1.0, []

    def set_grid(self, image_factor: float = 1.0, kspace_factor: float = 1.0):
        self.density = image_factor
        return self

    def forward(self, y, mask, sens):
        self.seen.append((int(y.shape[-1]), self.density))
        from domains.mri.operators import sense_adjoint

        return sense_adjoint(y, sens, mask).abs() * self.gain


def _data(n: int, slices: int = 2):
    yy, xx = torch.meshgrid(torch.linspace(-1, 1, n), torch.linspace(-1, 1, n), indexing="ij")
    img = ((yy ** 2 + xx ** 2) < 0.5).to(torch.complex64)
    coils = coil_maps(2, (n, n)) * img
    k = fft2c(coils).unsqueeze(0).repeat(slices, 1, 1, 1)
    return k, rss(coils).float().unsqueeze(0).repeat(slices, 1, 1)


def test_every_nth_step_uses_the_next_extra_grid_at_its_density():
    base, g24, g20 = _data(16), _data(24), _data(20)
    m = _Recorder()
    h = train(m, *base, steps=6, batch=1, lr=1e-3, families=["gaussian_2d"], accelerations=[4.0], seed=0,
              device="cpu", extra=[(*g24, 1.5), (*g20, 1.25)], every=2)
    assert m.seen == [(16, 1.0), (24, 1.5), (16, 1.0), (20, 1.25), (16, 1.0), (24, 1.5)]
    assert m.density == 1.0 and len(h.loss) == 6  # the grid is back at the training one afterwards
    m2 = _Recorder()
    train(m2, *g24, steps=2, batch=1, lr=1e-3, families=["random"], accelerations=[4.0], seed=0, device="cpu",
          density=1.5)  # a native-grid run: every step at the given density, no extra grids
    assert m2.seen == [(24, 1.5), (24, 1.5)]


def test_on_step_sees_each_step_and_cannot_leak_its_grid_or_eval_mode_into_training():
    base, g24 = _data(16), _data(24)
    m = _Recorder()
    calls, modes = [], []
    fwd = m.forward
    m.forward = lambda *a: (modes.append(m.training), fwd(*a))[1]

    def probe(k, model):  # what a mid-training scorer does: another grid, eval mode, a forward pass
        calls.append((k, float(model.gain.detach())))
        model.set_grid(2.0, 1.0)
        model.eval()

    h = train(m, *base, steps=4, batch=1, lr=1e-2, families=["random"], accelerations=[4.0], seed=0,
              device="cpu", extra=[(*g24, 1.5)], every=2, on_step=probe)
    assert [k for k, _ in calls] == [1, 2, 3, 4]
    assert len({g for _, g in calls}) == 4  # called after each optimiser step (the weight changes every time)
    assert m.seen == [(16, 1.0), (24, 1.5), (16, 1.0), (24, 1.5)] and all(modes)
    assert m.density == 1.0 and not m.training and len(h.loss) == 4


def test_augment_keeps_the_target_the_rss_of_the_augmented_kspace():
    """Flips, a global phase and a scale in [0.5, 2]: the augmented target is still RSS(F^-1 k) of the
    augmented k-space (fastMRI's target definition), and each of the draws does change the slice."""
    from domains.mri.data import augment
    from domains.mri.embedded import coil_maps
    from domains.mri.fft import fft2c, ifft2c, rss

    H, W = 24, 20
    yy, xx = torch.meshgrid(torch.linspace(-1, 1, H), torch.linspace(-1, 1, W), indexing="ij")
    img = ((yy ** 2 + xx ** 2) < 0.6).double() * (1 + 0.5 * yy + 0.3 * xx)  # no mirror symmetry
    k = fft2c(coil_maps(4, (H, W)).to(torch.complex128) * img)
    t = rss(ifft2c(k))
    flips, scales = set(), []
    for seed in range(12):
        ka, ta = augment(k, t, torch.Generator().manual_seed(seed))
        assert torch.allclose(rss(ifft2c(ka)), ta, atol=1e-10)
        s = float(ta.sum() / t.sum())  # flips keep the sum
        scales.append(s)
        views = {"none": t, "x": t.flip(-1), "y": t.flip(-2), "xy": t.flip(-1, -2)}
        match = [name for name, v in views.items() if torch.allclose(ta / s, v, atol=1e-10)]
        assert len(match) == 1
        flips.add(match[0])
    assert flips == set(views)
    assert 0.5 <= min(scales) < 0.9 and 1.1 < max(scales) <= 2.0


def test_prepare_scales_kspace_and_target_alike_by_the_zero_filled_99th_percentile():
    """Every method sees k-space and (for training) the target divided by one scale: the 99th percentile
    of the zero-filled magnitude, so ``y * scale`` is the masked k-space and ``target * scale`` the target."""
    import numpy as np

    from domains.mri.data import prepare
    from domains.mri.fft import ifft2c
    from domains.mri.masks import make_mask
    from domains.mri.operators import estimate_sensitivities, zero_filled

    H, W = 32, 28
    yy, xx = torch.meshgrid(torch.linspace(-1, 1, H), torch.linspace(-1, 1, W), indexing="ij")
    img = ((yy ** 2 + xx ** 2) < 0.6).double() * (1 + 0.5 * yy)
    k = (1e3 * fft2c(coil_maps(4, (H, W)).to(torch.complex128) * img)).to(torch.complex64)
    t = rss(ifft2c(k))
    mask = make_mask("random", (H, W), 4, seed=1)
    b = prepare(k, mask, t)
    ref = float(np.quantile(zero_filled(k * mask).numpy().ravel(), 0.99))
    assert b.scale.shape == (1,) and float(b.scale) == pytest.approx(ref, rel=1e-5)
    assert torch.allclose(b.y[0] * b.scale, k * mask, rtol=1e-5, atol=1e-6 * float(k.abs().max()))
    assert torch.allclose(b.target[0] * b.scale, t, rtol=1e-5)
    assert b.mask.shape == (1, 1, H, W) and torch.equal(b.mask[0, 0].bool(), mask)
    assert torch.allclose(b.sens, estimate_sensitivities(b.y, b.mask))
