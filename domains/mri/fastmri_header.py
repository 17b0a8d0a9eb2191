"""The header-only check of a fastMRI file: h5py and numpy, no torch.

Kept apart from :mod:`domains.mri.io` (which builds torch tensors) so that the
CLI's check before Prefect (:mod:`domains.mri.checks`) fails on a bad file in
well under a second, without importing torch.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from shared.errors import BadInput


def open_h5(path: Path):
    """``h5py.File(path, 'r')``; BadInput naming the file when it is missing or not HDF5."""
    import h5py

    if not path.is_file():
        raise BadInput(str(path), "file not found")
    try:
        return h5py.File(path, "r")
    except OSError as err:
        raise BadInput(str(path), f"not a readable HDF5 file ({err.__class__.__name__})") from None


def check_file(path: str | os.PathLike) -> dict:
    """Header-only validation of a fastMRI file (reads no k-space samples).

    Returns
    -------
    dict
        ``{"shape", "multicoil", "has_target", "has_mask"}``.

    Raises
    ------
    BadInput
        Missing file or ``kspace``; real-valued k-space; a rank other than 3/4;
        a ``mask`` whose shape is neither ``(W,)`` nor ``(H, W)``; a mask
        ``acceleration`` attribute below 1; a target whose slice count or rank differs.
    """
    import h5py

    path = Path(path)
    with open_h5(path) as fh:
        if "kspace" not in fh or not isinstance(fh["kspace"], h5py.Dataset):
            raise BadInput(f"{path}:/kspace", f"dataset 'kspace' not found (have: {sorted(fh.keys())})")
        ks = fh["kspace"]
        if ks.dtype.kind != "c":
            raise BadInput(f"{path}:/kspace", f"k-space must be complex (complex64), got dtype {ks.dtype}")
        if ks.ndim not in (3, 4):
            raise BadInput(f"{path}:/kspace", f"expected (slices, coils, H, W) or (slices, H, W), got shape {ks.shape}")
        if min(ks.shape) < 1 or min(ks.shape[-2:]) < 8:
            raise BadInput(f"{path}:/kspace", f"shape {ks.shape}: needs at least one slice (and coil) and "
                                              f"H, W >= 8")
        h, w = ks.shape[-2:]
        if "mask" in fh:
            ms = fh["mask"]
            if tuple(ms.shape) not in ((w,), (h, w), (1, w)):
                raise BadInput(f"{path}:/mask", f"shape {tuple(ms.shape)} does not match k-space (H, W) = ({h}, {w}); "
                                                f"expected ({w},) or ({h}, {w})")
            if ms.dtype.kind not in "biuf":
                raise BadInput(f"{path}:/mask", f"expected a 0/1 (bool or numeric) mask, got dtype {ms.dtype}")
            m = np.asarray(ms[()])  # at most H x W values: cheap
            if not np.isfinite(m.astype(np.float64)).all() or not (m != 0).any():
                raise BadInput(f"{path}:/mask", "samples nothing (all zero) or holds NaN/Inf")
            acc = ms.attrs.get("acceleration")
            if acc is not None:
                try:
                    a = float(np.asarray(acc).reshape(-1)[0])
                except (TypeError, ValueError, IndexError):
                    raise BadInput(f"{path}:/mask.attrs.acceleration", f"not a number: {acc!r}") from None
                if not a >= 1.0:
                    raise BadInput(f"{path}:/mask.attrs.acceleration", f"acceleration must be >= 1, got {acc}")
        tgt = "reconstruction_rss" if "reconstruction_rss" in fh else (
            "reconstruction_esc" if "reconstruction_esc" in fh else None)
        if tgt is not None:
            ts = fh[tgt]
            if ts.ndim != 3 or ts.shape[0] != ks.shape[0]:
                raise BadInput(f"{path}:/{tgt}", f"expected (slices={ks.shape[0]}, h, w), got shape {ts.shape}")
            if ts.shape[1] > h or ts.shape[2] > w:
                raise BadInput(f"{path}:/{tgt}", f"target {ts.shape[1:]} larger than k-space {(h, w)}")
        return {"shape": tuple(ks.shape), "multicoil": ks.ndim == 4, "has_target": tgt is not None,
                "has_mask": "mask" in fh}
