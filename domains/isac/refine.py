"""Joint refinement of PLAIN's estimates on the full tensor model.

PLAIN estimates every mode on its own, so two targets closer than a
resolution cell in one mode collapse into one candidate there even when they
are far apart in the other modes. The joint model sees the separation in the
other modes. This module maximises the exact (Gaussian) likelihood of the
full tensor over the frequencies by variable projection: the amplitudes are
projected out, ``cost(mu) = ||P_S(mu)^perp vec(Y)||^2``, and Levenberg-Marquardt
iterates on ``mu`` with Kaufman's Jacobian ``J = -P^perp D``, ``D`` holding
``b_k d s_k / d mu_rk``. Its normal matrix ``Re{D^H P^perp D}`` is the Fisher
matrix of :mod:`domains.isac.crb` up to ``2 / sigma^2``, and like it is built
from per-mode Gram pieces; the data enter through four Kronecker contractions
per iteration (``O(N K)``), so nothing of size N x K is formed.

When the fused estimate has fewer targets than requested, or two targets
share all three frequencies, candidates are split by a quarter resolution
cell in each mode in turn (all splits refined in one batch) and the split
with the lowest cost is kept, if the data support it. Targets that the joint
fit does not need (BIC) are pruned, and the LM iterations of one call are
bounded.

Everything is batched over leading dimensions: several initialisations of
one tensor, or one initialisation per Monte Carlo trial.
"""

from __future__ import annotations

import functools
import math

import torch

from domains.isac.atoms import residual_energy, residual_noise_variance, steering
from domains.isac.crb import projected_normal_matrix
from domains.isac.phase import wrap
from domains.isac.types import Estimate

__all__ = ["refine", "refine_mu", "vp_cost", "plain_refined", "plain_refined_batch", "plain_estimators"]


def _pieces(y: torch.Tensor, mu: torch.Tensor):
    """Data contractions and Gram pieces at ``mu`` (``(..., K, 3)``)."""
    shape = y.shape[-3:]
    a = steering(mu, shape, y.dtype)
    real = y.real.dtype
    d = [1j * torch.arange(shape[m], device=y.device, dtype=real)[:, None] * a[m] for m in range(3)]
    ac = [x.conj() for x in a]
    dc = [x.conj() for x in d]
    t_a = torch.einsum("...ijl,...ik->...kjl", y, ac[0])
    t_d = torch.einsum("...ijl,...ik->...kjl", y, dc[0])
    u_aa = torch.einsum("...kjl,...jk->...kl", t_a, ac[1])
    u_ad = torch.einsum("...kjl,...jk->...kl", t_a, dc[1])
    u_da = torch.einsum("...kjl,...jk->...kl", t_d, ac[1])
    z = torch.einsum("...kl,...lk->...k", u_aa, ac[2])
    zd = torch.stack([torch.einsum("...kl,...lk->...k", u_da, ac[2]),
                      torch.einsum("...kl,...lk->...k", u_ad, ac[2]),
                      torch.einsum("...kl,...lk->...k", u_aa, dc[2])], dim=-2)  # (..., 3, K)
    h = lambda x, y_: x.conj().transpose(-1, -2) @ y_
    grams = [{"aa": h(a[m], a[m]), "da": h(d[m], a[m]), "ad": h(a[m], d[m]), "dd": h(d[m], d[m])}
             for m in range(3)]
    return z, zd, grams


def _had(grams, pick):
    return grams[0][pick(0)] * grams[1][pick(1)] * grams[2][pick(2)]


def _lm_system(y, mu, energy):
    """Cost, gradient ``Re(D^H r)`` and normal matrix ``Re(D^H P^perp D)``."""
    z, zd, grams = _pieces(y, mu)
    ss = _had(grams, lambda q: "aa")
    # two atoms that coincide make S^H S singular: such a point is rejected
    # (cost +inf) instead of aborting the whole batch
    ss_inv, info = torch.linalg.inv_ex(ss)
    ok = info == 0
    ss_inv = torch.where(ok[..., None, None], ss_inv, torch.zeros_like(ss_inv))
    b = (ss_inv @ z.unsqueeze(-1)).squeeze(-1)
    cost = energy - (z.conj() * b).sum(-1).real
    cost = torch.where(ok, cost, torch.full_like(cost, math.inf))
    ds = [_had(grams, lambda q, r=r: "da" if q == r else "aa") for r in range(3)]
    grad = torch.cat([(b.conj() * (zd[..., r, :] - (ds[r] @ b.unsqueeze(-1)).squeeze(-1))).real
                      for r in range(3)], dim=-1)
    # Re(D^H P^perp D): the Fisher matrix of crb.py up to 2 / sigma^2, one home
    hess = projected_normal_matrix(grams, ss_inv, b)
    return cost, grad, hess, b


