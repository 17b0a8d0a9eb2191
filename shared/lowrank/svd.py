"""Truncated SVD: one entry point, three solvers, one sign convention.

``svd(A, rank)`` returns ``(U, S, Vh)`` with ``A ~= U @ diag(S) @ Vh`` for a
(batched) real or complex matrix, on the input's device and in its dtype.

Solvers
-------
``full``
    ``torch.linalg.svd(full_matrices=False)``, then truncation.  Most precise.
``gram``
    ``eigh`` of the *small* Gram matrix (``A A^H`` when ``m <= n``, else
    ``A^H A``), projection onto its top-``rank`` eigenvectors and an SVD of the
    ``rank x max(m, n)`` projection.  Fast for very wide or tall matrices
    (Tucker unfoldings).  Squaring the matrix halves the number of accurate
    digits of the *small* singular values: directions with
    ``sigma_i < sqrt(eps) * sigma_1`` (about ``3e-4`` in float32, ``1e-8`` in
    float64) are not resolved, but they contribute that little to the
    reconstruction error either.
``randomized``
    Halko-Martinsson-Tropp range finder (Alg. 4.4: power iterations with a QR
    after every product) followed by the SVD of the small projection
    (Alg. 5.1).  For ``rank + oversample`` well below ``min(m, n)``.

``auto`` picks a solver per device (:func:`choose_method`): on the CPU by a
fixed cost model fitted to crossovers measured on a 2-core CPU
(``bench/lowrank.py --crossover``, recorded in ``docs/benchmarks.md``), so the
choice, and hence the result, never depends on the machine's load; on any
other device (CUDA) the model's one device-dependent constant, the cost of the
randomized passes relative to gram's GEMM + eigh, is calibrated by timing both
solvers on a probe matrix at the first ``auto`` call on that device, and
cached for the process (:func:`randomized_penalty`).

References
----------
N. Halko, P.-G. Martinsson, J. A. Tropp, "Finding structure with randomness:
probabilistic algorithms for constructing approximate matrix decompositions",
SIAM Review 53(2):217-288, 2011.
"""

from __future__ import annotations

import math
import threading

import torch

from shared.errors import BadInput
from shared.lowrank._utils import check_rank, eigh, lapack_svd, lapack_threads, make_generator, qr_q, randn

METHODS = ("auto", "full", "gram", "randomized")

# How `auto` chooses.  Measured with `python bench/lowrank.py --crossover
# --reps 2` on the 2-core CPU (torch 2.13.0+cpu, float32, LAPACK calls on one
# thread, see _utils.lapack_threads; 2026-11-27, load average 4-5 from other
# jobs, so single timings scatter by ~30%).  Seconds full / gram / randomized
# (p=10, q=2); full table in docs/benchmarks.md, "Low-rank core":
#    500 x 500,   k=20:   0.077 / 0.062 / 0.092    k=100: 0.088 / 0.116 / 0.087
#   1000 x 1000,  k=20:   0.40  / 0.18  / 0.088    k=250: 0.32  / 0.16  / 0.18
#   1000 x 2000,  k=100:  0.94  / 0.34  / 0.23     k=250: 1.14  / 0.53  / 0.42
#    500 x 4000,  k=5:    0.61  / 0.054 / 0.051    k=100: 0.37  / 0.038 / 0.055
#    256 x 65536, k=5:    1.94  / 0.124 / 0.29     k=100: 1.62  / 0.45  / 0.99
#  20000 x 2000,  k=50:   9.7   / 2.8   / 0.76     (bench case b, all single-threaded)
# `auto` compares modelled costs (multiply-adds; s = min(m, n), L = max(m, n),
# l = k + p) fitted to this table:
#   gram:        s^2 L + 5 s^3 (eigh) + k s L + 2 k^2 L
#   randomized:  1.3 [(2q + 2) s L max(l, 50) + 2 (2q + 1)(s + L) l^2 + 4 l^2 L]
# max(l, 50): a skinny product A @ Omega is bound by reading A, not by flops,
# so each of the 2q + 2 passes costs at least ~50 multiply-adds per entry of A.
# On the 30 cells of that table it picks the fastest solver 23 times and is
# at most 1.5x off otherwise (the misses are mostly under 0.1 s).  `full` is kept
# when more than half of the singular values are requested and the matrix is
# not very wide or tall (L < 8 s): gram's last step, an SVD of the k x L
# projection, then costs nearly as much as the full SVD (re-measured
# 2026-12-01 under load 6-7, min of 3 interleaved calls, full / gram:
# 2000 x 300 k=250 0.16 / 0.36 s, 1200 x 400 k=300 0.18 / 0.36 s; while
# 256 x 20000 k=200 is 2.0 / 1.1 s, so very wide matrices stay with gram).
RANDOMIZED_MIN_SIZE = 200
FULL_RANK_FRACTION = 0.5
FULL_MAX_ASPECT = 8.0
RANDOMIZED_PENALTY = 1.3  # the CPU's; other devices are calibrated, see randomized_penalty
MEMORY_BOUND_WIDTH = 50
#: Probe of the calibration on a non-CPU device: (m, n, k), float32.
CALIBRATION_PROBE = (2048, 8192, 32)
_penalties: dict[str, float] = {}
_penalty_lock = threading.Lock()


