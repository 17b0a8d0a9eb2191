"""fastMRI HDF5 files: reader and writer (the header-only check is :mod:`domains.mri.fastmri_header`).

Layout (fastMRI, ``data_manifests/mri/fastmri-knee.yaml``)::

    /kspace               complex64 (slices, coils, H, W) multi-coil, (slices, H, W) single-coil
    /reconstruction_rss   float32 (slices, h, w)  RSS of the fully sampled coil images (target)
    /reconstruction_esc   float32 (slices, h, w)  single-coil target (optional)
    /mask                 bool (W,) or (H, W), test/challenge files; attrs acceleration, num_low_frequency
    /ismrmrd_header       XML string: encodedSpace / reconSpace matrixSize, encodingLimits
    attrs: max (volume dynamic range), norm, acquisition, patient_id

MONAI's ``FastMRIReader`` reads the same files (tested) but drops
``ismrmrd_header`` and ``reconstruction_esc`` and copies k-space into its
metadata, so the domain reads with h5py directly.
"""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from domains.mri.fastmri_header import check_file, open_h5
from shared.errors import BadInput

ISMRMRD_NS = "http://www.ismrm.org/ISMRMRD"


@dataclass
class FastMRIVolume:
    """One fastMRI file in memory.

    Attributes
    ----------
    kspace : Tensor (S, C, H, W) complex64
        Single-coil files get ``C = 1``.
    target : Tensor (S, h, w) float32 or None
        ``reconstruction_rss`` (or ``reconstruction_esc``).
    mask : Tensor (H, W) bool or None
        The file's sampling mask (1-D masks broadcast over rows).
    attrs : dict
        Root attributes (``max``, ``norm``, ``acquisition``, ``patient_id``...).
    header : dict
        ``encoded``/``recon`` matrix sizes and ``kspace_encoding_step_1`` limits, when present.
    multicoil : bool
    """

    kspace: torch.Tensor
    target: torch.Tensor | None
    mask: torch.Tensor | None
    attrs: dict = field(default_factory=dict)
    header: dict = field(default_factory=dict)
    multicoil: bool = True
    source: str = ""


def ismrmrd_header(enc: tuple[int, int], recon: tuple[int, int], n_slices: int = 1) -> str:
    """A minimal ISMRMRD XML header with the fields fastMRI's ``SliceDataset`` reads."""
    ey, ex = enc
    ry, rx = recon
    center = ex // 2
    return (
        f'<?xml version="1.0" encoding="utf-8"?>\n<ismrmrdHeader xmlns="{ISMRMRD_NS}">'
        f"<encoding><encodedSpace><matrixSize><x>{ey}</x><y>{ex}</y><z>1</z></matrixSize></encodedSpace>"
        f"<reconSpace><matrixSize><x>{ry}</x><y>{rx}</y><z>1</z></matrixSize></reconSpace>"
        f"<encodingLimits><kspace_encoding_step_1><minimum>0</minimum><maximum>{ex - 1}</maximum>"
        f"<center>{center}</center></kspace_encoding_step_1>"
        f"<slice><minimum>0</minimum><maximum>{max(0, n_slices - 1)}</maximum><center>0</center></slice>"
        f"</encodingLimits></encoding></ismrmrdHeader>")


def parse_header(xml: str | bytes) -> dict:
    """``{"encoded": (x, y), "recon": (x, y), "enc_limits_center", "enc_limits_max"}`` of an ISMRMRD header."""
    if isinstance(xml, bytes):
        xml = xml.decode()
    root = ET.fromstring(xml)
    ns = {"i": ISMRMRD_NS}

    def num(path: str):
        el = root.find(path, ns)
        return int(el.text) if el is not None and el.text else None

    base = "i:encoding/"
    out = {
        "encoded": (num(base + "i:encodedSpace/i:matrixSize/i:x"), num(base + "i:encodedSpace/i:matrixSize/i:y")),
        "recon": (num(base + "i:reconSpace/i:matrixSize/i:x"), num(base + "i:reconSpace/i:matrixSize/i:y")),
        "enc_limits_center": num(base + "i:encodingLimits/i:kspace_encoding_step_1/i:center"),
        "enc_limits_max": num(base + "i:encodingLimits/i:kspace_encoding_step_1/i:maximum"),
    }
    if out["enc_limits_center"] is not None and out["encoded"][1] is not None:
        pad_left = out["encoded"][1] // 2 - out["enc_limits_center"]
        out["padding"] = (pad_left, pad_left + out["enc_limits_max"] + 1)
    return out


