"""Shared data types of the ISAC domain.

Conventions every ISAC estimator follows
----------------------------------------
* A data tensor ``Y`` is a complex torch tensor of shape ``(..., N1, N2, N3)``
  = (antennas, subcarriers, OFDM symbols). Leading dimensions are Monte Carlo
  trials.
* Model::

      Y[n1, n2, n3] = sum_k b_k exp(j (mu_k1 n1 + mu_k2 n2 + mu_k3 n3)) + noise,

  noise ~ CN(0, sigma^2) i.i.d. per entry (see
  :func:`domains.isac.simulate.simulate_tensor` for how sigma^2 follows from
  the SNR).
* Normalized frequencies ``mu`` are in radians per sample, wrapped to
  ``(-pi, pi]``; a set of K targets is a real tensor of shape ``(K, 3)``
  (or ``(..., K, 3)``), column m belonging to mode m.
* Every estimator has the signature
  ``fn(Y: Tensor (N1, N2, N3), n_targets: int | None, **options) -> Estimate``;
  ``n_targets=None`` means the estimator chooses the model order itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import torch


@dataclass
class Estimate:
    """What an ISAC estimator returns for one data tensor.

    Attributes
    ----------
    mu : torch.Tensor
        ``(K_hat, 3)`` real, normalized frequencies in rad/sample, wrapped
        to ``(-pi, pi]``; row k is one target (antenna, subcarrier, symbol).
    gains : torch.Tensor
        ``(K_hat,)`` complex amplitudes ``b_k`` of the targets, in the units
        of ``Y`` (phase reference: element ``(0, 0, 0)``).
    extra : dict
        Method-specific diagnostics (per-mode candidates, model orders,
        residual energy, ...). Never needed to interpret ``mu``/``gains``.
    """

    mu: torch.Tensor
    gains: torch.Tensor
    extra: dict = field(default_factory=dict)

    @property
    def n_targets(self) -> int:
        """Number of estimated targets ``K_hat``."""
        return int(self.mu.shape[-2])


@dataclass
class CSIData:
    """A CSI tensor with the radar that produced it (loaded or simulated).

    Attributes
    ----------
    csi : torch.Tensor
        ``(..., N1, N2, N3)`` complex: (antennas, subcarriers, symbols), with
        optional leading Monte Carlo trials (simulated data only).
    radar : domains.isac.physics.OFDMRadar
        Carrier, numerology, array and geometry.
    source : str
        File path, or ``"simulated:<scenario>"``.
    attrs : dict
        The raw attributes (file) or generator parameters (simulated).
    truth : object, optional
        The :class:`domains.isac.scenarios.Scenario` for simulated data.
    noise_var : float, optional
        Per-entry noise variance when known (simulated data).
    """

    csi: torch.Tensor
    radar: object
    source: str
    attrs: dict = field(default_factory=dict)
    truth: object = None
    noise_var: float | None = None


class BatchedEstimator:
    """An estimator ``fn(Y, n_targets)`` that can also run a Monte Carlo batch at once.

    Parameters
    ----------
    one : callable
        ``one(Y (N1, N2, N3), n_targets) -> Estimate``.
    batch : callable
        ``batch(Y (T, N1, N2, N3), n_targets) -> list[Estimate]``, the same
        estimates as ``one`` trial by trial, computed with batched kernels.
    """

    def __init__(self, one: Callable, batch: Callable):
        self.one, self.batch = one, batch

    def __call__(self, y, n_targets):
        return self.one(y, n_targets)
