"""Read and write CSI tensors in the ``lowdim`` ISAC HDF5 layout.

Layout (see ``data_manifests/isac/csi-hdf5.yaml``)::

    /csi   complex64 or complex128, shape [antennas, subcarriers, symbols]
      attrs (on the dataset, or on the file root):
        carrier_frequency_hz          float   e.g. 28e9
        subcarrier_spacing_hz         float   e.g. 120e3
        symbol_duration_s             float   OFDM symbol incl. cyclic prefix
        antenna_spacing_wavelengths   float   0.5 for a lambda/2 ULA
        geometry                      str     optional, "monostatic" (default) | "one-way"
        angle_reference               str     optional, "broadside" (default) | "axis"
        cp_duration_s                 float   optional, default symbol_duration_s - 1/subcarrier_spacing_hz

Every problem a user can cause raises :class:`shared.errors.BadInput` whose
``where`` names the file and the dataset or attribute.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import torch

from domains.isac.physics import OFDMRadar
from domains.isac.types import CSIData
from shared.errors import BadInput

__all__ = ["REQUIRED_ATTRS", "load_csi", "write_csi"]

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
        return v.decode()
    if isinstance(v, np.ndarray) and v.shape == ():
        return _as_str(v.item())
    return str(v)


def load_csi(path: str | os.PathLike, dataset: str = "csi", device=None,
             dtype: torch.dtype = torch.complex128) -> CSIData:
    """Load a CSI tensor and its radar parameters from HDF5.

    Parameters
    ----------
    path : str or os.PathLike
        HDF5 file.
    dataset : str
        Name of the complex dataset (default ``"csi"``).
    device : torch.device or str, optional
        Where to put the tensor (default CPU).
    dtype : torch.dtype
        Complex dtype of the returned tensor.

    Returns
    -------
    CSIData
        ``csi`` ``(N_R, N_F, N_T)`` complex tensor, ``radar`` an
        :class:`OFDMRadar` built from the attributes and the shape.

    Raises
    ------
    BadInput
        Missing file, not HDF5, missing dataset, a real-valued or non-3-D
        dataset, a missing or non-positive attribute, NaN/Inf entries.
    """
    import h5py

    path = Path(path)
    where = f"{path}:/{dataset}"
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
        attrs = {}
        for name in REQUIRED_ATTRS:
            v = _attr(ds, fh, name)
            if v is None:
                raise BadInput(f"{where}.attrs.{name}", "missing attribute")
            try:
                v = float(np.asarray(v).reshape(-1)[0]) if np.size(v) == 1 else float("nan")
            except (TypeError, ValueError):
                raise BadInput(f"{where}.attrs.{name}", f"must be a number, got {v!r}") from None
            if not math.isfinite(v) or v <= 0:
                raise BadInput(f"{where}.attrs.{name}", f"must be a positive finite number, got {v}")
            attrs[name] = v
        for name, allowed in _OPTIONAL_STR.items():
            v = _attr(ds, fh, name)
            if v is not None:
                v = _as_str(v)
                if v not in allowed:
                    raise BadInput(f"{where}.attrs.{name}", f"must be one of {list(allowed)}, got {v!r}")
                attrs[name] = v
        cp = _attr(ds, fh, "cp_duration_s")
        if cp is not None:
            attrs["cp_duration_s"] = float(np.asarray(cp).reshape(-1)[0])
        data = ds[()]
    if not np.all(np.isfinite(data)):
        n_bad = int(np.size(data) - np.isfinite(data).sum())
        raise BadInput(where, f"contains {n_bad} NaN/Inf entries")
    csi = torch.from_numpy(np.ascontiguousarray(data)).to(dtype=dtype, device=device)
    if attrs["symbol_duration_s"] < 1.0 / attrs["subcarrier_spacing_hz"] * (1 - 1e-9):
        raise BadInput(f"{where}.attrs.symbol_duration_s",
                       "must be at least 1/subcarrier_spacing_hz (it includes the cyclic prefix)")
    radar = OFDMRadar(
        carrier_hz=attrs["carrier_frequency_hz"],
        subcarrier_spacing_hz=attrs["subcarrier_spacing_hz"],
        n_antennas=csi.shape[0], n_subcarriers=csi.shape[1], n_symbols=csi.shape[2],
        symbol_duration_s=attrs["symbol_duration_s"],
        cp_duration_s=attrs.get("cp_duration_s"),
        antenna_spacing_wavelengths=attrs["antenna_spacing_wavelengths"],
        geometry=attrs.get("geometry", "monostatic"),
        angle_reference=attrs.get("angle_reference", "broadside"),
    )
    return CSIData(csi=csi, radar=radar, source=str(path), attrs=attrs)


def write_csi(path: str | os.PathLike, csi, radar: OFDMRadar | None = None, dataset: str = "csi",
              attrs: dict | None = None) -> Path:
    """Write a CSI tensor in the layout :func:`load_csi` reads.

    Parameters
    ----------
    path : str or os.PathLike
        Output file (overwritten).
    csi : torch.Tensor or numpy.ndarray
        ``(N_R, N_F, N_T)`` complex. Written as given (no validation, so that
        tests can write bad files).
    radar : OFDMRadar, optional
        Source of the attributes.
    dataset : str
        Dataset name.
    attrs : dict, optional
        Extra or overriding attributes; a value of ``None`` removes one.

    Returns
    -------
    pathlib.Path
    """
    import h5py

    path = Path(path)
    if isinstance(csi, torch.Tensor):
        csi = csi.detach().cpu().numpy()
    meta: dict = {}
    if radar is not None:
        meta.update({
            "carrier_frequency_hz": float(radar.carrier_hz),
            "subcarrier_spacing_hz": float(radar.subcarrier_spacing_hz),
            "symbol_duration_s": float(radar.symbol_duration_s),
            "antenna_spacing_wavelengths": float(radar.antenna_spacing_wavelengths),
            "geometry": radar.geometry,
            "angle_reference": radar.angle_reference,
            "cp_duration_s": float(radar.cp_duration_s),
        })
    meta.update(attrs or {})
    with h5py.File(path, "w") as fh:
        ds = fh.create_dataset(dataset, data=csi)
        for k, v in meta.items():
            if v is not None:
                ds.attrs[k] = v
    return path
