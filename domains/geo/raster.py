"""Raster plumbing: the target grid, aligned windowed reads, windowed writes, COG.

Every pass over a scene iterates fixed windows of the target grid
(:func:`windows`), so memory is bounded by one window whatever the scene size.
Bands on another grid (CRS, resolution or origin) are read through a
``WarpedVRT`` onto the target grid: reflectance *bilinear* (*average* when
downsampling), categorical layers (QA, SCL, reference maps) *nearest*, with
the source and destination nodata passed so fill never smears into valid data.
"""

from __future__ import annotations

import math
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
from rasterio.crs import CRS
from rasterio.errors import CRSError
from rasterio.enums import Resampling
from rasterio.transform import Affine, array_bounds
from rasterio.vrt import WarpedVRT
from rasterio.warp import transform_bounds
from rasterio.windows import Window

from shared.errors import BadInput

LABEL_NODATA = 255
# largest re-gridded target (``ingest.resolution``): a full Sentinel-2 tile at 10 m is 1.2e8 px
MAX_GRID_PIXELS = 400_000_000
# GDAL block cache per process (MB): bounded, several workers may share a machine
GDAL_ENV = {"GDAL_CACHEMAX": 256, "GDAL_NUM_THREADS": 1}


@dataclass(frozen=True)
class Grid:
    """A target grid: CRS (WKT, or None for an ungeoreferenced raster), affine transform, shape."""

    crs: str | None
    transform: tuple[float, ...]  # Affine coefficients a, b, c, d, e, f
    width: int
    height: int

    @property
    def affine(self) -> Affine:
        return Affine(*self.transform[:6])

    @property
    def res(self) -> float:
        return abs(self.transform[0])

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        return array_bounds(self.height, self.width, self.affine)  # (west, south, east, north)

    @property
    def n_pixels(self) -> int:
        return self.width * self.height

    def to_dict(self) -> dict[str, Any]:
        return {"crs": self.crs, "transform": list(self.transform), "width": self.width, "height": self.height}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Grid":
        return cls(d["crs"], tuple(d["transform"]), int(d["width"]), int(d["height"]))

    @classmethod
    def of(cls, src) -> "Grid":
        crs = src.crs.to_wkt() if src.crs else None
        return cls(crs, tuple(src.transform)[:6], src.width, src.height)

    def same_as(self, other: "Grid", tol: float = 1e-6) -> bool:
        if (self.width, self.height) != (other.width, other.height):
            return False
        if (self.crs is None) != (other.crs is None):
            return False
        if self.crs and CRS.from_wkt(self.crs) != CRS.from_wkt(other.crs):
            return False
        return all(abs(a - b) <= tol * max(1.0, abs(a)) for a, b in zip(self.transform, other.transform))


def open_header(path: str) -> Grid:
    """The grid of a raster file from its header; BadInput when missing or unreadable."""
    p = Path(path)
    if not p.is_file():
        raise BadInput(str(p), "band file not found")
    try:
        with rasterio.Env(**GDAL_ENV), rasterio.open(p) as src:
            return Grid.of(src)
    except rasterio.errors.RasterioIOError as err:
        raise BadInput(str(p), f"unreadable raster ({str(err).splitlines()[0][:120]})") from None


def parse_crs(text: str, where: str = "--set ingest.crs") -> CRS:
    """A CRS from anything ``CRS.from_user_input`` reads; BadInput naming ``where`` otherwise.

    Parsed inside ``rasterio.Env`` so GDAL's own "ERROR 1: PROJ ..." goes to
    rasterio's logger instead of stderr (a bad value is one line).
    """
    try:
        with rasterio.Env(**GDAL_ENV):
            return CRS.from_user_input(text)
    except (CRSError, ValueError) as err:
        first = str(err).splitlines()[0][:120] if str(err) else type(err).__name__
        raise BadInput(where, f"not a CRS GDAL/PROJ knows: {text!r} ({first})") from None


def pixel_size_in(band: Grid, crs: str | None) -> tuple[float, float]:
    """``(x, y)`` size of one pixel of ``band`` in the units of ``crs`` (WKT; None: the band's own).

    A 30 m band seen from an EPSG:4326 target is about 3e-4 degrees wide, not
    30: tolerances and the downsampling test compare sizes in the target's
    units (from the band's bounds transformed into ``crs``).
    """
    if band.crs is None or crs is None or CRS.from_wkt(band.crs) == CRS.from_wkt(crs):
        return abs(band.transform[0]), abs(band.transform[4])
    w, s, e, n = transform_bounds(CRS.from_wkt(band.crs), CRS.from_wkt(crs), *band.bounds, densify_pts=21)
    return (e - w) / band.width, (n - s) / band.height