def vp_cost(y: torch.Tensor, mu: torch.Tensor) -> torch.Tensor:
    """Variable-projection cost ``||P_S(mu)^perp vec(y)||^2``, ``(...,)``."""
    return residual_energy(y, mu)


def refine_mu(y: torch.Tensor, mu0: torch.Tensor, max_iter: int = 50, tol: float = 1e-12,
              damping: float = 1e-3, rtol: float = 1e-10, stats: dict | None = None):
    """Levenberg-Marquardt on the variable-projection cost, batched.

    Parameters
    ----------
    y : torch.Tensor
        ``(..., N1, N2, N3)`` complex.
    mu0 : torch.Tensor
        ``(..., K, 3)`` initial frequencies (rad/sample); leading dims must
        broadcast against ``y``'s (e.g. several initialisations of one tensor).
    max_iter : int
        Maximum number of LM iterations.
    tol : float
        Stop when every step is below ``tol`` rad/sample.
    damping : float
        Initial Marquardt factor (relative to the diagonal).
    rtol : float
        Stop a problem once an accepted step lowers its cost by less than
        ``rtol`` times the cost.
    stats : dict, optional
        ``stats["lm_iterations"]`` is increased by the iterations run (the
        work bound of :func:`refine` counts them).

    Returns
    -------
    mu : torch.Tensor
        ``(..., K, 3)`` refined, wrapped to ``(-pi, pi]``.
    gains : torch.Tensor
        ``(..., K)`` least-squares amplitudes at ``mu``.
    cost : torch.Tensor
        ``(...,)`` residual energy ``||y - S b||^2``.
    """
    real = y.real.dtype
    mu = mu0.to(device=y.device, dtype=real).clone()
    k = mu.shape[-2]
    energy = (y.abs() ** 2).sum(dim=(-3, -2, -1))
    cost, grad, hess, b = _lm_system(y, mu, energy)
    batch = cost.shape
    lam = torch.full(batch, damping, dtype=real, device=y.device)
    eye = torch.eye(3 * k, dtype=real, device=y.device)
    done = torch.zeros(batch, dtype=torch.bool, device=y.device)
    n_iter = 0
    for n_iter in range(1, max_iter + 1):
        diag = torch.diagonal(hess, dim1=-2, dim2=-1).clamp_min(torch.finfo(real).tiny)
        system = hess + (lam[..., None, None] * eye) * diag.unsqueeze(-1)
        step, info = torch.linalg.solve_ex(system, grad.unsqueeze(-1))
        step = torch.where((info == 0)[..., None], step.squeeze(-1), torch.zeros_like(grad))
        # a converged problem keeps its point while the rest of the batch iterates
        step = torch.where(done[..., None], torch.zeros_like(step), step)
        # parameter order in the system is (mode, target); mu is (target, mode)
        delta = step.reshape(*step.shape[:-1], 3, k).transpose(-1, -2)
        trial = mu + delta
        c_t, g_t, h_t, b_t = _lm_system(y, trial, energy)
        better = (c_t <= cost) & ~done
        sel = better[..., None, None]
        gain = cost - c_t
        mu = torch.where(sel, trial, mu)
        cost = torch.where(better, c_t, cost)
        grad = torch.where(better[..., None], g_t, grad)
        hess = torch.where(sel, h_t, hess)
        b = torch.where(better[..., None], b_t, b)
        lam = torch.where(better, lam / 3.0, lam * 4.0).clamp(1e-12, 1e12)
        moved = delta.abs().amax(dim=(-2, -1))
        # converged: negligible step, an accepted step that no longer lowers the
        # cost measurably (1e-10 relative is ~1e-3 of a CRB standard deviation
        # for any realistic N), or damping saturated by round-off rejections
        done = done | (moved < tol) | (lam >= 1e12) | (better & (gain <= rtol * cost.abs()))
        if bool(done.all()):
            break
    if stats is not None:
        stats["lm_iterations"] = stats.get("lm_iterations", 0) + n_iter
    return wrap(mu), b, cost


def _split_inits(mu: torch.Tensor, shape, n_targets: int) -> torch.Tensor:
    """Initialisations with one more target: each target split in each mode.

    Returns ``(n_init, K + 1, 3)``: target k is replaced by two copies at
    ``mu_k -/+ (1/8) 2 pi / N_m`` in mode m (a quarter cell apart).
    """
    k = mu.shape[0]
    inits = []
    for t in range(k):
        for m in range(3):
            h = 0.125 * 2.0 * math.pi / shape[m]
            lo, hi = mu[t].clone(), mu[t].clone()
            lo[m] -= h
            hi[m] += h
            inits.append(torch.cat([mu[:t], lo[None], hi[None], mu[t + 1:]], dim=0))
    return torch.stack(inits)


