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


def _clear_block(flags, f, size):
    """Top-left (row, col), in units of ``f`` target pixels, of a ``size`` x ``size`` block of parent
    pixels whose every target pixel is clear, and a second one apart from it."""
    clear = (flags & CLEAR) > 0
    h, w = clear.shape[0] // f, clear.shape[1] // f
    par = clear[:h * f, :w * f].reshape(h, f, w, f).all((1, 3))
    found = []
    for r in range(h - size):
        for c in range(w - size):
            if par[r:r + size, c:c + size].all() and all(abs(r - a) > size or abs(c - b) > size for a, b in found):
                found.append((r, c))
                if len(found) == 2:
                    return found
    raise AssertionError("no clear blocks in the scene")


# Landsat 8 C2 QA_PIXEL 30048: snow (bit 5) and clear (bit 6) set, snow confidence high, the others low
QA_SNOW_PIXEL = (1 << 5) | (1 << 6) | (0b01 << 8) | (0b01 << 10) | (0b11 << 12) | (0b01 << 14)


def test_landsat_snow_and_saturation_are_not_clear(landsat_copy):
    import rasterio

    from domains.geo.io import MaskRules

    assert QA_SNOW_PIXEL == 30048
    p = open_product(landsat_copy)
    grid = product_grid(p)
    _, flags0 = _read_all(p, grid)
    (r1, c1), (r2, c2) = _clear_block(flags0, 1, 3)
    with rasterio.open(p.qa["qa_pixel"], "r+") as ds:
        qa = ds.read(1)
        qa[r1:r1 + 3, c1:c1 + 3] = QA_SNOW_PIXEL
        ds.write(qa, 1)
    with rasterio.open(p.qa["qa_radsat"], "r+") as ds:
        rs = ds.read(1)
        rs[r2:r2 + 3, c2:c2 + 3] = 1 << 3  # band 4 saturated
        ds.write(rs, 1)

    def read(rules):
        with AlignedReader(grid, layers(p)) as rd:
            return read_tile(rd, p, Window(0, 0, grid.width, grid.height), rules)[1]

    snow, sat = (slice(r1, r1 + 3), slice(c1, c1 + 3)), (slice(r2, r2 + 3), slice(c2, c2 + 3))
    for rules, snow_clear in ((MaskRules(), False), (MaskRules(mask_snow=False), True)):
        flags = read(rules)
        assert ((flags[snow] & VALID) > 0).all() and ((flags[sat] & VALID) > 0).all()
        assert (((flags[snow] & CLEAR) > 0) == snow_clear).all(), rules
        assert not ((flags[sat] & CLEAR) > 0).any(), rules  # saturated: never clear
        untouched = np.ones(flags.shape, bool)
        untouched[snow] = untouched[sat] = False
        np.testing.assert_array_equal(flags[untouched], flags0[untouched])


def test_sentinel2_snow_and_no_data_classes(s2_copy):
    import rasterio
    import rasterio.shutil
    from rasterio.io import MemoryFile

    from domains.geo.io import MaskRules

    p = open_product(s2_copy)
    grid = product_grid(p)
    _, flags0 = _read_all(p, grid)
    (r1, c1), (r2, c2) = _clear_block(flags0, 2, 2)  # in 20 m SCL pixels
    with rasterio.open(p.qa["scl"]) as src:
        prof, scl = src.profile, src.read(1)
    scl[r1:r1 + 2, c1:c1 + 2] = 11  # SNOW
    scl[r2:r2 + 2, c2:c2 + 2] = 0  # NO_DATA over valid band pixels
    prof.update(driver="GTiff")
    with MemoryFile() as mem, mem.open(**prof) as tmp:  # JP2 has no in-place update: write a copy, as Sen2Cor's
        tmp.write(scl, 1)
        rasterio.shutil.copy(tmp, p.qa["scl"], driver="JP2OpenJPEG", QUALITY=100, REVERSIBLE="YES")

    def read(rules):
        with AlignedReader(grid, layers(p)) as rd:
            return read_tile(rd, p, Window(0, 0, grid.width, grid.height), rules)

    snow = (slice(2 * r1, 2 * r1 + 4), slice(2 * c1, 2 * c1 + 4))  # the 10 m pixels under them
    nod = (slice(2 * r2, 2 * r2 + 4), slice(2 * c2, 2 * c2 + 4))
    keep11 = (4, 5, 6, 7, 11)
    for rules, snow_clear in ((MaskRules(), False), (MaskRules(True, keep11), False), (MaskRules(False, keep11), True)):
        rho, flags = read(rules)
        assert ((flags[snow] & VALID) > 0).all()
        assert (((flags[snow] & CLEAR) > 0) == snow_clear).all(), rules
        assert not (flags[nod] & (VALID | CLEAR)).any() and np.isnan(rho[:, nod[0], nod[1]]).all()


