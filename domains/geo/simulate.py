"""The synthetic geological scene, written as real sensor products.

The scene is procedural: every field is an analytic function of map
coordinates (sums of random plane waves), so any window of any grid can be
computed on its own and a full Landsat-size scene is generated window by
window with bounded memory.

Geology (after Mutawintji: north-south trending folded ridges of sandstone and
conglomerate interspersed with shale): strata of sandstone, shale, limestone
and ferricrete cycling across a folded strike, a granite intrusion (ellipse
with a wavy contact) and meandering alluvial channels. Pixel model::

    rho = [(1 - f_veg) * unit * illum + f_green * green + f_dry * dry]   (sub-pixel mean)
    rho = (1 - alpha) * rho + alpha * cloud;  rho *= 0.35 in cloud shadow;  + N(0, sigma)

with ``illum`` the hillshade (cos incidence / sin elevation) of a procedural
DEM, green vegetation (river red gums) along the channel cores, sparse dry
vegetation (mulga) elsewhere, clouds as a thresholded smooth field with their
shadow displaced, and a tilted footprint outside which the product is fill.

Products (real layouts): Landsat 8/9 C2 L2SP per-band GeoTIFFs
``LC08_L2SP_PPPRRR_YYYYMMDD_yyyymmdd_02_T1_SR_B1.TIF ...`` with ``QA_PIXEL``,
``QA_RADSAT`` and an ``_MTL.txt``; a Sentinel-2 L2A ``.SAFE`` folder with
``GRANULE/L2A_*/IMG_DATA/R10m|R20m/T54HVH_<datetime>_<band>_<res>m.jp2``, SCL at
20 m and ``MTD_MSIL2A.xml`` holding the baseline, quantification value and
``BOA_ADD_OFFSET`` per band; ASTER VNIR (15 m) + SWIR (30 m) reflectance
GeoTIFFs; and the reference unit map GeoTIFF (uint8, nodata 255).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
from rasterio.windows import Window

from domains.geo import spectra
from domains.geo.raster import GDAL_ENV, LABEL_NODATA, Grid, create_raster, windows
from domains.geo.sensors import ASTER_BANDS, LANDSAT_BANDS, S2_BAND_IDS, S2_BANDS
from shared.progress import progress

CRS = "EPSG:32754"  # WGS 84 / UTM 54S (Wilcannia, NSW)
ORIGIN = (618705.0, 6569725.0)  # upper-left corner, m
UNIT_NAMES = [u[0] for u in spectra.UNITS]
L8_MULT, L8_ADD = 2.75e-05, -0.2
S2_QUANT = 10000.0


@dataclass(frozen=True)
class SceneParams:
    """Parameters of the synthetic scene.

    size30 : side of the scene on the 30 m grid, pixels (extent = 30 * size30 m).
    n_units : units in the map (2..6: strata first, then granite, then alluvium).
    cloud_cover : target cloudy fraction; noise_sigma : reflectance noise sd.
    footprint : fill outside a tilted footprint (like a Landsat scene).
    """

    size30: int = 160
    n_units: int = 6
    cloud_cover: float = 0.06
    noise_sigma: float = 0.006
    seed: int = 0
    footprint: bool = True
    vegetation: bool = True
    illumination: float = 0.35  # relief scale (0: flat)


class _Waves:
    """A smooth random field ~N(0, 1): a sum of plane waves of a given length scale."""

    def __init__(self, rng: np.random.Generator, scale: float, n: int = 12):
        k = 2 * np.pi / (scale * rng.uniform(0.6, 1.5, n))
        th = rng.uniform(0, 2 * np.pi, n)
        self.kx, self.ky = k * np.cos(th), k * np.sin(th)
        self.phase = rng.uniform(0, 2 * np.pi, n)
        self.amp = np.full(n, math.sqrt(2.0 / n))

    def __call__(self, u: np.ndarray, v: np.ndarray) -> np.ndarray:
        out = np.zeros(np.broadcast(u, v).shape)
        for kx, ky, ph, a in zip(self.kx, self.ky, self.phase, self.amp):
            out += a * np.cos(kx * u + ky * v + ph)
        return out

    def grad(self, u: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        gu = np.zeros(np.broadcast(u, v).shape)
        gv = np.zeros_like(gu)
        for kx, ky, ph, a in zip(self.kx, self.ky, self.phase, self.amp):
            s = -a * np.sin(kx * u + ky * v + ph)
            gu += kx * s
            gv += ky * s
        return gu, gv


def _z_quantile(p: float) -> float:
    """Upper-tail quantile of N(0, 1): P(Z > z) = p."""
    from scipy.stats import norm

    return float(norm.isf(p))


class Scene:
    """The procedural scene; all methods take map coordinates in metres."""

    def __init__(self, p: SceneParams):
        self.p = p
        self.L = 30.0 * p.size30
        rng = np.random.default_rng(p.seed)
        self.fold = _Waves(rng, 0.5, 4)
        self.wobble = _Waves(rng, 0.06, 8)
        self.dem1, self.dem2 = _Waves(rng, 0.15), _Waves(rng, 0.05)
        self.cloud = _Waves(rng, 0.08, 16)
        self.plain = _Waves(rng, 0.3, 6)
        self.dry = _Waves(rng, 0.03, 10)
        self.channels = [(rng.uniform(0.15, 0.35), rng.uniform(0, 2 * np.pi)),
                         (rng.uniform(0.65, 0.85), rng.uniform(0, 2 * np.pi))]
        self.cloud_t = _z_quantile(max(p.cloud_cover, 1e-6)) if p.cloud_cover > 0 else np.inf
        self.strike = np.deg2rad(rng.uniform(8, 20))  # strike a little east of north
        # strata sequence (unit, thickness as a fraction of the extent)
        strata = [u for u in (0, 1, 2, 3) if u < p.n_units]
        thick = {0: 0.075, 1: 0.055, 2: 0.065, 3: 0.05}
        order = [0, 1, 2, 1, 3, 0, 2, 3, 1]
        seq = [u for u in order if u in strata] or strata
        self.seq_units = np.array(seq)
        self.seq_edges = np.cumsum([thick[u] for u in seq])

    def _rel(self, x, y):
        return (x - ORIGIN[0]) / self.L, (ORIGIN[1] - y) / self.L  # east, south in [0, 1]

    def units(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Unit code (uint8) at each point."""
        u, v = self._rel(x, y)
        c, s = math.cos(self.strike), math.sin(self.strike)
        across = c * u - s * v
        along = s * u + c * v
        across = across + 0.05 * self.fold(along, 0 * along) + 0.008 * self.wobble(u, v)
        period = self.seq_edges[-1]
        idx = np.searchsorted(self.seq_edges, np.mod(across, period), side="right")
        out = self.seq_units[np.minimum(idx, len(self.seq_units) - 1)].astype(np.uint8)
        if self.p.n_units >= 5:  # granite intrusion with a wavy contact
            du, dv = u - 0.62, v - 0.45
            r = (du * 0.94 + dv * 0.34) ** 2 / 0.16 ** 2 + (-du * 0.34 + dv * 0.94) ** 2 / 0.11 ** 2
            out[r + 0.15 * self.wobble(v, u) < 1.0] = 4
        if self.p.n_units >= 6:
            out[self.alluvium(u, v)] = 5
        return out

    def _channel_dist(self, u, v):
        d = np.full(np.broadcast(u, v).shape, np.inf)
        for c0, ph in self.channels:
            centre = c0 + 0.05 * np.sin(2 * np.pi * v / 0.3 + ph) + 0.02 * np.sin(2 * np.pi * v / 0.11 + 2 * ph)
            d = np.minimum(d, np.abs(u - centre))
        return d

    def alluvium(self, u, v) -> np.ndarray:
        plain = (self.plain(u, v) + 3.0 * (u + (1 - v)) - 4.9) > 0  # an alluvial plain in one corner
        return (self._channel_dist(u, v) < 0.022) | plain

    def cover(self, x, y) -> tuple[np.ndarray, np.ndarray]:
        """Fractions of green (channel cores) and dry (mulga) vegetation."""
        u, v = self._rel(x, y)
        if not self.p.vegetation:
            z = np.zeros(np.broadcast(u, v).shape)
            return z, z
        green = np.where(self._channel_dist(u, v) < 0.006, 0.6, 0.0)
        dry = 0.12 * np.clip(self.dry(u, v), 0, None)
        return green, np.minimum(dry, 0.3)

    def illum(self, x, y) -> np.ndarray:
        """Hillshade of the procedural DEM (sun azimuth 45 deg, elevation 50 deg), 1 on flat ground."""
        if self.p.illumination <= 0:
            return np.ones(np.broadcast(x, y).shape)
        u, v = self._rel(x, y)
        h = 0.004 * self.p.illumination * self.L  # relief, m
        g1u, g1v = self.dem1.grad(u, v)
        g2u, g2v = self.dem2.grad(u, v)
        dz_de = h * (g1u + 0.4 * g2u) / self.L
        dz_dn = -h * (g1v + 0.4 * g2v) / self.L  # v grows southward
        az, el = np.deg2rad(45.0), np.deg2rad(50.0)
        sun = np.array([math.sin(az) * math.cos(el), math.cos(az) * math.cos(el), math.sin(el)])
        norm = np.sqrt(dz_de ** 2 + dz_dn ** 2 + 1.0)
        cosi = (-dz_de * sun[0] - dz_dn * sun[1] + sun[2]) / norm
        return np.clip(cosi, 0.05, None) / sun[2]

    def clouds(self, x, y) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(opacity alpha in [0, 1], dilated-cloud flag, shadow flag)."""
        u, v = self._rel(x, y)
        if not np.isfinite(self.cloud_t):
            z = np.zeros(np.broadcast(u, v).shape)
            return z, z > 0, z > 0
        f = self.cloud(u, v)
        alpha = np.clip((f - self.cloud_t) / 0.35, 0, 1)
        dilated = (f > self.cloud_t - 0.25) & (alpha == 0)
        fs = self.cloud(u - 0.035, v + 0.025)  # shadow cast toward the south-west
        shadow = (fs > self.cloud_t + 0.05) & (alpha == 0)
        return alpha, dilated, shadow

    def inside(self, x, y) -> np.ndarray:
        """The tilted footprint (True inside)."""
        u, v = self._rel(x, y)
        if not self.p.footprint:
            return np.ones(np.broadcast(u, v).shape, bool)
        a = np.deg2rad(12.0)
        du, dv = u - 0.5, v - 0.5
        return (np.abs(math.cos(a) * du + math.sin(a) * dv) < 0.47) & \
               (np.abs(-math.sin(a) * du + math.cos(a) * dv) < 0.49)


# ------------------------------------------------------------------- pixel model
def _centres(grid: Grid, win: Window, sub: int) -> tuple[np.ndarray, np.ndarray]:
    """Map coordinates ``(sub*sub, h, w)`` of sub-pixel sample points of a window."""
    t = grid.affine
    rows = win.row_off + np.arange(win.height)
    cols = win.col_off + np.arange(win.width)
    offs = (np.arange(sub) + 0.5) / sub
    xs, ys = [], []
    for oy in offs:
        for ox in offs:
            xs.append(t.c + t.a * (cols[None, :] + ox) + 0 * rows[:, None])
            ys.append(t.f + t.e * (rows[:, None] + oy) + 0 * cols[None, :])
    return np.stack(xs), np.stack(ys)


def simulate_window(scene: Scene, grid: Grid, win: Window, bands: list[tuple[str, float]],
                    sub: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Reflectance ``(B, h, w)`` and per-pixel state of one window of one sensor grid.

    The ground signal is averaged over ``sub x sub`` sample points per pixel
    (linear mixing at unit boundaries); clouds, shadow, footprint and noise are
    taken at the pixel centre.
    """
    n_units = scene.p.n_units
    table = spectra.unit_table(bands, n_units)  # (U, B)
    green = spectra.band_values(spectra.GREEN_VEG, bands)
    dry = spectra.band_values(spectra.DRY_VEG, bands)
    cloud = spectra.band_values(spectra.CLOUD, bands)
    xs, ys = _centres(grid, win, sub)
    rho = np.zeros((len(bands), win.height, win.width))
    for x, y in zip(xs, ys):
        unit = scene.units(x, y)
        fg, fd = scene.cover(x, y)
        il = scene.illum(x, y)
        ground = table[unit].transpose(2, 0, 1)  # (B, h, w)
        rho += ((1 - fg - fd) * il)[None] * ground + fg[None] * green[:, None, None] + fd[None] * dry[:, None, None]
    rho /= len(xs)
    xc, yc = _centres(grid, win, 1)
    xc, yc = xc[0], yc[0]
    alpha, dilated, shadow = scene.clouds(xc, yc)
    rho = (1 - alpha)[None] * rho + alpha[None] * cloud[:, None, None]
    rho = np.where(shadow[None], 0.35 * rho, rho)
    rho = rho + rng.normal(0.0, scene.p.noise_sigma, rho.shape)
    fg, _ = scene.cover(xc, yc)
    return {"rho": rho.astype(np.float32), "alpha": alpha, "dilated": dilated, "shadow": shadow,
            "inside": scene.inside(xc, yc), "green": fg}


