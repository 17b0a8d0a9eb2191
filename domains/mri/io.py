"""fastMRI HDF5 files: reader, writer and the header-only check.

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


def _open(path: Path):
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
    with _open(path) as fh:
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


def read_fastmri(path: str | os.PathLike, slices: slice | None = None) -> FastMRIVolume:
    """Read one fastMRI file (after :func:`check_file`), optionally a slice range."""
    path = Path(path)
    info = check_file(path)
    sel = slices if slices is not None else slice(None)
    with _open(path) as fh:
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
