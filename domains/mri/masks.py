"""Seeded undersampling masks as functions of the image shape.

Every family returns a boolean ``(H, W)`` tensor whose number of samples is
exactly ``round(H * W / acceleration)`` (``round(W / acceleration)`` columns
for the 1-D families), so the effective acceleration matches the nominal one
up to rounding. fastMRI's own ``EquiSpacedMaskFunc`` and NO-MRI's duplicated
Gaussian draws miss it by up to 10-20 %; here the counts are exact, which
makes "4x" mean the same thing for every family.

Families (NO-MRI's ``fastmri/subsample.py`` set, re-implemented):

``equispaced``   1-D columns: a centre band plus evenly spaced outer columns
                 (fastMRI's ``equispaced_fraction`` spacing) with a random offset.
``random``       1-D columns: a centre band plus uniformly random outer columns.
``gaussian_2d``  2-D: a centre box plus points drawn without replacement with a
                 Gaussian density (std 0.22 of the side, NO-MRI's 70 px at 320).
``poisson_2d``   2-D: variable-density Poisson-disc (dart throwing with a radius
                 growing linearly with ``|k|``, the radius scale bisected to the
                 target count), plus the centre box.
``radial``       2-D: golden-angle spokes through the centre, gridded to the
                 nearest sample, the last spoke trimmed to the target count.

Centre fractions follow NO-MRI/fastMRI: {2: 0.16, 4: 0.08, 6: 0.06, 8: 0.04,
16: 0.02, 32: 0.01}; other accelerations use ``0.32 / acceleration``. For the
2-D families the fully sampled centre box has side ``round(cf * min(H, W))``
(at least 3), which doubles as the autocalibration region of the coil maps.
"""

from __future__ import annotations

import functools
import math

import numpy as np
import torch

from domains.mri.config import FAMILIES
from shared.errors import BadInput

ONE_D = ("equispaced", "random")
CENTER_FRACTIONS = {2: 0.16, 4: 0.08, 6: 0.06, 8: 0.04, 16: 0.02, 32: 0.01}
GOLDEN_ANGLE = math.pi * (3 - math.sqrt(5))  # ~111.25 deg in [0, 2 pi), used modulo pi


def center_fraction(acceleration: float) -> float:
    """The reference centre fraction of an acceleration (fraction of k-space width)."""
    a = float(acceleration)
    if a in CENTER_FRACTIONS:
        return CENTER_FRACTIONS[int(a)]
    return min(1.0, 0.32 / a)


def make_mask(family: str, shape: tuple[int, int], acceleration: float, seed: int = 0,
              center_fraction_: float | None = None, cache: bool = True) -> torch.Tensor:
    """One undersampling mask.

    Parameters
    ----------
    family : str
        One of :data:`FAMILIES`.
    shape : (H, W)
        k-space size (rows = readout for the 1-D families, columns = phase encodes).
    acceleration : float
        ``H W / samples``; 1 gives the full mask; below 1 is an error.
    seed : int
        The mask is a deterministic function of ``(family, shape, acceleration, seed)``.
    center_fraction_ : float, optional
        Overrides :func:`center_fraction`.
    cache : bool
        Keep the mask in the process-wide LRU cache (512 masks). False for
        one-off large masks (a zoomed training mask keeps only its centre, and
        a 1440 x 1440 mask in the cache would hold 2 MB for nothing).

    Returns
    -------
    torch.Tensor
        ``(H, W)`` bool, on CPU (callers move it to their device once).
    """
    cf = center_fraction(acceleration) if center_fraction_ is None else float(center_fraction_)
    draw = _cached if cache else _draw
    arr = draw(family, (int(shape[0]), int(shape[1])), float(acceleration), int(seed), cf)
    return torch.from_numpy(arr.copy() if cache else arr)


def check_acceleration(acceleration: float, where: str = "acceleration") -> None:
    """BadInput unless ``acceleration >= 1`` and finite."""
    if not (math.isfinite(float(acceleration)) and float(acceleration) >= 1.0):
        raise BadInput(where, f"acceleration must be >= 1 (a mask cannot sample more than all of k-space), "
                              f"got {acceleration}")


def _draw(family: str, shape: tuple[int, int], acc: float, seed: int, cf: float) -> np.ndarray:
    if family not in FAMILIES:
        raise BadInput("mask family", f"unknown mask family {family!r} (known: {', '.join(FAMILIES)})")
    check_acceleration(acc)
    h, w = shape
    rng = np.random.default_rng([seed, int(acc * 1000), h, w, FAMILIES.index(family)])
    if acc == 1.0:
        return np.ones(shape, dtype=bool)
    if family in ONE_D:
        return np.broadcast_to(_columns(family, w, acc, cf, rng)[None, :], shape).copy()
    n = int(round(h * w / acc))
    box = _center_box(shape, cf)
    if family == "gaussian_2d":
        m = _gaussian(shape, n, box, rng)
    elif family == "poisson_2d":
        m = _poisson(shape, n, box, rng)
    else:
        m = _radial(shape, n, box, rng)
    return m


_cached = functools.lru_cache(maxsize=512)(_draw)


def _columns(family: str, w: int, acc: float, cf: float, rng) -> np.ndarray:
    n = max(1, int(round(w / acc)))
    nlow = min(n, max(1, int(round(w * cf))))
    m = np.zeros(w, dtype=bool)
    pad = (w - nlow + 1) // 2  # fastMRI's centre placement
    m[pad:pad + nlow] = True
    outer = np.flatnonzero(~m)
    k = n - nlow
    if k <= 0:
        return m
    if family == "random":
        m[rng.choice(outer, size=k, replace=False)] = True
    else:
        step = len(outer) / k
        offset = rng.uniform(0, step)
        idx = np.floor(offset + step * np.arange(k)).astype(int)
        m[outer[np.clip(idx, 0, len(outer) - 1)]] = True
    return m


