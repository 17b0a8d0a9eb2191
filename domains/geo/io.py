"""Reading a product onto its target grid: reflectance, masks, header checks.

:func:`read_tile` is the per-window unit of ingest: aligned reads of every
band and quality layer, DN -> reflectance with the product's own factors, and
the mask flags. :func:`ingest_tile` adds the tile's share of the training
sample and its band statistics; :func:`combine_ingest` merges tiles, so a
runner can map windows over workers.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import rasterio
from rasterio.enums import Resampling
from rasterio.windows import Window

from domains.geo.raster import AlignedReader, Grid, check_alignable, open_header, target_grid, windows
from domains.geo.sensors import QA_CIRRUS, QA_CLOUD, QA_DILATED, QA_FILL, QA_SHADOW, QA_SNOW, Product

VALID, CLEAR = 1, 2  # flag bits: not fill; clear of cloud, shadow (and snow)


def product_grid(product: Product, resolution: float | None = None, crs: str | None = None) -> Grid:
    """The target grid of a product from its band headers, checking every file.

    Raises
    ------
    BadInput
        For a missing or unreadable band or QA file, or a band whose extent
        does not cover the target grid.
    """
    grids = {b.path: open_header(b.path) for b in product.bands}
    qa = {p: open_header(p) for p in product.qa.values()}
    target = target_grid(list(grids.values()), resolution, crs)
    for path, g in {**grids, **qa}.items():
        check_alignable(path, g, target)
    return target


def layers(product: Product) -> dict[str, tuple[str, int, Resampling, float | None]]:
    """AlignedReader layers: bands bilinear with their fill, QA/SCL nearest."""
    out = {f"band:{b.name}": (b.path, b.index, Resampling.bilinear, b.nodata) for b in product.bands}
    for kind, path in product.qa.items():
        out[f"qa:{kind}"] = (path, 1, Resampling.nearest, 1 if kind == "qa_pixel" else 0 if kind == "scl" else None)
    return out


@dataclass(frozen=True)
class MaskRules:
    """Which quality classes count as clear."""

    mask_snow: bool = True
    scl_keep: tuple[int, ...] = (4, 5, 6, 7)


def read_tile(reader: AlignedReader, product: Product, window: Window,
              rules: MaskRules = MaskRules()) -> tuple[np.ndarray, np.ndarray]:
    """Reflectance and flags of one window of the target grid.

    Returns
    -------
    rho : np.ndarray
        ``(B, h, w)`` float32 surface reflectance, NaN where any band is fill.
    flags : np.ndarray
        ``(h, w)`` uint8, bit 0 (:data:`VALID`) not fill (not the band's nodata,
        finite), bit 1 (:data:`CLEAR`)
        valid and clear by the product's QA (QA_PIXEL bits 0-5 / QA_RADSAT,
        or SCL in ``scl_keep``).
    """
    rho = np.empty((len(product.bands), int(window.height), int(window.width)), np.float32)
    valid = np.ones(rho.shape[1:], bool)
    for i, b in enumerate(product.bands):
        dn = reader.read(f"band:{b.name}", window)
        if dn.dtype.kind == "f":
            valid &= np.isfinite(dn)  # NaN is fill whatever the header says (and NaN != NaN)
        if b.nodata is not None and not np.isnan(b.nodata):
            valid &= dn != b.nodata
        rho[i] = dn.astype(np.float32) * np.float32(b.scale) + np.float32(b.offset)
    clear = valid.copy()
    if "qa_pixel" in product.qa:
        qa = reader.read("qa:qa_pixel", window)
        bad = (1 << QA_FILL) | (1 << QA_DILATED) | (1 << QA_CIRRUS) | (1 << QA_CLOUD) | (1 << QA_SHADOW)
        if rules.mask_snow:
            bad |= 1 << QA_SNOW
        valid &= (qa & (1 << QA_FILL)) == 0
        clear &= valid & ((qa & bad) == 0)
        if "qa_radsat" in product.qa:
            clear &= reader.read("qa:qa_radsat", window) == 0
    if "scl" in product.qa:
        scl = reader.read("qa:scl", window)
        valid &= scl != 0
        keep = [c for c in rules.scl_keep if not (rules.mask_snow and c == 11)]
        clear &= valid & np.isin(scl, keep)
    rho[:, ~valid] = np.nan
    flags = valid.astype(np.uint8) * VALID | (clear & valid).astype(np.uint8) * CLEAR
    return rho, flags


@dataclass
class IngestPart:
    """One tile's contribution: sampled pixels and band statistics."""

    sample: np.ndarray  # (n, B) float32 reflectance
    sample_flags: np.ndarray  # (n,) uint8
    sample_rc: np.ndarray  # (n, 2) int64 row, col on the target grid
    vmin: np.ndarray  # (B,) over valid pixels (+inf when none)
    vmax: np.ndarray
    n_valid: int = 0
    n_clear: int = 0
    extra: dict = field(default_factory=dict)


