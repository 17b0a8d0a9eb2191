"""Sensor products: band tables, metadata parsing and product discovery.

A :class:`Product` lists the band files of one scene with the factors that turn
their digital numbers into surface reflectance, ``rho = DN * scale + offset``,
and the quality layers that mask it. The factors are read from the product's
metadata, never assumed:

- Landsat 8/9 Collection 2 Level-2: ``*_MTL.txt``, group
  ``LEVEL2_SURFACE_REFLECTANCE_PARAMETERS``, keys ``REFLECTANCE_MULT_BAND_n`` /
  ``REFLECTANCE_ADD_BAND_n`` (2.75e-5 and -0.2 for C2); band files from
  ``PRODUCT_CONTENTS/FILE_NAME_BAND_n``; fill DN 0; ``QA_PIXEL`` bit flags.
- Sentinel-2 L2A: ``MTD_MSIL2A.xml``, ``rho = (DN + BOA_ADD_OFFSET[b]) /
  BOA_QUANTIFICATION_VALUE``; the offsets (-1000 from processing baseline
  04.00, absent before) per ``band_id`` 0..12; ``SCL`` scene classes.
- ASTER: VNIR/SWIR reflectance GeoTIFFs (HDF4 needs a system GDAL), one file
  per band named ``*_B01.tif ... *_B09.tif`` (``B3N`` for band 3 nadir).
- Any multiband GeoTIFF (the generic reader, e.g. Indian Pines).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from shared.errors import BadInput

# (file band key, central wavelength um)
LANDSAT_BANDS = [("SR_B1", 0.443), ("SR_B2", 0.482), ("SR_B3", 0.561), ("SR_B4", 0.655),
                 ("SR_B5", 0.865), ("SR_B6", 1.609), ("SR_B7", 2.201)]
# (band, central wavelength um, native resolution m) -- the paper's ten bands
S2_BANDS = [("B02", 0.493, 10), ("B03", 0.560, 10), ("B04", 0.665, 10), ("B05", 0.704, 20),
            ("B06", 0.741, 20), ("B07", 0.783, 20), ("B08", 0.833, 10), ("B8A", 0.865, 20),
            ("B11", 1.614, 20), ("B12", 2.202, 20)]
# band_id order of MTD_MSIL2A.xml (Spectral_Information bandId 0..12)
S2_BAND_IDS = ["B01", "B02", "B03", "B04", "B05", "B06", "B07", "B08", "B8A", "B09", "B10", "B11", "B12"]
ASTER_BANDS = [("B01", 0.556, 15), ("B02", 0.661, 15), ("B3N", 0.807, 15), ("B04", 1.656, 30),
               ("B05", 2.167, 30), ("B06", 2.209, 30), ("B07", 2.262, 30), ("B08", 2.336, 30),
               ("B09", 2.400, 30)]
# red and near-infrared band names, for NDVI
RED_NIR = {"landsat8": ("SR_B4", "SR_B5"), "landsat9": ("SR_B4", "SR_B5"),
           "sentinel2": ("B04", "B08"), "aster": ("B02", "B3N")}

# QA_PIXEL bits (Landsat C2): 0 fill, 1 dilated cloud, 2 cirrus, 3 cloud, 4 shadow, 5 snow, 6 clear, 7 water
QA_FILL, QA_DILATED, QA_CIRRUS, QA_CLOUD, QA_SHADOW, QA_SNOW, QA_CLEAR, QA_WATER = range(8)
# SCL classes (Sen2Cor)
SCL = {0: "NO_DATA", 1: "SATURATED_OR_DEFECTIVE", 2: "DARK_AREA_PIXELS", 3: "CLOUD_SHADOWS",
       4: "VEGETATION", 5: "NOT_VEGETATED", 6: "WATER", 7: "UNCLASSIFIED", 8: "CLOUD_MEDIUM_PROBABILITY",
       9: "CLOUD_HIGH_PROBABILITY", 10: "THIN_CIRRUS", 11: "SNOW"}

_LANDSAT_NAME = re.compile(r"^(L[COTEM]0[4-9])_(L2SP|L2SR)_(\d{6})_(\d{8})_(\d{8})_(\d{2})_(T1|T2|RT)")


@dataclass
class Band:
    """One spectral band file: ``rho = DN * scale + offset``; ``DN == nodata`` is fill."""

    name: str
    path: str
    wavelength_um: float | None
    scale: float
    offset: float
    nodata: float | None = 0.0
    index: int = 1  # band index inside the file (1-based)


@dataclass
class Product:
    """One scene: its bands, quality layers and provenance."""

    sensor: str  # landsat8 | landsat9 | sentinel2 | aster | generic
    source: str  # the file the user named (MTL, MTD, a band or a multiband GeoTIFF)
    bands: list[Band]
    qa: dict[str, str] = field(default_factory=dict)  # kind (qa_pixel, qa_radsat, scl) -> path
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def band_names(self) -> list[str]:
        return [b.name for b in self.bands]

    @property
    def wavelengths(self) -> list[float | None]:
        return [b.wavelength_um for b in self.bands]

    def red_nir(self) -> tuple[int, int] | None:
        """Indices of the red and NIR bands (for NDVI), when the sensor has them."""
        rn = RED_NIR.get(self.sensor)
        if rn and all(n in self.band_names for n in rn):
            return self.band_names.index(rn[0]), self.band_names.index(rn[1])
        return None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Product":
        return cls(sensor=d["sensor"], source=d["source"], bands=[Band(**b) for b in d["bands"]],
                   qa=dict(d.get("qa", {})), meta=dict(d.get("meta", {})))


# ------------------------------------------------------------------------ Landsat
def parse_mtl(path: str | Path) -> dict[str, Any]:
    """Parse a Landsat ``*_MTL.txt`` (ODL ``GROUP = ... END_GROUP``) into nested dicts."""
    root: dict[str, Any] = {}
    stack = [root]
    try:
        text = Path(path).read_text()
    except OSError as err:
        raise BadInput(str(path), f"cannot read MTL file ({err.strerror})") from None
    except UnicodeDecodeError as err:  # MTL files are ASCII ODL text
        raise BadInput(str(path), f"not a text MTL file (byte 0x{err.object[err.start]:02x} at offset "
                                  f"{err.start} is not UTF-8)") from None
    for line in text.splitlines():
        line = line.strip()
        if not line or line == "END" or "=" not in line:
            continue
        key, value = (s.strip() for s in line.split("=", 1))
        if key == "GROUP":
            node: dict[str, Any] = {}
            stack[-1][value] = node
            stack.append(node)
        elif key == "END_GROUP":
            if len(stack) > 1:
                stack.pop()
        else:
            stack[-1][key] = value.strip('"')
    return root


def _mtl_group(mtl: dict[str, Any], name: str) -> dict[str, Any]:
    """Find a group anywhere in the parsed MTL tree."""
    todo = [mtl]
    while todo:
        node = todo.pop()
        for k, v in node.items():
            if isinstance(v, dict):
                if k == name:
                    return v
                todo.append(v)
    return {}


def landsat_product(mtl_path: str | Path) -> Product:
    """The surface-reflectance bands SR_B1..SR_B7 and QA layers of a C2 L2 product."""
    mtl_path = Path(mtl_path)
    mtl = parse_mtl(mtl_path)
    contents = _mtl_group(mtl, "PRODUCT_CONTENTS")
    attrs = _mtl_group(mtl, "IMAGE_ATTRIBUTES")
    sr = _mtl_group(mtl, "LEVEL2_SURFACE_REFLECTANCE_PARAMETERS")
    if not sr:
        raise BadInput(f"{mtl_path}:LEVEL2_SURFACE_REFLECTANCE_PARAMETERS",
                       "group missing: not a Collection 2 Level-2 MTL")
    stem = mtl_path.name[: -len("_MTL.txt")] if mtl_path.name.endswith("_MTL.txt") else mtl_path.stem
    craft = attrs.get("SPACECRAFT_ID", "")
    sensor = "landsat9" if craft.endswith("9") or stem.startswith("LC09") else "landsat8"
    bands = []
    for n, (key, wl) in enumerate(LANDSAT_BANDS, start=1):
        fname = contents.get(f"FILE_NAME_BAND_{n}", f"{stem}_{key}.TIF")
        # finite numbers, and a non-zero gain: NaN or 0 turns the band into NaN or a constant
        mult, add = f"REFLECTANCE_MULT_BAND_{n}", f"REFLECTANCE_ADD_BAND_{n}"
        for name in (mult, add):
            if name not in sr:
                raise BadInput(f"{mtl_path}:{name}", "reflectance scaling key missing")
        scale = _number(sr[mult], float, f"{mtl_path}:{mult}")
        offset = _number(sr[add], float, f"{mtl_path}:{add}")
        if scale == 0:
            raise BadInput(f"{mtl_path}:{mult}", "is 0: every pixel of the band would have the same reflectance")
        bands.append(Band(key, str(mtl_path.parent / fname), wl, scale, offset, nodata=0.0))
    qa = {"qa_pixel": str(mtl_path.parent / contents.get("FILE_NAME_QUALITY_L1_PIXEL", f"{stem}_QA_PIXEL.TIF"))}
    radsat = contents.get("FILE_NAME_QUALITY_L1_RADIOMETRIC_SATURATION", f"{stem}_QA_RADSAT.TIF")
    if (mtl_path.parent / radsat).is_file():
        qa["qa_radsat"] = str(mtl_path.parent / radsat)
    m = _LANDSAT_NAME.match(stem)
    meta = {"product_id": stem, "spacecraft": craft, "wrs_path": attrs.get("WRS_PATH"),
            "wrs_row": attrs.get("WRS_ROW"), "date_acquired": attrs.get("DATE_ACQUIRED"),
            "collection": m.group(6) if m else None, "tier": m.group(7) if m else None}
    return Product(sensor, str(mtl_path), bands, qa, meta)


# --------------------------------------------------------------------- Sentinel-2
def _strip_ns(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def parse_mtd(path: str | Path) -> dict[str, Any]:
    """Baseline, quantification value, per-band offsets and band ids of ``MTD_MSIL2A.xml``."""
    path = Path(path)
    try:
        tree = ET.parse(path)
    except (OSError, ET.ParseError) as err:
        raise BadInput(str(path), f"cannot parse the metadata XML ({err})") from None
    out: dict[str, Any] = {"baseline": None, "quantification": None, "offsets": {}, "band_ids": {}}
    for el in tree.iter():
        tag = _strip_ns(el.tag)
        if tag == "PROCESSING_BASELINE" and el.text:
            out["baseline"] = el.text.strip()
        elif tag == "BOA_QUANTIFICATION_VALUE" and el.text:
            out["quantification"] = _number(el.text, float, f"{path}:BOA_QUANTIFICATION_VALUE")
        elif tag == "BOA_ADD_OFFSET" and el.text:
            bid = _number(el.get("band_id"), int, f"{path}:BOA_ADD_OFFSET", "band_id attribute")
            out["offsets"][bid] = _number(el.text, float, f"{path}:BOA_ADD_OFFSET[band_id={bid}]")
        elif tag == "Spectral_Information" and el.get("bandId") is not None:
            phys = el.get("physicalBand", "")
            name = "B8A" if phys == "B8A" else (f"B{int(phys[1:]):02d}" if phys[1:].isdigit() else phys)
            out["band_ids"][name] = _number(el.get("bandId"), int, f"{path}:Spectral_Information[{phys}]",
                                            "bandId attribute")
        elif tag == "PRODUCT_URI" and el.text:
            out["product_uri"] = el.text.strip()
    return out


def _number(text: str | None, kind: type, where: str, what: str = "value"):
    """``kind(text)`` (int or float, finite); BadInput naming the metadata key otherwise."""
    import math

    try:
        v = kind(text.strip()) if text is not None else None
    except ValueError:
        v = None
    if v is None or not math.isfinite(v):
        raise BadInput(where, f"{what} {text!r} is not a number" if text is not None else f"{what} missing")
    return v


def s2_radiometry(mtd: dict[str, Any], mtd_path: str) -> dict[str, tuple[float, float]]:
    """Band -> (scale, offset) with ``rho = DN * scale + offset`` from parsed MTD values.

    Raises
    ------
    BadInput
        When the quantification value is missing, or the baseline is 04.00 or
        later and a band's ``BOA_ADD_OFFSET`` is missing.
    """
    q = mtd.get("quantification")
    if q is None:
        raise BadInput(f"{mtd_path}:BOA_QUANTIFICATION_VALUE", "missing from the metadata")
    if q <= 0:
        raise BadInput(f"{mtd_path}:BOA_QUANTIFICATION_VALUE", f"must be positive, got {q:g}")
    base = mtd.get("baseline")
    try:
        bnum = float(base) if base else None
    except ValueError:
        raise BadInput(f"{mtd_path}:PROCESSING_BASELINE", f"not a baseline number: {base!r}") from None
    if bnum is None:
        raise BadInput(f"{mtd_path}:PROCESSING_BASELINE", "missing from the metadata")
    ids = {**{b: i for i, b in enumerate(S2_BAND_IDS)}, **mtd.get("band_ids", {})}
    out = {}
    for name, _, _ in S2_BANDS:
        bid = ids[name]
        if bid in mtd["offsets"]:
            off = mtd["offsets"][bid]
        elif bnum >= 4.0:
            raise BadInput(f"{mtd_path}:BOA_ADD_OFFSET[band_id={bid}]",
                           f"missing for {name}; processing baseline {base} (>= 04.00) needs offsets")
        else:
            off = 0.0  # before baseline 04.00 no offset was applied
        out[name] = (1.0 / q, off / q)
    return out


def sentinel2_product(mtd_path: str | Path) -> Product:
    """The ten 10/20 m bands and SCL of an L2A SAFE folder, from its ``MTD_MSIL2A.xml``."""
    mtd_path = Path(mtd_path)
    mtd = parse_mtd(mtd_path)
    rad = s2_radiometry(mtd, str(mtd_path))
    safe = mtd_path.parent
    granules = sorted((safe / "GRANULE").glob("*/IMG_DATA")) if (safe / "GRANULE").is_dir() else []
    img = granules[0] if granules else safe

    def find(band: str, res: int) -> Path | None:
        for r in (res, 20, 60):
            hits = sorted(img.glob(f"R{r}m/*_{band}_{r}m.jp2")) + sorted(img.glob(f"R{r}m/*_{band}_{r}m.tif"))
            if hits:
                return hits[0]
        return None

    bands = []
    for name, wl, res in S2_BANDS:
        p = find(name, res)
        if p is None:
            raise BadInput(str(img / f"R{res}m/*_{name}_{res}m.jp2"), "band file not found")
        scale, offset = rad[name]
        bands.append(Band(name, str(p), wl, scale, offset, nodata=0.0))
    scl = find("SCL", 20)
    if scl is None:
        raise BadInput(str(img / "R20m/*_SCL_20m.jp2"), "scene classification (SCL) file not found")
    meta = {"baseline": mtd["baseline"], "quantification": mtd["quantification"],
            "offsets": {str(k): v for k, v in mtd["offsets"].items()}, "product_uri": mtd.get("product_uri")}
    return Product("sentinel2", str(mtd_path), bands, {"scl": str(scl)}, meta)


# -------------------------------------------------------------------------- ASTER
def aster_product(band_path: str | Path, scale: float = 0.001) -> Product:
    """VNIR + SWIR reflectance GeoTIFFs ``<stem>_B01.tif .. <stem>_B09.tif`` (band 3: ``B3N``)."""
    band_path = Path(band_path)
    m = re.match(r"^(.*)_B(0[1-9]|3N)\.tif$", band_path.name, re.IGNORECASE)
    if not m:
        raise BadInput(str(band_path), "not an ASTER band file named <stem>_Bnn.tif")
    stem = m.group(1)
    bands = [Band(name, str(band_path.parent / f"{stem}_{name}.tif"), wl, scale, 0.0, nodata=0.0)
             for name, wl, _ in ASTER_BANDS]
    return Product("aster", str(band_path), bands, {}, {"stem": stem})


# ------------------------------------------------------------------------ generic
def generic_product(path: str | Path, scale: float = 1.0, wavelengths: list[float] | None = None) -> Product:
    """Every band of one multiband GeoTIFF (value = DN * scale; the file's nodata is fill)."""
    import rasterio

    path = Path(path)
    try:
        with rasterio.open(path) as src:
            count, nodata = src.count, src.nodata
            desc = list(src.descriptions)
    except rasterio.errors.RasterioIOError as err:
        raise BadInput(str(path), f"unreadable raster ({str(err).splitlines()[0][:120]})") from None
    wl = wavelengths or [None] * count
    bands = [Band(desc[i] or f"band{i + 1}", str(path), wl[i], scale, 0.0, nodata=nodata, index=i + 1)
             for i in range(count)]
    return Product("generic", str(path), bands, {}, {})


def open_product(path: str | Path, *, aster_scale: float = 0.001, generic_scale: float = 1.0) -> Product:
    """Detect the product a path names and list its bands.

    Parameters
    ----------
    path : str or Path
        A Landsat ``*_MTL.txt`` (or one of its band files, read as the MTL's
        product); a Sentinel-2 ``MTD_MSIL2A.xml`` (or its ``.SAFE`` folder); an
        ASTER band ``*_B01.tif``; a Landsat product folder; or any multiband GeoTIFF.
    """
    p = Path(path)
    if not p.exists():
        raise BadInput(str(p), "file not found")
    if p.is_dir():
        mtl = sorted(p.glob("*_MTL.txt"))
        if mtl:
            return landsat_product(mtl[0])
        if (p / "MTD_MSIL2A.xml").is_file():
            return sentinel2_product(p / "MTD_MSIL2A.xml")
        raise BadInput(str(p), "folder holds neither a Landsat *_MTL.txt nor an MTD_MSIL2A.xml")
    name = p.name
    if name.endswith("_MTL.txt"):
        return landsat_product(p)
    m = _LANDSAT_NAME.match(name)
    if m and name.lower().endswith((".tif", ".tiff")):
        # one band of a Landsat product: the product (scale factors, QA masks) is its MTL's
        mtl = p.parent / f"{m.group(0)}_MTL.txt"
        if mtl.is_file():
            return landsat_product(mtl)
        raise BadInput(str(p), f"a band of Landsat product {m.group(0)}, but {mtl.name} is not beside it: "
                               "pass the product folder or its _MTL.txt (the scale factors and QA masks live there)")
    if name.startswith("MTD_MSIL2A") and name.endswith(".xml"):
        return sentinel2_product(p)
    if re.match(r"^AST_.*_B(0[1-9]|3N)\.tif$", name, re.IGNORECASE):
        return aster_product(p, scale=aster_scale)
    if name.lower().endswith((".tif", ".tiff")):
        return generic_product(p, scale=generic_scale)
    raise BadInput(str(p), "not a Landsat MTL, Sentinel-2 MTD_MSIL2A.xml, ASTER band or GeoTIFF")
