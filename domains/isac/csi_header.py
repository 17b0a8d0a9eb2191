"""Header-level validation of an ISAC CSI file: h5py and numpy only, no torch.

The CLI checks ``--data`` with this before Prefect starts (and before torch's
import, seconds on a loaded machine); :func:`domains.isac.io.check_csi` adds
the radar model to the same parsed header for the flow.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np

from shared.errors import BadInput

REQUIRED_ATTRS = ("carrier_frequency_hz", "subcarrier_spacing_hz", "symbol_duration_s",
                  "antenna_spacing_wavelengths")
_OPTIONAL_STR = {"geometry": ("monostatic", "one-way"), "angle_reference": ("broadside", "axis")}


def _attr(ds, root, name):
    if name in ds.attrs:
        return ds.attrs[name]
    if name in root.attrs:
        return root.attrs[name]
    return None


def _as_str(v) -> str:
    if isinstance(v, bytes):
        return v.decode(errors="replace")
    if isinstance(v, np.ndarray) and v.shape == ():
        return _as_str(v.item())
    return str(v)


def _positive_number(v, where: str) -> float:
    """An HDF5 attribute as a positive finite float; strings, bytes and arrays are rejected."""
    arr = np.asarray(v)
    if arr.dtype.kind not in "iuf" or arr.size != 1:
        shown = _as_str(v) if arr.dtype.kind in "SUO" else repr(v)
        raise BadInput(where, f"must be a number, got {shown!r}")
    x = float(arr.reshape(-1)[0])
    if not math.isfinite(x) or x <= 0:
        raise BadInput(where, f"must be a positive finite number, got {x}")
    return x


def split_data_arg(data: str | os.PathLike, dataset: str = "csi") -> tuple[Path, str]:
    """``file.h5`` or ``file.h5:/path/in/file`` -> (file, dataset path without the leading /)."""
    text = str(data)
    if not Path(text).exists() and ":" in text:
        head, tail = text.rsplit(":", 1)
        if head and tail.startswith("/"):
            return Path(head), tail.lstrip("/") or dataset
    return Path(text), dataset


def check_header(data: str | os.PathLike, dataset: str = "csi", nan_block: int = 1 << 22) -> dict:
    """Header-level validation of a CSI file, without loading the tensor at once.

    Checks that the file is readable HDF5, that the dataset exists, is
    complex, has rank 3 and no zero-size mode, that every required attribute
    is a positive finite number (and the optional ones valid), and scans the
    entries for NaN/Inf in blocks of about ``nan_block`` entries.

    Parameters
    ----------
    data : str or os.PathLike
        ``file.h5`` or ``file.h5:/dataset``.
    dataset : str
        Dataset name when ``data`` does not name one.

    Returns
    -------
    dict
        ``path``, ``dataset``, ``where`` (``file.h5:/dataset``), ``shape``,
        ``dtype`` and ``attrs`` (parsed); :func:`domains.isac.io.check_csi`
        adds the radar.

    Raises
    ------
    BadInput
        Naming ``file.h5``, ``file.h5:/dataset`` or ``file.h5:/dataset.attrs.NAME``.
    """
    import h5py

    path, dataset = split_data_arg(data, dataset)
    where = f"{path}:/{dataset}"
    if path.is_dir():
        raise BadInput(str(path), "is a directory, not an HDF5 file")
    if not path.is_file():
        raise BadInput(str(path), "file not found")
    try:
        fh = h5py.File(path, "r")
    except OSError as err:
        raise BadInput(str(path), f"not a readable HDF5 file ({err.__class__.__name__})") from None
    with fh:
        if dataset not in fh or not isinstance(fh[dataset], h5py.Dataset):
            raise BadInput(where, f"dataset {dataset!r} not found (have: {sorted(fh.keys())})")
        ds = fh[dataset]
        if ds.dtype.kind != "c":
            raise BadInput(where, f"must be complex [antennas, subcarriers, symbols], got dtype {ds.dtype}")
        if ds.ndim != 3:
            raise BadInput(where, f"must have rank 3 [antennas, subcarriers, symbols], got shape {ds.shape}")
        if any(n == 0 for n in ds.shape):
            raise BadInput(where, f"has a zero-size dimension, shape {ds.shape} "
                                  "[antennas, subcarriers, symbols]")
        attrs: dict = {}
        for name in REQUIRED_ATTRS:
            v = _attr(ds, fh, name)
            if v is None:
                raise BadInput(f"{where}.attrs.{name}", "missing attribute")
            attrs[name] = _positive_number(v, f"{where}.attrs.{name}")
        for name, allowed in _OPTIONAL_STR.items():
            v = _attr(ds, fh, name)
            if v is not None:
                v = _as_str(v)
                if v not in allowed:
                    raise BadInput(f"{where}.attrs.{name}", f"must be one of {list(allowed)}, got {v!r}")
                attrs[name] = v
        cp = _attr(ds, fh, "cp_duration_s")
        if cp is not None:
            attrs["cp_duration_s"] = _positive_number(cp, f"{where}.attrs.cp_duration_s")
        if attrs["symbol_duration_s"] < 1.0 / attrs["subcarrier_spacing_hz"] * (1 - 1e-9):
            raise BadInput(f"{where}.attrs.symbol_duration_s",
                           "must be at least 1/subcarrier_spacing_hz (it includes the cyclic prefix)")
        # NaN/Inf scan in blocks of whole leading slices: bounded memory for big files
        per_slice = max(1, int(np.prod(ds.shape[1:])))
        step = max(1, nan_block // per_slice)
        n_bad = 0
        for i in range(0, ds.shape[0], step):
            block = ds[i:i + step]
            n_bad += int(block.size - np.isfinite(block).sum())
        if n_bad:
            raise BadInput(where, f"contains {n_bad} NaN/Inf entries")
        shape, dtype = tuple(int(n) for n in ds.shape), ds.dtype
    return {"path": path, "dataset": dataset, "where": where, "shape": shape, "dtype": dtype, "attrs": attrs}


def radar_kwargs(header: dict) -> dict:
    """The radar of a parsed header (:func:`check_header`) as :class:`domains.isac.radar.RadarGeometry` arguments."""
    attrs, shape = header["attrs"], header["shape"]
    return {"carrier_hz": attrs["carrier_frequency_hz"], "subcarrier_spacing_hz": attrs["subcarrier_spacing_hz"],
            "n_antennas": shape[0], "n_subcarriers": shape[1], "n_symbols": shape[2],
            "symbol_duration_s": attrs["symbol_duration_s"], "cp_duration_s": attrs.get("cp_duration_s"),
            "antenna_spacing_wavelengths": attrs["antenna_spacing_wavelengths"],
            "geometry": attrs.get("geometry", "monostatic"),
            "angle_reference": attrs.get("angle_reference", "broadside")}