def _separate_duplicates(mu: torch.Tensor, shape) -> list[torch.Tensor]:
    """Inits where targets sharing all three frequencies are moved apart."""
    k = mu.shape[0]
    out = [mu]
    for i in range(k):
        for j in range(i + 1, k):
            if bool(((mu[i] - mu[j]).abs() < 1e-9).all()):
                for m in range(3):
                    h = 0.125 * 2.0 * math.pi / shape[m]
                    v = mu.clone()
                    v[i, m] -= h
                    v[j, m] += h
                    out.append(v)
    return out


def _drop_one(y: torch.Tensor, mu: torch.Tensor, cost: torch.Tensor, max_iter: int, tol: float,
              stats: dict | None = None):
    """Cost with each target left out in turn, ``(K,)``, and the refits.

    The cost at unchanged frequencies is an upper bound (refitting can only
    lower it). Targets within a resolution cell of another in every mode can
    trade amplitude (even cancel each other), so their bound says nothing:
    only those subsets are refitted (one batch), which bounds the work.
    Returns ``(rise, sub_mu, sub_b, sub_cost, redo)``, ``redo`` the indices
    refitted.
    """
    k = mu.shape[0]
    keep = ~torch.eye(k, dtype=torch.bool, device=mu.device)
    subsets = torch.stack([mu[keep[i]] for i in range(k)])  # (K, K-1, 3)
    bound = vp_cost(y, subsets)
    sub_cost = bound.clone()
    sub_mu = subsets.clone()
    sub_b = torch.zeros(k, k - 1, dtype=y.dtype, device=y.device)
    cells = torch.tensor([2.0 * math.pi / n for n in y.shape[-3:]], dtype=mu.dtype, device=mu.device)
    gap = (wrap(mu[:, None, :] - mu[None, :, :]).abs() / cells).amax(-1)
    gap = gap + torch.eye(k, dtype=gap.dtype, device=gap.device) * 1e9
    redo = torch.nonzero((gap < 1.0).any(-1)).reshape(-1)
    if redo.numel():
        m, bb, c = refine_mu(y, subsets[redo], max_iter=max_iter, tol=tol, stats=stats)
        sub_mu[redo], sub_b[redo], sub_cost[redo] = m, bb, c
    return sub_cost - cost, sub_mu, sub_b, sub_cost, redo


def refine(y: torch.Tensor, init: Estimate | torch.Tensor, n_targets: int | None = None,
           max_iter: int = 50, tol: float = 1e-12, prune: bool = True,
           max_total_iter: int | None = None) -> Estimate:
    """Refine an estimate by joint variable-projection Levenberg-Marquardt.

    Parameters
    ----------
    y : torch.Tensor
        ``(N1, N2, N3)`` complex data (uncompressed).
    init : Estimate or torch.Tensor
        PLAIN's estimate (or ``(K, 3)`` frequencies).
    n_targets : int, optional
        Largest wanted number of targets. If the initial estimate has fewer,
        targets are split one at a time (a quarter cell apart, in each mode
        and for each target; the lowest-cost split wins) as long as the data
        support the extra target (its cost drop passes the BIC penalty below).
    max_iter, tol
        As in :func:`refine_mu`.
    prune : bool
        Drop targets the joint model does not need, also when ``n_targets``
        is given: at low SNR the per-mode orders drop and PLAIN's fusion fills
        the requested count with atoms that only fit noise; refining them
        costs time and moves nothing true. A target is kept if leaving it out
        raises the cost by more than the BIC penalty of its 5 real
        parameters, ``Delta cost / sigma^2 > 2.5 ln(2N)``, with ``sigma^2`` the
        residual variance of the joint fit.
    max_total_iter : int, optional
        Bound on the LM iterations of the whole call (every batch counts its
        longest problem); default ``4 * max_iter``. Once spent, no further
        split or prune round starts.

    Returns
    -------
    Estimate
        Refined ``mu`` and LS ``gains``; ``extra`` has the final cost, the
        initial cost, how many targets were added by splitting and how many
        were pruned, and ``lm_iterations``.
    """
    mu0 = init.mu if isinstance(init, Estimate) else init
    mu0 = mu0.to(device=y.device, dtype=y.real.dtype)
    shape = tuple(y.shape[-3:])
    budget = 4 * max_iter if max_total_iter is None else int(max_total_iter)
    stats = {"lm_iterations": 0}
    if mu0.shape[0] == 0:
        return Estimate(mu=mu0, gains=torch.zeros(0, dtype=y.dtype, device=y.device),
                        extra={"method": "plain+refine", "cost": float((y.abs() ** 2).sum()),
                               "lm_iterations": 0})
    inits = torch.stack(_separate_duplicates(mu0, shape))
    mus, gains, costs = refine_mu(y, inits, max_iter=max_iter, tol=tol, stats=stats)
    best = int(torch.argmin(costs))
    mu, b, cost = mus[best], gains[best], costs[best]
    cost0 = float(vp_cost(y, mu0))
    n_entries = math.prod(shape)
    penalty = 2.5 * math.log(2.0 * n_entries)

    def residual_var(c, k):
        return max(residual_noise_variance(c, n_entries, k), torch.finfo(y.real.dtype).tiny)

    added = 0
    while n_targets is not None and mu.shape[0] < n_targets and stats["lm_iterations"] < budget:
        cand = _split_inits(mu, shape, n_targets)
        mus, gains, costs = refine_mu(y, cand, max_iter=max_iter, tol=tol, stats=stats)
        best = int(torch.argmin(costs))
        # a split the data do not support only fits noise: stop there
        if float(cost - costs[best]) / residual_var(costs[best], mu.shape[0] + 1) <= penalty:
            break
        mu, b, cost = mus[best], gains[best], costs[best]
        added += 1
    pruned = 0
    while prune and mu.shape[0] > 1 and stats["lm_iterations"] < budget:
        sigma2 = residual_var(cost, mu.shape[0])
        rise, sub_mu, sub_b, sub_cost, redo = _drop_one(y, mu, cost, max_iter, tol, stats)
        rise = rise / sigma2
        # the rise at unchanged frequencies bounds the refitted one from above:
        # targets whose bound is below the penalty go at once, one refit after
        weak = rise <= penalty
        if bool(weak.any()) and not bool(weak.all()):
            keep = ~weak
            if redo.numel():
                keep[redo] = True  # a re-refined crowded pair is judged on its refit below
            if not bool(keep.all()):
                pruned += int((~keep).sum())
                m1, b1, c1 = refine_mu(y, mu[keep][None], max_iter=max_iter, tol=tol, stats=stats)
                mu, b, cost = m1[0], b1[0], c1[0]
                continue
        weakest = int(torch.argmin(rise))
        if float(rise[weakest]) > penalty:
            break
        mu, b, cost = sub_mu[weakest], sub_b[weakest], sub_cost[weakest]
        if not bool((redo == weakest).any()):
            m1, b1, c1 = refine_mu(y, mu[None], max_iter=max_iter, tol=tol, stats=stats)
            mu, b, cost = m1[0], b1[0], c1[0]
        pruned += 1
    extra = dict(init.extra) if isinstance(init, Estimate) else {}
    extra.update({"method": "plain+refine", "cost": float(cost), "initial_cost": cost0,
                  "split_added": added, "pruned": pruned, "lm_iterations": stats["lm_iterations"]})
    return Estimate(mu=mu, gains=b, extra=extra)