def _rng(seed: int, tag: int, win: Window) -> np.random.Generator:
    return np.random.default_rng([seed, tag, int(win.row_off), int(win.col_off)])


def _grid(res: float, size_m: float) -> Grid:
    n = max(1, int(round(size_m / res)))
    return Grid(rasterio.crs.CRS.from_string(CRS).to_wkt(),
                (res, 0.0, ORIGIN[0], 0.0, -res, ORIGIN[1]), n, n)


# finest band of each sensor's synthetic product, m
SENSOR_RES = {"landsat8": 30.0, "landsat9": 30.0, "sentinel2": 10.0, "aster": 15.0}


def sensor_grid(sensor: str, size30: int) -> Grid:
    """The finest band grid of ``sensor``'s synthetic product for a ``size30`` x ``size30`` (30 m) scene.

    What :func:`generate` will write, known before writing it (the header check uses it).
    """
    return _grid(SENSOR_RES[sensor], 30.0 * size30)


# ------------------------------------------------------------------------ Landsat
def qa_pixel(alpha, dilated, shadow, inside, water=None) -> np.ndarray:
    """QA_PIXEL words: fill (bit 0), dilated cloud (1), cloud (3), shadow (4), clear (6), confidences."""
    qa = np.zeros(alpha.shape, np.uint16)
    cloud = alpha > 0.2
    qa |= (dilated & ~cloud).astype(np.uint16) << 1
    qa |= cloud.astype(np.uint16) << 3
    qa |= (shadow & ~cloud).astype(np.uint16) << 4
    clear = ~(cloud | dilated | shadow)
    qa |= clear.astype(np.uint16) << 6
    conf = np.where(cloud, 3, np.where(alpha > 0, 2, 1)).astype(np.uint16)  # bits 8-9
    qa |= conf << 8
    qa |= (np.where(shadow, 3, 1).astype(np.uint16)) << 10
    qa |= np.uint16(1) << 12  # snow/ice confidence low
    qa |= np.uint16(1) << 14  # cirrus confidence low
    return np.where(inside, qa, np.uint16(1))  # fill: bit 0 only


