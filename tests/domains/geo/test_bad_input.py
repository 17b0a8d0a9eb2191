"""Each bad input exits 2 with one line, before Prefect, leaving no run directory."""

from __future__ import annotations

import re

import numpy as np
import pytest
import rasterio
from rasterio.transform import Affine
from rasterio.windows import Window

from pipelines.cli import main


@pytest.fixture(autouse=True)
def no_prefect(monkeypatch):
    """An input that passed the checks would reach Prefect: fail at once (exit 1), not run a flow."""
    def boom(*a, **k):
        raise AssertionError("Prefect would start for this input")

    monkeypatch.setattr("pipelines.env.configure", boom)


def _run(tmp_path, data, *sets, dataset=None):
    out = tmp_path / "runs"
    args = ["run", "geo", "--out", str(out), "--device", "cpu"]
    args += ["--data", str(data)] if data is not None else []
    args += ["--dataset", dataset] if dataset else []
    for s in sets:
        args += ["--set", s]
    code = main(args)
    return code, out


def _band(mtl, key):
    return mtl.parent / mtl.name.replace("_MTL.txt", f"_{key}.TIF")


def _assert_rejected(tmp_path, capfd, data, needle, *sets, dataset=None):
    code, out = _run(tmp_path, data, *sets, dataset=dataset)
    err = capfd.readouterr().err.strip()  # capfd in the tests: GDAL writes to fd 2 itself
    assert code == 2, err
    assert len(err.splitlines()) == 1 and re.search(needle, err), err
    assert not out.exists() or not any(out.rglob("*"))  # nothing that looks like a run


def test_missing_band_file(tmp_path, capfd, landsat_copy):
    _band(landsat_copy, "SR_B4").unlink()
    _assert_rejected(tmp_path, capfd, landsat_copy, r"SR_B4\.TIF: band file not found")


def test_unreadable_geotiff(tmp_path, capfd, landsat_copy):
    _band(landsat_copy, "SR_B2").write_bytes(b"II*\x00 this is not a TIFF")
    _assert_rejected(tmp_path, capfd, landsat_copy, r"SR_B2\.TIF: unreadable raster")