def plain_refined(y: torch.Tensor, n_targets: int | None = None, max_iter: int = 50,
                  **plain_options) -> Estimate:
    """PLAIN followed by :func:`refine`: an estimator with the domain signature.

    The one home of the PLAIN-plus-refinement call (flow, bench and tests use it).

    Parameters
    ----------
    y : torch.Tensor
        ``(N1, N2, N3)`` complex.
    n_targets : int, optional
        As in :func:`domains.isac.plain.plain`; None also prunes targets the
        joint fit does not need.
    max_iter : int
        LM iterations of the refinement.
    **plain_options
        Passed to :func:`domains.isac.plain.plain` (compression, center, ...).
    """
    from domains.isac.plain import plain

    return refine(y, plain(y, n_targets, **plain_options), n_targets, max_iter=max_iter)


def plain_refined_batch(y: torch.Tensor, n_targets: int | None = None, max_iter: int = 50,
                        **plain_options) -> list[Estimate]:
    """:func:`plain_refined` on a ``(T, N1, N2, N3)`` batch: batched PLAIN, per-trial refinement."""
    from domains.isac.plain import plain_batch

    return [refine(y[t], e, n_targets, max_iter=max_iter)
            for t, e in enumerate(plain_batch(y, n_targets, **plain_options))]


def plain_estimators(refined: bool = True, max_iter: int = 50, **plain_options) -> dict:
    """``{"plain": ..., "plain_refined": ...}`` as batched estimators with bound options.

    Parameters
    ----------
    refined : bool
        Include PLAIN + refinement.
    max_iter : int
        LM iterations of the refinement.
    **plain_options
        Bound into every call (compression, center, method, order, fusion).

    Returns
    -------
    dict of str -> :class:`domains.isac.types.BatchedEstimator`
    """
    from domains.isac.plain import plain, plain_batch
    from domains.isac.types import BatchedEstimator

    out = {"plain": BatchedEstimator(functools.partial(plain, **plain_options),
                                     functools.partial(plain_batch, **plain_options))}
    if refined:
        out["plain_refined"] = BatchedEstimator(
            functools.partial(plain_refined, max_iter=max_iter, **plain_options),
            functools.partial(plain_refined_batch, max_iter=max_iter, **plain_options))
    return out