def target_grid(grids: list[Grid], resolution: float | None = None, crs: str | None = None,
                max_pixels: int = MAX_GRID_PIXELS) -> Grid:
    """The finest of ``grids`` (smallest pixel), optionally re-gridded.

    Parameters
    ----------
    grids : list of Grid
        The band grids of one product.
    resolution : float, optional
        Pixel size of the target in its CRS units; the finest band's when None.
    crs : str, optional
        Target CRS (anything ``CRS.from_user_input`` reads); the finest band's when None.
    max_pixels : int
        Cap on a re-gridded target (``resolution`` given): every pass writes a
        float32 stack of this many pixels per band.

    Raises
    ------
    BadInput
        For an unknown CRS, bands without a CRS, or a re-gridded target over ``max_pixels``.
    """
    ref = min(grids, key=lambda g: g.res)
    if crs is None and resolution is None:
        return ref
    if ref.crs is None:
        key = "--set ingest.crs" if crs else "--set ingest.resolution"
        raise BadInput(key, "the bands have no CRS; cannot re-grid them")
    dst_crs = parse_crs(crs) if crs else CRS.from_wkt(ref.crs)
    w, s, e, n = transform_bounds(CRS.from_wkt(ref.crs), dst_crs, *ref.bounds, densify_pts=21)
    res = resolution or ((e - w) / ref.width)
    # whole pixels inside the bands' extent: a grid rounded up past it could not be aligned
    width, height = max(1, math.floor((e - w) / res + 1e-6)), max(1, math.floor((n - s) / res + 1e-6))
    if resolution is not None and width * height > max_pixels:
        raise BadInput("--set ingest.resolution",
                       f"{resolution:g} gives a {width} x {height} target grid ({width * height:.3g} px), over the "
                       f"{max_pixels:.3g}-pixel cap; use a coarser resolution")
    return Grid(dst_crs.to_wkt(), tuple(Affine(res, 0, w, 0, -res, n))[:6], width, height)


def check_alignable(path: str, band: Grid, target: Grid, what: str | None = None) -> None:
    """BadInput unless ``band`` covers the target extent (within one band pixel, in the target's units).

    ``what`` names the file in the message (default: ``path``).
    """
    if target.same_as(band):
        return
    where = what or str(path)
    if (band.crs is None) != (target.crs is None):
        raise BadInput(where, "has no CRS while the target grid has one (or vice versa); cannot be aligned")
    if band.crs is None:
        bb = band.bounds
    else:
        bb = transform_bounds(CRS.from_wkt(band.crs), CRS.from_wkt(target.crs), *band.bounds, densify_pts=21)
    tb = target.bounds
    same_crs = band.crs is None or CRS.from_wkt(band.crs) == CRS.from_wkt(target.crs)
    tol = max(pixel_size_in(band, target.crs)) * (1.0 if same_crs else 2.0)
    ok = bb[0] <= tb[0] + tol and bb[1] <= tb[1] + tol and bb[2] >= tb[2] - tol and bb[3] >= tb[3] - tol
    if not ok:
        iw = max(0.0, min(bb[2], tb[2]) - max(bb[0], tb[0]))
        ih = max(0.0, min(bb[3], tb[3]) - max(bb[1], tb[1]))
        share = iw * ih / max((tb[2] - tb[0]) * (tb[3] - tb[1]), 1e-30)
        raise BadInput(where, f"extent covers {100 * share:.0f}% of the target grid "
                              f"({tb[0]:.6g}, {tb[1]:.6g}, {tb[2]:.6g}, {tb[3]:.6g}); cannot be aligned")


def resampling_for(band: Grid, target: Grid, resampling: Resampling) -> Resampling:
    """``resampling``, except *average* for reflectance (bilinear) read onto a coarser target.

    Pixel sizes are compared in the target's units (:func:`pixel_size_in`).
    """
    if resampling == Resampling.bilinear and pixel_size_in(band, target.crs)[0] < target.res * 0.999:
        return Resampling.average  # downsampling reflectance: average, not point samples
    return resampling


def windows(grid: Grid, block: int) -> list[Window]:
    """Row-major ``block x block`` windows covering the grid (edge windows clipped)."""
    out = []
    for r in range(0, grid.height, block):
        for c in range(0, grid.width, block):
            out.append(Window(c, r, min(block, grid.width - c), min(block, grid.height - r)))
    return out