def _mtl_text(stem: str, grid: Grid, craft: str, path: int, row: int, date: str, proc: str) -> str:
    lines = ["GROUP = LANDSAT_METADATA_FILE", "  GROUP = PRODUCT_CONTENTS",
             '    ORIGIN = "Image courtesy of the U.S. Geological Survey (lowdim synthetic)"',
             '    DIGITAL_OBJECT_IDENTIFIER = "https://doi.org/10.5066/P9OGBGM6"',
             f'    LANDSAT_PRODUCT_ID = "{stem}"', '    PROCESSING_LEVEL = "L2SP"',
             "    COLLECTION_NUMBER = 02", '    COLLECTION_CATEGORY = "T1"']
    for n in range(1, 8):
        lines.append(f'    FILE_NAME_BAND_{n} = "{stem}_SR_B{n}.TIF"')
    lines += [f'    FILE_NAME_QUALITY_L1_PIXEL = "{stem}_QA_PIXEL.TIF"',
              f'    FILE_NAME_QUALITY_L1_RADIOMETRIC_SATURATION = "{stem}_QA_RADSAT.TIF"',
              f'    FILE_NAME_METADATA_ODL = "{stem}_MTL.txt"',
              "  END_GROUP = PRODUCT_CONTENTS", "  GROUP = IMAGE_ATTRIBUTES",
              f'    SPACECRAFT_ID = "{craft}"', '    SENSOR_ID = "OLI_TIRS"',
              f"    WRS_PATH = {path}", f"    WRS_ROW = {row}", f"    DATE_ACQUIRED = {date}",
              "    CLOUD_COVER = -1", "  END_GROUP = IMAGE_ATTRIBUTES",
              "  GROUP = PROJECTION_ATTRIBUTES", '    MAP_PROJECTION = "UTM"', '    DATUM = "WGS84"',
              "    UTM_ZONE = 54", f"    GRID_CELL_SIZE_REFLECTIVE = {grid.res:.2f}",
              f"    REFLECTIVE_LINES = {grid.height}", f"    REFLECTIVE_SAMPLES = {grid.width}",
              f"    CORNER_UL_PROJECTION_X_PRODUCT = {grid.transform[2]:.3f}",
              f"    CORNER_UL_PROJECTION_Y_PRODUCT = {grid.transform[5]:.3f}",
              "  END_GROUP = PROJECTION_ATTRIBUTES", "  GROUP = LEVEL2_PROCESSING_RECORD",
              f"    DATE_PRODUCT_GENERATED = {proc}T00:00:00Z",
              "  END_GROUP = LEVEL2_PROCESSING_RECORD",
              "  GROUP = LEVEL2_SURFACE_REFLECTANCE_PARAMETERS"]
    for n in range(1, 8):
        lines += [f"    REFLECTANCE_MAXIMUM_BAND_{n} = 1.602213", f"    REFLECTANCE_MINIMUM_BAND_{n} = -0.199972",
                  f"    QUANTIZE_CAL_MAX_BAND_{n} = 65535", f"    QUANTIZE_CAL_MIN_BAND_{n} = 1"]
    for n in range(1, 8):
        lines += [f"    REFLECTANCE_MULT_BAND_{n} = {L8_MULT:.4e}", f"    REFLECTANCE_ADD_BAND_{n} = {L8_ADD:.6f}"]
    lines += ["  END_GROUP = LEVEL2_SURFACE_REFLECTANCE_PARAMETERS",
              "  GROUP = LEVEL2_SURFACE_TEMPERATURE_PARAMETERS",
              "    TEMPERATURE_MULT_BAND_ST_B10 = 0.00341802", "    TEMPERATURE_ADD_BAND_ST_B10 = 149.000000",
              "  END_GROUP = LEVEL2_SURFACE_TEMPERATURE_PARAMETERS",
              "END_GROUP = LANDSAT_METADATA_FILE", "END", ""]
    return "\n".join(lines)


