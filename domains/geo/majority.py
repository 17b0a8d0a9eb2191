"""The majority (mode) filter of a label map, vectorised and exact.

The paper smooths its cluster map with a 7 x 7 mode filter through
``scipy.ndimage.generic_filter`` + ``scipy.stats.mode`` (a Python call per
pixel: about 6 h for a Landsat scene). Here the per-class counts in every
window are box sums of the one-hot planes, computed exactly with integral
images (integer cumulative sums), and the mode is the first class of maximal
count -- the smallest label on ties, as ``scipy.stats.mode`` returns. Edges
are mirrored like ``generic_filter``'s default ``mode="reflect"`` (NumPy's
``"symmetric"``). Nodata pixels are not counted and stay nodata.

:func:`majority_tile` filters one pre-padded tile (a window read with a halo
of ``size // 2``), so a scene is filtered window by window with results equal
to filtering it whole.
"""

from __future__ import annotations

import numpy as np


def _box_counts(onehot: np.ndarray, size: int) -> np.ndarray:
    """Sums over ``size x size`` windows of each plane of ``(k, H + size - 1, W + size - 1)``."""
    k, hp, wp = onehot.shape
    ii = np.zeros((k, hp + 1, wp + 1), np.int32)
    np.cumsum(onehot, axis=1, out=ii[:, 1:, 1:])
    np.cumsum(ii[:, 1:, 1:], axis=2, out=ii[:, 1:, 1:])
    return ii[:, size:, size:] - ii[:, :-size, size:] - ii[:, size:, :-size] + ii[:, :-size, :-size]


CLASS_CHUNK = 8  # classes counted at once: peak memory ~ 3 int32 planes per class of a chunk, any k


def majority_tile(padded: np.ndarray, size: int, n_classes: int, nodata: int = 255,
                  chunk: int = CLASS_CHUNK) -> np.ndarray:
    """Mode filter of a tile padded by ``size // 2`` on every side.

    Parameters
    ----------
    padded : np.ndarray
        ``(h + 2r, w + 2r)`` integer labels in ``[0, n_classes)`` or ``nodata``.
    size : int
        Odd window side.
    chunk : int
        Classes whose window counts are held at once. The counts of a chunk
        are reduced to its first maximum, and a later chunk wins only with a
        strictly larger count, so the result is the same for any chunk (the
        smallest label on ties) while memory stays bounded by the chunk, not
        by ``n_classes`` (k = 255 at a 1024 window would be ~3 GiB at once).
        Only the classes present in the tile are counted.

    Returns
    -------
    np.ndarray
        ``(h, w)`` uint8 labels.
    """
    if size <= 1:
        return padded.astype(np.uint8)
    r = size // 2
    h, w = padded.shape[0] - 2 * r, padded.shape[1] - 2 * r
    best = np.zeros((h, w), np.int32)  # largest count so far (0: no labelled pixel in the window)
    out = np.zeros((h, w), np.uint8)
    present = np.unique(padded)  # sorted; a class absent from the tile counts 0 everywhere
    present = present[(present >= 0) & (present < n_classes) & (present != nodata)]
    step = max(1, int(chunk))
    for c0 in range(0, len(present), step):
        classes = present[c0:c0 + step]
        counts = _box_counts((padded[None] == classes[:, None, None]).astype(np.int32), size)  # (c, h, w)
        cmax = counts.max(0)
        win = cmax > best  # strictly: an earlier (smaller) label keeps a tie
        out[win] = classes[counts.argmax(0)[win]].astype(np.uint8)  # first maximum inside the chunk
        best[win] = cmax[win]
    centre = padded[r:padded.shape[0] - r, r:padded.shape[1] - r]
    out[(centre == nodata) | (best == 0)] = nodata
    return out


def majority_filter(labels: np.ndarray, size: int = 7, n_classes: int | None = None,
                    nodata: int = 255) -> np.ndarray:
    """Mode filter of a whole label map (edges mirrored)."""
    if size % 2 == 0:
        raise ValueError("size must be odd")
    lab = np.asarray(labels)
    n_classes = n_classes or int(lab[lab != nodata].max(initial=-1)) + 1
    r = size // 2
    return majority_tile(np.pad(lab, r, mode="symmetric"), size, n_classes, nodata)


def read_padded(src, window, r: int, band: int = 1) -> np.ndarray:
    """A window of an open raster with an ``r``-pixel halo; mirrored at the raster's edges."""
    from rasterio.windows import Window

    r0, c0 = int(window.row_off), int(window.col_off)
    h, w = int(window.height), int(window.width)
    top, left = max(0, r0 - r), max(0, c0 - r)
    bottom, right = min(src.height, r0 + h + r), min(src.width, c0 + w + r)
    a = src.read(band, window=Window(left, top, right - left, bottom - top))
    pads = ((r - (r0 - top), r - (bottom - r0 - h)), (r - (c0 - left), r - (right - c0 - w)))
    return np.pad(a, pads, mode="symmetric") if any(p for pp in pads for p in pp) else a
