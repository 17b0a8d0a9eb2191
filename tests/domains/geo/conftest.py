"""Fixtures of the geo tests: small synthetic products written once per session."""

from __future__ import annotations

import shutil

import pytest

from domains.geo.simulate import SceneParams, generate



@pytest.fixture(scope="session")
def small_products(tmp_path_factory):
    """Landsat 8 + Sentinel-2 products of a 48 x 48 (30 m) scene with clouds and vegetation."""
    d = tmp_path_factory.mktemp("geo-small")
    return generate(d, ("landsat8", "sentinel2"), SceneParams(size30=48, seed=3, cloud_cover=0.12))


@pytest.fixture
def landsat_copy(small_products, tmp_path):
    """A private copy of the small Landsat product folder; returns its MTL path."""
    from pathlib import Path

    mtl = Path(small_products["products"]["landsat8"])
    dst = tmp_path / mtl.parent.name
    shutil.copytree(mtl.parent, dst)
    return dst / mtl.name


@pytest.fixture
def s2_copy(small_products, tmp_path):
    """A private copy of the small Sentinel-2 SAFE folder; returns its MTD path."""
    from pathlib import Path

    mtd = Path(small_products["products"]["sentinel2"])
    dst = tmp_path / mtd.parent.name
    shutil.copytree(mtd.parent, dst)
    return dst / mtd.name