def write_landsat(out_dir: str | Path, scene: Scene, satellite: int = 8, sub: int = 3,
                  block: int = 512, compress: str | None = "DEFLATE") -> Path:
    """Write a Landsat 8/9 C2 L2SP product (30 m) window by window; return the MTL path."""
    out_dir = Path(out_dir)
    stem = f"LC0{satellite}_L2SP_097082_20230115_20230125_02_T1"
    d = out_dir / stem
    d.mkdir(parents=True, exist_ok=True)
    grid = _grid(30.0, scene.L)
    bands = LANDSAT_BANDS
    with rasterio.Env(**GDAL_ENV):
        dsts = [create_raster(d / f"{stem}_{k}.TIF", grid, 1, "uint16", 0, block, compress) for k, _ in bands]
        qa = create_raster(d / f"{stem}_QA_PIXEL.TIF", grid, 1, "uint16", 1, block, compress)
        rs = create_raster(d / f"{stem}_QA_RADSAT.TIF", grid, 1, "uint16", None, block, compress)
        try:
            for win in progress(windows(grid, block), desc="landsat synthetic", unit="window"):
                s = simulate_window(scene, grid, win, bands, sub, _rng(scene.p.seed, satellite, win))
                dn = np.clip(np.rint((s["rho"] - L8_ADD) / L8_MULT), 1, 65535).astype(np.uint16)
                dn[:, ~s["inside"]] = 0
                for i, dst in enumerate(dsts):
                    dst.write(dn[i], 1, window=win)
                qa.write(qa_pixel(s["alpha"], s["dilated"], s["shadow"], s["inside"]), 1, window=win)
                rs.write(np.zeros((win.height, win.width), np.uint16), 1, window=win)
        finally:
            for dst in (*dsts, qa, rs):
                dst.close()
    craft = f"LANDSAT_{satellite}"
    mtl = d / f"{stem}_MTL.txt"
    mtl.write_text(_mtl_text(stem, grid, craft, 97, 82, "2023-01-15", "2023-01-25"))
    return mtl


