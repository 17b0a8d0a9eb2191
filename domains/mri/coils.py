"""Coil compression by SVD (virtual coils), using the core's ``shared.lowrank.svd``.

For a volume's coil k-space ``k (S, C, H, W)`` the coil-mode unfolding
``K (C, S H W)`` has left singular vectors ``U``; the ``v`` virtual coils are
``U_v^H k`` (Buehrer et al. 2007; Huang et al. 2008), keeping the energy
fraction ``sum_{i<=v} s_i^2 / sum s_i^2``. One matrix per volume, so the
compression commutes with any per-slice mask.
"""

from __future__ import annotations

import torch
from torch import Tensor

from shared.lowrank import rank_from_energy, svd


def coil_basis(kspace: Tensor) -> tuple[Tensor, Tensor]:
    """``U (C, C)`` and the squared singular values (energy per virtual coil, descending)."""
    c = kspace.shape[-3]
    mat = kspace.movedim(-3, 0).reshape(c, -1)
    # the Gram solver works on the small C x C coil covariance
    U, s, _ = svd(mat, method="gram")
    return U, s.pow(2)


def n_virtual(energy: Tensor, fraction: float, max_coils: int | None = None) -> int:
    """Smallest ``v`` keeping at least ``fraction`` of the energy (capped by ``max_coils``)."""
    v = rank_from_energy(energy, fraction)  # the core's one energy-to-rank rule
    return min(v, max_coils) if max_coils else v


def compress(kspace: Tensor, U: Tensor, v: int) -> Tensor:
    """Virtual-coil k-space ``(..., v, H, W)`` = ``U[:, :v]^H k``."""
    return torch.einsum("cv,...chw->...vhw", U[:, :v].conj().to(kspace.dtype), kspace)
