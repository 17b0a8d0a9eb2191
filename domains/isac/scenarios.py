"""Named ISAC scenarios: a radar, true targets and their normalized frequencies.

* ``default``: 28 GHz, 120 kHz, 16 x 128 x 64, monostatic, 4 targets inside
  the CP (ranges < 89 m), well separated in every mode where they differ, and
  three pairs that share one parameter exactly (an angle, a range, a velocity).
* ``plain-demo`` (alias ``paper_compat``): the PLAIN reference code's set-up,
  26 GHz, 60 kHz, 16 x 180 x 560, one-way, angle from the array axis, 6
  objects with path-loss gains (brief section 8).
* ``close``: the ``default`` radar with two targets a quarter of a resolution
  cell apart in one dimension (velocity by default) and well separated in the
  other two: the case decoupled per-mode estimation cannot resolve.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch

from domains.isac.layouts import get_layout
from domains.isac.physics import SPEED_OF_LIGHT, OFDMRadar
from shared.errors import BadInput

__all__ = ["Scenario", "Targets", "get_scenario", "SCENARIOS", "default", "plain_demo", "close"]


@dataclass
class Targets:
    """True point targets (K of them), physical units.

    Attributes
    ----------
    angle_deg, range_m, velocity_mps : torch.Tensor
        ``(K,)`` float64.
    gains : torch.Tensor
        ``(K,)`` complex128 amplitudes ``b_k``.
    """

    angle_deg: torch.Tensor
    range_m: torch.Tensor
    velocity_mps: torch.Tensor
    gains: torch.Tensor

    @property
    def physical(self) -> torch.Tensor:
        """``(K, 3)`` (angle deg, range m, velocity m/s)."""
        return torch.stack([self.angle_deg, self.range_m, self.velocity_mps], dim=-1)

    def __len__(self) -> int:
        return int(self.angle_deg.shape[0])


@dataclass
class Scenario:
    """A radar, its targets and the matching normalized frequencies.

    Attributes
    ----------
    name : str
    radar : OFDMRadar
    targets : Targets
    mu : torch.Tensor
        ``(K, 3)`` float64 normalized frequencies (rad/sample).
    compression : tuple
        The PLAIN compression this scenario is meant to run with,
        ``(method, factors)``.
    notes : str
        What the scenario tests, and which model limits it respects.
    max_range_m : float, optional
        Largest range the compressed delay band must hold; the band is centred
        on ``[0, max_range_m]`` (:meth:`OFDMRadar.band`). None: the whole
        non-negative interval.
    """

    name: str
    radar: OFDMRadar
    targets: Targets
    mu: torch.Tensor
    compression: tuple = ("averaging", (1, 2, 2))
    notes: str = ""
    extra: dict = field(default_factory=dict)
    max_range_m: float | None = None

    @property
    def shape(self) -> tuple[int, int, int]:
        return self.radar.shape

    @property
    def gains(self) -> torch.Tensor:
        return self.targets.gains

    @property
    def n_targets(self) -> int:
        return len(self.targets)

    def limits(self, factors=None, max_range_m: float | None = None) -> dict:
        """Resolution/unambiguous intervals, raw and after compression.

        ``factors`` and ``max_range_m`` default to the scenario's own.
        """
        factors = tuple(self.compression[1]) if factors is None else tuple(factors)
        max_range_m = self.max_range_m if max_range_m is None else max_range_m
        return {"raw": self.radar.limits((1, 1, 1)),
                "compressed": self.radar.limits(factors, max_range_m)}


def _targets(radar: OFDMRadar, angle, rng, vel, gains) -> tuple[Targets, torch.Tensor]:
    f64 = dict(dtype=torch.float64)
    t = Targets(torch.tensor(angle, **f64), torch.tensor(rng, **f64),
                torch.tensor(vel, **f64), torch.as_tensor(gains).to(torch.complex128))
    return t, radar.to_mu(t.angle_deg, t.range_m, t.velocity_mps)


def _phases(seed: int, k: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    phi = 2.0 * math.pi * torch.rand(k, generator=g, dtype=torch.float64)
    return torch.polar(torch.ones_like(phi), phi)


def _scenario(lay, radar: OFDMRadar, targets: Targets, mu: torch.Tensor, notes: str, extra=None) -> Scenario:
    if len(targets) != lay.n_targets:  # the layout is what the check before Prefect trusts
        raise AssertionError(f"scenario {lay.name}: {len(targets)} targets, layout says {lay.n_targets}")
    return Scenario(lay.name, radar, targets, mu, lay.compression, notes, dict(extra or {}),
                    max_range_m=lay.max_range_m)


def default() -> Scenario:
    """28 GHz / 120 kHz NR numerology, 16 x 128 x 64, 4 targets.

    Ranges stay below the 89 m that fit in the 0.595 us CP; velocities are
    far inside +-300 m/s (+-150 m/s after a factor-2 compression). Target 1
    and 2 share a range, 2 and 3 an angle, 1 and 3 a velocity, so every mode
    has one exactly repeated frequency (which decoupled estimation handles by
    reusing a candidate). Distinct values are >= 2.5 resolution cells apart.
    """
    lay = get_layout("default")
    radar = OFDMRadar(**lay.radar)
    angle = [-30.0, 10.0, 10.0, 45.0]
    rng = [20.0, 20.0, 55.0, 80.0]
    vel = [-24.0, 3.0, -24.0, 27.0]
    targets, mu = _targets(radar, angle, rng, vel, _phases(11, 4))
    return _scenario(lay, radar, targets, mu, "4 targets, pairs equal in one dimension, ranges inside the CP")


def plain_demo() -> Scenario:
    """The PLAIN reference code's simulation (``main.m``), brief section 8.

    26 GHz, lambda/2 ULA with 16 elements, 180 subcarriers at 60 kHz,
    T = 17.857 us (CP = 1/(14 df)), 560 symbols (10 ms), one-way geometry,
    angle from the array axis. 6 objects: angles 30..150 deg, distances
    50..400 m rounded to the 1.25x-oversampled sample period (22.2 m), speeds
    0..25 km/h with every second object static, gains
    ``exp(j phi) 10^(-PL/20)`` with the 3GPP UMa-LOS path loss
    ``28 + 22 log10 d + 20 log10 fc[GHz]`` (+ 2.96 dB), rescaled to mean
    ``|b|^2 = 1``.
    PLAIN's own SNR is total received power over kT B; here the SNR follows the
    domain convention (mean |b|^2 per entry), so only relative gains match.
    """
    lay = get_layout("plain-demo")
    radar = OFDMRadar(**lay.radar)
    k = lay.n_targets
    angle = torch.linspace(30.0, 150.0, k, dtype=torch.float64)
    tap_m = SPEED_OF_LIGHT / (225 * 60e3)  # FFT size 225 at 60 kHz: one sample of delay
    dist = torch.round(torch.linspace(50.0, 400.0, k, dtype=torch.float64) / tap_m) * tap_m
    vel = torch.linspace(0.0, 25.0 / 3.6, k, dtype=torch.float64)
    vel[0::2] = 0.0
    pl_db = 28.0 + 22.0 * torch.log10(dist) + 20.0 * math.log10(26.0) + 4 * 0.74
    gains = _phases(7, k) * 10.0 ** (-pl_db / 20.0)
    # keep the path-loss spread but scale to mean |b|^2 = 1 (the SNR sets the noise)
    gains = gains / torch.sqrt(torch.mean(torch.abs(gains) ** 2))
    targets, mu = _targets(radar, angle.tolist(), dist.tolist(), vel.tolist(), gains)
    return _scenario(lay, radar, targets, mu, "PLAIN main.m reference: one-way, path-loss gains", {"tap_m": tap_m})


def close(dimension: str = "velocity", fraction: float = 0.25) -> Scenario:
    """Two targets ``fraction`` of a resolution cell apart in one dimension.

    Parameters
    ----------
    dimension : {"angle", "range", "velocity"}
        The close dimension; the other two are separated by several cells.
    fraction : float
        Separation in units of the resolution cell ``2 pi / N_m``.
    """
    lay = get_layout("close")
    radar = OFDMRadar(**lay.radar)
    lim = radar.limits()["resolution"]
    angle = [-20.0, 25.0]
    rng = [30.0, 70.0]
    vel = [10.0, -12.0]
    if dimension == "velocity":
        vel = [10.0, 10.0 + fraction * lim["velocity_mps"]]
    elif dimension == "range":
        rng = [40.0, 40.0 + fraction * lim["range_m"]]
    elif dimension == "angle":
        # a quarter cell in sin(theta) around broadside
        s = fraction * lim["sin"]
        angle = [0.0, math.degrees(math.asin(s))]
    else:
        raise BadInput("scenario.dimension", f"must be angle, range or velocity, not {dimension!r}")
    targets, mu = _targets(radar, angle, rng, vel, _phases(5, 2))
    return _scenario(lay, radar, targets, mu, f"two targets {fraction} resolution cell apart in {dimension}",
                     {"close_dimension": ["angle", "range", "velocity"].index(dimension)})


SCENARIOS = {"default": default, "plain-demo": plain_demo, "paper_compat": plain_demo,
             "close": close}


def get_scenario(name: str, **kwargs) -> Scenario:
    """Build a named scenario (``default``, ``plain-demo``, ``close``)."""
    get_layout(name)  # BadInput naming the scenario when unknown
    return SCENARIOS[name](**kwargs)
