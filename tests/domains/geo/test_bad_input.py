"""Each bad input exits 2 with one line, before Prefect, leaving no run directory."""

from __future__ import annotations

import re

import numpy as np
import rasterio
from rasterio.windows import Window

from pipelines.cli import main


def _run(tmp_path, data, *sets):
    out = tmp_path / "runs"
    args = ["run", "geo", "--data", str(data), "--out", str(out), "--device", "cpu"]
    for s in sets:
        args += ["--set", s]
    code = main(args)
    return code, out


def _band(mtl, key):
    return mtl.parent / mtl.name.replace("_MTL.txt", f"_{key}.TIF")


def _assert_rejected(tmp_path, capsys, data, needle, *sets):
    code, out = _run(tmp_path, data, *sets)
    err = capsys.readouterr().err.strip()
    assert code == 2, err
    assert len(err.splitlines()) == 1 and re.search(needle, err), err
    assert not out.exists() or not any(out.rglob("*"))  # nothing that looks like a run


def test_missing_band_file(tmp_path, capsys, landsat_copy):
    _band(landsat_copy, "SR_B4").unlink()
    _assert_rejected(tmp_path, capsys, landsat_copy, r"SR_B4\.TIF: band file not found")


def test_unreadable_geotiff(tmp_path, capsys, landsat_copy):
    _band(landsat_copy, "SR_B2").write_bytes(b"II*\x00 this is not a TIFF")
    _assert_rejected(tmp_path, capsys, landsat_copy, r"SR_B2\.TIF: unreadable raster")


def test_extent_that_cannot_be_aligned(tmp_path, capsys, landsat_copy):
    band = _band(landsat_copy, "SR_B6")
    with rasterio.open(band) as src:
        a = src.read(1, window=Window(0, 0, src.width, src.height // 3))
        prof = src.profile | {"height": src.height // 3, "blockxsize": 16, "blockysize": 16}
    with rasterio.open(band, "w", **prof) as dst:
        dst.write(a, 1)
    _assert_rejected(tmp_path, capsys, landsat_copy, r"SR_B6\.TIF: extent covers \d+% .*cannot be aligned")


def _set_qa(mtl, fn):
    qa = _band(mtl, "QA_PIXEL")
    with rasterio.open(qa) as src:
        a, prof = src.read(1), src.profile
    with rasterio.open(qa, "w", **prof) as dst:
        dst.write(fn(a), 1)


def test_no_valid_pixels_after_masking(tmp_path, capsys, landsat_copy):
    _set_qa(landsat_copy, lambda a: np.where(a == 1, a, np.uint16(1 << 3)))  # every pixel cloud
    _assert_rejected(tmp_path, capsys, landsat_copy, r"no valid pixels after masking")


def test_k_larger_than_valid_pixels(tmp_path, capsys, landsat_copy):
    def few_clear(a):
        out = np.where(a == 1, a, np.uint16(1 << 3))
        out[20, 20:24] = 1 << 6  # four clear pixels
        return out

    _set_qa(landsat_copy, few_clear)
    _assert_rejected(tmp_path, capsys, landsat_copy, r"model\.k: k=6 exceeds the 4 valid pixels")


def test_k_larger_than_the_scene(tmp_path, capsys, landsat_copy):
    _assert_rejected(tmp_path, capsys, landsat_copy, r"model\.k: k=5000 exceeds the 2304 pixels", "model.k=5000")


def test_sentinel2_mtd_without_offsets(tmp_path, capsys, s2_copy):
    text = s2_copy.read_text()
    start, end = text.index("<BOA_ADD_OFFSET_VALUES_LIST>"), text.index("</BOA_ADD_OFFSET_VALUES_LIST>")
    s2_copy.write_text(text[:start] + text[end + len("</BOA_ADD_OFFSET_VALUES_LIST>"):])
    _assert_rejected(tmp_path, capsys, s2_copy,
                     r"MTD_MSIL2A\.xml:BOA_ADD_OFFSET\[band_id=1\]: missing .*baseline 05\.09")


def test_generated_products_pass_the_header_checks(small_products):
    from domains.geo.config import GeoConfig
    from domains.geo.steps import check

    mtd = small_products["products"]["sentinel2"]
    check(mtd, None, GeoConfig())  # the generated product passes the header checks


def test_folder_without_product_metadata(tmp_path, capsys):
    folder = tmp_path / "not_a_product"
    folder.mkdir()
    (folder / "notes.txt").write_text("no MTL, no MTD")
    _assert_rejected(tmp_path, capsys, folder, r"not_a_product: folder holds neither a Landsat")


def test_landsat_folder_with_a_missing_band(tmp_path, capsys, landsat_copy):
    _band(landsat_copy, "SR_B6").unlink()
    _assert_rejected(tmp_path, capsys, landsat_copy.parent, r"SR_B6\.TIF: band file not found")


def test_product_folders_read_like_their_metadata_files(small_products):
    from pathlib import Path

    from domains.geo.sensors import open_product

    for sensor in ("landsat8", "sentinel2"):
        meta = Path(small_products["products"][sensor])
        by_file, by_folder = open_product(meta), open_product(meta.parent)
        assert by_folder.sensor == by_file.sensor == sensor
        assert by_folder.source == str(meta)
        assert [(b.name, b.path, b.scale, b.offset) for b in by_folder.bands] == \
            [(b.name, b.path, b.scale, b.offset) for b in by_file.bands]