def write_fastmri(path: str | os.PathLike, kspace, target=None, *, mask=None, acceleration: float | None = None,
                  num_low_frequency: int | None = None, multicoil: bool = True, attrs: dict | None = None,
                  esc: bool = False) -> Path:
    """Write one volume in fastMRI's layout (no validation, so tests can write bad files).

    Parameters
    ----------
    kspace : array (S, C, H, W) complex (or (S, H, W) with ``multicoil=False``)
    target : array (S, h, w) real, optional
        Written as ``reconstruction_rss`` (and ``reconstruction_esc`` when ``esc``).
    mask : array (W,) or (H, W) bool, optional
        A test/challenge file's mask; ``acceleration`` and ``num_low_frequency`` become its attrs.
    attrs : dict, optional
        Root attributes; ``max`` defaults to ``target.max()``.
    """
    import h5py

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    k = kspace.detach().cpu().numpy() if hasattr(kspace, "detach") else np.asarray(kspace)
    meta = {"norm": float(np.linalg.norm(k)) if k.dtype.kind == "c" else 0.0,
            "acquisition": "AXT1", "patient_id": path.stem}
    with h5py.File(path, "w") as fh:
        fh.create_dataset("kspace", data=k)
        h, w = k.shape[-2:]
        rec = (h, w)
        if target is not None:
            t = target.detach().cpu().numpy() if hasattr(target, "detach") else np.asarray(target)
            t = t.astype(np.float32)
            fh.create_dataset("reconstruction_rss", data=t)
            if esc:
                fh.create_dataset("reconstruction_esc", data=t)
            meta["max"] = float(t.max())
            rec = t.shape[-2:]
        if mask is not None:
            m = mask.detach().cpu().numpy() if hasattr(mask, "detach") else np.asarray(mask)
            ds = fh.create_dataset("mask", data=m.astype(bool))
            if acceleration is not None:
                ds.attrs["acceleration"] = float(acceleration)
            if num_low_frequency is not None:
                ds.attrs["num_low_frequency"] = int(num_low_frequency)
        fh.create_dataset("ismrmrd_header", data=ismrmrd_header((h, w), tuple(rec), k.shape[0]))
        meta.update(attrs or {})
        for key, v in meta.items():
            if v is not None:
                fh.attrs[key] = v
    return path


def read_fastmri(path: str | os.PathLike, slices: slice | None = None) -> FastMRIVolume:
    """Read one fastMRI file (after :func:`check_file`), optionally a slice range."""
    path = Path(path)
    info = check_file(path)
    sel = slices if slices is not None else slice(None)
    with open_h5(path) as fh:
        k = torch.from_numpy(np.ascontiguousarray(fh["kspace"][sel]).astype(np.complex64))
        if not info["multicoil"]:
            k = k.unsqueeze(1)
        if not torch.isfinite(torch.view_as_real(k)).all():
            raise BadInput(f"{path}:/kspace", "contains NaN/Inf samples")
        target = None
        for name in ("reconstruction_rss", "reconstruction_esc"):
            if name in fh:
                target = torch.from_numpy(np.asarray(fh[name][sel], dtype=np.float32))
                break
        mask = None
        if "mask" in fh:
            m = torch.from_numpy(np.asarray(fh["mask"][()]).astype(bool))
            mask = m.reshape(1, -1).expand(k.shape[-2], -1).clone() if m.numel() == k.shape[-1] else m
        attrs = {key: _attr_value(v) for key, v in fh.attrs.items()}
        header = {}
        if "ismrmrd_header" in fh:
            try:
                header = parse_header(fh["ismrmrd_header"][()])
            except ET.ParseError:
                header = {}
    return FastMRIVolume(kspace=k, target=target, mask=mask, attrs=attrs, header=header,
                         multicoil=info["multicoil"], source=str(path))


def _attr_value(v):
    if isinstance(v, bytes):
        return v.decode()
    if isinstance(v, np.ndarray):
        return v.item() if v.size == 1 else v.tolist()
    return v.item() if hasattr(v, "item") else v