class AlignedReader:
    """Read windows of several rasters on one target grid (a context manager).

    Sources on the target grid are read directly; others through a
    ``WarpedVRT`` with the given resampling and nodata.

    Parameters
    ----------
    target : Grid
    layers : dict
        ``name -> (path, band index, resampling, nodata)``; ``resampling`` is a
        :class:`rasterio.enums.Resampling`, ``nodata`` the source's fill value
        (also written where the warp has no source).
    """

    def __init__(self, target: Grid, layers: dict[str, tuple[str, int, Resampling, float | None]]):
        self.target = target
        self.layers = layers
        self._stack = ExitStack()
        self._ds: dict[str, Any] = {}

    def __enter__(self) -> "AlignedReader":
        self._stack.enter_context(rasterio.Env(**GDAL_ENV))
        opened: dict[tuple[str, str, float | None], Any] = {}
        for name, (path, _, resampling, nodata) in self.layers.items():
            key = (path, resampling.name, nodata)
            if key not in opened:
                try:
                    src = self._stack.enter_context(rasterio.open(path))
                except rasterio.errors.RasterioIOError as err:
                    raise BadInput(str(path), f"unreadable raster ({str(err).splitlines()[0][:120]})") from None
                if not Grid.of(src).same_as(self.target):
                    check_alignable(path, Grid.of(src), self.target)
                    res = resampling_for(Grid.of(src), self.target, resampling)
                    kw = {"src_nodata": nodata, "nodata": nodata} if nodata is not None else {}
                    t = self.target
                    src = self._stack.enter_context(WarpedVRT(
                        src, crs=CRS.from_wkt(t.crs) if t.crs else src.crs, transform=t.affine,
                        width=t.width, height=t.height, resampling=res, **kw))
                opened[key] = src
            self._ds[name] = opened[key]
        return self

    def __exit__(self, *exc) -> None:
        self._stack.close()

    def read(self, name: str, window: Window) -> np.ndarray:
        """One layer's window ``(rows, cols)`` in the file's dtype."""
        path, index, _, _ = self.layers[name]
        return self._ds[name].read(index, window=window)


# -------------------------------------------------------------------------- writing
def create_raster(path: str | Path, grid: Grid, count: int, dtype: str, nodata: float | None,
                  block: int = 512, compress: str | None = None, **tags: Any):
    """Open a tiled GeoTIFF for windowed writing (the caller closes it)."""
    block = max(16, min(512, 16 * (block // 16)))
    prof = dict(driver="GTiff", width=grid.width, height=grid.height, count=count, dtype=dtype,
                crs=CRS.from_wkt(grid.crs) if grid.crs else None, transform=grid.affine, nodata=nodata,
                tiled=True, blockxsize=block, blockysize=block, BIGTIFF="IF_SAFER")
    if compress:
        prof.update(compress=compress, predictor=2 if dtype.startswith(("uint", "int")) else 3)
    dst = rasterio.open(path, "w", **prof)
    if tags:
        dst.update_tags(**{k: str(v) for k, v in tags.items()})
    return dst


def write_cog(src_path: str | Path, dst_path: str | Path,
              colormap: dict[int, tuple[int, ...]] | None = None) -> Path:
    """Copy a label GeoTIFF to a Cloud-Optimized GeoTIFF with a colour table and mode overviews.

    The COG driver builds the overviews (halving down to one block) with
    ``OVERVIEW_RESAMPLING=MODE``, so every overview pixel is a real unit code.
    """
    import rasterio.shutil

    src_path, dst_path = Path(src_path), Path(dst_path)
    with rasterio.Env(**GDAL_ENV):
        if colormap:
            with rasterio.open(src_path, "r+") as src:
                src.write_colormap(1, colormap)
        with rasterio.open(src_path) as src:
            block = 512 if min(src.width, src.height) >= 2048 else 128
            rasterio.shutil.copy(src, dst_path, driver="COG", compress="DEFLATE", blocksize=block,
                                 overview_resampling="MODE")
    return dst_path


def palette(n: int) -> dict[int, tuple[int, int, int, int]]:
    """A qualitative colour table for codes ``0..n-1`` (tab20) plus nodata (transparent)."""
    import matplotlib

    cmap = matplotlib.colormaps["tab20" if n > 10 else "tab10"]
    cm = {i: tuple(int(255 * c) for c in cmap(i % cmap.N)[:3]) + (255,) for i in range(n)}
    cm[LABEL_NODATA] = (0, 0, 0, 0)
    return cm


def read_downsampled(path: str | Path, max_side: int = 800, band: int = 1) -> np.ndarray:
    """A whole-raster preview no larger than ``max_side`` (nearest; for figures only)."""
    with rasterio.Env(**GDAL_ENV), rasterio.open(path) as src:
        f = max(1, math.ceil(max(src.width, src.height) / max_side))
        shape = (max(1, src.height // f), max(1, src.width // f))
        return src.read(band, out_shape=shape, resampling=Resampling.nearest)