def _cost_gram(s: int, L: int, k: int) -> float:
    return float(s) * s * L + 5.0 * s**3 + float(k) * s * L + 2.0 * k * k * L


def _cost_randomized(s: int, L: int, k: int, p: int, q: int, penalty: float = RANDOMIZED_PENALTY) -> float:
    ell = k + p
    passes = (2 * q + 2) * float(s) * L * max(ell, MEMORY_BOUND_WIDTH)
    return penalty * (passes + 2.0 * (2 * q + 1) * (s + L) * ell**2 + 4.0 * ell**2 * L)


def _device_key(device) -> str:
    d = torch.device(device if device is not None else "cpu")
    if d.type == "cuda" and d.index is None:
        d = torch.device("cuda", torch.cuda.current_device())
    return str(d)


def calibrate_penalty(device, probe: tuple[int, int, int] = CALIBRATION_PROBE, repeats: int = 3) -> float:
    """Measure the randomized solver's cost factor on ``device``.

    Times gram and randomized (``p=10, q=2``) on a random float32 ``probe``
    matrix (medians of ``repeats`` calls after a warm-up, device synchronised,
    :func:`shared.timing.measure`) and returns the penalty that makes the cost
    model's ratio equal the measured one.
    """
    from shared.timing import measure

    m, n, k = probe
    dev = torch.device(device)
    A = randn((m, n), dtype=torch.float32, device=dev, generator=make_generator(0))
    tg, _ = measure(lambda: _svd_gram(A, k), repeats=repeats, device=dev)
    tr, _ = measure(lambda: _svd_randomized(A, k, 10, 2, make_generator(0)), repeats=repeats, device=dev)
    s, L = min(m, n), max(m, n)
    return (tr.median_s / tg.median_s) * _cost_gram(s, L, k) / _cost_randomized(s, L, k, 10, 2, penalty=1.0)


def randomized_penalty(device=None) -> float:
    """The randomized solver's cost factor on ``device`` (CPU: fixed; others: calibrated once)."""
    key = _device_key(device)
    if key == "cpu":
        return RANDOMIZED_PENALTY
    with _penalty_lock:
        if key not in _penalties:
            _penalties[key] = calibrate_penalty(key)
        return _penalties[key]


def choose_method(m: int, n: int, rank: int, oversample: int = 10, power_iters: int = 2,
                  device=None) -> str:
    """Solver that ``method="auto"`` uses for an ``m x n`` matrix truncated to ``rank`` on ``device``.

    1. ``full`` when more than half of the singular values are kept and the
       matrix is not very wide or tall (``max < 8 min``);
    2. otherwise ``randomized`` when ``min(m, n) >= 200``, the sketch is
       smaller than the matrix and its modelled cost is below gram's (see the
       fit in this module's header; on a device other than the CPU the
       randomized cost factor is :func:`randomized_penalty`'s calibration);
    3. otherwise ``gram``.
    """
    s, L = min(m, n), max(m, n)
    if L < FULL_MAX_ASPECT * s and rank > FULL_RANK_FRACTION * s:
        return "full"
    if (
        s >= RANDOMIZED_MIN_SIZE
        and rank + oversample < s
        and _cost_randomized(s, L, rank, oversample, power_iters, randomized_penalty(device))
        < _cost_gram(s, L, rank)
    ):
        return "randomized"
    return "gram"


