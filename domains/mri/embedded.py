"""The embedded default: multi-coil k-space simulated from nilearn's MNI152 T1 template.

nilearn ships the ICBM 2009a symmetric template (197 x 233 x 189, 1 mm,
skull-stripped) inside its wheel, so the default needs no download. Each
axial slice is

1. padded to a square and resampled (antialiased) to ``oversample x`` the
   output size,
2. given a smooth synthetic phase (a random low-order Fourier series,
   about +-pi/2) and multiplied by simulated coil sensitivities (Gaussian
   surface-coil profiles on a ring with linear phase, normalised to
   ``sum_c |S_c|^2 = 1``),
3. transformed and cropped to the central ``size x size`` frequencies (the
   fine simulation grid avoids the "inverse crime" of simulating and
   reconstructing on the same grid), with complex Gaussian noise.

The target ``reconstruction_rss`` is the RSS of the fully sampled, noiseless
coil images, exactly as fastMRI defines it. A second contrast for the
adaptation test ("T2-like": CSF bright, white matter dark) is synthesised from
the template's grey/white-matter probability maps.

Per-slice work is :func:`simulate_slice`; :func:`write_split` combines slices
into one fastMRI file.
"""

from __future__ import annotations

import functools
import math
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from domains.mri.fft import crop_kspace, fft2c, ifft2c, rss
from domains.mri.io import write_fastmri

SOURCE = "nilearn MNI152 T1 template (ICBM 2009a sym, 1 mm), simulated multi-coil k-space"


@functools.lru_cache(maxsize=2)
def mni_volume(contrast: str = "t1") -> np.ndarray:
    """The template as float32 (197, 233, 189) in [0, 1]; ``contrast`` "t1" or "t2like"."""
    from nilearn import datasets

    t1 = np.asarray(datasets.load_mni152_template(resolution=1).get_fdata(), dtype=np.float32)
    if contrast == "t1":
        return t1 / t1.max()
    gm = np.asarray(datasets.load_mni152_gm_template(resolution=1).get_fdata(), dtype=np.float32)
    wm = np.asarray(datasets.load_mni152_wm_template(resolution=1).get_fdata(), dtype=np.float32)
    inside = (t1 > 0.02).astype(np.float32)
    csf = np.clip(inside - gm - wm, 0.0, 1.0)
    img = 0.25 * wm + 0.55 * gm + 1.0 * csf
    return img / img.max()


def slice_positions(volume: np.ndarray, min_fraction: float = 0.12) -> list[int]:
    """Axial positions whose brain covers at least ``min_fraction`` of the slice."""
    frac = (volume > 0.02).mean(axis=(0, 1))
    return [int(z) for z in np.flatnonzero(frac >= min_fraction)]


def split_positions(positions: list[int], block: int = 6, step: int = 1) -> dict[str, list[int]]:
    """Disjoint train/val/test positions: interleaved blocks of ``block`` slices.

    Blocks cycle train, train, test, train, val (so every split covers the whole
    brain); at each border between blocks of different splits, both blocks
    drop their slice next to it (two slices in all), so no two splits hold
    slices closer than two apart. ``step`` keeps every
    ``step``-th position inside the blocks.
    """
    pattern = ("train", "train", "test", "train", "val")
    out: dict[str, list[int]] = {"train": [], "val": [], "test": []}
    blocks = [positions[i:i + block] for i in range(0, len(positions), block)]
    for b, zs in enumerate(blocks):
        name = pattern[b % len(pattern)]
        prev_name = pattern[(b - 1) % len(pattern)] if b else name
        next_name = pattern[(b + 1) % len(pattern)] if b + 1 < len(blocks) else name
        lo = 1 if prev_name != name else 0
        hi = len(zs) - (1 if next_name != name else 0)
        out[name] += zs[lo:hi][::step]
    return out


