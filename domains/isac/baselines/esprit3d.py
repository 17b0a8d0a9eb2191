"""Joint 3-D (R-D) Standard ESPRIT with spatial smoothing and FBA.

Method (re-derived; brief section 9):

1. **Spatial smoothing.** Every sub-tensor ``Y[s1:s1+L1, s2:s2+L2, s3:s3+L3]``
   is one snapshot; vectorised in C order it equals
   ``sum_k b_k e^{j mu_k . s} a_L1(mu_k1) kron a_L2(mu_k2) kron a_L3(mu_k3)``,
   so the ``(L1 L2 L3) x S`` smoothed matrix ``X`` has the column space of the
   sub-array steering matrix ``A_L`` - the shift phases decorrelate coherent
   targets (one data tensor is a single snapshot).
2. **Forward-backward averaging.** ``[X, Pi conj(X)]``: ``Pi conj(a_L(mu)) =
   e^{-j(L-1)mu} a_L(mu)`` for Vandermonde vectors, so the column space is
   unchanged and the number of snapshots doubles. (Reversing the C-order
   vector reverses every mode; the column order does not matter.)
3. **Signal subspace.** ``U_s``: the K dominant left singular vectors of the
   smoothed matrix, from the shared core's truncated SVD
   (:func:`shared.lowrank.svd`).
4. **Shift invariance per mode r.** ``J1`` keeps sub-array indices
   ``0 .. L_r-2`` of mode r, ``J2`` indices ``1 .. L_r-1`` (``I kron [I, 0]
   kron I`` in C order); with ``U_s = A_L T``, the LS solution of
   ``(J1 U_s) Psi_r = J2 U_s`` is ``Psi_r = T^-1 diag(e^{j mu_r}) T``.
5. **Pairing by joint diagonalisation.** All ``Psi_r`` share the eigenvectors
   ``T^-1``: eigendecompose a random real combination ``sum_r beta_r Psi_r
   = V D V^-1`` and read ``mu_{r,k} = angle([V^-1 Psi_r V]_kk)`` (of a few
   seeded draws of beta, the one with the smallest off-diagonal residual). Targets that
   share a frequency in one mode are still separated as long as they differ
   in another, because the combination's eigenvalues differ.

Cost: forming ``X`` is O(prod(L) S); the SVD of the ``prod(L) x 2S`` matrix is
O(prod(L) S min(prod(L), S)) for the exact solver - cubic in the tensor size for
``L ~ N/2`` - and O(prod(L) S K) for a randomized one.

References
----------
M. Haardt, J. A. Nossek, "Simultaneous Schur decomposition of several
nonsymmetric matrices to achieve automatic pairing in multidimensional
harmonic retrieval problems", IEEE TSP 46(1), 1998.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor

from domains.isac.atoms import solve_ls
from domains.isac.baselines.common import check_tensor, ls_gains
from domains.isac.plain.modal import estimate_order
from domains.isac.types import Estimate
from shared.errors import BadInput
from shared.lowrank.svd import svd

__all__ = ["esprit3d", "default_subarray", "smoothed_matrix", "mdl_order"]

# Largest smoothed matrix (entries, FBA included) the default sub-array may
# build: 2^25 complex128 entries are 512 MiB.
MAX_ENTRIES = 2 ** 25


def _entries(shape: Sequence[int], L: Sequence[int], fba: bool) -> int:
    rows = math.prod(L)
    cols = math.prod(n - l + 1 for n, l in zip(shape, L))
    return rows * cols * (2 if fba else 1)


def default_subarray(shape: Sequence[int], fba: bool = True,
                     max_entries: int = MAX_ENTRIES) -> tuple[int, ...]:
    """Sub-array size: about N/2 per mode, enlarged until the matrix fits.

    ``L_m = ceil(N_m / 2)`` is near the accuracy optimum of smoothing
    (``N/2 .. 2N/3``), but it maximises ``prod(L) * prod(N - L + 1)``. When
    that exceeds ``max_entries``, every mode keeps the same *fraction* f of
    its length as shifts, ``N_m - L_m + 1 = max(1, round(f N_m))``, with f
    lowered in steps of 5% until the matrix fits: fewer snapshots and longer
    sub-arrays, spread so that no mode is left with almost no smoothing while
    another keeps many shifts (measured on ``default`` at 10 dB: shifts
    (2, 13, 6) gave ~1.5x the CRB in every mode, (4, 4, 8) 2.5x in range).

    Parameters
    ----------
    shape : (N1, N2, N3)
    fba : bool
        Whether the matrix will be doubled by forward-backward averaging.
    max_entries : int
        Budget for the smoothed matrix.

    Returns
    -------
    tuple of int
        ``(L1, L2, L3)``, each in ``[min(2, N_m), N_m]``.
    """
    N = [int(n) for n in shape]
    L = [max(min(2, n), (n + 1) // 2) for n in N]
    f = 0.5
    while _entries(N, L, fba) > max_entries and any(n - l + 1 > 1 for n, l in zip(N, L)):
        f *= 0.95
        L = [max(min(2, n), n - max(1, round(f * n)) + 1) for n in N]
    return tuple(L)


def smoothed_matrix(Y: Tensor, subarray: Sequence[int], fba: bool = True) -> Tensor:
    """Spatially smoothed (and forward-backward averaged) data matrix.

    Parameters
    ----------
    Y : Tensor (N1, N2, N3), complex
    subarray : (L1, L2, L3)
    fba : bool

    Returns
    -------
    Tensor (L1 L2 L3, S) or (L1 L2 L3, 2 S), complex
        Column s is the C-order vectorised sub-tensor at shift s,
        ``S = prod(N_m - L_m + 1)``; with FBA the reversed conjugates follow.
    """
    L1, L2, L3 = subarray
    # unfold gives views (S1, S2, S3, L1, L2, L3); the reshape makes one copy
    win = Y.unfold(0, L1, 1).unfold(1, L2, 1).unfold(2, L3, 1)
    X = win.reshape(-1, L1 * L2 * L3).T
    if fba:
        X = torch.cat([X, X.flip(0).conj()], dim=1)
    return X


def mdl_order(eigvals: Tensor, n_snapshots: int) -> int:
    """Model order by the MDL criterion (Wax & Kailath, 1985).

    One home with PLAIN's per-mode orders:
    :func:`domains.isac.plain.modal.estimate_order` (criterion ``"mdl"``,
    orders ``1 .. M-1``, capped at the numerical rank of noiseless data).

    Parameters
    ----------
    eigvals : Tensor (M,), real, descending
        Eigenvalues of the sample covariance.
    n_snapshots : int

    Returns
    -------
    int
    """
    return int(estimate_order(eigvals.clamp_min(0), n_snapshots, "mdl"))


def esprit3d(Y: Tensor, n_targets: int | None, subarray: Sequence[int] | None = None,
             fba: bool = True, svd_method: str = "auto", seed: int = 0,
             max_entries: int = MAX_ENTRIES, pairing_draws: int = 4) -> Estimate:
    """Joint 3-D Standard ESPRIT with smoothing, FBA and joint-diagonalisation pairing.

    Parameters
    ----------
    Y : Tensor (N1, N2, N3), complex
        One data tensor (antennas x subcarriers x symbols).
    n_targets : int or None
        Signal subspace dimension K. None: MDL on the eigenvalues of the
        smaller Gram matrix of the smoothed matrix (one extra ``eigvalsh``).
    subarray : (L1, L2, L3), optional
        Sub-tensor size; default :func:`default_subarray`. Needs
        ``2 <= L_m <= N_m`` and ``K <= prod(L) (L_r - 1) / L_r`` for every r.
    fba : bool
        Forward-backward averaging.
    svd_method : {"auto", "full", "gram", "randomized"}
        Solver of :func:`shared.lowrank.svd`; "full" is the textbook exact SVD.
    seed : int
        Seeds the randomized SVD and the pairing combination (results are
        reproducible).
    max_entries : int
        Budget of the smoothed matrix; an explicit ``subarray`` that exceeds
        it raises ``BadInput`` rather than exhausting memory.
    pairing_draws : int
        Random combinations tried for the joint diagonalisation; the one with
        the smallest off-diagonal residual is kept.

    Returns
    -------
    Estimate
        ``mu`` (K, 3) rad/sample, LS ``gains`` (K,), ``extra = {"subarray",
        "singular_values", "pairing_residual"}``; the residual is the largest
        off-diagonal magnitude of ``V^-1 Psi_r V`` relative to its diagonal
        (0 for exact data).
    """
    Y = check_tensor(Y, "esprit3d.Y")
    shape = tuple(Y.shape)
    L = tuple(default_subarray(shape, fba, max_entries) if subarray is None else subarray)
    if len(L) != 3 or any(not (2 <= l <= n) for l, n in zip(L, shape)):
        raise BadInput("esprit3d.subarray", f"need 2 <= L_m <= N_m per mode, got {L} for {shape}")
    if _entries(shape, L, fba) > max_entries:
        raise BadInput("esprit3d.subarray",
                       f"smoothed matrix of {_entries(shape, L, fba)} entries exceeds max_entries={max_entries}")
    X = smoothed_matrix(Y, L, fba)
    rows, cols = X.shape
    K = n_targets
    if K is None:
        G = X @ X.mH if rows <= cols else X.mH @ X
        lam = torch.linalg.eigvalsh(G).flip(0) / cols
        K = max(1, mdl_order(lam, cols))
    K = int(K)
    max_k = min(cols, min(math.prod(L) // l * (l - 1) for l in L))
    if not 1 <= K <= max_k:
        raise BadInput("esprit3d.n_targets", f"{K} targets need 1 <= K <= {max_k} for sub-array {L}")
    U, S, _ = svd(X, K, method=svd_method, seed=seed)

    # shift invariance per mode: slice the sub-array index of mode r
    Ut = U.reshape(*L, K)
    psis = []
    for r in range(3):
        U1 = Ut.narrow(r, 0, L[r] - 1).reshape(-1, K)
        U2 = Ut.narrow(r, 1, L[r] - 1).reshape(-1, K)
        psis.append(solve_ls(U1, U2))
    Psi = torch.stack(psis)                                          # (3, K, K)

    # Random real combinations have distinct eigenvalues with probability one,
    # but a draw that makes two of them nearly equal gives ill-conditioned
    # eigenvectors; of a few seeded draws keep the one that diagonalises all
    # Psi_r best (K x K problems: negligible cost).
    gen = torch.Generator().manual_seed(seed)
    betas = torch.randn(pairing_draws, 3, generator=gen, dtype=torch.float64)
    best = None
    for beta in betas.to(device=Y.device, dtype=Psi.dtype):
        _, V = torch.linalg.eig(torch.einsum("r,rij->ij", beta, Psi))
        D = torch.linalg.solve(V.to(Psi.dtype), Psi @ V.to(Psi.dtype))   # (3, K, K), ~diagonal
        diag = torch.diagonal(D, dim1=-2, dim2=-1)                       # (3, K)
        off = float((D - torch.diag_embed(diag)).abs().amax() / diag.abs().amax())
        if best is None or off < best[0]:
            best = (off, diag)
    off, diag = best
    mu = torch.angle(diag).T.contiguous()                            # (K, 3)
    return Estimate(mu=mu, gains=ls_gains(Y, mu),
                    extra={"subarray": L, "singular_values": S,
                           "pairing_residual": off})