def svd(
    A: torch.Tensor,
    rank: int | None = None,
    method: str = "auto",
    oversample: int = 10,
    power_iters: int = 2,
    seed: int | torch.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Truncated singular value decomposition of a (batched) matrix.

    Parameters
    ----------
    A : torch.Tensor
        Shape ``(..., m, n)``, real or complex floating point, any device.
    rank : int, optional
        Number ``k`` of singular triplets kept; ``None`` keeps ``min(m, n)``.
    method : {"auto", "full", "gram", "randomized"}
        Solver (see the module docstring); ``auto`` uses :func:`choose_method`
        and may pick ``randomized`` for large matrices and small ranks (error
        within ~1% of the optimal truncation on decaying spectra; pass a
        ``seed`` for reproducible results, or ``method="gram"``/``"full"``
        for deterministic ones).
    oversample : int
        Extra columns ``p`` of the randomized sketch (size ``k + p``).
    power_iters : int
        Number ``q`` of power iterations of the randomized range finder.
    seed : int, torch.Generator or None
        Randomness of the ``randomized`` solver.  An ``int`` seeds a CPU
        generator, so the same seed gives the same sketch on every device;
        ``None`` uses torch's global RNG.

    Returns
    -------
    U : torch.Tensor
        Shape ``(..., m, k)``, orthonormal columns, dtype of ``A``.
    S : torch.Tensor
        Shape ``(..., k)``, descending, real dtype matching ``A``.
    Vh : torch.Tensor
        Shape ``(..., k, n)``, orthonormal rows, dtype of ``A``.

    Notes
    -----
    Signs (phases, for complex input) are fixed so that the entry of largest
    magnitude of every left singular vector is real and positive; the
    decomposition is then unique for distinct singular values, whatever the
    solver or device.
    """
    if not isinstance(A, torch.Tensor):
        raise BadInput("A", f"expected a torch.Tensor, got {type(A).__name__}")
    if A.ndim < 2:
        raise BadInput("A", f"expected a matrix of shape (..., m, n), got shape {tuple(A.shape)}")
    if not (A.dtype.is_floating_point or A.dtype.is_complex) or A.dtype in (torch.float16, torch.bfloat16):
        raise BadInput("A", f"dtype {A.dtype} is not supported; use float32/64 or complex64/128")
    m, n = A.shape[-2], A.shape[-1]
    k = min(m, n) if rank is None else check_rank(rank, min(m, n), "rank", "min(m, n) of the matrix")
    if method not in METHODS:
        raise BadInput("method", f"unknown SVD method {method!r}; expected one of {', '.join(METHODS)}")
    if oversample < 0 or power_iters < 0:
        bad = "oversample" if oversample < 0 else "power_iters"
        raise BadInput(bad, f"oversample and power_iters must be non-negative, got {bad}="
                            f"{oversample if bad == 'oversample' else power_iters}")
    if method == "auto":
        method = choose_method(m, n, k, oversample, power_iters, device=A.device)
    if method == "randomized" and k + oversample >= min(m, n):
        # The sketch would span the whole space: the exact solver is cheaper.
        method = "full"
    if method == "full":
        U, S, Vh = lapack_svd(A)
        U, S, Vh = U[..., :k], S[..., :k], Vh[..., :k, :]
    elif method == "gram":
        U, S, Vh = _svd_gram(A, k)
    else:
        U, S, Vh = _svd_randomized(A, k, oversample, power_iters, make_generator(seed))
    return _fix_signs(U, S, Vh)


def left_singular_from_gram(G: torch.Tensor, rank: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Leading eigenpairs of a Hermitian PSD Gram matrix ``G = A A^H``.

    Parameters
    ----------
    G : torch.Tensor
        Shape ``(..., m, m)``.
    rank : int
        Number ``k`` of eigenpairs.

    Returns
    -------
    U : torch.Tensor
        Shape ``(..., m, k)``: leading left singular vectors of ``A``, with the
        sign convention of :func:`svd`.
    S2 : torch.Tensor
        Shape ``(..., k)``: the squared singular values (clamped at 0), descending.
    """
    evals, evecs = eigh(G)
    # eigh sorts ascending: the leading pairs are the last k, reversed.
    U = evecs[..., -rank:].flip(-1)
    S2 = evals[..., -rank:].flip(-1).clamp_min(0)
    U, _, _ = _fix_signs(U, None, None)
    return U, S2


def _svd_gram(A: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    m, n = A.shape[-2], A.shape[-1]
    if m > n:
        # Work on the wide A^H: A = (A^H)^H = Vh^H S U^H.
        U, S, Vh = _svd_gram(A.mH, k)
        return Vh.mH, S, U.mH
    evals, evecs = eigh(A @ A.mH)
    W = evecs[..., -k:].flip(-1)
    # An SVD of the small projection, not Vh = diag(1/S) W^H A, keeps Vh
    # orthonormal and S accurate even when some singular values are ~0.
    Ub, S, Vh = lapack_svd(W.mH @ A)
    return W @ Ub, S, Vh


def _svd_randomized(A: torch.Tensor, k: int, p: int, q: int, generator) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    n = A.shape[-1]
    ell = k + p
    Omega = randn((*A.shape[:-2], n, ell), dtype=A.dtype, device=A.device, generator=generator)
    Q = qr_q(A @ Omega)
    for _ in range(q):
        # Re-orthonormalising after every product keeps the small singular
        # directions from being swamped by round-off (HMT Alg. 4.4).
        Z = qr_q(A.mH @ Q)
        Q = qr_q(A @ Z)
    Ub, S, Vh = lapack_svd(Q.mH @ A)
    return Q @ Ub[..., :k], S[..., :k], Vh[..., :k, :]


def _fix_signs(U: torch.Tensor, S, Vh):
    """Make the largest-magnitude entry of every column of ``U`` real positive."""
    idx = U.abs().argmax(dim=-2, keepdim=True)
    pivot = torch.gather(U, -2, idx)  # (..., 1, k)
    mag = pivot.abs()
    phase = torch.where(mag > 0, pivot / mag.clamp_min(torch.finfo(mag.dtype).tiny), torch.ones_like(pivot))
    U = U * phase.conj()
    if Vh is not None:
        Vh = Vh * phase.mT
    return U, S, Vh


def randomized_error_estimate(
    A: torch.Tensor, U: torch.Tensor, n_probes: int = 5, seed: int | torch.Generator | None = 0
) -> torch.Tensor:
    """A-posteriori bound on ``||(I - U U^H) A||_2`` from a few Gaussian probes.

    HMT eq. (4.3): with ``r = n_probes`` standard Gaussian vectors ``w_j``,
    ``||(I - U U^H) A||_2 <= 10 sqrt(2 / pi) max_j ||(I - U U^H) A w_j||``
    with probability at least ``1 - 10^-r``.  Costs ``r`` matrix-vector
    products; log it beside every randomized result.

    Parameters
    ----------
    A : torch.Tensor
        Shape ``(..., m, n)``.
    U : torch.Tensor
        Shape ``(..., m, k)``, orthonormal columns (e.g. from :func:`svd`).

    Returns
    -------
    torch.Tensor
        Shape ``(...)``, real dtype: the bound, in the units of ``A``.
    """
    n = A.shape[-1]
    W = randn((*A.shape[:-2], n, n_probes), dtype=A.dtype, device=A.device, generator=make_generator(seed))
    AW = A @ W
    R = AW - U @ (U.mH @ AW)
    return 10.0 * math.sqrt(2.0 / math.pi) * torch.linalg.vector_norm(R, dim=-2).amax(-1)


def svdvals(A: torch.Tensor) -> torch.Tensor:
    """All singular values of a (batched) matrix, descending.

    ``torch.linalg.svdvals`` under the core's LAPACK threading rule. It works on
    the matrix itself, not its Gram, so values down to ``eps * sigma_1`` are
    resolved (a Gram puts the floor at ``sqrt(eps) * sigma_1``).

    Parameters
    ----------
    A : torch.Tensor
        Shape ``(..., m, n)``, real or complex.

    Returns
    -------
    torch.Tensor
        Shape ``(..., min(m, n))``, real dtype matching ``A``, on ``A``'s device.
    """
    with lapack_threads(A):
        return torch.linalg.svdvals(A)
