"""Deterministic single-snapshot Cramer-Rao bound of the R-D harmonic model.

Model (one tensor, vectorised in C order)::

    y = sum_k b_k s_k + n,   s_k = a_1(mu_1k) (x) ... (x) a_R(mu_Rk),   n ~ CN(0, sigma^2 I)

with unknown frequencies ``mu`` and complex amplitudes ``b``. Concentrating the
amplitudes out (Stoica & Nehorai 1989) gives the Fisher matrix of ``mu``::

    F = (2 / sigma^2) Re{ (Delta^H P_S^perp Delta) .* (1_{RxR} (x) b^* b^T) },   CRB = F^{-1}

where ``Delta = [Delta_1 ... Delta_R]`` and column k of ``Delta_r`` is
``d s_k / d mu_rk``. Every inner product between Kronecker-structured columns
is a Hadamard product of per-mode K x K Gram matrices (``A^H A``,
``Adot^H A``, ``A^H Adot``, ``Adot^H Adot``), so the cost is
``O(K^2 sum_r N_r)`` and no N x N (or even N x K) matrix is ever formed.
"""

from __future__ import annotations

import torch

from domains.isac.physics import OFDMRadar
from domains.isac.simulate import vandermonde

__all__ = ["mode_grams", "projected_normal_matrix", "fisher_information", "tie_matrix", "crb_mu", "crb_mu_tied",
           "crb_mu_plain_style", "crb_physical", "crb_single_target", "has_ties",
           "plugin_standard_errors"]


def mode_grams(mu_r: torch.Tensor, n: int, dtype: torch.dtype = torch.complex128):
    """Per-mode Gram pieces of ``A`` and ``Adot = j diag(0..n-1) A``.

    Parameters
    ----------
    mu_r : torch.Tensor
        ``(..., K)`` frequencies of one mode, rad/sample.
    n : int
        Mode length ``N_r``.

    Returns
    -------
    dict
        ``"aa"``, ``"da"``, ``"ad"``, ``"dd"``: ``(..., K, K)`` complex,
        ``aa = A^H A``, ``da = Adot^H A``, ``ad = A^H Adot``, ``dd = Adot^H Adot``.
    """
    a = vandermonde(mu_r, n, dtype)
    idx = torch.arange(n, device=a.device, dtype=a.real.dtype)
    d = 1j * idx[:, None] * a
    ah, dh = a.conj().transpose(-1, -2), d.conj().transpose(-1, -2)
    return {"aa": ah @ a, "da": dh @ a, "ad": ah @ d, "dd": dh @ d}


def _hadamard(grams, pick) -> torch.Tensor:
    out = None
    for r, g in enumerate(grams):
        term = g[pick(r)]
        out = term if out is None else out * term
    return out


