"""OFDM radar geometry: exact maps between normalized frequencies and physics.

A target at angle ``theta``, range ``R`` and radial velocity ``v`` puts three
complex exponentials into the (antenna, subcarrier, symbol) tensor. With
``d`` the antenna spacing in wavelengths, ``df`` the subcarrier spacing,
``T`` the OFDM symbol duration including the cyclic prefix and ``fc`` the
carrier (``c`` the speed of light)::

    mu_S = 2 pi d sin(theta)                    (broadside reference)
    mu_S = 2 pi d cos(theta)                    (array-axis reference, PLAIN)
    mu_F = -2 pi df tau,    tau = 2 R / c       (monostatic)  or  R / c  (one-way)
    mu_T =  2 pi T f_D,     f_D = 2 v fc / c    (monostatic)  or  v fc / c (one-way)

For ``d = 1/2`` monostatic this is ``mu_S = pi sin(theta)``,
``mu_F = -4 pi df R / c`` and ``mu_T = 4 pi fc T v / c``. The maps are affine
in ``sin(theta)``, ``R`` and ``v``; the inverses are exact (no small-angle or
narrowband approximation beyond the model itself). Ranges are read from
``mu_F`` mapped into ``(-2 pi, 0]`` so that they are non-negative.

Compression by a factor ``Delta_m`` in mode m multiplies ``mu_m`` by
``Delta_m``, so the unambiguous interval shrinks by ``Delta_m``; the
resolution (set by the aperture) does not change. :meth:`OFDMRadar.limits`
reports both, with and without compression. The parameters and limits live in
:mod:`domains.isac.radar` (torch-free); this module adds the tensor maps.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from domains.isac.phase import wrap
from domains.isac.radar import SPEED_OF_LIGHT, RadarGeometry

__all__ = ["SPEED_OF_LIGHT", "OFDMRadar", "wrap"]


def _as_tensor(x, like: torch.Tensor | None = None) -> torch.Tensor:
    if isinstance(x, torch.Tensor):
        return x if x.is_floating_point() else x.to(torch.float64)
    device = like.device if like is not None else None
    return torch.as_tensor(x, dtype=torch.float64, device=device)


@dataclass(frozen=True)
class OFDMRadar(RadarGeometry):
    """An OFDM radar with a uniform linear array, with the tensor maps between mu and physics.

    The parameters, slopes, :meth:`band` and :meth:`limits` are those of
    :class:`domains.isac.radar.RadarGeometry` (torch-free); this class adds
    the conversions of tensors (angle, range, velocity <-> normalized
    frequencies) and the Jacobian.
    """

    def _trig(self, theta_rad: torch.Tensor) -> torch.Tensor:
        return torch.sin(theta_rad) if self.angle_reference == "broadside" else torch.cos(theta_rad)

    # ------------------------------------------------------------ conversions
    def angle_to_mu(self, angle_deg) -> torch.Tensor:
        """Spatial frequency ``mu_S`` (rad/sample) of an angle in degrees."""
        theta = torch.deg2rad(_as_tensor(angle_deg))
        return self.slopes[0] * self._trig(theta)

    def mu_to_angle(self, mu) -> torch.Tensor:
        """Angle in degrees of a spatial frequency (NaN where ``|sin| > 1``)."""
        s = _as_tensor(mu) / self.slopes[0]
        if self.angle_reference == "broadside":
            return torch.rad2deg(torch.asin(s))
        return torch.rad2deg(torch.acos(s))

    def range_to_mu(self, range_m) -> torch.Tensor:
        """Delay frequency ``mu_F`` (rad/sample) of a range in m, wrapped to (-pi, pi]."""
        return wrap(self.slopes[1] * _as_tensor(range_m))

    def mu_to_range(self, mu, min_range_m: float = 0.0) -> torch.Tensor:
        """Range in m of a delay frequency, read in ``[min_range_m, min_range_m + R_max)``.

        ``R_max = 2 pi / |d mu / dR|`` is the raw unambiguous range. The default
        reads ``mu_F`` in ``(-2 pi, 0]``, i.e. ranges in ``[0, R_max)``; a
        compressed band that starts below 0 (:meth:`band`) passes its lower end
        so that an estimate a hair below 0 m stays there instead of wrapping
        to ``R_max``.
        """
        r = _as_tensor(mu) / self.slopes[1]
        period = 2.0 * math.pi / abs(self.slopes[1])
        return min_range_m + torch.remainder(r - min_range_m, period)

    def velocity_to_mu(self, velocity_mps) -> torch.Tensor:
        """Doppler frequency ``mu_T`` (rad/sample) of a radial velocity in m/s."""
        return wrap(self.slopes[2] * _as_tensor(velocity_mps))

    def mu_to_velocity(self, mu) -> torch.Tensor:
        """Radial velocity in m/s of a Doppler frequency in ``(-pi, pi]``."""
        return _as_tensor(mu) / self.slopes[2]

    def to_mu(self, angle_deg, range_m, velocity_mps) -> torch.Tensor:
        """Stack the three maps: ``(...,)`` physical values -> ``(..., 3)`` mu."""
        return torch.stack([self.angle_to_mu(angle_deg), self.range_to_mu(range_m),
                            self.velocity_to_mu(velocity_mps)], dim=-1)

    def from_mu(self, mu: torch.Tensor, min_range_m: float = 0.0) -> torch.Tensor:
        """``(..., 3)`` mu -> ``(..., 3)`` (angle deg, range m, velocity m/s).

        ``min_range_m``: lower end of the range read-out interval, see
        :meth:`mu_to_range` (a compressed band's ``range_m[0]``).
        """
        mu = _as_tensor(mu)
        return torch.stack([self.mu_to_angle(mu[..., 0]), self.mu_to_range(mu[..., 1], min_range_m),
                            self.mu_to_velocity(mu[..., 2])], dim=-1)

    def jacobian(self, physical: torch.Tensor) -> torch.Tensor:
        """Diagonal Jacobian ``d mu_m / d psi_m`` at physical parameters.

        Parameters
        ----------
        physical : torch.Tensor
            ``(..., 3)`` (angle deg, range m, velocity m/s).

        Returns
        -------
        torch.Tensor
            ``(..., 3)``: rad/sample per degree, per metre, per m/s. A CRB on
            mu converts as ``var(psi_m) = var(mu_m) / J_m**2`` (the maps are
            separable, so ``J`` is diagonal and ``C_psi = J^-1 C_mu J^-T``).
        """
        physical = _as_tensor(physical)
        theta = torch.deg2rad(physical[..., 0])
        dtrig = torch.cos(theta) if self.angle_reference == "broadside" else -torch.sin(theta)
        j_angle = self.slopes[0] * dtrig * (math.pi / 180.0)
        ones = torch.ones_like(j_angle)
        return torch.stack([j_angle, self.slopes[1] * ones, self.slopes[2] * ones], dim=-1)
