"""Mask families: accelerations within 5 %, seeding, centre fractions (issue 11, tests)."""

from __future__ import annotations

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


def test_acceleration_below_one_is_bad_input():
    with pytest.raises(BadInput, match="acceleration"):
        make_mask("random", (32, 32), 0.5)
    assert bool(make_mask("radial", (32, 32), 1.0).all())
