"""Readers on generated products: scale factors and offsets round-trip, QA/SCL masks."""

from __future__ import annotations

import numpy as np
import pytest
from rasterio.windows import Window

from domains.geo.io import CLEAR, VALID, layers, product_grid, read_tile
from domains.geo.raster import AlignedReader
from domains.geo.sensors import open_product, parse_mtd, s2_radiometry
from domains.geo.simulate import S2_QUANT, Scene, SceneParams, simulate_window, _rng, mtd_xml
from shared.errors import BadInput


def _read_all(product, grid):
    with AlignedReader(grid, layers(product)) as rd:
        return read_tile(rd, product, Window(0, 0, grid.width, grid.height))


def test_landsat_scale_factors_round_trip(small_products):
    p = open_product(small_products["products"]["landsat8"])
    assert p.sensor == "landsat8" and len(p.bands) == 7
    assert all(b.scale == pytest.approx(2.75e-5) and b.offset == pytest.approx(-0.2) for b in p.bands)
    grid = product_grid(p)
    rho, flags = _read_all(p, grid)
    scene = Scene(SceneParams(size30=48, seed=3, cloud_cover=0.12))
    truth = simulate_window(scene, grid, Window(0, 0, 48, 48), [(b.name, b.wavelength_um) for b in p.bands],
                            3, _rng(3, 8, Window(0, 0, 48, 48)))
    ok = (flags & VALID) > 0
    assert 0.6 < ok.mean() < 1.0  # a tilted fill border
    err = np.abs(rho[:, ok] - truth["rho"][:, ok])
    assert err.max() <= 2.75e-5 / 2 + 1e-6  # DN quantisation only
    assert np.isnan(rho[:, ~ok]).all()


def test_sentinel2_offsets_round_trip_both_baselines(small_products, tmp_path):
    p = open_product(small_products["products"]["sentinel2"])
    assert p.sensor == "sentinel2" and p.meta["baseline"] == "05.09"
    assert all(b.scale == pytest.approx(1e-4) and b.offset == pytest.approx(-0.1) for b in p.bands)
    grid = product_grid(p)
    assert grid.res == 10.0 and grid.width == 144
    rho, flags = _read_all(p, grid)
    scene = Scene(SceneParams(size30=48, seed=3, cloud_cover=0.12))
    b10 = [(b.name, b.wavelength_um) for b in p.bands if b.name in ("B02", "B03", "B04", "B08")]
    truth = simulate_window(scene, grid, Window(0, 0, 144, 144), b10, 1, _rng(3, 110, Window(0, 0, 144, 144)))
    ok = (flags & VALID) > 0
    idx = [p.band_names.index(n) for n, _ in b10]
    assert np.abs(rho[idx][:, ok] - truth["rho"][:, ok]).max() <= 0.5 / S2_QUANT + 1e-6
    # an older baseline carries no offsets: rho = DN / 10000
    old = parse_mtd_text(tmp_path, mtd_xml("03.01", None))
    rad = s2_radiometry(old, "old.xml")
    assert all(off == 0.0 and sc == pytest.approx(1e-4) for sc, off in rad.values())


def parse_mtd_text(tmp_path, text):
    f = tmp_path / "MTD_MSIL2A.xml"
    f.write_text(text)
    return parse_mtd(f)


def test_new_baseline_without_offsets_is_bad_input(tmp_path):
    mtd = parse_mtd_text(tmp_path, mtd_xml("04.00", None))
    with pytest.raises(BadInput, match="BOA_ADD_OFFSET"):
        s2_radiometry(mtd, "x.xml")


def test_masks_remove_clouds_and_fill(small_products):
    for sensor in ("landsat8", "sentinel2"):
        p = open_product(small_products["products"][sensor])
        grid = product_grid(p)
        rho, flags = _read_all(p, grid)
        scene = Scene(SceneParams(size30=48, seed=3, cloud_cover=0.12))
        t = grid.affine
        # QA_PIXEL is per 30 m pixel; SCL is 20 m, so a 10 m pixel carries its parent's class
        f = 1 if sensor == "landsat8" else 2
        cols, rows = np.meshgrid(np.arange(grid.width) // f * f + f / 2, np.arange(grid.height) // f * f + f / 2)
        alpha, _, shadow = scene.clouds(t.c + t.a * cols, t.f + t.e * rows)
        clear = (flags & CLEAR) > 0
        assert (alpha > 0.5).sum() > 10 and shadow.sum() > 10
        assert not clear[alpha > 0.5].any(), sensor  # thick cloud is never clear
        assert not clear[shadow].any(), sensor
        assert clear.sum() > 0.5 * ((flags & VALID) > 0).sum(), sensor


def test_aster_vnir_swir_align_on_the_15m_grid(tmp_path):
    from domains.geo.simulate import generate

    gen = generate(tmp_path, ("aster",), SceneParams(size30=32, seed=5, cloud_cover=0))
    p = open_product(gen["products"]["aster"])
    assert p.sensor == "aster" and p.band_names[:3] == ["B01", "B02", "B3N"] and len(p.bands) == 9
    grid = product_grid(p)
    assert grid.res == 15.0 and grid.width == 64  # SWIR (30 m) is upsampled onto the VNIR grid
    rho, flags = _read_all(p, grid)
    scene = Scene(SceneParams(size30=32, seed=5, cloud_cover=0))
    w = Window(0, 0, 64, 64)
    vnir = simulate_window(scene, grid, w, [(b.name, b.wavelength_um) for b in p.bands[:3]], 1, _rng(5, 215, w))
    ok = (flags & VALID) > 0
    assert np.abs(rho[:3][:, ok] - vnir["rho"][:, ok]).max() <= 0.0005 + 1e-6  # DN * 0.001
    assert np.isfinite(rho[3:][:, ok]).mean() > 0.95 and 0.05 < np.nanmean(rho[3:]) < 0.5


def test_landsat_band_names_are_the_sr_keys(small_products):
    # the band table names its bands SR_B1..SR_B7 (NDVI finds red and NIR by these names)
    p = open_product(small_products["products"]["landsat8"])
    assert p.band_names == [f"SR_B{n}" for n in range(1, 8)] and p.red_nir() == (3, 4)
