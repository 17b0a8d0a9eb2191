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
reports both, with and without compression.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace
from typing import Literal

import torch

from domains.isac.phase import wrap

__all__ = ["SPEED_OF_LIGHT", "OFDMRadar", "wrap"]

SPEED_OF_LIGHT = 299_792_458.0  # m/s, exact (SI)


def _as_tensor(x, like: torch.Tensor | None = None) -> torch.Tensor:
    if isinstance(x, torch.Tensor):
        return x if x.is_floating_point() else x.to(torch.float64)
    device = like.device if like is not None else None
    return torch.as_tensor(x, dtype=torch.float64, device=device)


@dataclass(frozen=True)
class OFDMRadar:
    """An OFDM radar with a uniform linear array.

    Parameters
    ----------
    carrier_hz : float
        Carrier frequency ``fc`` in Hz.
    subcarrier_spacing_hz : float
        Subcarrier spacing ``df`` in Hz.
    n_antennas, n_subcarriers, n_symbols : int
        Tensor shape ``(N_R, N_F, N_T)``.
    symbol_duration_s : float, optional
        OFDM symbol duration ``T`` *including* the cyclic prefix, in s.
        Default: NR normal CP, ``T = (1 + 1/14) / df`` (a 14-symbol slot).
    cp_duration_s : float, optional
        Cyclic prefix length in s; default ``T - 1/df``. Only used to report
        the range that fits inside the CP (beyond it the model ignores ISI).
    antenna_spacing_wavelengths : float
        Element spacing ``d / lambda``; 0.5 for a half-wavelength ULA.
    geometry : {"monostatic", "one-way"}
        ``"monostatic"``: round-trip delay ``2R/c`` and Doppler ``2 v fc / c``;
        ``"one-way"`` (PLAIN's uplink convention): ``R/c`` and ``v fc / c``.
    angle_reference : {"broadside", "axis"}
        Angle measured from broadside (``sin``, ``theta`` in [-90, 90] deg)
        or from the array axis (``cos``, ``theta`` in [0, 180] deg, PLAIN).
    """

    carrier_hz: float
    subcarrier_spacing_hz: float
    n_antennas: int
    n_subcarriers: int
    n_symbols: int
    symbol_duration_s: float | None = None
    cp_duration_s: float | None = None
    antenna_spacing_wavelengths: float = 0.5
    geometry: Literal["monostatic", "one-way"] = "monostatic"
    angle_reference: Literal["broadside", "axis"] = "broadside"

    def __post_init__(self):
        if self.symbol_duration_s is None:
            object.__setattr__(self, "symbol_duration_s",
                               (1.0 + 1.0 / 14.0) / self.subcarrier_spacing_hz)
        if self.cp_duration_s is None:
            object.__setattr__(self, "cp_duration_s",
                               self.symbol_duration_s - 1.0 / self.subcarrier_spacing_hz)
        if self.geometry not in ("monostatic", "one-way"):
            raise ValueError(f"geometry must be 'monostatic' or 'one-way', not {self.geometry!r}")
        if self.angle_reference not in ("broadside", "axis"):
            raise ValueError(f"angle_reference must be 'broadside' or 'axis', not {self.angle_reference!r}")

    # ------------------------------------------------------------------ basics
    @property
    def shape(self) -> tuple[int, int, int]:
        """Tensor shape ``(N_R, N_F, N_T)``."""
        return (self.n_antennas, self.n_subcarriers, self.n_symbols)

    @property
    def wavelength_m(self) -> float:
        """Carrier wavelength ``lambda = c / fc`` in m."""
        return SPEED_OF_LIGHT / self.carrier_hz

    @property
    def _way(self) -> float:
        # round trip doubles both the delay and the Doppler shift
        return 2.0 if self.geometry == "monostatic" else 1.0

    @property
    def slopes(self) -> tuple[float, float, float]:
        """``d mu / d psi`` for range (rad/m) and velocity (rad per m/s).

        The first entry is ``2 pi d`` (rad per unit of ``sin``/``cos``); the
        angle map is not affine in degrees, see :meth:`jacobian`.
        """
        c = SPEED_OF_LIGHT
        return (2.0 * math.pi * self.antenna_spacing_wavelengths,
                -2.0 * math.pi * self.subcarrier_spacing_hz * self._way / c,
                2.0 * math.pi * self.symbol_duration_s * self.carrier_hz * self._way / c)

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

    def mu_to_range(self, mu) -> torch.Tensor:
        """Range in m of a delay frequency; ``mu_F`` is read in ``(-2 pi, 0]``."""
        mu = _as_tensor(mu)
        mu = torch.where(mu > 0, mu - 2.0 * math.pi, mu)
        return mu / self.slopes[1]

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

    def from_mu(self, mu: torch.Tensor) -> torch.Tensor:
        """``(..., 3)`` mu -> ``(..., 3)`` (angle deg, range m, velocity m/s)."""
        mu = _as_tensor(mu)
        return torch.stack([self.mu_to_angle(mu[..., 0]), self.mu_to_range(mu[..., 1]),
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

    # ------------------------------------------------------- resolution/limits
    def limits(self, factors: tuple[int, int, int] = (1, 1, 1)) -> dict:
        """Resolution and unambiguous intervals, optionally after compression.

        Parameters
        ----------
        factors : tuple of int
            Per-mode compression factors ``Delta_m``; the unambiguous interval
            of mode m becomes ``|mu_m| < pi / Delta_m``.

        Returns
        -------
        dict
            ``resolution_mu`` (rad/sample, ``2 pi / N_m``), physical
            resolutions (``sin``, ``angle_deg_at_broadside``, ``range_m``,
            ``velocity_mps``), unambiguous intervals (``angle_deg``,
            ``range_m``, ``velocity_mps`` as ``[lo, hi]``), the range that fits
            inside the cyclic prefix, the tensor shape after compression and
            the bandwidth / observation time.

        Notes
        -----
        ``range_m`` is the whole non-aliased interval ``[0, 2 pi / (Delta |dmu/dR|))``
        (the brief's and PLAIN's figure; PLAIN maps the compressed delay
        frequency into ``(-2 pi, 0]``). Mapping back into the symmetric
        ``(-pi/Delta, pi/Delta]`` (``plain``'s default, right for ranges
        inside the CP) covers only ``range_m_symmetric``, the first half when
        ``Delta >= 2``; ``plain(..., center=(0, -pi/Delta_F, 0))`` covers the
        whole interval and also keeps its far end off the averaging null.
        """
        n = self.shape
        dm = [int(f) for f in factors]
        s0, s1, s2 = self.slopes
        res_mu = [2.0 * math.pi / k for k in n]
        # one resolution cell in mu, expressed in sin(theta), metres and m/s
        res_sin = res_mu[0] / s0
        res_range = res_mu[1] / abs(s1)
        res_vel = res_mu[2] / s2
        # unambiguous: |Delta mu| < pi; angle also limited by |sin| <= 1
        sin_max = min(1.0, math.pi / (dm[0] * s0))
        if self.angle_reference == "broadside":
            angle_int = [-math.degrees(math.asin(sin_max)), math.degrees(math.asin(sin_max))]
        else:
            angle_int = [math.degrees(math.acos(sin_max)), math.degrees(math.acos(-sin_max))]
        range_max = 2.0 * math.pi / (dm[1] * abs(s1))
        range_sym = range_max if dm[1] == 1 else 0.5 * range_max
        vel_max = math.pi / (dm[2] * s2)
        return {
            "geometry": self.geometry,
            "shape": list(n),
            "compression_factors": dm,
            "compressed_shape": [k // f for k, f in zip(n, dm)],
            "wavelength_m": self.wavelength_m,
            "bandwidth_hz": self.n_subcarriers * self.subcarrier_spacing_hz,
            "observation_time_s": self.n_symbols * self.symbol_duration_s,
            "resolution_mu": res_mu,
            "resolution": {
                "sin": res_sin,
                # at broadside d(sin)/d(theta) = 1 for either angle reference
                "angle_deg_at_broadside": math.degrees(res_sin),
                "range_m": res_range,
                "velocity_mps": res_vel,
            },
            "unambiguous": {
                "angle_deg": angle_int,
                "range_m": [0.0, range_max],
                "range_m_symmetric": [0.0, range_sym],
                "velocity_mps": [-vel_max, vel_max],
            },
            "range_in_cp_m": self.cp_duration_s * SPEED_OF_LIGHT / self._way,
        }

    def with_shape(self, n_antennas: int, n_subcarriers: int, n_symbols: int) -> "OFDMRadar":
        """Same radar, other tensor size (e.g. for runtime-vs-size sweeps)."""
        return replace(self, n_antennas=n_antennas, n_subcarriers=n_subcarriers,
                       n_symbols=n_symbols)

    def to_dict(self) -> dict:
        """Plain-dict view (for configs, HDF5 attrs and reports)."""
        return asdict(self)
