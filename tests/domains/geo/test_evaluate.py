"""Scoring details: mean F1 over the units present, the reference's nodata, the reference preview."""

from __future__ import annotations

import numpy as np
import rasterio
from rasterio.crs import CRS
from rasterio.transform import Affine

from domains.geo.evaluate import reference_max, unit_scores
from domains.geo.raster import Grid


def test_mean_f1_counts_only_units_present():
    # reference codes 0 and 3 only (1 and 2 have no pixel), each mapped perfectly to its own cluster
    C = np.array([[50, 0], [0, 0], [0, 0], [0, 30]])
    s = unit_scores(C)
    assert s["mean_f1"] == 1.0  # not (1 + 0 + 0 + 1) / 4
    assert s["f1_per_unit"] == [1.0, None, None, 1.0]
    assert s["matching_accuracy"] == 1.0 and s["ari"] == 1.0


def test_reference_max_leaves_out_the_configured_nodata(tmp_path):
    a = np.array([[0, 1, 2], [3, 9, 9]], np.uint8)  # 9 is the user's nodata; the file declares none
    path = tmp_path / "ref.tif"
    with rasterio.open(path, "w", driver="GTiff", width=3, height=2, count=1, dtype="uint8",
                       transform=Affine(1, 0, 0, 0, -1, 2)) as dst:
        dst.write(a, 1)
    assert reference_max(str(path), 9) == 3
    assert reference_max(str(path), None) == 9


def test_reference_preview_of_a_large_grid(tmp_path):
    """A scene grid over 4 Mpx (2400^2 at 1 m) still gets its reference panel: a decimated nearest read."""
    from domains.geo.steps import _reference_preview

    crs = CRS.from_epsg(32754)
    x0, y0 = 618705.0, 6569725.0
    codes = ((np.arange(24)[:, None] // 6) * 4 + np.arange(24)[None, :] // 6).astype(np.uint8)  # 16 codes
    codes[0, 0] = 255
    ref = tmp_path / "ref.tif"
    with rasterio.open(ref, "w", driver="GTiff", width=24, height=24, count=1, dtype="uint8", crs=crs,
                       transform=Affine(100, 0, x0, 0, -100, y0), nodata=255) as dst:
        dst.write(codes, 1)
    grid = Grid(crs.to_wkt(), (1.0, 0.0, x0, 0.0, -1.0, y0), 2400, 2400)
    prev = _reference_preview(str(ref), grid, 255, {"pca": np.zeros((600, 600), np.uint8)})
    centres = (np.arange(600) + 0.5) * 4  # preview pixel centres, m from the corner
    idx = (centres // 100).astype(int)
    assert prev.shape == (600, 600)
    np.testing.assert_array_equal(prev, codes[np.ix_(idx, idx)])


def test_negative_reference_codes_are_not_units():
    # an int16 reference with -1 codes and no nodata tag: -1 is no unit (np.bincount raised on it,
    # np.add.at would have wrapped it into the last unit)
    from domains.geo.evaluate import score_tile

    ref = np.array([[0, 0, 1], [1, -1, -1]], np.int16)
    lab = np.array([[0, 0, 1], [1, 1, 0]], np.uint8)
    rho = np.stack([np.arange(6, dtype=np.float32).reshape(2, 3), np.ones((2, 3), np.float32)])
    part = score_tile(ref, {"m": lab}, rho, 2, {"m": 2}, None)
    assert part.n_common == 4 and part.n_reference == 4
    np.testing.assert_array_equal(part.C["m"], [[2, 0], [0, 2]])
    np.testing.assert_array_equal(part.unit_n, [2, 2])
    np.testing.assert_allclose(part.unit_sum[:, 0], [0 + 1, 2 + 3])  # pixels 4, 5 (value 4, 5) left out


def test_tiles_add_up_to_the_scene_counts():
    """n_reference: reference pixels on valid reflectance; n_common: those every method labels; both add over tiles."""
    from domains.geo.evaluate import combine_scores, score_tile

    ref = np.array([[0, 0, 1], [1, 1, 255]], np.uint8)
    rho = np.ones((2, 2, 3), np.float32)
    rho[:, 0, 0] = np.nan  # fill: neither counted nor scored
    lab = np.array([[0, 0, 1], [255, 1, 0]], np.uint8)  # one reference pixel unlabelled
    a = score_tile(ref, {"m": lab}, rho, 2, {"m": 2}, 255)
    assert (a.n_reference, a.n_common) == (4, 3)
    b = score_tile(ref, {"m": np.zeros((2, 3), np.uint8)}, np.ones((2, 2, 3), np.float32), 2, {"m": 2}, 255)
    assert (b.n_reference, b.n_common) == (5, 5)
    s = combine_scores([a, b])
    assert (s.n_reference, s.n_common) == (9, 8) and s.labelled == {"m": 4 + 6}
    np.testing.assert_array_equal(s.C["m"], a.C["m"] + b.C["m"])