def projected_normal_matrix(grams: list[dict], ss_inv: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """``Re{ (Delta^H P_S^perp Delta) .* (1_{RxR} (x) b^* b^T) }`` from per-mode Gram pieces.

    The one home of this matrix: it is the Fisher information of the
    frequencies times ``sigma^2 / 2`` (:func:`fisher_information`) and the
    Gauss-Newton normal matrix of the variable-projection refinement
    (:mod:`domains.isac.refine`).

    Parameters
    ----------
    grams : list of dict
        Per mode, :func:`mode_grams` pieces ``aa, da, ad, dd`` ``(..., K, K)``.
    ss_inv : torch.Tensor
        ``(S^H S)^-1`` ``(..., K, K)`` (the caller decides how to invert).
    b : torch.Tensor
        ``(..., K)`` complex amplitudes.

    Returns
    -------
    torch.Tensor
        ``(..., R K, R K)`` real; index ``r K + k`` is ``mu[k, r]``.
    """
    n_modes = len(grams)
    ds = [_hadamard(grams, lambda q, r=r: "da" if q == r else "aa") for r in range(n_modes)]
    bb = b.conj().unsqueeze(-1) * b.unsqueeze(-2)  # (b^* b^T)_{kl} = conj(b_k) b_l
    rows = []
    for r in range(n_modes):
        row = []
        for p in range(n_modes):
            def pick(q, r=r, p=p):
                if q == r and q == p:
                    return "dd"
                if q == r:
                    return "da"
                if q == p:
                    return "ad"
                return "aa"
            # Delta_r^H P^perp Delta_p = Delta_r^H Delta_p - (Delta_r^H S)(S^H S)^-1 (S^H Delta_p)
            m = _hadamard(grams, pick) - ds[r] @ ss_inv @ ds[p].conj().transpose(-1, -2)
            row.append((m * bb).real)
        rows.append(torch.cat(row, dim=-1))
    return torch.cat(rows, dim=-2)


def fisher_information(mu: torch.Tensor, gains: torch.Tensor, shape, sigma2: float) -> torch.Tensor:
    """Fisher information of the frequencies, amplitudes concentrated out.

    Parameters
    ----------
    mu : torch.Tensor
        ``(..., K, R)`` real frequencies (rad/sample).
    gains : torch.Tensor
        ``(..., K)`` complex amplitudes.
    shape : tuple of int
        ``(N_1, ..., N_R)``.
    sigma2 : float or torch.Tensor
        Per-entry noise variance (broadcast over the leading dims).

    Returns
    -------
    torch.Tensor
        ``(..., R*K, R*K)`` real; index ``r*K + k`` is ``mu[k, r]``.
    """
    mu = torch.as_tensor(mu, dtype=torch.float64) if not torch.is_tensor(mu) else mu
    real = mu.dtype if mu.dtype in (torch.float32, torch.float64) else torch.float64
    cdtype = torch.complex128 if real == torch.float64 else torch.complex64
    n_modes = mu.shape[-1]
    grams = [mode_grams(mu[..., r], shape[r], cdtype) for r in range(n_modes)]
    ss_inv = torch.linalg.inv(_hadamard(grams, lambda q: "aa"))
    f = projected_normal_matrix(grams, ss_inv, gains.to(cdtype))
    sigma2 = torch.as_tensor(sigma2, dtype=real, device=f.device)
    while sigma2.ndim and sigma2.ndim < f.ndim:
        sigma2 = sigma2[..., None]
    return 2.0 * f / sigma2


def crb_mu(mu: torch.Tensor, gains: torch.Tensor, shape, sigma2: float,
           full: bool = False) -> torch.Tensor:
    """CRB of the normalized frequencies.

    Parameters
    ----------
    mu, gains, shape, sigma2
        As in :func:`fisher_information`.
    full : bool
        Return the whole ``(..., R*K, R*K)`` covariance bound instead of the
        diagonal.

    Returns
    -------
    torch.Tensor
        ``(..., K, R)`` variance bounds in (rad/sample)^2, or the full matrix.
    """
    f = fisher_information(mu, gains, shape, sigma2)
    c = torch.linalg.inv(f)
    if full:
        return c
    k, r = mu.shape[-2], mu.shape[-1]
    return torch.diagonal(c, dim1=-2, dim2=-1).reshape(*c.shape[:-2], r, k).transpose(-1, -2)


def tie_matrix(mu: torch.Tensor, tol: float = 1e-9) -> torch.Tensor:
    """Selection matrix of the model in which equal coordinates are one parameter.

    Targets that share a frequency in mode r exactly (within ``tol``) are
    described by one parameter there: ``vec(mu) = M theta`` with ``M`` 0/1 of
    shape ``(R K, P)``, index ``r K + k`` as in :func:`fisher_information`.

    Parameters
    ----------
    mu : torch.Tensor
        ``(K, R)`` frequencies.
    tol : float
        Coordinates closer than this (rad/sample) are tied.

    Returns
    -------
    torch.Tensor
        ``(R K, P)`` float64, ``P`` the number of distinct coordinates.
    """
    k, n_modes = mu.shape[-2], mu.shape[-1]
    cols = []
    for r in range(n_modes):
        groups: list[list[int]] = []
        for i in range(k):
            for g in groups:
                if abs(float(mu[i, r]) - float(mu[g[0], r])) < tol:
                    g.append(i)
                    break
            else:
                groups.append([i])
        for g in groups:
            col = torch.zeros(n_modes * k, dtype=torch.float64)
            col[[r * k + i for i in g]] = 1.0
            cols.append(col)
    return torch.stack(cols, dim=1)


def has_ties(mu: torch.Tensor, tol: float = 1e-9) -> bool:
    """True when some targets share a coordinate exactly (see :func:`tie_matrix`)."""
    m = tie_matrix(mu, tol)
    return m.shape[1] < m.shape[0]


def crb_mu_tied(mu: torch.Tensor, gains: torch.Tensor, shape, sigma2: float,
                tol: float = 1e-9) -> torch.Tensor:
    """CRB of the model PLAIN fits when targets share coordinates exactly.

    PLAIN reuses one per-mode candidate for targets with equal frequencies in
    that mode, i.e. it estimates the shared coordinate once from all of their
    energy. The bound of that model has ``P < 3K`` parameters,
    ``vec(mu) = M theta`` (:func:`tie_matrix`)::

        CRB(vec mu) = M (M^T F M)^-1 M^T

    with ``F`` the Fisher matrix of :func:`fisher_information`. It equals
    :func:`crb_mu` without ties and is never above it.

    Returns
    -------
    torch.Tensor
        ``(K, R)`` variance bounds in (rad/sample)^2.
    """
    f = fisher_information(mu, gains, shape, sigma2)
    m = tie_matrix(mu.detach().cpu(), tol).to(device=f.device, dtype=f.dtype)
    c = m @ torch.linalg.inv(m.T @ f @ m) @ m.T
    k, r = mu.shape[-2], mu.shape[-1]
    return torch.diagonal(c).reshape(r, k).T


def crb_mu_plain_style(mu: torch.Tensor, gains: torch.Tensor, shape, sigma2: float) -> torch.Tensor:
    """The approximate bound of PLAIN's reference code (Van Trees eq. 8.110 form).

    Per mode r, with the other modes' frequencies treated as *known* and the
    source covariance replaced by ``diag(|b|^2)``::

        H_r = (Adot_r^H Adot_r .* G) - X (A_r^H A_r .* G)^-1 X^H,
        X = Adot_r^H A_r .* G,   G = prod_{q != r} A_q^H A_q  (elementwise)
        CRB_r = [Re(diag(|b|^2) .* H_r^T)]^-1 sigma^2 / 2

    Exact for one target and slightly optimistic for several; reported next to
    :func:`crb_mu`, which is the reference.

    Returns
    -------
    torch.Tensor
        ``(K, R)`` variance bounds in (rad/sample)^2.
    """
    n_modes = mu.shape[-1]
    real = mu.dtype if mu.dtype in (torch.float32, torch.float64) else torch.float64
    cdtype = torch.complex128 if real == torch.float64 else torch.complex64
    grams = [mode_grams(mu[..., r], shape[r], cdtype) for r in range(n_modes)]
    power = (gains.to(cdtype).abs() ** 2)
    out = []
    for r in range(n_modes):
        g = None
        for q in range(n_modes):
            if q != r:
                g = grams[q]["aa"] if g is None else g * grams[q]["aa"]
        x = grams[r]["da"] * g
        h = grams[r]["dd"] * g - x @ torch.linalg.inv(grams[r]["aa"] * g) @ x.conj().transpose(-1, -2)
        f = (torch.diag_embed(power.to(cdtype)) * h.transpose(-1, -2)).real
        out.append(torch.diagonal(torch.linalg.inv(f), dim1=-2, dim2=-1) * sigma2 / 2.0)
    return torch.stack(out, dim=-1)


def crb_physical(radar: OFDMRadar, mu: torch.Tensor, gains: torch.Tensor, sigma2: float,
                 physical: torch.Tensor | None = None) -> torch.Tensor:
    """CRB in physical units via the (diagonal) Jacobian of the maps.

    Parameters
    ----------
    radar : OFDMRadar
        Gives the shape and ``d mu / d psi``.
    mu : torch.Tensor
        ``(K, 3)`` true normalized frequencies.
    gains : torch.Tensor
        ``(K,)`` complex amplitudes.
    sigma2 : float
        Per-entry noise variance.
    physical : torch.Tensor, optional
        ``(K, 3)`` true (angle deg, range m, velocity m/s); default
        ``radar.from_mu(mu)``.

    Returns
    -------
    torch.Tensor
        ``(K, 3)`` variance bounds in deg^2, m^2, (m/s)^2.
    """
    var_mu = crb_mu(mu, gains, radar.shape, sigma2)
    if physical is None:
        physical = radar.from_mu(mu)
    jac = radar.jacobian(physical).to(var_mu.dtype)
    return var_mu / jac ** 2


def plugin_standard_errors(y: torch.Tensor, mu: torch.Tensor, radar: OFDMRadar) -> dict:
    """Standard errors of estimated targets from the CRB at the estimates (measured CSI).

    With no ground truth, the bound is evaluated at the estimated frequencies,
    the least-squares gains there and the residual noise variance
    ``sigma2_hat = ||y - S(mu) b||^2 / (N - 2.5 K)`` (5 real parameters per
    target out of 2N real degrees of freedom,
    :func:`domains.isac.atoms.residual_noise_variance`), then mapped to physical units through the radar's Jacobian.

    Parameters
    ----------
    y : torch.Tensor
        ``(N1, N2, N3)`` complex data.
    mu : torch.Tensor
        ``(K, 3)`` estimated frequencies (rad/sample).
    radar : OFDMRadar

    Returns
    -------
    dict
        ``std_physical`` ``(K, 3)`` (deg, m, m/s), ``std_mu`` ``(K, 3)``
        rad/sample, ``noise_var`` (float), ``gains`` ``(K,)``.
    """
    from domains.isac.atoms import ls_gains, residual_energy, residual_noise_variance

    mu = mu.to(device=y.device, dtype=y.real.dtype)
    k, n = mu.shape[0], y.numel()
    gains = ls_gains(y, mu)
    sigma2 = residual_noise_variance(float(residual_energy(y, mu)), n, k)
    var_mu = crb_mu(mu.double(), gains.to(torch.complex128), tuple(y.shape), sigma2)
    jac = radar.jacobian(radar.from_mu(mu.double().cpu())).to(var_mu.device, var_mu.dtype)
    return {"std_mu": var_mu.sqrt(), "std_physical": (var_mu / jac ** 2).sqrt(),
            "noise_var": sigma2, "gains": gains}


def crb_single_target(shape, snr_linear: float) -> torch.Tensor:
    """Closed form for one target: ``6 sigma^2 / (|b|^2 N (N_r^2 - 1))``.

    Parameters
    ----------
    shape : tuple of int
        ``(N_1, ..., N_R)``.
    snr_linear : float
        ``|b|^2 / sigma^2``.

    Returns
    -------
    torch.Tensor
        ``(R,)`` variance bounds in (rad/sample)^2.
    """
    n = torch.tensor(shape, dtype=torch.float64)
    return 6.0 / (snr_linear * n.prod() * (n ** 2 - 1.0))
