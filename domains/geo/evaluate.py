"""Scoring unit maps against a reference map, window by window.

:func:`score_tile` turns one window (reference codes, each method's labels,
the reflectance) into contingency matrices and per-cluster spectral sums;
:func:`combine_scores` adds tiles up. The reference is read onto the scene's
grid with *nearest* resampling and its nodata excluded; all methods are
scored on the same pixels (valid in the reference and labelled by every
method).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from domains.geo.raster import GDAL_ENV, LABEL_NODATA
from shared.cluster import contingency, per_class_f1, scores


@dataclass
class ScorePart:
    """Sums of one or more tiles."""

    C: dict[str, np.ndarray]  # method -> (n_units, k) counts
    spec_sum: dict[str, np.ndarray]  # method -> (k, B) reflectance sums over its clusters
    spec_n: dict[str, np.ndarray]  # method -> (k,)
    unit_sum: np.ndarray  # (n_units, B)
    unit_n: np.ndarray  # (n_units,)
    n_common: int = 0
    n_reference: int = 0
    labelled: dict[str, int] = field(default_factory=dict)


def score_tile(ref: np.ndarray | None, labels: dict[str, np.ndarray], rho: np.ndarray, n_units: int,
               ks: dict[str, int], ref_nodata: int | None) -> ScorePart:
    """Contingency and spectral sums of one window.

    Parameters
    ----------
    ref : np.ndarray or None
        ``(h, w)`` reference codes (None: no reference, spectra only).
    labels : dict
        method -> ``(h, w)`` uint8 labels (255 nodata).
    rho : np.ndarray
        ``(B, h, w)`` reflectance (NaN fill).
    """
    B = rho.shape[0]
    finite = np.isfinite(rho).all(0)
    common = finite.copy()
    for lab in labels.values():
        common &= lab != LABEL_NODATA
    if ref is not None:
        rv = (ref != ref_nodata) if ref_nodata is not None else np.ones(ref.shape, bool)
        rv &= (ref >= 0) & (ref < n_units)  # a negative code is no unit (and would wrap in np.add.at)
        n_ref = int((rv & finite).sum())
        common &= rv
    else:
        n_ref = 0
    part = ScorePart({}, {}, {}, np.zeros((n_units, B)), np.zeros(n_units), int(common.sum()), n_ref)
    px = rho[:, common].T.astype(np.float64)  # (n, B)
    for name, lab in labels.items():
        k = ks[name]
        lc = lab[common].astype(np.int64)
        part.labelled[name] = int(((lab != LABEL_NODATA) & finite).sum())
        if ref is not None:
            part.C[name] = contingency(ref[common], lc, n_units, k)
        s = np.zeros((k, B))
        np.add.at(s, lc, px)
        part.spec_sum[name], part.spec_n[name] = s, np.bincount(lc, minlength=k).astype(float)
    if ref is not None:
        rc = ref[common].astype(np.int64)
        np.add.at(part.unit_sum, rc, px)
        part.unit_n = np.bincount(rc, minlength=n_units).astype(float)
    return part


def combine_scores(parts: list[ScorePart]) -> ScorePart:
    """Sum tile parts."""
    first = parts[0]
    out = ScorePart({k: np.zeros_like(v) for k, v in first.C.items()},
                    {k: np.zeros_like(v) for k, v in first.spec_sum.items()},
                    {k: np.zeros_like(v) for k, v in first.spec_n.items()},
                    np.zeros_like(first.unit_sum), np.zeros_like(first.unit_n),
                    labelled={k: 0 for k in first.labelled})
    for p in parts:
        for k in out.C:
            out.C[k] += p.C[k]
        for k in out.spec_sum:
            out.spec_sum[k] += p.spec_sum[k]
            out.spec_n[k] += p.spec_n[k]
            out.labelled[k] += p.labelled[k]
        out.unit_sum += p.unit_sum
        out.unit_n += p.unit_n
        out.n_common += p.n_common
        out.n_reference += p.n_reference
    return out


def unit_scores(C: np.ndarray) -> dict:
    """The external scores of a contingency ``C`` ``(n_units, k)`` over the units present.

    A reference code with no pixel on the scored grid (a gap in the code
    list, a unit outside the scene) is no unit of this map: it neither enters
    ``mean_f1`` nor gets an F1 (None in ``f1_per_unit``). Accuracy, ARI and
    NMI do not see empty rows anyway.
    """
    C = np.asarray(C)
    present = C.sum(1) > 0
    out = scores(C[present]) if present.any() else scores(C)
    f1 = per_class_f1(C[present]) if present.any() else np.zeros(0)
    full: list[float | None] = [None] * C.shape[0]
    for i, v in zip(np.flatnonzero(present), f1):
        full[i] = float(v)
    out["f1_per_unit"] = full
    return out


def reference_max(path: str, nodata: int | None) -> int:
    """The largest code of a reference map other than ``nodata`` (0 when it holds none), block by block."""
    import rasterio

    best = 0
    with rasterio.Env(**GDAL_ENV), rasterio.open(path) as r:
        for _, w in r.block_windows(1):
            a = r.read(1, window=w)
            if nodata is not None:
                a = a[a != nodata]
            if a.size:
                best = max(best, int(a.max()))
    return best
