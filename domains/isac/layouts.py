"""What each named ISAC scenario is, without its targets' tensors: radar, target count, compression, band.

Torch-free on purpose: the CLI's check before Prefect (:mod:`domains.isac.checks`)
validates factors, bands and ``n_targets`` against a scenario's radar from
these numbers, and :mod:`domains.isac.scenarios` builds each scenario from
the same layout (one home for them) plus its targets.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from domains.isac.radar import RadarGeometry
from shared.errors import BadInput

__all__ = ["Layout", "LAYOUTS", "get_layout"]


@dataclass(frozen=True)
class Layout:
    """A scenario's radar, target count, PLAIN compression and the range its band must hold.

    Attributes
    ----------
    name : str
        The scenario's canonical name.
    radar : dict
        :class:`domains.isac.radar.RadarGeometry` keyword arguments.
    n_targets : int
        ``K``, the number of simulated targets.
    compression : tuple
        ``(method, factors)`` the scenario runs PLAIN with.
    max_range_m : float or None
        Largest range the compressed delay band must hold (m); None: the whole
        non-negative interval.
    """

    name: str
    radar: dict = field(hash=False)
    n_targets: int
    compression: tuple
    max_range_m: float | None

    def geometry(self) -> RadarGeometry:
        """The radar as a torch-free :class:`RadarGeometry`."""
        return RadarGeometry(**self.radar)


_NR_28GHZ = {"carrier_hz": 28e9, "subcarrier_spacing_hz": 120e3, "n_antennas": 16, "n_subcarriers": 128,
             "n_symbols": 64}
LAYOUTS = {
    "default": Layout("default", _NR_28GHZ, 4, ("averaging", (1, 2, 2)), 100.0),
    "plain-demo": Layout("plain-demo", {"carrier_hz": 26e9, "subcarrier_spacing_hz": 60e3, "n_antennas": 16,
                                        "n_subcarriers": 180, "n_symbols": 560, "geometry": "one-way",
                                        "angle_reference": "axis"}, 6, ("averaging", (1, 4, 14)), 450.0),
    "close": Layout("close", _NR_28GHZ, 2, ("averaging", (1, 2, 2)), 100.0),
}
ALIASES = {"paper_compat": "plain-demo"}


def get_layout(name: str) -> Layout:
    """The layout of a named scenario (``default``, ``plain-demo`` / ``paper_compat``, ``close``)."""
    key = ALIASES.get(name, name)
    if key not in LAYOUTS:
        raise BadInput("scenario", f"unknown ISAC scenario {name!r}; known: {sorted([*LAYOUTS, *ALIASES])}")
    return LAYOUTS[key]
