"""Mask families: accelerations within 5 %, seeding, centre fractions (issue 11, tests)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from domains.mri.masks import FAMILIES, center_fraction, make_mask, mask_acceleration
from shared.errors import BadInput


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("acc", [2, 4, 6, 8, 16])
def test_each_family_hits_its_acceleration_within_5_percent(family, acc):
    for shape in ((64, 64), (80, 48)):
        m = make_mask(family, shape, acc, seed=7)
        assert m.dtype == torch.bool and m.shape == shape
        assert abs(mask_acceleration(m) - acc) / acc <= 0.05, (shape, mask_acceleration(m))
        h, w = shape
        assert bool(m[h // 2, w // 2])  # DC is always acquired


@pytest.mark.parametrize("family", FAMILIES)
def test_masks_are_seeded_and_families_differ(family):
    a = make_mask(family, (64, 64), 4, seed=1)
    assert torch.equal(a, make_mask(family, (64, 64), 4, seed=1))
    assert not torch.equal(a, make_mask(family, (64, 64), 4, seed=2))  # equispaced: a random offset
    if family in ("equispaced", "random"):  # 1-D: whole columns
        assert bool((a == a[:1]).all())
    else:
        assert not bool((a == a[:1]).all())


def test_centre_band_width_follows_the_reference_fractions():
    assert center_fraction(4) == 0.08 and center_fraction(16) == 0.02
    m = make_mask("random", (64, 320), 4, seed=0)
    cols = m[0]
    c = 160
    n = int(round(320 * 0.08))
    assert bool(cols[c - n // 2:c + n // 2].all())


def test_centre_fraction_off_the_reference_table_is_0_32_over_the_acceleration():
    """Off NO-MRI's table (where 6x is 0.06, not 0.32 / 6) the band is 0.32 / acceleration, e.g. 5x: 0.064."""
    assert center_fraction(6) == 0.06 and center_fraction(32) == 0.01
    for acc in (3, 5, 10, 12.5):
        assert center_fraction(acc) == pytest.approx(0.32 / acc)
    assert center_fraction(1.2) == pytest.approx(0.32 / 1.2)
    m = make_mask("equispaced", (16, 250), 5, seed=0)[0]
    n = int(round(250 * 0.064))  # 16 centre columns
    pad = (250 - n + 1) // 2
    assert bool(m[pad:pad + n].all()) and not (bool(m[pad - 1]) and bool(m[pad + n]))


def test_gaussian_2d_density_has_std_0_22_of_the_side():
    """NO-MRI's gaussian_2d: samples from a Gaussian of std 70 px at 320 (0.22 of the side). At 32x on a
    256 grid the draw without replacement barely saturates, so the samples' RMS distance from the centre is
    that of the Gaussian truncated to the grid (measured 1.006-1.017 times it over three seeds)."""
    H = 256
    yy, xx = np.meshgrid(np.arange(H) - H // 2, np.arange(H) - H // 2, indexing="ij")
    w = np.exp(-(yy ** 2 + xx ** 2) / (2 * (0.22 * H) ** 2))
    rms_ref = np.sqrt((w * (yy ** 2 + xx ** 2)).sum() / w.sum())
    ys, xs = np.nonzero(make_mask("gaussian_2d", (H, H), 32, seed=0).numpy())
    rms = np.sqrt(np.mean((ys - H // 2) ** 2 + (xs - H // 2) ** 2))
    assert rms == pytest.approx(rms_ref, rel=0.05)


@pytest.mark.parametrize("family", ["gaussian_2d", "poisson_2d", "radial"])
def test_2d_masks_keep_their_whole_centre_box(family):
    """The fully sampled centre box (side round(cf * min(H, W)), at least 3) is the coil maps' ACS region:
    trimming a mask to its exact count must never drop a sample from it."""
    H, W = 64, 64
    for acc in (2, 4, 8):
        s = max(3, round(center_fraction(acc) * min(H, W)))
        for seed in range(4):
            m = make_mask(family, (H, W), acc, seed=seed)
            assert bool(m[H // 2 - s // 2:H // 2 - s // 2 + s, W // 2 - s // 2:W // 2 - s // 2 + s].all())


def test_acceleration_below_one_is_bad_input():
    with pytest.raises(BadInput, match="acceleration"):
        make_mask("random", (32, 32), 0.5)
    assert bool(make_mask("radial", (32, 32), 1.0).all())


@pytest.mark.parametrize("family", FAMILIES)
def test_a_zoomed_training_mask_is_the_band_of_the_larger_acquisitions_mask(family):
    from domains.mri.data import training_batch, zoomed_mask

    m2 = zoomed_mask(family, (32, 32), 4.0, 3, 2.0)
    big = make_mask(family, (64, 64), 4.0, seed=3)
    assert m2.shape == (32, 32) and torch.equal(m2, big[16:48, 16:48])  # the centre of the 2x k-space
    assert bool(m2[16, 16])  # the k-space centre stays at (H // 2, W // 2) and is sampled
    assert torch.equal(zoomed_mask(family, (32, 32), 4.0, 3, 1.0), make_mask(family, (32, 32), 4.0, seed=3))
    if family not in ("equispaced", "random"):  # the 2-D densities scale with the extent: the band is denser
        assert mask_acceleration(m2) < 0.75 * mask_acceleration(make_mask(family, (32, 32), 4.0, seed=3))
    k = torch.randn(2, 1, 32, 32, dtype=torch.complex64)
    t = k[:, 0].abs()
    def draw(zooms):
        return training_batch(k, t, 3, [family], [4.0], torch.Generator().manual_seed(0), mask_zooms=zooms)

    plain, one, two = draw((1.0,)), draw([1.0]), draw([2.0])
    assert torch.equal(plain.mask, one.mask) and not torch.equal(plain.mask, two.mask)


def test_the_mask_pool_draws_each_training_mask_once_and_equals_a_fresh_draw():
    from domains.mri.data import MaskPool, training_batch, zoomed_mask

    assert torch.equal(make_mask("poisson_2d", (40, 40), 4.0, seed=2, cache=False),
                       make_mask("poisson_2d", (40, 40), 4.0, seed=2))
    pool = MaskPool()
    k = torch.randn(2, 1, 32, 32, dtype=torch.complex64)
    t = k[:, 0].abs()
    kw = dict(families=["random", "gaussian_2d"], accelerations=[4.0, 8.0], mask_seeds=2, mask_zooms=[1.0, 2.0])
    first = training_batch(k, t, 8, gen=torch.Generator().manual_seed(5), masks=pool, **kw)
    n = pool.draws
    assert n == len(pool) <= 2 * 2 * 2 * 2  # at most one draw per distinct key
    again = training_batch(k, t, 8, gen=torch.Generator().manual_seed(5), masks=pool, **kw)
    assert pool.draws == n  # the same stream (a second model) draws nothing
    fresh = training_batch(k, t, 8, gen=torch.Generator().manual_seed(5), **kw)  # a new pool per call
    assert torch.equal(first.mask, again.mask) and torch.equal(first.mask, fresh.mask)
    for (fam, shape, acc, seed, zoom), m in pool._masks.items():
        assert torch.equal(m, zoomed_mask(fam, shape, acc, seed, zoom))
