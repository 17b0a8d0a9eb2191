"""Synthetic multidimensional-harmonic (OFDM radar) tensors.

The model and the SNR definition are the domain conventions of
:mod:`domains.isac.types`::

    Y[t, n1, n2, n3] = sum_k b_k exp(j (mu_k1 n1 + mu_k2 n2 + mu_k3 n3)) + W[t, n1, n2, n3]
    W ~ CN(0, sigma^2) i.i.d.,   sigma^2 = mean_k |b_k|^2 / 10^(snr_db / 10)

so ``snr_db`` is the per-entry (per resource element and antenna) SNR of an
average target. Trials ``t`` are one batched tensor, which is what lets a
Monte Carlo run execute as a few large kernels on a GPU.
"""

from __future__ import annotations

import math

import torch

__all__ = ["vandermonde", "synthesize", "noise_variance", "simulate_tensor", "generate"]


def vandermonde(mu: torch.Tensor, n: int, dtype: torch.dtype | None = None) -> torch.Tensor:
    """Vandermonde steering matrix ``a(mu) = [1, e^{j mu}, ..., e^{j (n-1) mu}]``.

    Parameters
    ----------
    mu : torch.Tensor
        ``(..., K)`` real frequencies, rad/sample.
    n : int
        Length of each steering vector.
    dtype : torch.dtype, optional
        Complex output dtype; default is the complex type matching ``mu``.

    Returns
    -------
    torch.Tensor
        ``(..., n, K)`` complex, column k is ``a(mu_k)``.
    """
    if dtype is None:
        dtype = torch.complex128 if mu.dtype == torch.float64 else torch.complex64
    real = torch.float64 if dtype == torch.complex128 else torch.float32
    idx = torch.arange(n, device=mu.device, dtype=real)
    phase = idx[:, None] * mu.to(real).unsqueeze(-2)
    return torch.polar(torch.ones_like(phase), phase).to(dtype)


def synthesize(mu: torch.Tensor, gains: torch.Tensor, shape: tuple[int, int, int],
               dtype: torch.dtype = torch.complex128) -> torch.Tensor:
    """Noiseless tensor ``sum_k b_k a1(mu_k1) o a2(mu_k2) o a3(mu_k3)``.

    Parameters
    ----------
    mu : torch.Tensor
        ``(..., K, 3)`` real, rad/sample.
    gains : torch.Tensor
        ``(..., K)`` complex amplitudes.
    shape : tuple of int
        ``(N1, N2, N3)``.
    dtype : torch.dtype
        Complex output dtype.

    Returns
    -------
    torch.Tensor
        ``(..., N1, N2, N3)`` complex.
    """
    a = [vandermonde(mu[..., m], shape[m], dtype) for m in range(3)]
    b = gains.to(dtype=dtype, device=mu.device)
    return torch.einsum("...ik,...jk,...lk,...k->...ijl", a[0], a[1], a[2], b)


def noise_variance(gains: torch.Tensor, snr_db: float) -> float:
    """Per-entry noise variance ``sigma^2 = mean|b|^2 / 10^(snr_db/10)``."""
    power = float(torch.mean(torch.abs(gains) ** 2))
    return power / 10.0 ** (snr_db / 10.0)


def simulate_tensor(mu: torch.Tensor, gains: torch.Tensor, shape: tuple[int, int, int],
                    snr_db: float | None, n_trials: int = 1, seed: int = 0,
                    device: torch.device | str | None = None,
                    dtype: torch.dtype = torch.complex128) -> torch.Tensor:
    """Monte Carlo batch of noisy harmonic tensors.

    Parameters
    ----------
    mu : torch.Tensor
        ``(K, 3)`` (shared by all trials) or ``(n_trials, K, 3)`` real
        normalized frequencies, rad/sample.
    gains : torch.Tensor
        ``(K,)`` or ``(n_trials, K)`` complex amplitudes ``b_k``.
    shape : tuple of int
        ``(N1, N2, N3)`` = (antennas, subcarriers, symbols).
    snr_db : float or None
        Per-entry SNR in dB: ``sigma^2 = mean|b|^2 / 10^(snr_db/10)``, the
        mean taken over all gains given. ``None`` or ``inf`` gives noiseless
        data.
    n_trials : int
        Number of independent noise realisations (leading dimension).
    seed : int
        Seed of the ``torch.Generator`` that draws the noise; the same seed
        on the same device gives the same tensor.
    device : torch.device or str, optional
        Where to build the tensor; default is ``mu``'s device.
    dtype : torch.dtype
        Complex dtype of the output (``complex128`` for tests,
        ``complex64`` for speed runs).

    Returns
    -------
    torch.Tensor
        ``(n_trials, N1, N2, N3)`` complex.
    """
    device = torch.device(device) if device is not None else mu.device
    real = torch.float64 if dtype == torch.complex128 else torch.float32
    mu = torch.as_tensor(mu, device=device).to(real)
    gains = torch.as_tensor(gains, device=device).to(dtype)
    if mu.ndim == 2:
        mu = mu.expand(n_trials, *mu.shape)
        gains = gains.expand(n_trials, *gains.shape)
    clean = synthesize(mu, gains, tuple(shape), dtype)
    if snr_db is None or math.isinf(snr_db):
        return clean
    sigma2 = noise_variance(gains, snr_db)
    gen = torch.Generator(device=device)
    gen.manual_seed(int(seed))
    # complex randn draws real and imaginary parts with variance 1/2 each: CN(0, 1)
    noise = torch.randn(clean.shape, generator=gen, device=device, dtype=dtype)
    return clean + math.sqrt(sigma2) * noise


def generate(scenario: str = "default", snr_db: float | None = 10.0, n_trials: int = 1,
             seed: int = 0, device: torch.device | str | None = None,
             dtype: torch.dtype | str = torch.complex128, **scenario_options):
    """Embedded dataset: a named scenario simulated at one SNR.

    This is the ``generator`` of ``data_manifests/isac/simulated-default.yaml``.

    Parameters
    ----------
    scenario : str
        ``default``, ``plain-demo`` or ``close``
        (:mod:`domains.isac.scenarios`).
    snr_db : float or None
        Per-entry SNR (``sigma^2 = mean|b|^2 / 10^(snr_db/10)``); None is noiseless.
    n_trials, seed, device, dtype
        As in :func:`simulate_tensor`; ``dtype`` may be given by name.
    **scenario_options
        Passed to the scenario factory (e.g. ``dimension`` for ``close``).

    Returns
    -------
    domains.isac.types.CSIData
        ``csi`` ``(n_trials, N1, N2, N3)``, the radar, the true scenario and
        the noise variance.
    """
    from domains.isac.scenarios import get_scenario
    from domains.isac.types import CSIData

    if isinstance(dtype, str):
        dtype = getattr(torch, dtype)
    scen = get_scenario(scenario, **scenario_options)
    y = simulate_tensor(scen.mu, scen.gains, scen.shape, snr_db, n_trials=n_trials, seed=seed,
                        device=device if device is not None else "cpu", dtype=dtype)
    sigma2 = 0.0 if snr_db is None or math.isinf(snr_db) else noise_variance(scen.gains, snr_db)
    params = {"scenario": scenario, "snr_db": snr_db, "n_trials": n_trials, "seed": seed,
              **scenario_options}
    return CSIData(csi=y, radar=scen.radar, source=f"simulated:{scen.name}", attrs=params,
                   truth=scen, noise_var=sigma2)
