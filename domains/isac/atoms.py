"""Kronecker-structured atoms: contractions that never form the N x K matrix.

An atom is ``s_k = a_1k (x) a_2k (x) a_3k`` (C-order vec of the rank-one
tensor ``a_1k o a_2k o a_3k``). Everything the estimators need, inner products
with the data and between atoms, factors into per-mode pieces.
"""

from __future__ import annotations

import torch

from domains.isac.simulate import vandermonde
from shared.errors import BadInput

__all__ = ["check_tensor", "solve_ls", "steering", "mode_products", "atom_correlations", "atom_gram", "ls_gains",
           "residual_energy", "residual_noise_variance"]


def check_tensor(y, where: str = "Y") -> torch.Tensor:
    """Validate a data tensor: complex, 3-D, finite.

    Raises
    ------
    BadInput
        Naming ``where``.
    """
    if not isinstance(y, torch.Tensor):
        raise BadInput(where, f"expected a torch.Tensor, got {type(y).__name__}")
    if not torch.is_complex(y):
        raise BadInput(where, f"must be complex, got {y.dtype}")
    if y.ndim != 3:
        raise BadInput(where, f"must have 3 modes (antennas, subcarriers, symbols), got shape {tuple(y.shape)}")
    if not bool(torch.isfinite(y).all()):
        raise BadInput(where, "contains NaN or Inf values")
    return y


def solve_ls(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Least-squares ``argmin_X ||a X - b||`` for a tall full-column-rank ``a``, by QR.

    Not ``torch.linalg.lstsq``: on CPU, MKL's solver rounds differently with
    the alignment of its buffers, so one seed gave runs 1e-15 apart (1e-11 in
    the metrics); Householder QR plus a triangular solve is bit-reproducible
    and works on every device.
    """
    q, r = torch.linalg.qr(a)
    return torch.linalg.solve_triangular(r, q.mH @ b, upper=True)


def steering(mu: torch.Tensor, shape, dtype: torch.dtype) -> list[torch.Tensor]:
    """Per-mode Vandermonde factors ``A_m`` of ``(..., K, 3)`` frequencies.

    Returns
    -------
    list of torch.Tensor
        Three ``(..., N_m, K)`` complex matrices.
    """
    return [vandermonde(mu[..., m], shape[m], dtype) for m in range(len(shape))]


def mode_products(y: torch.Tensor, mats: list[torch.Tensor]) -> torch.Tensor:
    """Tucker product ``Y x_1 M_1 x_2 M_2 x_3 M_3``.

    Parameters
    ----------
    y : torch.Tensor
        ``(..., N1, N2, N3)``.
    mats : list of torch.Tensor
        ``M_m`` of shape ``(P_m, N_m)`` (no batch dims).

    Returns
    -------
    torch.Tensor
        ``(..., P1, P2, P3)``.
    """
    out = torch.einsum("...ijl,pi->...pjl", y, mats[0])
    out = torch.einsum("...pjl,qj->...pql", out, mats[1])
    return torch.einsum("...pql,rl->...pqr", out, mats[2])


def atom_correlations(y: torch.Tensor, factors: list[torch.Tensor]) -> torch.Tensor:
    """``z_k = s_k^H vec(Y)`` for atoms built from paired factor columns.

    Parameters
    ----------
    y : torch.Tensor
        ``(..., N1, N2, N3)``.
    factors : list of torch.Tensor
        ``(..., N_m, K)``; column k of every factor belongs to atom k.

    Returns
    -------
    torch.Tensor
        ``(..., K)``; cost ``O(N K)`` (the first contraction dominates).
    """
    a1, a2, a3 = (f.conj() for f in factors)
    t = torch.einsum("...ijl,...ik->...kjl", y, a1)
    t = torch.einsum("...kjl,...jk->...kl", t, a2)
    return torch.einsum("...kl,...lk->...k", t, a3)


def atom_gram(factors: list[torch.Tensor], others: list[torch.Tensor] | None = None) -> torch.Tensor:
    """Gram matrix ``S^H S'`` of Kronecker atoms as a Hadamard product.

    Returns
    -------
    torch.Tensor
        ``(..., K, K')`` = ``prod_m (A_m^H A'_m)`` elementwise.
    """
    others = factors if others is None else others
    out = None
    for a, b in zip(factors, others):
        g = a.conj().transpose(-1, -2) @ b
        out = g if out is None else out * g
    return out


def ls_gains(y: torch.Tensor, mu: torch.Tensor) -> torch.Tensor:
    """Least-squares amplitudes of atoms at frequencies ``mu`` on data ``y``.

    Parameters
    ----------
    y : torch.Tensor
        ``(..., N1, N2, N3)`` complex.
    mu : torch.Tensor
        ``(..., K, 3)`` rad/sample.

    Returns
    -------
    torch.Tensor
        ``(..., K)`` complex, ``(S^H S)^-1 S^H vec(y)``.
    """
    fac = steering(mu, y.shape[-3:], y.dtype)
    g = atom_gram(fac)
    z = atom_correlations(y, fac)
    # pinv, not solve: two estimates may share an atom exactly (a singular Gram)
    return (torch.linalg.pinv(g, hermitian=True) @ z.unsqueeze(-1)).squeeze(-1)


def residual_energy(y: torch.Tensor, mu: torch.Tensor) -> torch.Tensor:
    """``||P_S^perp vec(y)||^2`` (variable-projection cost), ``(...,)`` real."""
    fac = steering(mu, y.shape[-3:], y.dtype)
    g = atom_gram(fac)
    z = atom_correlations(y, fac)
    # pinv, as in ls_gains: coinciding atoms make the Gram singular, and the
    # projection onto their (smaller) span is still well defined
    fit = (z.conj().unsqueeze(-2) @ (torch.linalg.pinv(g, hermitian=True) @ z.unsqueeze(-1))).real[..., 0, 0]
    return (y.abs() ** 2).sum(dim=(-3, -2, -1)) - fit


def residual_noise_variance(cost: float, n_entries: int, n_targets: int) -> float:
    """Unbiased noise variance ``sigma^2`` from the residual energy of a K-target fit.

    Each of the ``N`` complex entries holds two real degrees of freedom of
    variance ``sigma^2 / 2``; a target takes 5 real parameters (a complex gain
    and three frequencies), so ``E[cost] = (2N - 5K) sigma^2 / 2`` and
    ``sigma^2 = cost / (N - 2.5 K)``.

    Parameters
    ----------
    cost : float
        ``||P_S^perp vec(y)||^2`` at the fitted frequencies (:func:`residual_energy`).
    n_entries : int
        ``N``, the number of entries of the data tensor.
    n_targets : int
        ``K``, the number of fitted targets.
    """
    return float(cost) / max(n_entries - 2.5 * n_targets, 1.0)
