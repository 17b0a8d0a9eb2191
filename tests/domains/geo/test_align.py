"""A band on another grid (CRS or resolution) is aligned onto the target grid."""

from __future__ import annotations

import numpy as np
import pytest
import rasterio
from rasterio.enums import Resampling
from rasterio.warp import calculate_default_transform, reproject
from rasterio.windows import Window

from domains.geo.io import VALID, layers, product_grid, read_tile
from domains.geo.raster import AlignedReader
from domains.geo.sensors import open_product
from shared.errors import BadInput


def _read(mtl):
    p = open_product(mtl)
    g = product_grid(p)
    with AlignedReader(g, layers(p)) as rd:
        rho, flags = read_tile(rd, p, Window(0, 0, g.width, g.height))
    return p, g, rho, flags


def _rewrite(path, dst_crs, res):
    with rasterio.open(path) as src:
        a = src.read(1)
        tr, w, h = calculate_default_transform(src.crs, dst_crs, src.width, src.height, *src.bounds,
                                              resolution=res)
        out = np.zeros((h, w), np.uint16)
        reproject(a, out, src_transform=src.transform, src_crs=src.crs, dst_transform=tr, dst_crs=dst_crs,
                  resampling=Resampling.bilinear, src_nodata=0, dst_nodata=0)
        prof = src.profile | {"crs": dst_crs, "transform": tr, "width": w, "height": h,
                              "blockxsize": 16, "blockysize": 16}
    with rasterio.open(path, "w", **prof) as dst:
        dst.write(out, 1)


def _ramp(path):
    """Replace a band by a linear ramp in map coordinates (bilinear resampling is exact on it)."""
    with rasterio.open(path) as src:
        t, h, w, prof = src.transform, src.height, src.width, src.profile
    cols, rows = np.meshgrid(np.arange(w) + 0.5, np.arange(h) + 0.5)
    x, y = t.c + t.a * cols, t.f + t.e * rows
    dn = _ramp_dn(x, y, t.c, t.f)
    with rasterio.open(path, "w", **prof) as dst:
        dst.write(dn, 1)
    return t


def _ramp_dn(x, y, x0, y0):
    return np.rint(12000 + 3.0 * (x - x0) + 2.0 * (y0 - y)).astype(np.uint16)


@pytest.mark.parametrize("crs, res", [("EPSG:32755", 30.0), ("EPSG:32754", 60.0), ("EPSG:3577", 35.0)])
def test_misaligned_band_is_aligned(landsat_copy, crs, res):
    band = landsat_copy.parent / landsat_copy.name.replace("_MTL.txt", "_SR_B4.TIF")
    t = _ramp(band)
    _, g0, ref, flags0 = _read(landsat_copy)
    _rewrite(band, crs, res)
    with rasterio.open(band) as src:
        assert src.crs.to_string() == crs and src.res[0] == res
    p, g, rho, flags = _read(landsat_copy)
    assert g.same_as(g0)  # the target grid is still the finest untouched band's
    inner = np.zeros(rho.shape[1:], bool)
    inner[3:-3, 3:-3] = True  # away from the edges of the reprojected raster
    ok = inner & np.isfinite(rho[3])
    assert ok.sum() > 0.95 * inner.sum()
    # values on the target grid equal the ramp at its pixel centres: the residual, in metres of
    # the ramp's steepest direction (3 DN/m), is a small fraction of a 30 m pixel (a one-pixel
    # misregistration would read ~30 m)
    err_m = np.abs(rho[3][ok] - ref[3][ok]) / 2.75e-5 / np.hypot(3.0, 2.0)
    assert np.median(err_m) < 1.5 and err_m.max() < 4.5, (np.median(err_m), err_m.max())
    other = [i for i in range(7) if i != 3]
    v = ((flags0 & VALID) > 0) & ((flags & VALID) > 0)
    assert v.sum() > 0.5 * v.size
    np.testing.assert_array_equal(rho[other][:, v], ref[other][:, v])