def test_synthetic_qa_pixel_and_scl_use_the_product_codes():
    """The simulator's quality layers carry the codes the real products use (brief: QA_PIXEL bits, SCL classes).

    QA_PIXEL (Landsat C2): bit 0 fill (fill pixels hold 1), 1 dilated cloud, 3 cloud (not 2, cirrus),
    4 cloud shadow, 6 clear. SCL (Sen2Cor): 0 NO_DATA, 3 CLOUD_SHADOWS (not 2, DARK_AREA_PIXELS),
    4 VEGETATION, 5 NOT_VEGETATED, 8 / 9 cloud medium / high probability.
    """
    from domains.geo.simulate import qa_pixel, scl_classes

    # pixels: clear, thick cloud, dilated-cloud edge, shadow, outside the footprint
    alpha = np.array([0.0, 0.9, 0.0, 0.0, 0.0])
    dilated = np.array([False, False, True, False, False])
    shadow = np.array([False, False, False, True, False])
    inside = np.array([True, True, True, True, False])
    qa = qa_pixel(alpha, dilated, shadow, inside).astype(int)
    low = qa & 0xFF  # bits 0-7: the flags (8-15 are confidences)
    assert low.tolist() == [1 << 6, 1 << 3, 1 << 1, 1 << 4, 1]
    assert qa[4] == 1  # fill: bit 0 only
    assert ((qa[:4] >> 8) & 0b11).tolist() == [1, 3, 1, 1]  # cloud confidence: high on the cloud
    ndvi = np.array([0.6, 0.6, 0.1, 0.1, 0.1])
    mid = np.array([0.0, 0.3, 0.0, 0.0, 0.0])
    assert scl_classes(alpha, dilated, shadow, inside, ndvi).tolist() == [4, 9, 5, 3, 0]
    assert scl_classes(mid, dilated, shadow, inside, ndvi).tolist() == [4, 8, 5, 3, 0]


def test_sentinel2_clear_pixels_are_the_kept_scl_classes(small_products):
    """Clear on a 10 m pixel = valid and its 20 m SCL class in {4, 5, 6, 7} (VEGETATION, NOT_VEGETATED,
    WATER, UNCLASSIFIED): cloud medium / high (8 / 9), shadow (3) and no data (0) never are; the
    reader's default rules are the config's."""
    import rasterio

    from domains.geo.config import IngestConfig
    from domains.geo.io import MaskRules

    assert MaskRules().scl_keep == tuple(IngestConfig().scl_keep) == (4, 5, 6, 7)
    p = open_product(small_products["products"]["sentinel2"])
    grid = product_grid(p)
    _, flags = _read_all(p, grid)
    with rasterio.open(p.qa["scl"]) as src:
        scl = np.kron(src.read(1), np.ones((2, 2), np.uint8))  # nearest onto the 10 m grid
    assert {0, 3, 8, 9} <= set(np.unique(scl).tolist())
    np.testing.assert_array_equal((flags & CLEAR) > 0, ((flags & VALID) > 0) & np.isin(scl, [4, 5, 6, 7]))


def test_ingest_parts_add_up_their_valid_and_clear_counts():
    """combine_ingest sums each tile's valid and clear pixel counts (the run's report and the k check)."""
    from domains.geo.io import combine_ingest, ingest_tile

    rng = np.random.default_rng(0)
    flags = np.array([[VALID | CLEAR, VALID, 0], [VALID | CLEAR, VALID | CLEAR, 0]], np.uint8)
    rho = np.where((flags & VALID) > 0, 0.2, np.nan)[None].repeat(2, 0).astype(np.float32)
    a = ingest_tile(rho, flags, Window(0, 0, 3, 2), 1.0, rng)
    b = ingest_tile(rho[:, :1], flags[:1], Window(0, 2, 3, 1), 1.0, rng)
    assert (a.n_valid, a.n_clear, b.n_valid, b.n_clear) == (4, 3, 2, 1)
    s = combine_ingest([a, b], 100, rng)
    assert (s.n_valid, s.n_clear) == (6, 4)
    assert len(s.sample) == 6 and np.isfinite(s.sample).all()  # rate 1: every valid pixel, no fill
    np.testing.assert_array_equal(s.sample_rc[-2:], [[2, 0], [2, 1]])  # rows offset by the window


def test_sentinel2_bands_are_read_at_their_native_resolution(s2_copy):
    """A real L2A SAFE also holds B02-B04 (and B08) resampled to 20 m / 60 m (brief: R20m +
    resampled B01-B04): the reader takes each band at its native resolution, B02 from R10m."""
    import rasterio
    import rasterio.shutil

    p0 = open_product(s2_copy)
    b02 = p0.bands[p0.band_names.index("B02")].path
    r20 = s2_copy.parent / "GRANULE"
    (r20dir,) = list(r20.glob("*/IMG_DATA/R20m"))
    with rasterio.open(b02) as src:  # a 20 m copy beside the real 20 m bands
        prof = src.profile | {"driver": "GTiff", "width": src.width // 2, "height": src.height // 2,
                              "transform": src.transform @ src.transform.scale(2.0)}
        half = src.read(1)[::2, ::2]
    from rasterio.io import MemoryFile

    with MemoryFile() as mem, mem.open(**prof) as tmp:
        tmp.write(half, 1)
        rasterio.shutil.copy(tmp, r20dir / "T54HVH_20230115T002711_B02_20m.jp2", driver="JP2OpenJPEG",
                             QUALITY=100, REVERSIBLE="YES")
    p = open_product(s2_copy)
    assert "R10m" in p.bands[p.band_names.index("B02")].path
    assert product_grid(p).res == 10.0


def test_red_and_nir_bands_are_red_and_near_infrared():
    """NDVI's bands per sensor: red 0.63-0.69 um, NIR 0.76-0.90 um (Landsat SR_B4/SR_B5, S2 B04/B08,
    ASTER B02/B3N)."""
    from domains.geo.sensors import ASTER_BANDS, LANDSAT_BANDS, RED_NIR, S2_BANDS, Band, Product

    tables = {"landsat8": LANDSAT_BANDS, "sentinel2": S2_BANDS, "aster": ASTER_BANDS}
    for sensor, table in tables.items():
        bands = [Band(b[0], "x.tif", b[1], 1.0, 0.0) for b in table]
        red, nir = Product(sensor, "x", bands).red_nir()
        assert 0.63 <= bands[red].wavelength_um <= 0.69, (sensor, RED_NIR[sensor])
        assert 0.76 <= bands[nir].wavelength_um <= 0.90, (sensor, RED_NIR[sensor])