# --------------------------------------------------------------------- Sentinel-2
def scl_classes(alpha, dilated, shadow, inside, ndvi) -> np.ndarray:
    """Sen2Cor-like SCL: 9/8 cloud high/medium, 3 shadow, 4 vegetation, 5 bare, 0 no data."""
    scl = np.full(alpha.shape, 5, np.uint8)
    scl[ndvi > 0.4] = 4
    scl[shadow] = 3
    scl[alpha > 0.15] = 8
    scl[alpha > 0.5] = 9
    scl[~inside] = 0
    return scl


def mtd_xml(baseline: str, offsets: dict[int, float] | None, quant: float = S2_QUANT,
            product_uri: str = "") -> str:
    """An MTD_MSIL2A.xml with the keys the reader needs (PSD 14.9 layout, abridged)."""
    spec = "\n".join(
        f'          <Spectral_Information bandId="{i}" physicalBand="{b if b == "B8A" else "B" + str(int(b[1:]))}">'
        f"<RESOLUTION>{10 if b in ('B02', 'B03', 'B04', 'B08') else (60 if b in ('B01', 'B09', 'B10') else 20)}"
        "</RESOLUTION></Spectral_Information>" for i, b in enumerate(S2_BAND_IDS))
    off = ""
    if offsets:
        off = ("        <BOA_ADD_OFFSET_VALUES_LIST>\n" + "\n".join(
            f'          <BOA_ADD_OFFSET band_id="{i}">{int(v)}</BOA_ADD_OFFSET>' for i, v in sorted(offsets.items()))
               + "\n        </BOA_ADD_OFFSET_VALUES_LIST>\n")
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<n1:Level-2A_User_Product xmlns:n1="https://psd-14.sentinel2.eo.esa.int/PSD/User_Product_Level-2A.xsd" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
  <n1:General_Info>
    <Product_Info>
      <PRODUCT_START_TIME>2023-01-15T00:27:11.024Z</PRODUCT_START_TIME>
      <PRODUCT_URI>{product_uri}</PRODUCT_URI>
      <PROCESSING_LEVEL>Level-2A</PROCESSING_LEVEL>
      <PRODUCT_TYPE>S2MSI2A</PRODUCT_TYPE>
      <PROCESSING_BASELINE>{baseline}</PROCESSING_BASELINE>
      <Datatake datatakeIdentifier="GS2A_20230115T002711_039000_N05.09">
        <SPACECRAFT_NAME>Sentinel-2A</SPACECRAFT_NAME>
      </Datatake>
    </Product_Info>
    <Product_Image_Characteristics>
      <Special_Values><SPECIAL_VALUE_TEXT>NODATA</SPECIAL_VALUE_TEXT><SPECIAL_VALUE_INDEX>0</SPECIAL_VALUE_INDEX></Special_Values>
      <Special_Values><SPECIAL_VALUE_TEXT>SATURATED</SPECIAL_VALUE_TEXT><SPECIAL_VALUE_INDEX>65535</SPECIAL_VALUE_INDEX></Special_Values>
      <QUANTIFICATION_VALUES_LIST>
        <BOA_QUANTIFICATION_VALUE unit="none">{int(quant)}</BOA_QUANTIFICATION_VALUE>
        <AOT_QUANTIFICATION_VALUE unit="none">1000.0</AOT_QUANTIFICATION_VALUE>
        <WVP_QUANTIFICATION_VALUE unit="cm">1000.0</WVP_QUANTIFICATION_VALUE>
      </QUANTIFICATION_VALUES_LIST>
{off}      <Spectral_Information_List>
{spec}
      </Spectral_Information_List>
    </Product_Image_Characteristics>
  </n1:General_Info>
