"""The vectorised majority filter equals a direct mode filter."""

from __future__ import annotations

import numpy as np
import pytest
import rasterio
from rasterio.transform import from_origin
from scipy import ndimage, stats

from domains.geo.majority import majority_filter, majority_tile, read_padded
from domains.geo.raster import windows, Grid


def _direct_mode(lab, size):
    return ndimage.generic_filter(lab, lambda v: stats.mode(v, keepdims=False).mode, size=size,
                                  mode="reflect").astype(np.uint8)


@pytest.mark.parametrize("k, size, shape", [(2, 3, (9, 11)), (4, 5, (17, 13)), (6, 7, (23, 19)), (9, 7, (15, 15))])
def test_equals_generic_filter_mode(k, size, shape):
    rng = np.random.default_rng(k * 10 + size)
    lab = rng.integers(0, k, shape).astype(np.uint8)  # random labels: many ties
    np.testing.assert_array_equal(majority_filter(lab, size, k), _direct_mode(lab, size))


def test_nodata_is_kept_and_not_counted():
    lab = np.zeros((9, 9), np.uint8)
    lab[:, 5:] = 1
    lab[4, 4] = 255
    lab[0:3, 0:3] = 255
    out = majority_filter(lab, 3, 2)
    assert out[4, 4] == 255 and (out[0:3, 0:3] == 255).all()
    assert out[8, 8] == 1 and out[8, 0] == 0


def test_windowed_filter_equals_whole(tmp_path):
    rng = np.random.default_rng(0)
    lab = ndimage.zoom(rng.integers(0, 5, (12, 10)), 6, order=0).astype(np.uint8)  # blocky map
    lab[rng.random(lab.shape) < 0.2] = rng.integers(0, 5)  # speckle
    path = tmp_path / "lab.tif"
    with rasterio.open(path, "w", driver="GTiff", width=lab.shape[1], height=lab.shape[0], count=1,
                       dtype="uint8", transform=from_origin(0, 0, 1, 1)) as dst:
        dst.write(lab, 1)
    whole = majority_filter(lab, 7, 5)
    out = np.zeros_like(lab)
    g = Grid(None, (1, 0, 0, 0, -1, 0), lab.shape[1], lab.shape[0])
    with rasterio.open(path) as src:
        for w in windows(g, 16):
            r0, c0 = int(w.row_off), int(w.col_off)
            out[r0:r0 + w.height, c0:c0 + w.width] = majority_tile(read_padded(src, w, 3), 7, 5)
    np.testing.assert_array_equal(out, whole)


def test_class_chunks_equal_one_pass():
    # counted a few classes at a time (memory bounded for any k), the result is the one-pass result
    # and the direct mode filter: ties across chunks still go to the smallest label
    rng = np.random.default_rng(5)
    k = 20
    lab = rng.integers(0, k, (21, 18)).astype(np.uint8)
    lab[lab == 7] = 3  # a class absent from the tile
    lab[rng.random(lab.shape) < 0.1] = 255
    r = 2
    padded = np.pad(lab, r, mode="symmetric")
    whole = majority_tile(padded, 5, k, chunk=k)
    for chunk in (1, 3, 8):
        np.testing.assert_array_equal(majority_tile(padded, 5, k, chunk=chunk), whole)
    clean = rng.integers(0, k, (15, 13)).astype(np.uint8)
    np.testing.assert_array_equal(majority_tile(np.pad(clean, 2, mode="symmetric"), 5, k, chunk=3),
                                  _direct_mode(clean, 5))