@pytest.mark.parametrize("crs", [None, "EPSG:4326"])
def test_extent_that_cannot_be_aligned(tmp_path, capfd, landsat_copy, crs):
    # the band's one-pixel tolerance is converted into the target's units: 30 m, not 30 degrees
    band = _band(landsat_copy, "SR_B6")
    with rasterio.open(band) as src:
        a = src.read(1, window=Window(0, 0, src.width, src.height // 3))
        prof = src.profile | {"height": src.height // 3, "blockxsize": 16, "blockysize": 16}
    with rasterio.open(band, "w", **prof) as dst:
        dst.write(a, 1)
    sets = [f"ingest.crs={crs}"] if crs else []
    _assert_rejected(tmp_path, capfd, landsat_copy, r"SR_B6\.TIF: extent covers 3\d% .*cannot be aligned", *sets)


def _set_qa(mtl, fn):
    qa = _band(mtl, "QA_PIXEL")
    with rasterio.open(qa) as src:
        a, prof = src.read(1), src.profile
    with rasterio.open(qa, "w", **prof) as dst:
        dst.write(fn(a), 1)


def test_no_valid_pixels_after_masking(tmp_path, capfd, landsat_copy):
    _set_qa(landsat_copy, lambda a: np.where(a == 1, a, np.uint16(1 << 3)))  # every pixel cloud
    _assert_rejected(tmp_path, capfd, landsat_copy, r"no valid pixels after masking")


def test_k_larger_than_valid_pixels(tmp_path, capfd, landsat_copy):
    def few_clear(a):
        out = np.where(a == 1, a, np.uint16(1 << 3))
        out[20, 20:24] = 1 << 6  # four clear pixels
        return out

    _set_qa(landsat_copy, few_clear)
    _assert_rejected(tmp_path, capfd, landsat_copy, r"model\.k: k=6 exceeds the 4 valid pixels")


def test_k_larger_than_the_scene(tmp_path, capfd, landsat_copy):
    # 1440 m at 300 m: a 4 x 4 target grid (whole pixels inside the bands)
    _assert_rejected(tmp_path, capfd, landsat_copy, r"model\.k: k=30 exceeds the 16 pixels", "model.k=30",
                     "ingest.resolution=300")


def test_sentinel2_mtd_without_offsets(tmp_path, capfd, s2_copy):
    text = s2_copy.read_text()
    start, end = text.index("<BOA_ADD_OFFSET_VALUES_LIST>"), text.index("</BOA_ADD_OFFSET_VALUES_LIST>")
    s2_copy.write_text(text[:start] + text[end + len("</BOA_ADD_OFFSET_VALUES_LIST>"):])
    _assert_rejected(tmp_path, capfd, s2_copy,
                     r"MTD_MSIL2A\.xml:BOA_ADD_OFFSET\[band_id=1\]: missing .*baseline 05\.09")


def test_generated_products_pass_the_header_checks(small_products):
    from domains.geo.config import GeoConfig
    from domains.geo.checks import check

    mtd = small_products["products"]["sentinel2"]
    check(mtd, None, GeoConfig())  # the generated product passes the header checks


def test_folder_without_product_metadata(tmp_path, capfd):
    folder = tmp_path / "not_a_product"
    folder.mkdir()
    (folder / "notes.txt").write_text("no MTL, no MTD")
    _assert_rejected(tmp_path, capfd, folder, r"not_a_product: folder holds neither a Landsat")


def test_landsat_folder_with_a_missing_band(tmp_path, capfd, landsat_copy):
    _band(landsat_copy, "SR_B6").unlink()
    _assert_rejected(tmp_path, capfd, landsat_copy.parent, r"SR_B6\.TIF: band file not found")


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


# ------------------------------------------------------------- audit findings
def test_nan_nodata_is_fill(tmp_path, capfd):
    # a float GeoTIFF whose nodata is NaN: NaN != NaN, so NaN pixels used to count as valid
    from domains.geo.io import write_generic

    cube = np.full((10, 10, 3), np.nan, np.float32)
    path = write_generic(tmp_path / "nanfill.tif", cube, nodata=float("nan"))
    _assert_rejected(tmp_path, capfd, path, r"nanfill\.tif: no valid pixels after masking")


@pytest.mark.parametrize("sets, needle", [
    (["model.k=300"], r"--set model\.k: .*less than or equal to 255"),  # uint8 labels, 255 nodata
    (["model.k=elbow", "model.k_range=[2,300]"], r"--set model\.k_range: need 1 <= low < high <= 255"),
    (["model.k=elbow", "model.k_range=[9,3]"], r"--set model\.k_range: need 1 <= low < high"),
    (["model.majority_size=4"], r"--set model\.majority_size: the majority window must be odd"),
    (["reduce.improved_percentiles=[0,200]"], r"--set reduce\.improved_percentiles: need 0 <= low < high <= 100"),
    (["reduce.improved_percentiles=[98,2]"], r"--set reduce\.improved_percentiles: need 0 <= low < high"),
    (["reduce.batch_sizes=[0,0,0]"], r"--set reduce\.batch_sizes: each of the three stages needs at least 1"),
    (["reduce.epochs=[10,0,5]"], r"--set reduce\.epochs: each of the three stages needs at least 1"),
    (["ingest.scl_keep=[4,12]"], r"--set ingest\.scl_keep: SCL classes are 0\.\.11, got \[12\]"),
    (["ingest.sensors=[landsat8,landsat8]"], r"--set ingest\.sensors: each sensor once"),
    (["reduce.methods=[pca,pca]"], r"--set reduce\.methods: each method once"),
    (["ingest.crs=EPSG:999999"], r"--set ingest\.crs: not a CRS GDAL/PROJ knows: 'EPSG:999999'"),
    (["ingest.crs=EPSG:4326x"], r"--set ingest\.crs: not a CRS"),
    (["ingest.reference=/nonexistent.tif"], r"--set ingest\.reference: applies to --data only"),
    (["ingest.resolution=0.01"], r"--set ingest\.resolution: 0\.01 gives a 480000 x 480000 .* cap"),
    (["ingest.resolution=1000", "model.k=30"], r"--set model\.k: k=30 exceeds the 16 pixels of the synthetic"),
    (["model.fit_pixels=20", "model.k=30"], r"--set model\.k: k=30 exceeds the 20 pixels k-means is fitted on"),
    # a searched k: the top of k_range is what k-means may be asked for
    (["model.fit_pixels=20", "model.k=elbow", "model.k_range=[2,30]"],
     r"--set model\.k: k=30 exceeds the 20 pixels k-means is fitted on"),
])
def test_bad_values_for_the_synthetic_scene(tmp_path, capfd, sets, needle):
    _assert_rejected(tmp_path, capfd, None, needle, *sets)


def test_bad_crs_for_a_product(tmp_path, capfd, landsat_copy):
    _assert_rejected(tmp_path, capfd, landsat_copy, r"--set ingest\.crs: not a CRS", "ingest.crs=EPSG:999999")


def test_resolution_over_the_pixel_cap(tmp_path, capfd, landsat_copy):
    # 48 x 48 px at 30 m re-gridded at 1 cm: 144000^2 px
    _assert_rejected(tmp_path, capfd, landsat_copy, r"--set ingest\.resolution: 0\.01 gives a 144000 x 144000 .*cap",
                     "ingest.resolution=0.01")


@pytest.mark.parametrize("dataset", ["landsat-c2l2", "sentinel2-l2a", "aster-07xt"])
def test_download_datasets_need_data(tmp_path, capfd, dataset):
    _assert_rejected(tmp_path, capfd, None, rf"--dataset {dataset}: open data, not generated by the flow",
                     dataset=dataset)


def test_indian_pines_k_over_its_pixels(tmp_path, capfd):
    _assert_rejected(tmp_path, capfd, None, r"--set model\.k", "model.k=30000", dataset="indian-pines")
    _assert_rejected(tmp_path, capfd, None, r"--set ingest\.crs: the bands have no CRS", "ingest.crs=EPSG:32754",
                     dataset="indian-pines")


def test_landsat_band_file_opens_its_product(landsat_copy):
    from domains.geo.sensors import open_product

    by_band, by_mtl = open_product(_band(landsat_copy, "SR_B1")), open_product(landsat_copy)
    assert by_band.sensor == "landsat8" and by_band.source == str(landsat_copy)
    assert [(b.path, b.scale, b.offset) for b in by_band.bands] == [(b.path, b.scale, b.offset) for b in by_mtl.bands]
    assert by_band.qa == by_mtl.qa and "qa_pixel" in by_band.qa


def test_landsat_band_file_without_its_mtl(tmp_path, capfd, landsat_copy):
    band = _band(landsat_copy, "SR_B1")
    landsat_copy.unlink()
    _assert_rejected(tmp_path, capfd, band, r"SR_B1\.TIF: a band of Landsat product .* pass the product folder")


@pytest.mark.parametrize("edit, needle", [
    (lambda t: re.sub(r'(<BOA_QUANTIFICATION_VALUE unit="none">)\d+', r"\1abc", t),
     r"MTD_MSIL2A\.xml:BOA_QUANTIFICATION_VALUE: value 'abc' is not a number"),
    (lambda t: t.replace('<BOA_ADD_OFFSET band_id="3">', "<BOA_ADD_OFFSET>"),
     r"MTD_MSIL2A\.xml:BOA_ADD_OFFSET: band_id attribute missing"),
    (lambda t: t.replace('<BOA_ADD_OFFSET band_id="3">-1000', '<BOA_ADD_OFFSET band_id="3">x'),
     r"MTD_MSIL2A\.xml:BOA_ADD_OFFSET\[band_id=3\]: value 'x' is not a number"),
])
def test_sentinel2_mtd_values_that_are_not_numbers(tmp_path, capfd, s2_copy, edit, needle):
    text = s2_copy.read_text()
    s2_copy.write_text(edit(text))
    assert s2_copy.read_text() != text
    _assert_rejected(tmp_path, capfd, s2_copy, needle)


def test_reference_map_missing_or_off_the_scene(tmp_path, capfd, landsat_copy, small_products):
    missing = tmp_path / "nope.tif"
    _assert_rejected(tmp_path, capfd, landsat_copy, r"--set ingest\.reference=.*nope\.tif: reference map not found",
                     f"ingest.reference={missing}")
    with rasterio.open(small_products["reference"]) as src:
        a, prof = src.read(1), src.profile
    moved = tmp_path / "moved.tif"  # the same map 100 km east: no overlap with the scene
    t = src.transform
    with rasterio.open(moved, "w", **(prof | {"transform": Affine(t.a, t.b, t.c + 100_000, t.d, t.e, t.f)})) as dst:
        dst.write(a, 1)
    _assert_rejected(tmp_path, capfd, landsat_copy, r"--set ingest\.reference=.*moved\.tif: extent covers 0%",
                     f"ingest.reference={moved}")


def test_bad_data_is_rejected_without_torch(tmp_path):
    """The CLI imports geo's light check module: no torch (nor Prefect) to reject a bad --data."""
    import subprocess
    import sys

    folder = tmp_path / "not_a_product"
    folder.mkdir()
    code = ("import sys\nfrom pipelines.cli import main\n"
            f"rc = main(['run', 'geo', '--data', {str(folder)!r}, '--out', {str(tmp_path / 'runs')!r}])\n"
            "print(rc, sorted(m for m in ('torch', 'sklearn', 'prefect') if m in sys.modules))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.stdout.strip() == "2 []", out.stdout + out.stderr
    assert "folder holds neither" in out.stderr and not (tmp_path / "runs").exists()


# ------------------------------------------------------- second audit findings
def _edit_mtl(mtl, pattern, repl):
    text = mtl.read_text()
    new = re.sub(pattern, repl, text, flags=re.MULTILINE)
    assert new != text
    mtl.write_text(new)


@pytest.mark.parametrize("pattern, repl, needle", [
    # NaN used to pass float() and crash the PCA's SVD 14 s into the run (rc 1, a .failed run)
    (r"(REFLECTANCE_MULT_BAND_3 = ).*$", r"\1nan", r"_MTL\.txt:REFLECTANCE_MULT_BAND_3: value 'nan' is not a number"),
    (r"(REFLECTANCE_ADD_BAND_2 = ).*$", r"\1inf", r"_MTL\.txt:REFLECTANCE_ADD_BAND_2: value 'inf' is not a number"),
    # a gain of 0 made every band constant: leverage sampling crashed on NaN probabilities
    (r"(REFLECTANCE_MULT_BAND_\d = ).*$", r"\g<1>0", r"_MTL\.txt:REFLECTANCE_MULT_BAND_1: is 0"),
])
def test_landsat_mtl_scale_factors_that_are_not_usable(tmp_path, capfd, landsat_copy, pattern, repl, needle):
    _edit_mtl(landsat_copy, pattern, repl)
    _assert_rejected(tmp_path, capfd, landsat_copy, needle)


def test_landsat_mtl_that_is_not_text(tmp_path, capfd, landsat_copy):
    landsat_copy.write_bytes(landsat_copy.read_bytes().replace(b"GROUP = PRODUCT_CONTENTS",
                                                               b"GROUP = PRODUCT_\xffCONTENTS", 1))
    _assert_rejected(tmp_path, capfd, landsat_copy, r"_MTL\.txt: not a text MTL file \(byte 0xff at offset \d+")


def test_one_band_geotiff(tmp_path, capfd):
    # one band has no spectrum: its log-ratios are all 0 and the improved mode's leverage was NaN
    from domains.geo.io import write_generic

    rng = np.random.default_rng(0)
    path = write_generic(tmp_path / "pan.tif", rng.uniform(0.05, 0.5, (16, 16, 1)))
    _assert_rejected(tmp_path, capfd, path, r"pan\.tif: 1 band: spectral mapping needs at least 2 bands")


def test_reference_map_of_a_float_dtype(tmp_path, capfd, landsat_copy, small_products):
    with rasterio.open(small_products["reference"]) as src:
        a, prof = src.read(1), src.profile
    ref = tmp_path / "float_ref.tif"
    with rasterio.open(ref, "w", **(prof | {"dtype": "float32", "nodata": None})) as dst:
        dst.write(a.astype(np.float32), 1)
    _assert_rejected(tmp_path, capfd, landsat_copy,
                     r"--set ingest\.reference=.*float_ref\.tif: band 1 is float32: a reference map holds integer",
                     f"ingest.reference={ref}")


def test_k_equal_to_the_clear_pixels_passes_and_one_more_does_not():
    from domains.geo.checks import check_clear
    from shared.errors import BadInput

    check_clear(4, 4, "scene")  # k-means can put every clear pixel in its own cluster
    with pytest.raises(BadInput, match=r"k=5 exceeds the 4 valid pixels after masking of scene"):
        check_clear(4, 5, "scene")
