"""The model step's units: k-means on codes, per-window labelling, majority filter.

:func:`label_tile` labels one window for every method (a function over one
tile; the caller writes it), :func:`filter_tile` smooths one window of a label
map read with a halo; both keep memory to one window.
"""

from __future__ import annotations

import numpy as np
import torch
from rasterio.windows import Window

from domains.geo.majority import majority_tile, read_padded
from domains.geo.raster import LABEL_NODATA
from domains.geo.reduce import FittedMethod
from shared.cluster import KMeans, elbow_k


def fit_sample(codes: torch.Tensor, fit_pixels: int, seed: int) -> torch.Tensor:
    """The rows of ``codes`` ``(n, c)`` that k-means is fitted on: ``fit_pixels`` drawn with ``seed``."""
    g = torch.Generator().manual_seed(int(seed))
    return codes[torch.randperm(codes.shape[0], generator=g)[:fit_pixels].to(codes.device)]


def choose_k(codes: torch.Tensor, k: int | str, k_range: list[int], n_init: int, max_iter: int,
             seed: int, sample: int = 5000) -> tuple[int, dict]:
    """``k`` itself, or the elbow of inertia / the best silhouette over ``k_range`` on a sample."""
    if isinstance(k, int):
        return k, {}
    g = torch.Generator().manual_seed(seed)
    sub = codes[torch.randperm(codes.shape[0], generator=g)[:sample].to(codes.device)]
    ks = list(range(int(k_range[0]), int(k_range[1]) + 1))
    inertias, sil = [], []
    for kk in ks:
        km = KMeans(kk, n_init=max(1, n_init // 2), max_iter=max_iter, seed=seed).fit(sub)
        inertias.append(km.inertia_)
        if k == "silhouette":
            from sklearn.metrics import silhouette_score

            sil.append(float(silhouette_score(sub.cpu().numpy(), km.labels_.cpu().numpy())))
    chosen = elbow_k(ks, inertias) if k == "elbow" else ks[int(np.argmax(sil))]
    return chosen, {"k_grid": ks, "inertia": inertias, "silhouette": sil}


def label_tile(rho: np.ndarray, flags: np.ndarray, methods: dict[str, FittedMethod],
               kms: dict[str, KMeans], device) -> dict[str, np.ndarray]:
    """Cluster labels ``(h, w)`` uint8 per method of one window (255 where a method keeps no pixel)."""
    B, h, w = rho.shape
    X = torch.from_numpy(rho.reshape(B, -1).T.copy()).to(device)
    F = torch.from_numpy(flags.reshape(-1)).to(device)
    out = {}
    for name, m in methods.items():
        lab = torch.full((h * w,), LABEL_NODATA, dtype=torch.uint8, device=device)
        keep = m.keep(X, F)
        if bool(keep.any()):
            lab[keep] = kms[name].predict(m.codes(X[keep])).to(torch.uint8)
        out[name] = lab.reshape(h, w).cpu().numpy()
    return out


def filter_tile(src, window: Window, size: int, n_classes: int) -> np.ndarray:
    """The majority-filtered ``(h, w)`` window of an open label raster."""
    if size <= 1:
        return src.read(1, window=window)
    return majority_tile(read_padded(src, window, size // 2), size, n_classes, LABEL_NODATA)
