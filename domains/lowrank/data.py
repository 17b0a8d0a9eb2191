"""Ingest for the ``lowrank`` flow: an HDF5 dataset or a synthetic tensor."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import torch

from shared.errors import BadInput


def split_h5_spec(spec: str) -> tuple[Path, str]:
    """Split ``file.h5:/path/in/file`` into the file and the dataset path.

    A bare file name means the file's only dataset.
    """
    if ":" in spec and not Path(spec).is_file():
        path, key = spec.rsplit(":", 1)
    else:
        path, key = spec, ""
    return Path(path), key


def load_h5_tensor(spec: str, dtype: torch.dtype = torch.float64) -> tuple[torch.Tensor, str]:
    """Read a numeric, finite HDF5 dataset as a tensor.

    Parameters
    ----------
    spec : str
        ``file.h5:/path/in/file``; the dataset path may be omitted when the
        file holds exactly one dataset.
    dtype : torch.dtype
        Real dtype to compute in; complex data keep the matching complex dtype.

    Returns
    -------
    tensor : torch.Tensor, shape (I_1, ..., I_N), N >= 2
    where : str
        ``file:/dataset`` for messages and provenance.

    Raises
    ------
    BadInput
        Missing file, missing dataset, non-numeric data, fewer than 2 modes, NaN or inf.
    """
    path, key = split_h5_spec(spec)
    if not path.is_file():
        raise BadInput(str(path), "file not found")
    try:
        f = h5py.File(path, "r")
    except OSError:
        raise BadInput(str(path), "not an HDF5 file") from None
    with f:
        if not key:
            names: list[str] = []
            f.visititems(lambda n, o: names.append(n) if isinstance(o, h5py.Dataset) else None)
            if len(names) != 1:
                raise BadInput(str(path), f"holds {len(names)} datasets; name one as {path}:/path")
            key = names[0]
        where = f"{path}:{key}"
        if key not in f or not isinstance(f[key], h5py.Dataset):
            raise BadInput(where, "no such dataset in the file")
        ds = f[key]
        if ds.dtype.kind not in "iufc":
            raise BadInput(where, f"dataset is not numeric (dtype {ds.dtype})")
        if ds.ndim < 2:
            raise BadInput(where, f"needs at least 2 modes, got shape {ds.shape}")
        arr = ds[()]
    if not np.isfinite(arr).all():
        bad = int((~np.isfinite(arr)).sum())
        raise BadInput(where, f"contains {bad} NaN or infinite values")
    t = torch.from_numpy(np.ascontiguousarray(arr))
    if t.is_complex():
        t = t.to(torch.complex128 if dtype == torch.float64 else torch.complex64)
    else:
        t = t.to(dtype)
    return t, where


def synthetic_tensor(shape: list[int], ranks: list[int], noise: float, seed: int,
                     dtype: torch.dtype = torch.float64, device: str | torch.device = "cpu"
                     ) -> torch.Tensor:
    """A random Tucker tensor of multilinear rank ``ranks`` plus Gaussian noise.

    Parameters
    ----------
    shape : list of int, (I_1, ..., I_N)
    ranks : list of int, (R_1, ..., R_N), R_n <= I_n
    noise : float
        Noise Frobenius norm relative to the signal's.
    seed : int

    Returns
    -------
    torch.Tensor, shape ``shape``
    """
    if len(ranks) != len(shape):
        raise BadInput("config.true_ranks", f"has {len(ranks)} entries for a {len(shape)}-way shape")
    for n, (r, i) in enumerate(zip(ranks, shape)):
        if not 1 <= r <= i:
            raise BadInput("config.true_ranks", f"rank {r} of mode {n} is not in [1, {i}]")
    g = torch.Generator(device="cpu").manual_seed(seed)
    core = torch.randn(*ranks, generator=g, dtype=dtype)
    x = core
    for n, (r, i) in enumerate(zip(ranks, shape)):
        q, _ = torch.linalg.qr(torch.randn(i, r, generator=g, dtype=dtype))
        x = torch.movedim(torch.tensordot(q, torch.movedim(x, n, 0), dims=1), 0, n)
    if noise > 0:
        e = torch.randn(*shape, generator=g, dtype=dtype)
        x = x + noise * torch.linalg.vector_norm(x) / torch.linalg.vector_norm(e) * e
    return x.to(device)