def ingest_tile(rho: np.ndarray, flags: np.ndarray, window: Window, rate: float,
                rng: np.random.Generator) -> IngestPart:
    """Bernoulli(``rate``) sample of the tile's valid pixels plus its per-band min/max."""
    valid = (flags & VALID) > 0
    B = rho.shape[0]
    pick = valid & (rng.random(valid.shape) < rate)
    r, c = np.nonzero(pick)
    sample = rho[:, r, c].T.copy()
    if valid.any():
        v = rho[:, valid]
        vmin, vmax = v.min(1), v.max(1)
    else:
        vmin, vmax = np.full(B, np.inf, np.float32), np.full(B, -np.inf, np.float32)
    rc = np.stack([r + int(window.row_off), c + int(window.col_off)], 1).astype(np.int64)
    return IngestPart(sample, flags[r, c], rc, vmin, vmax, int(valid.sum()), int(((flags & CLEAR) > 0).sum()))


def combine_ingest(parts: list[IngestPart], n_max: int, rng: np.random.Generator) -> IngestPart:
    """Merge tile parts; keep a uniform subset of at most ``n_max`` sampled pixels."""
    B = parts[0].vmin.shape[0]
    sample = np.concatenate([p.sample for p in parts]) if parts else np.zeros((0, B), np.float32)
    flags = np.concatenate([p.sample_flags for p in parts])
    rc = np.concatenate([p.sample_rc for p in parts])
    if sample.shape[0] > n_max:
        keep = np.sort(rng.choice(sample.shape[0], n_max, replace=False))
        sample, flags, rc = sample[keep], flags[keep], rc[keep]
    return IngestPart(sample, flags, rc, np.min([p.vmin for p in parts], 0), np.max([p.vmax for p in parts], 0),
                      sum(p.n_valid for p in parts), sum(p.n_clear for p in parts))


def count_clear(product: Product, grid: Grid, rules: MaskRules = MaskRules(), block: int = 1024,
                max_pixels: int = 120_000_000) -> int | None:
    """Clear pixels from the quality layers alone (a block scan; None when too large to scan).

    Used by the header check: reads only the QA/SCL layer (or the first band when there is none).
    """
    if grid.n_pixels > max_pixels:
        return None
    # the QA layer alone knows fill and clear (QA_PIXEL bit 0, SCL 0); otherwise the first band's fill
    sub = Product(product.sensor, product.source, [] if product.qa else product.bands[:1], product.qa, product.meta)
    n = 0
    with AlignedReader(grid, layers(sub)) as rd:
        for w in windows(grid, block):
            _, flags = read_tile(rd, sub, w, rules)
            n += int(((flags & CLEAR) > 0).sum())
    return n


def write_generic(path, cube: np.ndarray, nodata: float | None = None, names: list[str] | None = None):
    """Write an ``(H, W, B)`` cube as a tiled multiband float32 GeoTIFF (generic reader input)."""
    from rasterio.transform import Affine

    H, W, B = cube.shape
    with rasterio.open(path, "w", driver="GTiff", width=W, height=H, count=B, dtype="float32",
                       transform=Affine(1, 0, 0, 0, -1, H), nodata=nodata, tiled=True,
                       blockxsize=256, blockysize=256) as dst:
        dst.write(np.moveaxis(cube.astype(np.float32), 2, 0))
        if names:
            for i, n in enumerate(names, start=1):
                dst.set_band_description(i, n)
    return path