def test_band_that_cannot_be_aligned_is_bad_input(landsat_copy):
    band = landsat_copy.parent / landsat_copy.name.replace("_MTL.txt", "_SR_B5.TIF")
    with rasterio.open(band) as src:
        a = src.read(1, window=Window(0, 0, src.width // 2, src.height))
        prof = src.profile | {"width": src.width // 2, "blockxsize": 16, "blockysize": 16}
    with rasterio.open(band, "w", **prof) as dst:
        dst.write(a, 1)
    with pytest.raises(BadInput, match="cannot be aligned") as e:
        product_grid(open_product(landsat_copy))
    assert "SR_B5" in str(e.value)


def test_downsampling_is_judged_in_the_targets_units():
    # a 30 m band onto an EPSG:4326 target: about 3e-4 degrees a pixel, not 30 (degrees)
    from rasterio.crs import CRS

    from domains.geo.raster import Grid, resampling_for, target_grid

    band = Grid(CRS.from_epsg(32754).to_wkt(), (30.0, 0.0, 618705.0, 0.0, -30.0, 6569725.0), 48, 48)
    coarse = target_grid([band], 0.001, "EPSG:4326")  # ~100 m pixels
    fine = target_grid([band], 0.0001, "EPSG:4326")  # ~10 m pixels
    assert resampling_for(band, coarse, Resampling.bilinear) == Resampling.average
    assert resampling_for(band, fine, Resampling.bilinear) == Resampling.bilinear
    assert resampling_for(band, coarse, Resampling.nearest) == Resampling.nearest


@pytest.mark.parametrize("nodata", [float("nan"), None, -9999.0])
def test_nan_pixels_are_fill(tmp_path, nodata):
    from domains.geo.io import write_generic
    from domains.geo.sensors import generic_product

    cube = np.random.default_rng(0).uniform(0.1, 0.5, (8, 9, 3)).astype(np.float32)
    cube[2, 3, 1] = np.nan
    cube[5, :, 0] = np.nan
    cube[7, 8, 2] = -9999.0 if nodata == -9999.0 else 0.3
    p = generic_product(write_generic(tmp_path / "x.tif", cube, nodata=nodata))
    g = product_grid(p)
    with AlignedReader(g, layers(p)) as rd:
        rho, flags = read_tile(rd, p, Window(0, 0, g.width, g.height))
    expect = np.isfinite(cube).all(2) & (cube != -9999.0).all(2)
    np.testing.assert_array_equal((flags & VALID) > 0, expect)
    assert np.isfinite(rho[:, expect]).all() and np.isnan(rho[:, ~expect]).all()


def test_band_shifted_by_one_pixel_is_resampled_onto_the_target(landsat_copy):
    """Same CRS and pixel size, origin one pixel east and south: the band is warped, not read as is.

    A linear ramp in map coordinates, sampled at the shifted band's pixel centres, must read back as
    the ramp at the TARGET's pixel centres (an integer shift: bilinear is exact); read directly, every
    value would sit one pixel off (90 + 60 DN on this ramp).
    """
    from rasterio.transform import Affine

    band = landsat_copy.parent / landsat_copy.name.replace("_MTL.txt", "_SR_B4.TIF")
    with rasterio.open(band) as src:
        t, h, w, prof = src.transform, src.height, src.width, src.profile
    shifted = Affine(t.a, 0.0, t.c + t.a, 0.0, t.e, t.f + t.e)  # one pixel east, one south
    cols, rows = np.meshgrid(np.arange(w) + 0.5, np.arange(h) + 0.5)
    with rasterio.open(band, "w", **(prof | {"transform": shifted})) as dst:
        dst.write(_ramp_dn(shifted.c + t.a * cols, shifted.f + t.e * rows, t.c, t.f), 1)
    p, g, rho, flags = _read(landsat_copy)
    assert g.affine == t and (g.width, g.height) == (w, h)  # the target is the untouched bands' grid
    expect = _ramp_dn(t.c + t.a * cols, t.f + t.e * rows, t.c, t.f) * 2.75e-5 - 0.2
    ok = ((flags & VALID) > 0)
    ok[0, :] = ok[:, 0] = False  # the first row / column have no source pixel
    assert ok.sum() > 0.5 * ok.size
    np.testing.assert_allclose(rho[3][ok], expect[ok], atol=2e-5)


def test_band_in_another_crs_with_the_same_numbers_is_not_the_target_grid(landsat_copy):
    """A band tagged EPSG:32755 with the UTM 54S transform lies one zone (~6 deg) east: not alignable."""
    from rasterio.crs import CRS

    from domains.geo.raster import Grid

    band = landsat_copy.parent / landsat_copy.name.replace("_MTL.txt", "_SR_B4.TIF")
    with rasterio.open(band, "r+") as ds:
        tr = tuple(ds.transform)[:6]
        ds.crs = CRS.from_epsg(32755)
    a = Grid(CRS.from_epsg(32754).to_wkt(), tr, 48, 48)
    assert not a.same_as(Grid(CRS.from_epsg(32755).to_wkt(), tr, 48, 48))
    with pytest.raises(BadInput, match="cannot be aligned") as e:
        product_grid(open_product(landsat_copy))
    assert "SR_B4" in str(e.value)

