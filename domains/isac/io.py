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

import os
from pathlib import Path

import numpy as np
import torch

from domains.isac.csi_header import REQUIRED_ATTRS, check_header, radar_kwargs, split_data_arg
from domains.isac.physics import OFDMRadar
from domains.isac.types import CSIData

__all__ = ["REQUIRED_ATTRS", "check_csi", "load_csi", "split_data_arg", "with_radar", "write_csi"]


def check_csi(data: str | os.PathLike, dataset: str = "csi", nan_block: int = 1 << 22) -> dict:
    """Header-level validation of a CSI file (:func:`domains.isac.csi_header.check_header`) and its radar.

    Returns
    -------
    dict
        The header's ``path``, ``dataset``, ``where``, ``shape``, ``dtype``,
        ``attrs``, plus ``radar`` (:class:`OFDMRadar`).
    """
    return with_radar(check_header(data, dataset, nan_block))


def with_radar(header: dict) -> dict:
    """A parsed header (:func:`domains.isac.csi_header.check_header`) with its :class:`OFDMRadar`."""
    radar = OFDMRadar(**radar_kwargs(header))
    return {**header, "radar": radar}


def load_csi(path: str | os.PathLike, dataset: str = "csi", device=None,
             dtype: torch.dtype = torch.complex128) -> CSIData:
    """Load a CSI tensor and its radar parameters from HDF5.

    Parameters
    ----------
    path : str or os.PathLike
        HDF5 file, or ``file.h5:/dataset``.
    dataset : str
        Name of the complex dataset (default ``"csi"``) when ``path`` names none.
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
        Everything :func:`check_csi` rejects (it runs first: one home for the checks).
    """
    import h5py

    info = check_csi(path, dataset)
    with h5py.File(info["path"], "r") as fh:
        data = fh[info["dataset"]][()]
    csi = torch.from_numpy(np.ascontiguousarray(data)).to(dtype=dtype, device=device)
    return CSIData(csi=csi, radar=info["radar"], source=str(info["path"]), attrs=info["attrs"])


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
