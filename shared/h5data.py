"""Header-level checks of ``--data`` inputs, before any run exists.

``--data`` names a file, and for HDF5 a dataset inside it as
``file.h5:/path/in/file``. The functions here say precisely what is wrong
with such a spec (a directory, a missing file, a file that is not HDF5, a
missing dataset with the ones that exist, a non-numeric dtype, a zero-size
mode, NaNs) as :class:`shared.errors.BadInput` naming the file or dataset.
They read headers only; :func:`scan_finite` reads the data in blocks, so a
check never holds a whole array in memory.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from shared.errors import BadInput

#: Elements read per block by :func:`scan_finite` (8 MiB of float64).
BLOCK_ELEMENTS = 1 << 20


def split_spec(spec: str) -> tuple[Path, str]:
    """Split ``file.h5:/path/in/file`` into the file and the dataset path.

    A spec that is itself an existing path (even one holding ``:``), or has no
    ``:``, names a file and no dataset (``""``).
    """
    spec = str(spec)
    if ":" in spec and not Path(spec).exists():
        path, key = spec.rsplit(":", 1)
        return Path(path), key
    return Path(spec), ""


def check_file(path: str | Path, where: str = "--data", allow_dir: bool = False) -> Path:
    """The path of an existing regular file; a BadInput that says why not.

    Parameters
    ----------
    path : str or Path
        The file part of a ``--data`` spec.
    where : str
        Used when ``path`` is empty.
    allow_dir : bool
        Accept a directory too (some domains read product folders); the CLI's
        domain-independent check uses it, a domain's ``check`` decides.
    """
    p = Path(path)
    if not str(path):
        raise BadInput(where, "empty path")
    if p.is_dir() and allow_dir:
        return p
    if p.is_dir():
        raise BadInput(str(p), "is a directory, not a data file (for HDF5 give file.h5:/dataset)")
    if not p.exists():
        parent = p.parent if str(p.parent) else Path(".")
        hint = "" if parent.is_dir() else f" (directory {parent} does not exist)"
        raise BadInput(str(p), f"file not found{hint}")
    if not p.is_file():
        raise BadInput(str(p), "is not a regular file")
    return p


def list_datasets(f) -> list[str]:
    """Paths (with a leading ``/``) of every dataset in an open ``h5py.File``."""
    import h5py

    names: list[str] = []
    f.visititems(lambda n, o: names.append("/" + n) if isinstance(o, h5py.Dataset) else None)
    return names


def inspect_h5(spec: str, *, kinds: str = "iufc", min_ndim: int = 1,
               default_key: str | None = None) -> tuple[str, tuple[int, ...], np.dtype]:
    """Open ``file.h5:/dataset`` and check its header.

    Parameters
    ----------
    spec : str
        ``file.h5:/path``; without a dataset path, ``default_key`` or else the
        file's only dataset is used.
    kinds : str
        Accepted ``numpy`` dtype kinds (``"iufc"``: integer, unsigned, float,
        complex; ``"c"``: complex only).
    min_ndim : int
        Fewest dimensions the dataset may have.
    default_key : str, optional
        Dataset used when the spec names none.

    Returns
    -------
    where : str
        ``file.h5:/dataset``, for messages and provenance.
    shape : tuple of int
    dtype : numpy.dtype

    Raises
    ------
    BadInput
        A directory, a missing file, a file that is not HDF5, a missing dataset
        (listing those that exist), a dtype of the wrong kind, too few
        dimensions, or a dimension of size zero.
    """
    import h5py

    path, key = split_spec(spec)
    check_file(path)
    try:
        f = h5py.File(path, "r")
    except OSError as err:
        raise BadInput(str(path), f"not a readable HDF5 file ({type(err).__name__})") from None
    with f:
        have = list_datasets(f)
        if not key:
            if default_key is not None:
                key = default_key
            elif len(have) == 1:
                key = have[0]
            else:
                raise BadInput(str(path), f"holds {len(have)} datasets; name one as {path}:/path "
                                          f"(have: {', '.join(have[:8]) or 'none'})")
        key = "/" + key.lstrip("/")
        where = f"{path}:{key}"
        if key not in f or not isinstance(f[key], h5py.Dataset):
            raise BadInput(where, f"no such dataset in the file (have: {', '.join(have[:8]) or 'none'})")
        ds = f[key]
        if ds.dtype.kind not in kinds:
            want = {"c": "complex"}.get(kinds, "numeric")
            raise BadInput(where, f"dataset is not {want} (dtype {ds.dtype})")
        if ds.ndim < min_ndim:
            raise BadInput(where, f"needs at least {min_ndim} dimensions, got shape {ds.shape}")
        zero = [n for n, s in enumerate(ds.shape) if s == 0]
        if zero:
            raise BadInput(where, f"dimension {zero[0]} has size 0 (shape {ds.shape})")
        return where, tuple(int(s) for s in ds.shape), ds.dtype


def scan_finite(spec: str, block_elements: int = BLOCK_ELEMENTS) -> None:
    """Raise BadInput when ``file.h5:/dataset`` holds a NaN or infinity.

    Reads blocks of whole leading-axis slices of about ``block_elements``
    elements, so memory stays bounded whatever the dataset's size. Integer
    data are finite by construction and are not read.
    """
    import h5py

    path, key = split_spec(spec)
    where = f"{path}:/{key.lstrip('/')}"
    with h5py.File(path, "r") as f:
        ds = f[key]
        if ds.dtype.kind not in "fc":
            return
        row = max(1, math.prod(ds.shape[1:]))
        step = max(1, block_elements // row)
        bad = 0
        first = None
        for start in range(0, ds.shape[0], step):
            block = ds[start:start + step]
            ok = np.isfinite(block)
            n_bad = int(ok.size - np.count_nonzero(ok))
            if n_bad and first is None:
                first = tuple(int(i) + (start if d == 0 else 0)
                              for d, i in enumerate(np.argwhere(~ok)[0]))
            bad += n_bad
    if bad:
        raise BadInput(where, f"contains {bad} NaN or infinite values (first at index {list(first)})")
