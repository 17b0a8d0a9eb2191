"""The isac flow's input check, as the CLI runs it before Prefect, and the settings it shares with ingest.

Torch-free on purpose, so a user's mistake fails in about a second:

* a CSI file's own mistakes (not HDF5, no dataset, real or wrong-rank data,
  missing or bad attributes, NaN): :func:`domains.isac.csi_header.check_header`
  (h5py and numpy);
* what needs the radar model (compression factors, range and speed bands,
  the number of targets): checked against the file's radar or the
  scenario's, both as :class:`domains.isac.radar.RadarGeometry` (``math``
  only; a scenario's radar and target count come from
  :mod:`domains.isac.layouts`).

``steps.SPEC.check`` is :func:`check` itself (``pipelines.registry``'s
``check=`` names it); ingest uses :func:`compression`, :func:`band` and
:func:`check_resolvable` on the same settings.
"""

from __future__ import annotations

from domains.isac.config import IsacConfig
from domains.isac.csi_header import check_header, radar_kwargs
from domains.isac.factors import check_factors
from domains.isac.layouts import get_layout
from domains.isac.radar import RadarGeometry
from shared.errors import BadInput
from shared.manifests import get_manifest


def compression(cfg: IsacConfig, scenario_default) -> tuple[str, tuple[int, int, int]]:
    """``(method, factors)``: the scenario's default (or averaging (1, 2, 2)) with the config's overrides."""
    method, factors = scenario_default if scenario_default else ("averaging", (1, 2, 2))
    if cfg.compression is not None:
        method = cfg.compression
    if cfg.factors is not None:
        factors = tuple(cfg.factors)
    if method == "none":
        factors = (1, 1, 1)
    return method, tuple(int(f) for f in factors)


def band(cfg: IsacConfig, radar: RadarGeometry, factors, scenario_max_range: float | None = None) -> dict:
    """The compressed bands (non-negative ranges) and their shift; BadInput if a limit does not fit."""
    max_range = cfg.max_range_m if cfg.max_range_m is not None else scenario_max_range
    return radar.band(tuple(factors), max_range, cfg.max_speed_mps)


def check_resolvable(k: int, shape: tuple[int, ...], where: str) -> None:
    """BadInput unless every mode of ``shape`` can resolve ``k`` frequencies."""
    # a mode of length N resolves at most N - 1 frequencies (one noise dimension)
    for n, size in enumerate(shape):
        if k > size - 1:
            raise BadInput(where, f"{k} targets cannot be resolved in mode {n} of length {size} "
                                  f"(at most {size - 1})")


def embedded_manifest(dataset: str):
    """The manifest of an embedded isac ``--dataset`` (with a generator); BadInput for any other dataset."""
    m = get_manifest(dataset)
    if m.domain != "isac" or m.access != "embedded" or not m.generator:
        raise BadInput(f"--dataset {dataset}", "not an embedded isac dataset; use --data FILE.h5")
    return m


def check(data: str | None, dataset: str | None, cfg: IsacConfig) -> None:
    """Header-level validation of ``--data`` / ``--dataset`` / the scenario settings (BadInput).

    ``--data``: the HDF5 file, dataset, dtype, rank, non-zero sizes, numeric
    positive attributes and a blocked NaN scan (the same check ingest runs),
    then the compression factors and bands against that radar. ``--dataset``:
    an embedded isac manifest with a generator. Simulated scenarios: factors,
    bands and ``n_targets`` against the scenario's radar.
    """
    if data:
        radar = RadarGeometry(**radar_kwargs(check_header(data)))
        method, factors = compression(cfg, None)
        if cfg.n_targets is not None:
            check_resolvable(cfg.n_targets, radar.shape, where="--set n_targets")
        check_factors(radar.shape, method, factors, cfg.n_targets)
        band(cfg, radar, factors)
        return
    scenario = embedded_manifest(dataset).params.get("scenario", cfg.scenario) if dataset else cfg.scenario
    lay = get_layout(scenario)
    radar = lay.geometry()
    if cfg.n_targets is not None:  # an order given for a simulated scenario must be resolvable too
        check_resolvable(cfg.n_targets, radar.shape, where="--set n_targets")
    method, factors = compression(cfg, lay.compression)
    check_factors(radar.shape, method, factors, lay.n_targets)
    band(cfg, radar, factors, lay.max_range_m)
