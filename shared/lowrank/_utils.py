"""Small tensor helpers shared by the low-rank modules.

Everything here is device- and dtype-preserving and never leaves torch.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from typing import Sequence

import torch

from shared.errors import BadInput
from shared.threads import cpu_threads

# Threads for LAPACK calls (eigh, svd, qr) on CPU tensors.  Measured on the
# 2-core CPU while other jobs ran (load 6): eigh of a 256 x 256 matrix took
# 0.02 s on 1 thread and 2.7 s on 2 OpenMP threads, 2000 x 2000 0.9 s vs 43 s
# (barrier spin-waits of descheduled threads), while GEMMs were unaffected.
# Prefect runs tasks in a thread pool next to other processes, so the small
# LAPACK calls of the core run single-threaded by default and the GEMMs keep
# every thread.  LOWDIM_LAPACK_THREADS=0 leaves the thread count alone.
#
# How: shared.threads.cpu_threads, which limits the calling thread's OpenMP
# pool (torch's CPU LAPACK is MKL on GNU OpenMP) and restores it on exit, so
# the limit never leaks to another thread and torch.get_num_threads() (a
# process-wide setting that torch.set_num_threads would race on) is never touched.
LAPACK_THREADS = int(os.environ.get("LOWDIM_LAPACK_THREADS", "1"))


@contextmanager
def lapack_threads(t: torch.Tensor):
    """Run the block's LAPACK calls on ``t`` with ``LAPACK_THREADS`` OpenMP threads.

    Only the calling thread's OpenMP setting changes, and it is restored on
    exit; ``torch.get_num_threads()`` and other threads are unaffected. Only
    the thread count changes (never a result); CUDA tensors are left alone.
    """
    if t.device.type != "cpu" or LAPACK_THREADS <= 0 or torch.get_num_threads() <= LAPACK_THREADS:
        yield
        return
    with cpu_threads(LAPACK_THREADS):
        yield


@contextmanager
def tensorly_pytorch():
    """TensorLy's PyTorch backend for this thread only, restored on exit.

    ``tensorly.backend_context`` would do on entry, but on exit it calls
    ``set_backend(old)`` without ``local_threadsafe``, which rewrites the
    *global* default backend from whichever thread leaves last; here only the
    calling thread's backend is set and put back as it was.
    """
    import tensorly as tl
    from tensorly import backend as tlb

    local = tlb.BackendManager._THREAD_LOCAL_DATA.__dict__
    had, old = "backend" in local, local.get("backend")
    tl.set_backend("pytorch", local_threadsafe=True)
    try:
        yield
    finally:
        if had:
            local["backend"] = old
        else:
            local.pop("backend", None)


def eigh(A: torch.Tensor):
    """``torch.linalg.eigh`` under :func:`lapack_threads`."""
    with lapack_threads(A):
        return torch.linalg.eigh(A)


def lapack_svd(A: torch.Tensor):
    """``torch.linalg.svd(full_matrices=False)`` under :func:`lapack_threads`."""
    with lapack_threads(A):
        return torch.linalg.svd(A, full_matrices=False)


def qr_q(A: torch.Tensor) -> torch.Tensor:
    """Orthonormal ``Q`` of the reduced QR of ``A``, under :func:`lapack_threads`."""
    with lapack_threads(A):
        return torch.linalg.qr(A).Q


def make_generator(seed, device: torch.device | str = "cpu") -> torch.Generator | None:
    """Turn ``seed`` into a ``torch.Generator`` (or ``None`` for torch's global RNG).

    Parameters
    ----------
    seed : int, torch.Generator or None
        An ``int`` gives a fresh generator seeded with it, on ``device``; a
        generator is returned as is; ``None`` means torch's global RNG.
    device : torch.device or str
        Device of the generator created from an ``int``.
    """
    if seed is None or isinstance(seed, torch.Generator):
        return seed
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise BadInput("seed", f"expected an int, a torch.Generator or None, got {type(seed).__name__}")
    gen = torch.Generator(device=device)
    gen.manual_seed(int(seed))
    return gen


def randn(shape: Sequence[int], *, dtype: torch.dtype, device: torch.device, generator) -> torch.Tensor:
    """Standard (complex) Gaussian samples drawn with ``generator`` and moved to ``device``.

    The samples are drawn on the generator's device, so an ``int`` seed gives
    the same numbers on CPU and on CUDA (the generator lives on the CPU).
    """
    gen_device = generator.device if generator is not None else device
    out = torch.randn(tuple(shape), dtype=dtype, device=gen_device, generator=generator)
    return out.to(device)


def real_dtype(dtype: torch.dtype) -> torch.dtype:
    """The real dtype matching ``dtype`` (complex64 -> float32, complex128 -> float64)."""
    return torch.empty((), dtype=dtype).real.dtype if dtype.is_complex else dtype


def unfold(X: torch.Tensor, mode: int) -> torch.Tensor:
    """Mode-``mode`` unfolding, C order (TensorLy's convention).

    Shape ``(I_mode, prod of the other sizes)``; a view for the first mode,
    a copy otherwise.
    """
    return torch.movedim(X, mode, 0).reshape(X.shape[mode], -1)


def mode_dot(X: torch.Tensor, M: torch.Tensor, mode: int) -> torch.Tensor:
    """``X x_mode M``: multiply mode ``mode`` of ``X`` (size ``I``) by ``M`` of shape ``(J, I)``.

    Returns a tensor whose mode ``mode`` has size ``J``.
    """
    if mode == 0:
        # A reshape of a contiguous tensor is a view: one GEMM, no copy.
        rest = X.shape[1:]
        out = M @ X.reshape(X.shape[0], -1)
        return out.reshape((M.shape[0], *rest))
    if mode == X.ndim - 1:
        lead = X.shape[:-1]
        out = X.reshape(-1, X.shape[-1]) @ M.transpose(0, 1)
        return out.reshape((*lead, M.shape[0]))
    return torch.movedim(torch.tensordot(M, X, dims=([1], [mode])), 0, mode)


def multi_mode_dot(X: torch.Tensor, matrices: Sequence[torch.Tensor | None], *, conj_transpose: bool = False) -> torch.Tensor:
    """Apply ``matrices[n]`` along every mode ``n`` (``None`` skips a mode).

    With ``conj_transpose=True`` each matrix ``U`` of shape ``(I_n, R_n)`` is
    applied as ``U^H`` (projection onto a factor); otherwise as ``U``
    (reconstruction).  Modes are processed in the order that shrinks the
    tensor most first, which keeps the intermediate tensors small.
    """
    mats = []
    for n, U in enumerate(matrices):
        if U is None:
            continue
        M = U.mH if conj_transpose else U
        mats.append((n, M))
    # Shrinking modes first (largest I/J ratio), growing modes last.
    mats.sort(key=lambda nm: nm[1].shape[0] / nm[1].shape[1])
    out = X
    for n, M in mats:
        out = mode_dot(out, M, n)
    return out


def unfolding_gram(X: torch.Tensor, mode: int) -> torch.Tensor:
    """Gram matrix ``X_(mode) X_(mode)^H`` of shape ``(I_mode, I_mode)``.

    The first and last modes use a reshape view of ``X`` (no copy); middle
    modes copy once into the unfolding, which costs far less than the GEMM.
    """
    X = X if X.is_contiguous() else X.contiguous()
    if mode == 0:
        A = X.reshape(X.shape[0], -1)
        return A @ A.mH
    if mode == X.ndim - 1:
        A = X.reshape(-1, X.shape[-1])
        # X_(N) = A^T, so the Gram is A^T conj(A) = conj(A^H A).
        return (A.mH @ A).conj()
    A = unfold(X, mode)
    return A @ A.mH


def check_rank(rank: int, size: int, where: str, label: str) -> int:
    """Validate a rank against a mode size and return it as an ``int``."""
    if isinstance(rank, bool) or not isinstance(rank, (int,)) and not hasattr(rank, "__index__"):
        raise BadInput(where, f"rank must be an integer, got {rank!r}")
    rank = int(rank)
    if rank < 1:
        raise BadInput(where, f"rank {rank} must be at least 1")
    if rank > size:
        raise BadInput(where, f"rank {rank} exceeds {label} of size {size}")
    return rank


def rank_from_energy(sq_values: torch.Tensor, energy: float) -> int:
    """Smallest ``r`` whose leading squared singular values hold ``energy`` of the total.

    Parameters
    ----------
    sq_values : torch.Tensor
        Squared singular values (eigenvalues of a Gram matrix), shape ``(k,)``,
        in descending order, in the dtype they were computed in.
    energy : float
        Fraction in (0, 1].

    Notes
    -----
    Energy fractions are resolved only to the round-off of the dtype of
    ``sq_values``: the eigenvalues of a Gram matrix carry absolute errors of
    about ``eps * max`` each, so the tail of an exactly rank-``r`` matrix holds
    up to about ``k * eps`` of the total (measured: 0.5-3e-7 in float32 with
    ``k`` = 12-118, against ``k * eps`` = 1.4e-6-1.4e-5).  The target is
    therefore ``energy - max(1e-12, k * eps)``: in float64 the tolerance stays
    1e-12 (for ``k`` up to 4500), in float32 an exactly low-rank tensor gets
    its true ranks with ``energy`` = 1.
    """
    if not (0.0 < float(energy) <= 1.0):
        raise BadInput("energy", f"energy must be in (0, 1], got {energy}")
    src = sq_values.dtype if sq_values.dtype.is_floating_point else torch.float64
    eps = torch.finfo(src).eps if src not in (torch.float16, torch.bfloat16) else torch.finfo(torch.float32).eps
    vals = sq_values.detach().to(torch.float64).clamp_min(0)
    total = vals.sum()
    if total <= 0:
        return 1
    frac = torch.cumsum(vals, 0) / total
    # The tolerance keeps energy=1.0 from asking for directions that only round-off fills.
    tol = max(1e-12, vals.numel() * eps)
    r = int(torch.searchsorted(frac, torch.tensor(float(energy) - tol, dtype=frac.dtype, device=frac.device)).item()) + 1
    return max(1, min(r, vals.numel()))
