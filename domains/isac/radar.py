"""OFDM radar geometry without tensors: the parameters, slopes, bands and limits.

Torch-free on purpose (``math`` only): the CLI's check before Prefect
(:mod:`domains.isac.checks`) validates compression factors and range or speed
limits against a radar without importing torch, and
:class:`domains.isac.physics.OFDMRadar` adds the tensor maps on top of this
class (one home for the numbers, two import costs).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace
from typing import Literal

__all__ = ["SPEED_OF_LIGHT", "RadarGeometry"]

SPEED_OF_LIGHT = 299_792_458.0  # m/s, exact (SI)


@dataclass(frozen=True)
class RadarGeometry:
    """An OFDM radar with a uniform linear array: its parameters, bands and limits (no tensors).

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

    # ------------------------------------------------------- resolution/limits
    def band(self, factors: tuple[int, int, int] = (1, 1, 1), max_range_m: float | None = None,
             max_speed_mps: float | None = None) -> dict:
        """The intervals a compressed tensor reaches, and the shift that puts them there.

        Compression by ``Delta_m`` keeps an interval of width ``2 pi / Delta_m``
        of mode m's frequencies. Ranges are never negative, so the delay band
        is shifted before compressing (a modulation along the subcarriers by
        ``-center_mu[1]``): it is centred on ``max_range_m / 2`` and covers
        ``[max_range_m/2 - W/2, max_range_m/2 + W/2)`` with ``W = R_max /
        Delta_F``; without ``max_range_m`` it is ``[0, W)``, the whole
        non-negative interval. Centring on the targets' span keeps them away
        from the band edge, where averaging loses up to 3.9 dB. Angle and
        Doppler bands stay centred on 0.

        Parameters
        ----------
        factors : tuple of int
            Per-mode compression factors.
        max_range_m : float, optional
            Largest range the band must hold (m).
        max_speed_mps : float, optional
            Largest ``|v|`` the band must hold (m/s).

        Returns
        -------
        dict
            ``center_mu`` (3 floats, rad/sample, the frequency moved to 0
            before compressing), ``range_m`` ``[lo, hi)`` of the band (``lo``
            may be negative), ``range_reach_m`` ``[max(lo, 0), hi)``,
            ``velocity_mps`` and ``angle_sin`` ``[-x, x]``, ``factors``.

        Raises
        ------
        BadInput
            ``max_range_m`` or ``max_speed_mps`` does not fit: names the
            compression factor to lower and the largest one that fits.
        """
        from shared.errors import BadInput

        dm = [int(f) for f in factors]
        s0, s1, s2 = self.slopes
        r_full = 2.0 * math.pi / abs(s1)
        width = r_full / dm[1]
        if max_range_m is not None:
            if not (math.isfinite(max_range_m) and max_range_m > 0):
                raise BadInput("max_range_m", f"must be a positive number of metres, got {max_range_m}")
            if max_range_m > width:
                fit = int(r_full // max_range_m)
                raise BadInput("compression.factors[1]",
                               f"factor {dm[1]} keeps ranges up to {width:.1f} m, less than "
                               f"max_range_m={max_range_m:g}; "
                               + (f"lower it to {fit} or less" if fit >= 1 else
                                  f"no factor fits: even the raw interval keeps only {r_full:.1f} m"))
            mid = 0.5 * max_range_m
        else:
            mid = 0.5 * width
        vmax = math.pi / (dm[2] * s2)
        if max_speed_mps is not None:
            if not (math.isfinite(max_speed_mps) and max_speed_mps > 0):
                raise BadInput("max_speed_mps", f"must be a positive speed in m/s, got {max_speed_mps}")
            if max_speed_mps >= vmax:
                fit = int(math.pi / (s2 * max_speed_mps))
                raise BadInput("compression.factors[2]",
                               f"factor {dm[2]} keeps |v| < {vmax:.2f} m/s, not max_speed_mps="
                               f"{max_speed_mps:g}; "
                               + (f"lower it to {fit} or less" if fit >= 1 else
                                  f"no factor fits: even the raw interval keeps only |v| < {math.pi / s2:.2f} m/s"))
        lo, hi = mid - 0.5 * width, mid + 0.5 * width
        # a factor of 1 keeps the whole circle: no shift needed, the read-out interval is [0, R_max)
        center_f = float(self.slopes[1] * mid) if dm[1] > 1 else 0.0
        if dm[1] == 1:
            lo, hi = 0.0, r_full
        return {"factors": dm, "center_mu": [0.0, center_f, 0.0], "range_m": [lo, hi],
                "range_reach_m": [max(lo, 0.0), hi], "velocity_mps": [-vmax, vmax],
                "angle_sin": [-min(1.0, math.pi / (dm[0] * s0)), min(1.0, math.pi / (dm[0] * s0))]}

    def limits(self, factors: tuple[int, int, int] = (1, 1, 1),
               max_range_m: float | None = None) -> dict:
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
        ``unambiguous.range_m`` is the part of :meth:`band` that the flow's
        estimators reach, ``[max(lo, 0), hi)``: ``[0, R_max / Delta_F)`` without
        ``max_range_m``. ``unambiguous.range_band_m`` is the whole band.
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
        band = self.band(tuple(dm), max_range_m)
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
                "range_m": band["range_reach_m"],
                "range_band_m": band["range_m"],
                "velocity_mps": [-vel_max, vel_max],
            },
            "range_in_cp_m": self.cp_duration_s * SPEED_OF_LIGHT / self._way,
        }

    def with_shape(self, n_antennas: int, n_subcarriers: int, n_symbols: int) -> "RadarGeometry":
        """Same radar, other tensor size (e.g. for runtime-vs-size sweeps)."""
        return replace(self, n_antennas=n_antennas, n_subcarriers=n_subcarriers,
                       n_symbols=n_symbols)

    def to_dict(self) -> dict:
        """Plain-dict view (for configs, HDF5 attrs and reports)."""
        return asdict(self)
