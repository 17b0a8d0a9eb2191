"""Ingest for the ``lowrank`` flow: an HDF5 dataset or a synthetic tensor."""

from __future__ import annotations

import h5py
import numpy as np

from shared.errors import BadInput
from shared.h5data import inspect_h5, split_spec


#: ``file.h5:/path`` -> (file, dataset path); kept under this name for callers.
split_h5_spec = split_spec


def load_h5_tensor(spec: str, dtype: torch.dtype | None = None) -> tuple[torch.Tensor, str]:
    """Read a numeric, finite HDF5 dataset as a tensor.

    Parameters
    ----------
    spec : str
        ``file.h5:/path/in/file``; the dataset path may be omitted when the
        file holds exactly one dataset.
    dtype : torch.dtype, optional
        Real dtype to compute in (default float64); complex data keep the
        matching complex dtype.

    Returns
    -------
    tensor : torch.Tensor, shape (I_1, ..., I_N), N >= 2
    where : str
        ``file:/dataset`` for messages and provenance.

    Raises
    ------
    BadInput
        Everything :func:`shared.h5data.inspect_h5` reports (a directory, a
        missing file or dataset, non-numeric data, fewer than 2 modes, a mode
        of size 0), and NaN or inf values.
    """
    import torch

    dtype = torch.float64 if dtype is None else dtype
    where, _, _ = inspect_h5(spec, min_ndim=2)
    path, key = split_spec(where)
    with h5py.File(path, "r") as f:
        arr = f[key][()]
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
                     dtype: torch.dtype | None = None, device: str | torch.device = "cpu"
                     ) -> torch.Tensor:
    """A random Tucker tensor of multilinear rank ``ranks`` plus Gaussian noise.

    Parameters
    ----------
    shape : list of int, (I_1, ..., I_N)
    ranks : list of int, (R_1, ..., R_N), R_n <= I_n
    noise : float
        Noise Frobenius norm relative to the signal's.
    seed : int
    dtype : torch.dtype, optional
        Default float64.

    Returns
    -------
    torch.Tensor, shape ``shape``
    """
    import torch

    dtype = torch.float64 if dtype is None else dtype
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