</n1:Level-2A_User_Product>
"""


def write_sentinel2(out_dir: str | Path, scene: Scene, baseline: str = "05.09", block: int = 512) -> Path:
    """Write a Sentinel-2 L2A SAFE-like folder (10/20 m JP2 bands, SCL, MTD); return the MTD path."""
    import rasterio.shutil

    tile, dt = "T54HVH", "20230115T002711"
    name = f"S2A_MSIL2A_{dt}_N{baseline.replace('.', '')}_R016_{tile}_20230115T021532.SAFE"
    safe = Path(out_dir) / name
    img = safe / "GRANULE" / f"L2A_{tile}_A039000_{dt}" / "IMG_DATA"
    new_baseline = float(baseline) >= 4.0
    offset = -1000.0 if new_baseline else 0.0
    for r in (10, 20):
        (img / f"R{r}m").mkdir(parents=True, exist_ok=True)
    groups = {res: [(b, wl) for b, wl, r in S2_BANDS if r == res] for res in (10, 20)}
    with rasterio.Env(**GDAL_ENV):
        for res, bands in groups.items():
            grid = _grid(float(res), scene.L)
            tmp = {b: img / f"R{res}m" / f"_{b}.tmp.tif" for b, _ in bands}
            if res == 20:
                tmp["SCL"] = img / "R20m" / "_SCL.tmp.tif"
            dsts = {b: create_raster(p, grid, 1, "uint16" if b != "SCL" else "uint8", 0, block) for b, p in tmp.items()}
            try:
                for win in progress(windows(grid, block), desc=f"sentinel-2 synthetic {res} m", unit="window"):
                    s = simulate_window(scene, grid, win, bands, 2 if res == 20 else 1,
                                        _rng(scene.p.seed, 100 + res, win))
                    dn = np.clip(np.rint(s["rho"] * S2_QUANT - offset), 1, 65534).astype(np.uint16)
                    dn[:, ~s["inside"]] = 0
                    for i, (b, _) in enumerate(bands):
                        dsts[b].write(dn[i], 1, window=win)
                    if res == 20:
                        rho = s["rho"]
                        names = [b for b, _ in bands]
                        # NDVI from the 20 m red-edge/NIR proxy (B8A vs B05) -- SCL is a 20 m product
                        nir, red = rho[names.index("B8A")], rho[names.index("B05")]
                        ndvi = (nir - red) / np.maximum(nir + red, 1e-6)
                        dsts["SCL"].write(scl_classes(s["alpha"], s["dilated"], s["shadow"], s["inside"], ndvi),
                                          1, window=win)
            finally:
                for d in dsts.values():
                    d.close()
            for b, p in tmp.items():
                dst = img / f"R{res}m" / f"{tile}_{dt}_{b}_{res}m.jp2"
                with rasterio.Env(GDAL_PAM_ENABLED="NO"), rasterio.open(p) as src:  # no .aux.xml sidecars
                    rasterio.shutil.copy(src, dst, driver="JP2OpenJPEG", QUALITY=100, REVERSIBLE="YES")
                p.unlink()
    offsets = {i: offset for i in range(len(S2_BAND_IDS))} if new_baseline else None
    mtd = safe / "MTD_MSIL2A.xml"
    mtd.write_text(mtd_xml(baseline, offsets, product_uri=name))
    return mtd


# -------------------------------------------------------------------------- ASTER
def write_aster(out_dir: str | Path, scene: Scene, block: int = 512, scale: float = 0.001) -> Path:
    """Write ASTER AST_07XT-like reflectance GeoTIFFs (VNIR 15 m, SWIR 30 m); return the B01 path."""
    d = Path(out_dir) / "AST_07XT_00301152023002711"
    d.mkdir(parents=True, exist_ok=True)
    stem = "AST_07XT_00301152023002711"
    with rasterio.Env(**GDAL_ENV):
        for res in (15, 30):
            bands = [(b, wl) for b, wl, r in ASTER_BANDS if r == res]
            grid = _grid(float(res), scene.L)
            dsts = {b: create_raster(d / f"{stem}_{b}.tif", grid, 1, "uint16", 0, block, "DEFLATE")
                    for b, _ in bands}
            try:
                for win in windows(grid, block):
                    s = simulate_window(scene, grid, win, bands, 1 if res == 15 else 2,
                                        _rng(scene.p.seed, 200 + res, win))
                    dn = np.clip(np.rint(s["rho"] / scale), 1, 65535).astype(np.uint16)
                    dn[:, ~s["inside"]] = 0
                    for i, (b, _) in enumerate(bands):
                        dsts[b].write(dn[i], 1, window=win)
            finally:
                for x in dsts.values():
                    x.close()
    return d / f"{stem}_B01.tif"


# ---------------------------------------------------------------------- reference
def write_reference(path: str | Path, scene: Scene, res: float, block: int = 512) -> Path:
    """The reference unit map (uint8 codes, nodata 255 outside the footprint) at ``res`` metres."""
    grid = _grid(res, scene.L)
    with rasterio.Env(**GDAL_ENV):
        dst = create_raster(path, grid, 1, "uint8", LABEL_NODATA, block, "DEFLATE",
                            units=";".join(UNIT_NAMES[: scene.p.n_units]))
        try:
            for win in windows(grid, block):
                x, y = _centres(grid, win, 1)
                u = scene.units(x[0], y[0])
                u[~scene.inside(x[0], y[0])] = LABEL_NODATA
                dst.write(u, 1, window=win)
        finally:
            dst.close()
    return Path(path)


def generate(out_dir: str | Path, sensors: list[str] | tuple[str, ...] = ("landsat8", "sentinel2"),
             params: SceneParams | None = None, baseline: str = "05.09", block: int = 512,
             landsat_subsample: int = 3) -> dict[str, Any]:
    """Write the products of ``sensors`` and the reference map under ``out_dir``.

    Returns
    -------
    dict
        ``{"products": {sensor: path the reader takes}, "reference": path,
        "units": [names], "params": {...}}``.
    """
    p = params or SceneParams()
    scene = Scene(p)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    products: dict[str, str] = {}
    for s in sensors:
        if s in ("landsat8", "landsat9"):
            products[s] = str(write_landsat(out_dir, scene, 8 if s == "landsat8" else 9, landsat_subsample, block))
        elif s == "sentinel2":
            products[s] = str(write_sentinel2(out_dir, scene, baseline, block))
        elif s == "aster":
            products[s] = str(write_aster(out_dir, scene, block))
        else:
            raise ValueError(f"unknown sensor {s}")
    res = 10.0 if "sentinel2" in sensors else (15.0 if "aster" in sensors else 30.0)
    ref = write_reference(out_dir / "reference_units.tif", scene, res, block)
    return {"products": products, "reference": str(ref), "units": UNIT_NAMES[: p.n_units],
            "params": p.__dict__.copy()}


def generate_default(out_dir: str | Path, **params: Any) -> dict[str, Any]:
    """The embedded default (manifest ``generator``): Landsat 8 + Sentinel-2 + reference map."""
    sensors = params.pop("sensors", ("landsat8", "sentinel2"))
    return generate(out_dir, sensors, SceneParams(**params))