def resample_slice(img2d: np.ndarray, size: int) -> torch.Tensor:
    """Zero-pad a slice to a square and resample it (antialiased bilinear) to ``size x size``."""
    h, w = img2d.shape
    s = max(h, w)
    pad = np.zeros((s, s), dtype=np.float32)
    pad[(s - h) // 2:(s - h) // 2 + h, (s - w) // 2:(s - w) // 2 + w] = img2d
    # axial slice (x, y) shown with anterior up: transpose and flip y
    t = torch.from_numpy(np.ascontiguousarray(pad.T[::-1]))[None, None]
    out = F.interpolate(t, size=(size, size), mode="bilinear", antialias=True, align_corners=False)
    return out[0, 0].clamp_min(0.0)


def smooth_phase(shape: tuple[int, int], gen: torch.Generator, order: int = 2, amplitude: float = math.pi / 2) -> torch.Tensor:
    """A random smooth phase map (radians): Fourier series up to ``order`` cycles per side."""
    h, w = shape
    y = torch.linspace(-1, 1, h, dtype=torch.float64)[:, None]
    x = torch.linspace(-1, 1, w, dtype=torch.float64)[None, :]
    phase = torch.zeros(h, w, dtype=torch.float64)
    for p in range(order + 1):
        for q in range(order + 1):
            a, b = torch.randn(2, generator=gen, dtype=torch.float64) / (1 + p + q)
            phase += a * torch.cos(math.pi * (p * y + q * x) / 2) + b * torch.sin(math.pi * (p * y + q * x) / 2)
    phase -= phase.mean()
    return amplitude * phase / phase.abs().max().clamp_min(1e-9)


def coil_maps(n_coils: int, shape: tuple[int, int], rotation: float = 0.0, width: float = 0.9) -> torch.Tensor:
    """Simulated surface-coil sensitivities (C, H, W) complex64, ``sum_c |S_c|^2 = 1``.

    Coil ``c`` sits at angle ``2 pi c / C + rotation`` on a ring of radius 1.3
    (the image spans [-1, 1]); its magnitude is a Gaussian of the distance
    (``width``) and its phase rotates linearly across the field.
    """
    h, w = shape
    y = torch.linspace(-1, 1, h, dtype=torch.float64)[:, None]
    x = torch.linspace(-1, 1, w, dtype=torch.float64)[None, :]
    maps = []
    for c in range(n_coils):
        a = 2 * math.pi * c / n_coils + rotation
        cy, cx = 1.3 * math.sin(a), 1.3 * math.cos(a)
        d2 = (y - cy) ** 2 + (x - cx) ** 2
        mag = torch.exp(-d2 / (2 * width ** 2))
        ph = a + 0.8 * (math.cos(a) * y - math.sin(a) * x)
        maps.append(mag * torch.exp(1j * ph))
    s = torch.stack(maps)
    s = s / torch.sqrt((s.abs() ** 2).sum(0, keepdim=True))
    return s.to(torch.complex64)


def simulate_slice(img2d: np.ndarray, size: int, n_coils: int, seed: int, oversample: int = 2,
                   noise: float = 0.003) -> tuple[torch.Tensor, torch.Tensor]:
    """Multi-coil k-space and RSS target of one slice.

    Parameters
    ----------
    img2d : ndarray (X, Y)
        One axial slice of the template, in [0, 1].
    size : int
        Output matrix ``size x size``.
    n_coils : int
    seed : int
        Phase, coil rotation and noise are functions of the seed.
    oversample : int
        Simulation grid ``oversample * size``; k-space is cropped to ``size``.
    noise : float
        Complex Gaussian noise std per k-space sample, relative to the image maximum
        (the FFT is unitary, so it is the image-domain std as well).

    Returns
    -------
    kspace : Tensor (C, size, size) complex64
    target : Tensor (size, size) float32
    """
    gen = torch.Generator().manual_seed(int(seed))
    fine = oversample * size
    mag = resample_slice(img2d, fine).double()
    phase = smooth_phase((fine, fine), gen)
    rot = float(torch.rand((), generator=gen, dtype=torch.float64)) * 2 * math.pi
    sens = coil_maps(n_coils, (fine, fine), rotation=rot).to(torch.complex128)
    coils = sens * (mag * torch.exp(1j * phase))
    k = crop_kspace(fft2c(coils), (size, size))
    target = rss(ifft2c(k))
    scale = float(target.max()) or 1.0
    k = k + noise * scale * (torch.randn(k.shape, generator=gen, dtype=torch.float64)
                             + 1j * torch.randn(k.shape, generator=gen, dtype=torch.float64)) / math.sqrt(2)
    return k.to(torch.complex64), target.to(torch.float32)


def write_split(path: str | Path, positions: list[int], size: int, n_coils: int, seed: int,
                contrast: str = "t1", oversample: int = 2, noise: float = 0.003) -> Path:
    """Simulate the slices at ``positions`` and write them as one fastMRI multi-coil file."""
    vol = mni_volume(contrast)
    ks, ts = [], []
    for z in positions:
        k, t = simulate_slice(vol[:, :, z], size, n_coils, seed=seed * 100003 + z, oversample=oversample,
                              noise=noise)
        ks.append(k)
        ts.append(t)
    attrs = {"acquisition": "AXT1" if contrast == "t1" else "AXT2", "patient_id": f"mni152-{contrast}",
             "slice_positions": np.asarray(positions, dtype=np.int32)}
    return write_fastmri(path, torch.stack(ks), torch.stack(ts), attrs=attrs)


def generate(out_dir: str | Path = "data/mni152-simulated", size: int = 64, n_coils: int = 8, seed: int = 0,
             slice_step: int = 2, block: int = 6) -> dict[str, Path]:
    """Write the embedded default's train/val/test fastMRI files (the manifest's generator)."""
    vol = mni_volume("t1")
    splits = split_positions(slice_positions(vol), block=block, step=slice_step)
    out = Path(out_dir)
    return {name: write_split(out / f"{name}.h5", splits[name], size, n_coils, seed=seed + i)
            for i, name in enumerate(("train", "val", "test"))}
