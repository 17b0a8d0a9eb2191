"""PLAIN stage 3: fuse per-mode candidates into paired targets.

The per-mode candidates define a dictionary of Kronecker atoms
``x_1i (x) x_2j (x) x_3l`` over all ``K_1 K_2 K_3`` index triples; a target
is one triple. Both fusions work entirely in that small candidate domain:

* **Tensor-OMP** (Kronecker OMP, Caiafa & Cichocki 2013): greedily add the
  triple whose atom correlates best with the residual, refit all selected
  amplitudes by least squares, repeat. Correlations of the residual with every
  atom are ``C_Y - sum_s b_s (G_1[:, i_s] o G_2[:, j_s] o G_3[:, l_s])`` with
  ``G_m = X_m^H X_m`` and ``C_Y = Y x_1 X_1^H x_2 X_2^H x_3 X_3^H``, so no
  residual tensor is formed. A triple can reuse a candidate of a mode
  (targets that share an angle, range or velocity).
* **Kronecker-OMP as in PLAIN's reference code** (``"omp-tucker"``): the
  same greedy selection, but the residual is the data minus its projection
  onto the Tucker span of *all* combinations of the indices selected so far
  in each mode, and the targets are the largest entries of that Tucker core.
* **TensorLS**: the least-squares Tucker core
  ``B = Y x_1 X_1^+ x_2 X_2^+ x_3 X_3^+``; the largest ``|B|`` entries are
  the targets.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from domains.isac.atoms import mode_products

__all__ = ["FusionResult", "tensor_omp", "tensor_omp_tucker", "tensor_ls"]


@dataclass
class FusionResult:
    """Paired support and amplitudes at the compressed rate.

    Attributes
    ----------
    support : torch.Tensor
        ``(K, 3)`` long, candidate index per mode of each target.
    gains : torch.Tensor
        ``(K,)`` complex amplitudes on the compressed tensor.
    residual_energy : float
        ``||Y' - sum_k b_k x_k||^2`` on the compressed tensor.
    """

    support: torch.Tensor
    gains: torch.Tensor
    residual_energy: float


def _threshold(noise_var: float, n_entries: int, n_candidates: int, pfa: float) -> float:
    # |x^H n|^2 / ||x||^2 is sigma^2 Exp(1) for a noise-only residual; a union
    # bound over all candidates gives the false-alarm level
    return noise_var * math.log(max(n_candidates, 1) / pfa)


def tensor_omp(y: torch.Tensor, factors: list[torch.Tensor], n_atoms: int | None = None,
               noise_var: float | None = None, pfa: float = 1e-3,
               max_atoms: int | None = None) -> FusionResult:
    """Tensor (Kronecker) OMP over the candidate atoms.

    Parameters
    ----------
    y : torch.Tensor
        ``(N1', N2', N3')`` complex (compressed) data.
    factors : list of torch.Tensor
        Candidate factors ``X_m``, ``(N_m', K_m)``.
    n_atoms : int, optional
        Number of targets to select. ``None``: stop when the best normalised
        residual correlation falls below the false-alarm threshold
        ``noise_var * ln(K_1 K_2 K_3 / pfa)`` (needs ``noise_var``), or when
        it is below ``1e-12`` of the first one (noiseless data).
    noise_var : float, optional
        Per-entry noise variance of ``y``.
    pfa : float
        False-alarm probability of the stopping rule.
    max_atoms : int, optional
        Upper bound on the number of selected atoms.

    Returns
    -------
    FusionResult
    """
    c_y = mode_products(y, [f.conj().T for f in factors])
    grams = [f.conj().T @ f for f in factors]
    shape_c = c_y.shape
    n_cand = c_y.numel()
    atom_norm2 = (grams[0].diagonal()[:, None, None] * grams[1].diagonal()[None, :, None]
                  * grams[2].diagonal()[None, None, :]).real
    limit = n_cand if max_atoms is None else min(max_atoms, n_cand)
    if n_atoms is not None:
        limit = min(limit, int(n_atoms))
    thr = None if noise_var is None else _threshold(noise_var, y.numel(), n_cand, pfa)
    taken = torch.zeros(shape_c, dtype=torch.bool, device=y.device)
    support: list[tuple[int, int, int]] = []
    gains = torch.zeros(0, dtype=y.dtype, device=y.device)
    c_r = c_y
    first = None
    while len(support) < limit:
        score = (c_r.abs() ** 2) / atom_norm2
        score = score.masked_fill(taken, -1.0)
        flat = int(torch.argmax(score))
        best = float(score.reshape(-1)[flat])
        if first is None:
            first = best
        if n_atoms is None:
            if best <= 1e-12 * first or (thr is not None and best < thr):
                break
        idx = tuple(int(v) for v in torch.unravel_index(torch.tensor(flat), shape_c))
        support.append(idx)
        taken[idx] = True
        sup = torch.tensor(support, dtype=torch.long, device=y.device)
        # Gram of the selected atoms and their correlation with the data
        cols = [grams[m][:, sup[:, m]] for m in range(3)]  # (K_m, S)
        g_s = cols[0][sup[:, 0]] * cols[1][sup[:, 1]] * cols[2][sup[:, 2]]
        rhs = c_y[sup[:, 0], sup[:, 1], sup[:, 2]]
        gains = torch.linalg.solve(g_s, rhs)
        c_r = c_y - torch.einsum("is,js,ls,s->ijl", cols[0], cols[1], cols[2], gains)
    sup = torch.tensor(support, dtype=torch.long, device=y.device).reshape(-1, 3)
    if sup.shape[0]:
        rhs = c_y[sup[:, 0], sup[:, 1], sup[:, 2]]
        fit = float((rhs.conj() * gains).sum().real)
    else:
        fit = 0.0
    res = float((y.abs() ** 2).sum()) - fit
    return FusionResult(sup, gains, res)


def tensor_omp_tucker(y: torch.Tensor, factors: list[torch.Tensor], n_atoms: int | None = None,
                      noise_var: float | None = None, pfa: float = 1e-3) -> FusionResult:
    """Kronecker-OMP with a Tucker-core residual (PLAIN's ``TensorOMP``).

    Iteration: pick the triple with the largest residual correlation, add its
    index to the used set ``U_m`` of each mode, refit the Tucker core
    ``B = Y x_m X_m[:, U_m]^+`` and take ``R = Y - B x_m X_m[:, U_m]``. After
    the iterations the ``n_atoms`` largest ``|B|`` entries are the targets.
    All of it runs on ``C_Y`` and the per-mode Grams.

    Parameters
    ----------
    y, factors, n_atoms, noise_var, pfa
        As in :func:`tensor_omp`; without ``n_atoms`` the iterations stop by
        the same threshold rule and every core entry above it is kept.

    Returns
    -------
    FusionResult
        Gains refit jointly on the selected atoms.
    """
    c_y = mode_products(y, [f.conj().T for f in factors])
    grams = [f.conj().T @ f for f in factors]
    n_cand = c_y.numel()
    norm2 = float(grams[0][0, 0].real * grams[1][0, 0].real * grams[2][0, 0].real)
    thr = None if noise_var is None else _threshold(noise_var, y.numel(), n_cand, pfa)
    used: list[list[int]] = [[], [], []]
    c_r = c_y
    core = None
    limit = n_cand if n_atoms is None else min(int(n_atoms), n_cand)
    first = None
    for _ in range(limit):
        score = (c_r.abs() ** 2) / norm2
        flat = int(torch.argmax(score))
        best = float(score.reshape(-1)[flat])
        first = best if first is None else first
        if n_atoms is None and (best <= 1e-12 * first or (thr is not None and best < thr)):
            break
        idx = torch.unravel_index(torch.tensor(flat), c_y.shape)
        for m in range(3):
            if int(idx[m]) not in used[m]:
                used[m].append(int(idx[m]))
        u = [torch.tensor(v, dtype=torch.long, device=y.device) for v in used]
        # B = C_Y[U] x_m (G_m[U, U])^-1, then R's correlations C_Y - B x_m G_m[:, U]
        core = c_y[u[0]][:, u[1]][:, :, u[2]]
        inv = [torch.linalg.inv(grams[m][u[m]][:, u[m]]) for m in range(3)]
        core = mode_products(core, inv)
        c_r = c_y - mode_products(core, [grams[m][:, u[m]] for m in range(3)])
    if core is None:
        return FusionResult(torch.zeros(0, 3, dtype=torch.long, device=y.device),
                            torch.zeros(0, dtype=y.dtype, device=y.device), float((y.abs() ** 2).sum()))
    power = core.abs() ** 2
    if n_atoms is not None:
        n_keep = min(int(n_atoms), core.numel())
    elif thr is not None:
        # a core entry's noise variance is about noise_var / ||atom||^2
        n_keep = max(1, int((power * norm2 > thr).sum()))
    else:
        n_keep = max(1, int((power > 1e-12 * power.max()).sum()))
    flat = torch.topk(power.reshape(-1), n_keep).indices
    loc = torch.stack(torch.unravel_index(flat, core.shape), dim=-1)
    sup = torch.stack([u[m][loc[:, m]] for m in range(3)], dim=-1)
    cols = [grams[m][:, sup[:, m]] for m in range(3)]
    g_s = cols[0][sup[:, 0]] * cols[1][sup[:, 1]] * cols[2][sup[:, 2]]
    rhs = c_y[sup[:, 0], sup[:, 1], sup[:, 2]]
    gains = torch.linalg.solve(g_s, rhs)
    res = float((y.abs() ** 2).sum()) - float((rhs.conj() * gains).sum().real)
    return FusionResult(sup, gains, res)


def tensor_ls(y: torch.Tensor, factors: list[torch.Tensor], n_atoms: int | None = None,
              noise_var: float | None = None, pfa: float = 1e-3) -> FusionResult:
    """TensorLS fusion: the largest entries of the least-squares Tucker core.

    Parameters
    ----------
    y, factors
        As in :func:`tensor_omp`.
    n_atoms : int, optional
        Number of targets; ``None`` keeps the core entries whose power exceeds
        the false-alarm threshold (core-entry noise variance is
        ``noise_var * prod_m [(X_m^H X_m)^-1]_ii``).

    Returns
    -------
    FusionResult
        Gains are refit jointly on the selected atoms (the core entries are
        biased by the unselected combinations).
    """
    pinvs = [torch.linalg.pinv(f) for f in factors]
    core = mode_products(y, pinvs)
    power = core.abs() ** 2
    if n_atoms is None:
        if noise_var is None:
            raise ValueError("tensor_ls needs n_atoms or noise_var")
        ivar = [torch.linalg.inv(f.conj().T @ f).diagonal().real for f in factors]
        var = noise_var * ivar[0][:, None, None] * ivar[1][None, :, None] * ivar[2][None, None, :]
        keep = power / var > math.log(core.numel() / pfa)
        n_atoms = max(int(keep.sum()), 1)
    n_atoms = min(int(n_atoms), core.numel())
    flat = torch.topk(power.reshape(-1), n_atoms).indices
    sup = torch.stack(torch.unravel_index(flat, core.shape), dim=-1)
    grams = [f.conj().T @ f for f in factors]
    cols = [grams[m][:, sup[:, m]] for m in range(3)]
    g_s = cols[0][sup[:, 0]] * cols[1][sup[:, 1]] * cols[2][sup[:, 2]]
    c_y = mode_products(y, [f.conj().T for f in factors])
    rhs = c_y[sup[:, 0], sup[:, 1], sup[:, 2]]
    gains = torch.linalg.solve(g_s, rhs)
    res = float((y.abs() ** 2).sum()) - float((rhs.conj() * gains).sum().real)
    return FusionResult(sup, gains, res)
