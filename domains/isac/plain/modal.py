"""PLAIN stage 2: decoupled per-mode frequency estimation.

For mode m the unfolding ``Y_(m)`` (``N_m x prod_{q != m} N_q``) is treated as
``N_s`` snapshots of an ``N_m``-element "array": a target contributes the
Vandermonde vector ``a_m(mu_m)`` times the other modes' steering product. The
sample covariance, forward-backward averaged, has one signal eigenvalue per
*distinct* frequency in that mode; its eigenvectors feed root-MUSIC or ESPRIT.
The model order per mode comes from AIC or MDL on the eigenvalues.

Identical frequencies in a mode collapse to one candidate, which is fine
(fusion reuses it). Different but close frequencies (well under a resolution
cell) must be resolvable in that mode on its own: decoupling cannot use the
separation in other modes. :mod:`domains.isac.refine` repairs that.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from domains.isac.atoms import solve_ls
from domains.isac.phase import wrap
from shared.lowrank import svd

__all__ = ["ModeResult", "mode_covariance", "information_criterion", "estimate_order",
           "root_music", "esprit", "estimate_mode", "estimate_mode_batch"]

METHODS = ("root-music", "esprit", "esprit-music")

# eigenvalues below this fraction of the largest are rounding noise: they cap
# the model order, so noiseless data does not turn round-off into targets
_EIG_RTOL = 1e-11


@dataclass
class ModeResult:
    """Per-mode output of the decoupled estimation.

    Attributes
    ----------
    mu : torch.Tensor
        ``(K_m,)`` candidate frequencies (rad/sample) at the compressed rate.
    order : int
        ``K_m``.
    eigvals : torch.Tensor
        ``(N_m,)`` covariance eigenvalues, descending.
    noise_var : float
        Mean of the noise eigenvalues: per-entry noise variance estimate of the
        (compressed) tensor.
    criterion : torch.Tensor
        ``(N_m - 1,)`` information criterion for orders ``1 .. N_m - 1``.
    """

    mu: torch.Tensor
    order: int
    eigvals: torch.Tensor
    noise_var: float
    criterion: torch.Tensor | None = None


def mode_covariance(y: torch.Tensor, mode: int, fba: bool = True) -> tuple[torch.Tensor, int]:
    """Sample covariance of the mode-``mode`` unfolding, the other modes as snapshots.

    Parameters
    ----------
    y : torch.Tensor
        ``(..., N1, N2, N3)`` complex.
    mode : int
        0, 1 or 2.
    fba : bool
        Forward-backward averaging ``R <- (R + J R^* J) / 2``: it restores the
        persymmetry of a Vandermonde covariance and decorrelates coherent
        snapshots.

    Returns
    -------
    r : torch.Tensor
        ``(..., N_m, N_m)`` Hermitian.
    n_snapshots : int
        ``prod_{q != m} N_q``.
    """
    axis = y.ndim - 3 + mode
    ym = torch.movedim(y, axis, -3)
    n_m = ym.shape[-3]
    ym = ym.reshape(*ym.shape[:-3], n_m, -1)
    n_s = ym.shape[-1]
    r = ym @ ym.conj().transpose(-1, -2) / n_s
    if fba:
        r = 0.5 * (r + r.conj().flip(-2, -1))
    return r, n_s


def information_criterion(eigvals: torch.Tensor, n_snapshots: int, criterion: str = "aic") -> torch.Tensor:
    """AIC or MDL (Wax & Kailath) for model orders ``k = 1 .. N-1``.

    ``IC(k) = N_s (N - k) ln(a_k / g_k) + penalty(k)`` with ``a_k``, ``g_k`` the
    arithmetic and geometric means of the ``N - k`` smallest eigenvalues;
    AIC penalty ``k (2N - k)``, MDL ``k (2N - k) ln(N_s) / 2`` (both halved
    log-likelihood forms, which does not move the minimum).

    Parameters
    ----------
    eigvals : torch.Tensor
        ``(..., N)`` descending, non-negative.

    Returns
    -------
    torch.Tensor
        ``(..., N - 1)``; entry ``k - 1`` is ``IC(k)``. Orders whose noise
        eigenvalues include an exact-arithmetic zero get ``+inf`` only when
        that would put a non-zero eigenvalue in the noise set (see
        :func:`estimate_order`).
    """
    n = eigvals.shape[-1]
    lam = eigvals.clamp_min(torch.finfo(eigvals.dtype).tiny)
    loglam = torch.log(lam)
    # suffix sums over the k smallest: noise set for order k is lam[k:]
    suf = torch.flip(torch.cumsum(torch.flip(lam, [-1]), -1), [-1])
    suf_log = torch.flip(torch.cumsum(torch.flip(loglam, [-1]), -1), [-1])
    k = torch.arange(1, n, device=eigvals.device, dtype=eigvals.dtype)
    cnt = n - k
    log_a = torch.log(suf[..., 1:] / cnt)
    log_g = suf_log[..., 1:] / cnt
    fit = n_snapshots * cnt * (log_a - log_g)
    pen = k * (2 * n - k)
    if criterion == "aic":
        return fit + pen
    if criterion == "mdl":
        return fit + 0.5 * pen * math.log(n_snapshots)
    raise ValueError(f"criterion must be 'aic' or 'mdl', not {criterion!r}")


def estimate_order(eigvals: torch.Tensor, n_snapshots: int, criterion: str = "aic",
                   max_order: int | None = None) -> torch.Tensor:
    """Model order in ``1 .. N-1`` minimising the criterion, ``(...,)`` long.

    The order never exceeds the number of eigenvalues above ``1e-11`` of the
    largest: with noiseless data the remaining ones are round-off whose spread
    would otherwise be read as signal.
    """
    n = eigvals.shape[-1]
    ic = information_criterion(eigvals, n_snapshots, criterion)
    n_num = (eigvals > _EIG_RTOL * eigvals[..., :1]).sum(-1).clamp(1, n - 1)
    cap = n_num if max_order is None else n_num.clamp_max(max_order)
    k = torch.arange(1, n, device=eigvals.device)
    ic = torch.where(k <= cap.unsqueeze(-1), ic, torch.full_like(ic, math.inf))
    return ic.argmin(-1) + 1


def root_music(signal_vecs: torch.Tensor, n_freq: int) -> torch.Tensor:
    """Root-MUSIC frequencies from a signal subspace.

    The null spectrum ``a(z)^H P_n a(z)`` with ``P_n = I - V_s V_s^H`` is a
    Laurent polynomial whose coefficient of ``z^l`` is the sum of the l-th
    diagonal of ``P_n``. Its roots come in pairs ``(z, 1/z^*)``; the
    ``n_freq`` roots inside (or on) the unit circle closest to it give the
    frequencies ``angle(z)``. Torch has no ``roots``: the eigenvalues of the
    companion matrix are the roots.

    Parameters
    ----------
    signal_vecs : torch.Tensor
        ``(N, K_s)`` orthonormal columns.
    n_freq : int
        Number of frequencies to return.

    Returns
    -------
    torch.Tensor
        ``(n_freq,)`` real, rad/sample in ``(-pi, pi]``.
    """
    n = signal_vecs.shape[0]
    p_noise = -(signal_vecs @ signal_vecs.conj().T)
    p_noise.diagonal().add_(1.0)
    # coefficient of z^l (l = -(N-1) .. N-1) is the l-th diagonal sum; scatter
    # every entry onto its diagonal, highest power first
    idx = torch.arange(n, device=p_noise.device)
    diag_id = (n - 1) - (idx[None, :] - idx[:, None])
    coef = torch.zeros(2 * n - 1, dtype=p_noise.dtype, device=p_noise.device)
    coef.index_add_(0, diag_id.reshape(-1), p_noise.reshape(-1))
    # the leading coefficient is -sum_k V[0,k] conj(V[N-1,k]); drop it if it vanishes
    scale = coef.abs().max()
    while coef.shape[0] > 2 and coef[0].abs() <= 1e-14 * scale:
        coef = coef[1:]
    deg = coef.shape[0] - 1
    comp = torch.diag(torch.ones(deg - 1, dtype=coef.dtype, device=coef.device), -1)
    comp[0, :] = -coef[1:] / coef[0]
    roots = torch.linalg.eigvals(comp)
    return _pick_roots(roots, n_freq)


def _pick_roots(roots: torch.Tensor, n_freq: int) -> torch.Tensor:
    """The ``n_freq`` distinct roots inside the unit circle closest to it."""
    mag = roots.abs()
    ang = torch.angle(roots)
    # a double root on the circle (noiseless data) splits by ~sqrt(eps), possibly
    # both halves just outside: allow a hair outside, then drop angle duplicates
    inside = mag <= 1.0 + 1e-6
    dist = (1.0 - mag).abs()
    dist = torch.where(inside, dist, dist + 1e6)  # outside roots only as a last resort
    order = torch.argsort(dist)
    ang_s = ang[order]
    diff = wrap(ang_s[:, None] - ang_s[None, :])
    earlier = torch.tril(torch.ones_like(diff, dtype=torch.bool), diagonal=-1)
    dup = ((diff.abs() < 1e-5) & earlier).any(dim=1)
    keep = order[~dup][:n_freq]
    return ang[keep]


def esprit(signal_vecs: torch.Tensor) -> torch.Tensor:
    """Least-squares ESPRIT: ``V_s[1:] ~ V_s[:-1] Psi``, frequencies ``angle(eig(Psi))``.

    Parameters
    ----------
    signal_vecs : torch.Tensor
        ``(N, K_s)``.

    Returns
    -------
    torch.Tensor
        ``(K_s,)`` rad/sample.
    """
    psi = solve_ls(signal_vecs[:-1], signal_vecs[1:])
    return torch.angle(torch.linalg.eigvals(psi))


def _polish(mu: torch.Tensor, signal_vecs: torch.Tensor, n_iter: int = 3) -> torch.Tensor:
    """Newton steps on the MUSIC signal-subspace power ``||V_s^H a(mu)||^2``.

    Root finding of a polynomial with (near-)double roots is only accurate to
    about sqrt(eps); a few Newton steps on the smooth spectrum recover full
    precision and do not move a noisy estimate by more than its own error.
    """
    n = signal_vecs.shape[0]
    real = signal_vecs.real.dtype
    idx = torch.arange(n, device=mu.device, dtype=real)
    vh = signal_vecs.conj().T
    for _ in range(n_iter):
        ph = idx[:, None] * mu[None, :]
        a = torch.polar(torch.ones_like(ph), ph).to(signal_vecs.dtype)
        c0 = vh @ a
        c1 = vh @ (1j * idx[:, None] * a)
        c2 = vh @ (-(idx ** 2)[:, None] * a)
        # f = |c0|^2, f' = 2 Re(c0^* c1), f'' = 2 (|c1|^2 + Re(c0^* c2))
        d1 = 2 * (c0.conj() * c1).real.sum(0)
        d2 = 2 * ((c1.abs() ** 2).sum(0) + (c0.conj() * c2).real.sum(0))
        step = torch.where(d2 < 0, -d1 / d2, torch.zeros_like(d1))
        # never step further than a tenth of a resolution cell
        lim = 0.2 * math.pi / n
        mu = mu + step.clamp(-lim, lim)
    return mu


def _batched_roots(evecs: torch.Tensor, orders: torch.Tensor) -> torch.Tensor | None:
    """Root-MUSIC polynomial roots for a batch of subspaces of varying dimension.

    ``evecs`` ``(T, N, N)`` (columns by decreasing eigenvalue), ``orders``
    ``(T,)``: trial t uses its first ``orders[t]`` columns. The polynomial
    degree ``2N - 2`` is the same for every trial, so the companion matrices
    stack into one batched ``eigvals``. Returns ``(T, 2N - 2)`` roots, or None
    when a leading coefficient vanishes (then the caller roots trial by trial).
    """
    t, n, _ = evecs.shape
    cols = torch.arange(n, device=evecs.device)
    vs = evecs * (cols[None, :] < orders[:, None]).to(evecs.dtype)[:, None, :]
    p_noise = -(vs @ vs.conj().transpose(-1, -2))
    p_noise.diagonal(dim1=-2, dim2=-1).add_(1.0)
    diag_id = (n - 1) - (cols[None, :] - cols[:, None])
    coef = torch.zeros(t, 2 * n - 1, dtype=evecs.dtype, device=evecs.device)
    coef.index_add_(1, diag_id.reshape(-1), p_noise.reshape(t, -1))
    if bool((coef[:, 0].abs() <= 1e-14 * coef.abs().amax(-1)).any()):
        return None
    deg = 2 * n - 2
    comp = torch.diag(torch.ones(deg - 1, dtype=coef.dtype, device=coef.device), -1).repeat(t, 1, 1)
    comp[:, 0, :] = -coef[:, 1:] / coef[:, :1]
    return torch.linalg.eigvals(comp)


def estimate_mode_batch(y: torch.Tensor, mode: int, order: str | int = "aic",
                        method: str = "root-music", fba: bool = True,
                        n_targets: int | None = None, polish: bool = True) -> list[ModeResult]:
    """Candidate frequencies of one mode for every trial of a batch.

    Covariances, their eigendecompositions, the model orders and (for
    root-MUSIC) the polynomial roots are computed for all trials at once; only
    picking each trial's roots is per trial.

    Parameters
    ----------
    y : torch.Tensor
        ``(T, N1, N2, N3)`` complex.
    mode, order, method, fba, n_targets, polish
        As in :func:`estimate_mode`.

    Returns
    -------
    list of ModeResult
        One per trial.
    """
    r, n_s = mode_covariance(y, mode, fba)
    n = r.shape[-1]
    # the covariance is Hermitian PSD: its SVD is its eigendecomposition,
    # descending, which is the order AIC/MDL and the subspace split need
    evecs, evals, _ = svd(r, method="full")
    evals = evals.clamp_min(0.0)
    ic = None
    if order in ("aic", "mdl"):
        ic = information_criterion(evals, n_s, order)
        ks = estimate_order(evals, n_s, order, max_order=n_targets)
    elif order == "true":
        if n_targets is None:
            raise ValueError("order='true' needs n_targets")
        ks = torch.full(evals.shape[:-1], min(int(n_targets), n - 1), device=y.device)
    else:
        ks = torch.full(evals.shape[:-1], min(int(order), n - 1), device=y.device)
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, not {method!r}")
    roots = _batched_roots(evecs, ks) if method == "root-music" else None
    out = []
    for t, k in enumerate(ks.tolist()):
        vs = evecs[t, :, :k]
        if method == "esprit":
            mu = esprit(vs)
        elif method == "esprit-music":
            # LS-ESPRIT loses efficiency as the aperture grows (its variance
            # is ~N/3 times the bound); Newton steps on the MUSIC spectrum
            # from there reach MUSIC's accuracy without rooting a polynomial
            mu = _polish(esprit(vs), vs, n_iter=4)
        else:
            mu = _pick_roots(roots[t], k) if roots is not None else root_music(vs, k)
            if polish:
                mu = _polish(mu, vs)
        noise = evals[t, k:]
        noise_var = float(noise.mean()) if noise.numel() else 0.0
        mu = wrap(mu)
        out.append(ModeResult(mu=mu, order=k, eigvals=evals[t], noise_var=noise_var,
                              criterion=None if ic is None else ic[t]))
    return out


def estimate_mode(y: torch.Tensor, mode: int, order: str | int = "aic", method: str = "root-music",
                  fba: bool = True, n_targets: int | None = None, polish: bool = True) -> ModeResult:
    """Candidate frequencies of one mode of a (compressed) tensor.

    Parameters
    ----------
    y : torch.Tensor
        ``(N1, N2, N3)`` complex.
    mode : int
        0 (antennas), 1 (subcarriers) or 2 (symbols).
    order : {"aic", "mdl", "true"} or int
        Model order rule; ``"true"`` uses ``n_targets`` (capped at ``N_m - 1``).
    method : {"root-music", "esprit", "esprit-music"}
        Root-MUSIC, least-squares ESPRIT, or ESPRIT followed by Newton steps
        to the nearest peaks of the MUSIC spectrum (MUSIC's accuracy at
        ESPRIT's cost, but spectral MUSIC's weaker resolution of close pairs).
    fba : bool
        Forward-backward averaging of the covariance.
    n_targets : int, optional
        Upper bound on the order when given.
    polish : bool
        Newton-polish root-MUSIC frequencies on the MUSIC spectrum.

    Returns
    -------
    ModeResult
    """
    return estimate_mode_batch(y[None], mode, order, method, fba, n_targets, polish)[0]
