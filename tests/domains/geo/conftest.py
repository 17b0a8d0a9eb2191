"""Fixtures of the geo tests: small synthetic products written once per session."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from domains.geo.simulate import SceneParams, generate


@pytest.fixture(scope="session")
def small_products(tmp_path_factory):
    """Landsat 8 + Sentinel-2 products of a 48 x 48 (30 m) scene with clouds and vegetation."""
    d = tmp_path_factory.mktemp("geo-small")
    return generate(d, ("landsat8", "sentinel2"), SceneParams(size30=48, seed=3, cloud_cover=0.12))


def _private_copy(small_products, sensor: str, tmp_path: Path) -> Path:
    """Copy one sensor's product folder into ``tmp_path``; return the copy of its metadata file."""
    meta = Path(small_products["products"][sensor])
    dst = tmp_path / meta.parent.name
    shutil.copytree(meta.parent, dst)
    return dst / meta.name


@pytest.fixture
def landsat_copy(small_products, tmp_path):
    """A private copy of the small Landsat product folder; returns its MTL path."""
    return _private_copy(small_products, "landsat8", tmp_path)


@pytest.fixture
def s2_copy(small_products, tmp_path):
    """A private copy of the small Sentinel-2 SAFE folder; returns its MTD path."""
    return _private_copy(small_products, "sentinel2", tmp_path)