def _center_box(shape: tuple[int, int], cf: float) -> np.ndarray:
    h, w = shape
    s = max(3, int(round(cf * min(h, w))))
    box = np.zeros(shape, dtype=bool)
    t, l = h // 2 - s // 2, w // 2 - s // 2
    box[t:t + s, l:l + s] = True
    return box


def _radius_grid(shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    h, w = shape
    ky = (np.arange(h) - h // 2) / (h / 2)
    kx = (np.arange(w) - w // 2) / (w / 2)
    return np.meshgrid(ky, kx, indexing="ij")


def _fill_to(m: np.ndarray, n: int, weight: np.ndarray, rng, keep: np.ndarray) -> np.ndarray:
    """Add (by ``weight``) or drop (uniformly, never ``keep``) samples until ``m.sum() == n``."""
    m = m.copy()
    cur = int(m.sum())
    if cur < n:
        free = np.flatnonzero(~m.ravel())
        p = weight.ravel()[free] + 1e-12
        pick = rng.choice(free, size=n - cur, replace=False, p=p / p.sum())
        m.ravel()[pick] = True
    elif cur > n:
        drop = np.flatnonzero((m & ~keep).ravel())
        m.ravel()[rng.choice(drop, size=min(cur - n, drop.size), replace=False)] = False
    return m


def _gaussian(shape, n, box, rng) -> np.ndarray:
    ky, kx = _radius_grid(shape)
    sigma = 2 * 0.22  # 0.22 of the side, in units where the side spans [-1, 1]
    weight = np.exp(-(ky ** 2 + kx ** 2) / (2 * sigma ** 2))
    return _fill_to(box, n, weight, rng, keep=box)


def _poisson(shape, n, box, rng) -> np.ndarray:
    h, w = shape
    ky, kx = _radius_grid(shape)
    rad = np.sqrt(ky ** 2 + kx ** 2) / math.sqrt(2)  # 0 at the centre, 1 at the corners
    order = rng.permutation(h * w).astype(np.int64)
    growth = 3.0  # radius r0 (1 + 3|k|): density falls ~ 1 / (1 + 3|k|)^2
    # random sequential packing accepts about 0.7 / r^2 points per unit area: a first guess
    r0 = math.sqrt(0.7 * float((1.0 / (1.0 + growth * rad) ** 2).sum()) / max(n, 1))
    lo, hi, best = None, None, None
    for _ in range(12):
        cand = _throw(box, rad, order, r0, growth)
        c = int(cand.sum())
        if c >= n:
            lo, best = r0, cand
        else:
            hi = r0
        if best is not None and abs(int(best.sum()) - n) <= 0.01 * n:
            break
        r0 = 0.5 * (lo + hi) if lo is not None and hi is not None else (r0 * 1.3 if c >= n else r0 / 1.3)
    if best is None:
        best = _throw(box, rad, order, 0.0, growth)
    weight = 1.0 / (1.0 + growth * rad) ** 2
    return _fill_to(best, n, weight, rng, keep=box)


def _throw(box: np.ndarray, rad: np.ndarray, order: np.ndarray, r0: float, growth: float) -> np.ndarray:
    """Dart throwing in ``order``: accept a point when no accepted point is nearer than its radius."""
    return _throw_jit()(box.copy(), rad, order, float(r0), float(growth))


@functools.lru_cache(maxsize=1)
def _throw_jit():
    # numba (a dependency of umap-learn) turns the sequential acceptance loop from
    # ~1 s per 64x64 mask in Python into milliseconds; compiled once per process.
    import numba

    @numba.njit(cache=True)
    def throw(acc, rad, order, r0, growth):  # pragma: no cover - compiled
        h, w = acc.shape
        for idx in order:
            y, x = idx // w, idx % w
            if acc[y, x]:
                continue
            r = r0 * (1.0 + growth * rad[y, x])
            ri = int(np.ceil(r))
            ok = True
            for yy in range(max(0, y - ri), min(h, y + ri + 1)):
                for xx in range(max(0, x - ri), min(w, x + ri + 1)):
                    if acc[yy, xx] and (yy - y) ** 2 + (xx - x) ** 2 < r * r:
                        ok = False
                        break
                if not ok:
                    break
            if ok:
                acc[y, x] = True
        return acc

    return throw


def _radial(shape, n, box, rng) -> np.ndarray:
    h, w = shape
    m = box.copy()
    cy, cx = h // 2, w // 2
    reach = math.hypot(h, w) / 2
    t = np.arange(-reach, reach + 0.5, 0.5)
    angle = rng.uniform(0, math.pi)
    for _ in range(100000):
        if m.sum() >= n:
            break
        ys = np.rint(cy + t * math.sin(angle)).astype(int)
        xs = np.rint(cx + t * math.cos(angle)).astype(int)
        ok = (ys >= 0) & (ys < h) & (xs >= 0) & (xs < w)
        ys, xs, r = ys[ok], xs[ok], np.abs(t[ok])
        new = ~m[ys, xs]
        ys, xs, r = ys[new], xs[new], r[new]
        # unique new points, nearest the centre first, so a trimmed spoke keeps its inner part
        flat, first = np.unique(ys * w + xs, return_index=True)
        order = np.argsort(r[first], kind="stable")
        need = n - int(m.sum())
        take = flat[order][:need]
        m.ravel()[take] = True
        angle = (angle + GOLDEN_ANGLE) % math.pi
    return m


def mask_acceleration(mask: torch.Tensor) -> float:
    """Effective acceleration ``H W / samples`` of a (H, W) mask."""
    return float(mask.numel() / max(1, int(mask.bool().sum())))
