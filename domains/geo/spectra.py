"""Indicative reflectance spectra of the synthetic scene's units and covers.

Illustrative shapes (not USGS splib07 values): a continuum given at Landsat
OLI band centres (brief, section 12), linearly interpolated in wavelength,
times Gaussian absorption features: Fe3+ near 0.87 um (ferricrete), AlOH at
2.20 um (clay in shale), CO3 at 2.33 um (carbonate). A band's value is the
spectrum averaged over its bandwidth.
"""

from __future__ import annotations

import numpy as np

OLI_CENTRES = np.array([0.443, 0.482, 0.561, 0.655, 0.865, 1.609, 2.201])

# name -> (continuum at OLI centres, extra (wavelength, value) anchors, [(centre, width, depth)])
UNITS: list[tuple[str, list[float], list[tuple[float, float]], list[tuple[float, float, float]]]] = [
    ("quartz sandstone", [.18, .20, .25, .30, .35, .42, .40], [], []),
    ("shale (illite/kaolinite)", [.08, .09, .12, .15, .19, .26, .24], [], [(2.20, 0.035, 0.22)]),
    ("limestone (carbonate)", [.24, .27, .31, .33, .35, .40, .38], [(2.33, .37)], [(2.33, 0.045, 0.30)]),
    ("ferricrete / laterite", [.05, .06, .10, .20, .27, .30, .27], [], [(0.90, 0.09, 0.18)]),
    ("granite", [.12, .13, .17, .21, .26, .32, .27], [], [(2.20, 0.03, 0.06)]),
    ("alluvium / red sand", [.10, .11, .16, .24, .30, .38, .33], [], [(2.20, 0.03, 0.05)]),
]
GREEN_VEG = ([.03, .04, .08, .05, .35, .18, .08], [(0.70, .07), (0.74, .28), (1.40, .15)], [])
DRY_VEG = ([.05, .06, .09, .10, .25, .28, .18], [(0.70, .13), (0.74, .20)], [(2.10, 0.05, 0.08)])
# a thick cloud: bright and flat in the VNIR, darker in the SWIR
CLOUD = ([.55, .56, .57, .57, .57, .45, .35], [], [])

# band -> full width (um) used for band averaging; default 0.03
_WIDTH = {"SR_B1": .016, "SR_B2": .06, "SR_B3": .057, "SR_B4": .037, "SR_B5": .028, "SR_B6": .085,
          "SR_B7": .187, "B02": .066, "B03": .036, "B04": .031, "B05": .016, "B06": .015, "B07": .02,
          "B08": .106, "B8A": .021, "B11": .091, "B12": .175, "B01": .08, "B3N": .08, "B04_aster": .1}


def spectrum(defn, wavelengths: np.ndarray) -> np.ndarray:
    """Evaluate one spectrum definition at ``wavelengths`` (um)."""
    cont, anchors, features = defn
    wl = np.concatenate([OLI_CENTRES, [a for a, _ in anchors]])
    val = np.concatenate([cont, [v for _, v in anchors]])
    o = np.argsort(wl)
    r = np.interp(wavelengths, wl[o], val[o])
    for c, w, d in features:
        r = r * (1.0 - d * np.exp(-0.5 * ((wavelengths - c) / w) ** 2))
    return r


def band_values(defn, bands: list[tuple[str, float]]) -> np.ndarray:
    """Band-averaged reflectance ``(n_bands,)`` for ``[(name, centre um), ...]``."""
    out = []
    for name, c in bands:
        w = _WIDTH.get(name, 0.03)
        out.append(spectrum(defn, np.linspace(c - w / 2, c + w / 2, 7)).mean())
    return np.asarray(out)


def unit_table(bands: list[tuple[str, float]], n_units: int) -> np.ndarray:
    """``(n_units, n_bands)`` reflectance of the first ``n_units`` units."""
    return np.stack([band_values(u[1:], bands) for u in UNITS[:n_units]])
