"""The four steps of the ``isac`` flow, free of Prefect.

ingest    the OFDM radar simulator (a scenario) or measured CSI from HDF5
reduce    PLAIN's compression stage, per-mode covariance spectra and model orders
model     PLAIN (+ joint refinement) and the baselines on the reference tensor
evaluate  Monte Carlo RMSE against the CRB over an SNR grid, detection counts,
          OSPA, runtime against tensor size; figures and report
"""

from __future__ import annotations

import math
from typing import Any, Callable

import h5py
import numpy as np
import torch

from domains.isac import figures
from domains.isac import checks
from domains.isac.baselines import esprit3d, fft3d, sequential
from domains.isac.config import PROFILES, IsacConfig
from domains.isac.crb import crb_mu, plugin_standard_errors
from domains.isac.evaluate import monte_carlo, range_doppler_map, runtime_scaling, snr_threshold
from domains.isac.io import load_csi
from domains.isac.physics import OFDMRadar
from domains.isac.plain import plain
from domains.isac.plain.compress import compress
from domains.isac.plain.modal import estimate_order, mode_covariance
from domains.isac.refine import plain_estimators
from domains.isac.scenarios import get_scenario
from shared.domain import DomainSpec
from shared.manifests import resolve_entry, sha256_file
from shared.progress import status
from shared.runs import RunContext, write_array
from shared.timing import measure

DIMS = ("angle", "range", "velocity")
UNITS = ("deg", "m", "m/s")
METRIC_UNITS = ("deg", "m", "mps")
_DTYPES = {"complex64": torch.complex64, "complex128": torch.complex128}


def _cfg(ctx: RunContext) -> IsacConfig:
    return IsacConfig.model_validate(ctx.config)


def _scenario(cfg: IsacConfig):
    kw = {"dimension": cfg.close_dimension} if cfg.scenario == "close" else {}
    return get_scenario(cfg.scenario, **kw)


def estimators(cfg: IsacConfig, compression: tuple[str, tuple[int, int, int]],
               with_baselines: bool = True, include_esprit: bool = True,
               center=None) -> dict[str, Callable]:
    """Name -> ``fn(Y, n_targets) -> Estimate`` for PLAIN, PLAIN+refinement, baselines.

    PLAIN and PLAIN + refinement are :class:`domains.isac.types.BatchedEstimator`
    objects (``fn.batch`` runs a Monte Carlo chunk at once); ``center`` is the
    band shift of :meth:`OFDMRadar.band`.
    """
    out: dict[str, Callable] = plain_estimators(
        refined=cfg.refine, compression=compression, center=center, method=cfg.method,
        order=cfg.order, fusion=cfg.fusion)
    if with_baselines:
        table = {"fft3d": fft3d, "sequential": sequential, "esprit3d": esprit3d}
        for b in cfg.baselines:
            if b != "esprit3d" or include_esprit:
                out[b] = table[b]
    return out


# ------------------------------------------------------------------------ ingest
def ingest(ctx: RunContext, prev: dict[str, dict]) -> dict[str, Any]:
    """Simulate the reference tensor of a scenario or an embedded dataset, or load CSI.

    Writes ``results.h5``: ``reference/csi`` (N_R, N_F, N_T) complex and, for
    simulations, ``truth/{mu,physical,gains}``. An embedded ``--dataset`` is
    built by its manifest's generator with the manifest's parameters
    (scenario, ``snr_db``, ``seed``); the run's seed then drives only the
    Monte Carlo trials.
    """
    cfg = _cfg(ctx)
    dtype = _DTYPES[cfg.dtype]
    if ctx.data:
        d = load_csi(ctx.data, dtype=dtype)  # runs the same check_csi as SPEC.check
        method, factors = checks.compression(cfg, None)
        band = checks.band(cfg, d.radar, factors)
        if cfg.n_targets is not None:
            checks.check_resolvable(cfg.n_targets, tuple(d.csi.shape), where="--set n_targets")
        with h5py.File(ctx.results_h5, "a") as h5:
            write_array(h5, "reference/csi", d.csi, unit="1 (LS channel estimate)")
        return {"kind": "measured", "radar": d.radar.to_dict(), "shape": list(d.csi.shape),
                "compression": [method, list(factors)], "band": band,
                "limits": {"raw": d.radar.limits(), "compressed": d.radar.limits(factors, cfg.max_range_m)},
                "data": {"source": str(ctx.data), "sha256": sha256_file(d.source), "synthetic": False}}
    params = {"scenario": cfg.scenario, "snr_db": cfg.reference_snr_db, "seed": ctx.seed}
    generator = "domains.isac.simulate:generate"
    if ctx.dataset:
        m = checks.embedded_manifest(ctx.dataset)
        generator = m.generator
        params.update({k: v for k, v in m.params.items() if k != "n_trials"})
    if params["scenario"] == "close" and "dimension" not in params:
        params["dimension"] = cfg.close_dimension
    gen = resolve_entry(generator)
    d = gen(**{**params, "n_trials": 1}, device=ctx.device, dtype=dtype)
    sc = d.truth
    method, factors = checks.compression(cfg, sc.compression)
    band = checks.band(cfg, sc.radar, factors, sc.max_range_m)
    y = d.csi[0]
    with h5py.File(ctx.results_h5, "a") as h5:
        write_array(h5, "reference/csi", y, unit="1", snr_db=params["snr_db"], noise_var=d.noise_var)
        write_array(h5, "truth/mu", sc.mu, unit="rad/sample", columns="antenna,subcarrier,symbol")
        write_array(h5, "truth/physical", sc.targets.physical, unit="deg,m,m/s",
                    columns="angle,range,velocity")
        write_array(h5, "truth/gains", sc.targets.gains, unit="1")
    return {"kind": "simulated", "scenario": sc.name, "radar": sc.radar.to_dict(),
            "shape": list(sc.radar.shape), "n_targets": len(sc.targets), "noise_var": d.noise_var,
            "reference_snr_db": float(params["snr_db"]), "reference_seed": int(params["seed"]),
            "generator": generator, "compression": [method, list(factors)], "band": band,
            "limits": sc.limits(factors, cfg.max_range_m),
            "data": {"source": f"simulated:{sc.name} ({sc.notes}); {generator} "
                               f"snr_db={params['snr_db']} seed={params['seed']}",
                     "sha256": None, "synthetic": True}}


def _reference(ctx: RunContext) -> torch.Tensor:
    with h5py.File(ctx.results_h5, "r") as h5:
        return torch.from_numpy(h5["reference/csi"][()]).to(ctx.device)


# ------------------------------------------------------------------------ reduce
def reduce(ctx: RunContext, prev: dict[str, dict]) -> dict[str, Any]:
    """PLAIN's compression stage and the per-mode eigen-spectra it feeds."""
    cfg = _cfg(ctx)
    ing = prev["ingest"]
    method, factors = ing["compression"][0], tuple(ing["compression"][1])
    k = ing.get("n_targets") or cfg.n_targets
    y = _reference(ctx)
    # BadInput if a mode gets too short; the same band shift as PLAIN's
    yc = compress(y, method, factors, n_targets=k, center=ing["band"]["center_mu"])
    orders, spectra = [], []
    with h5py.File(ctx.results_h5, "a") as h5:
        write_array(h5, "reduce/compressed_csi", yc, unit="1", method=method, factors=list(factors))
        for m in range(3):
            r, n_s = mode_covariance(yc, m, fba=True)
            ev = torch.linalg.eigvalsh(r).flip(-1).clamp(min=0)
            orders.append(int(estimate_order(ev, n_s, cfg.order)))
            spectra.append(ev)
            write_array(h5, f"reduce/eigenvalues_mode_{m}", ev, unit="1 (power)",
                        model_order=orders[-1], criterion=cfg.order)
    return {"compressed_shape": list(yc.shape), "compression_ratio": y.numel() / yc.numel(),
            "model_orders": orders, "criterion": cfg.order}


# ------------------------------------------------------------------------- model
def _edge_flags(radar: OFDMRadar, band: dict, physical: np.ndarray) -> list[dict]:
    """Estimates within one resolution cell of an edge of the compressed band.

    Such an estimate may be a target just outside the band, aliased in: the
    report lists them. Range: both ends of the band; velocity: +-v_max/Delta;
    angle: only when the antenna mode is compressed (+-90 deg is no alias).
    """
    res = radar.limits()["resolution"]
    flags = []
    lo, hi = band["range_m"]
    vlo, vhi = band["velocity_mps"]
    for k, (ang, rng, vel) in enumerate(np.asarray(physical, dtype=float)):
        if min(abs(rng - lo), abs(hi - rng)) < res["range_m"]:
            flags.append({"target": k, "dimension": "range", "value": float(rng),
                          "interval": [float(lo), float(hi)]})
        if min(abs(vel - vlo), abs(vhi - vel)) < res["velocity_mps"]:
            flags.append({"target": k, "dimension": "velocity", "value": float(vel),
                          "interval": [float(vlo), float(vhi)]})
        if band["factors"][0] > 1:
            s = float(radar.angle_to_mu(ang)) / radar.slopes[0]
            smax = band["angle_sin"][1]
            if smax - abs(s) < res["sin"]:
                flags.append({"target": k, "dimension": "angle", "value": float(ang),
                              "interval": [-smax, smax]})
    return flags


def model(ctx: RunContext, prev: dict[str, dict]) -> dict[str, Any]:
    """Every estimator on the reference tensor; estimates, runtimes and range-Doppler map saved.

    Runtimes: :func:`shared.timing.measure` (one warm-up, median of
    ``timing_repeats`` calls, device synchronised); joint ESPRIT, seconds
    per call, gets a single timed call here (its median comes from the
    runtime sweep). Also records the number of targets PLAIN's fusion finds
    with the order unknown (the tensor rank found, the intrinsic dimension)
    and, for every estimate of the headline method, plug-in standard errors.
    """
    cfg = _cfg(ctx)
    ing = prev["ingest"]
    radar = OFDMRadar(**ing["radar"])
    method, factors = ing["compression"][0], tuple(ing["compression"][1])
    band = ing["band"]
    y = _reference(ctx)
    k = ing.get("n_targets") if cfg.known_order else None
    k = k if k is not None else cfg.n_targets
    ests = estimators(cfg, (method, factors), include_esprit=True, center=band["center_mu"])
    timing, counts, phys = {}, {}, {}
    with h5py.File(ctx.results_h5, "a") as h5:
        for name, fn in ests.items():
            slow = name == "esprit3d"
            t, est = measure(lambda fn=fn: fn(y, k), repeats=1 if slow else cfg.timing_repeats,
                             warmup=0 if slow else 1, device=ctx.device)
            timing[name] = {"median_s": t.median_s, "min_s": t.min_s, "repeats": t.repeats}
            counts[name] = est.n_targets
            phys[name] = radar.from_mu(est.mu.cpu().double(), min_range_m=band["range_m"][0])
            write_array(h5, f"estimates/{name}/mu", est.mu, unit="rad/sample")
            write_array(h5, f"estimates/{name}/physical", phys[name], unit="deg,m,m/s",
                        columns="angle,range,velocity")
            write_array(h5, f"estimates/{name}/gains", est.gains, unit="1")
        best = "plain_refined" if "plain_refined" in ests else "plain"
        mu_best = torch.from_numpy(h5[f"estimates/{best}/mu"][()]).to(y.device)
        se = plugin_standard_errors(y, mu_best, radar) if mu_best.shape[0] else None
        if se is not None:
            write_array(h5, f"estimates/{best}/std_physical", se["std_physical"], unit="deg,m,m/s",
                        columns="angle,range,velocity", noise_var=se["noise_var"],
                        method="CRB at the estimates, residual noise variance")
        # the tensor rank PLAIN's fusion finds when it is not told the order
        rank_found = plain(y, None, compression=(method, factors), center=band["center_mu"],
                           method=cfg.method, order=cfg.order, fusion=cfg.fusion).n_targets
        rd = range_doppler_map(y, radar=radar)
        write_array(h5, "range_doppler/power_db", rd["power_db"], unit="dB re peak")
        truth = h5["truth/physical"][()] if "truth/physical" in h5 else None
    est_phys = phys[best].numpy()
    std = se["std_physical"].cpu().numpy() if se is not None else None
    figures.range_doppler_figure(rd, truth, est_phys, best, ctx.figures / "range_doppler.png", std=std)
    flags = [{"method": best, **f} for f in _edge_flags(radar, band, est_phys)]
    return {"seconds_reference": {n: t["median_s"] for n, t in timing.items()}, "timing": timing,
            "n_detected": counts, "rank_found": int(rank_found), "edge_flags": flags,
            "headline": best,
            "standard_errors": None if se is None else {
                "physical": se["std_physical"].cpu().tolist(), "noise_var": se["noise_var"],
                "estimates": est_phys.tolist()}}


# ---------------------------------------------------------------------- evaluate
def _intrinsic(red: dict, mod: dict) -> dict:
    return {"estimator": "targets found by PLAIN's fusion with the order unknown (tensor rank); "
                         f"per-mode {red['criterion'].upper()} orders {red['model_orders']} are metrics",
            "value": float(mod["rank_found"])}


def _common_metrics(ing: dict, red: dict, mod: dict) -> dict[str, float]:
    band = ing["band"]
    out = {"compression_ratio": float(red["compression_ratio"]),
           "unambiguous_range_min_m": float(max(band["range_m"][0], 0.0)),
           "unambiguous_range_max_m": float(band["range_m"][1]),
           "unambiguous_velocity_mps": float(band["velocity_mps"][1]),
           "n_estimates_at_band_edge": float(len(mod["edge_flags"])),
           "rank_found": float(mod["rank_found"])}
    for m, k in enumerate(red["model_orders"]):
        out[f"model_order_mode_{m}"] = float(k)
    return out


def evaluate(ctx: RunContext, prev: dict[str, dict]) -> dict[str, Any]:
    """Monte Carlo RMSE vs both CRBs, SNR thresholds, detection, OSPA and runtime; report."""
    cfg = _cfg(ctx)
    ing, red, mod = prev["ingest"], prev["reduce"], prev["model"]
    if ing["kind"] == "measured":
        return _evaluate_measured(ctx, cfg, ing, red, mod)
    sc = _scenario(cfg.model_copy(update={"scenario": ing["scenario"]}))
    comp = (ing["compression"][0], tuple(ing["compression"][1]))
    center = ing["band"]["center_mu"]
    dtype = _DTYPES[cfg.dtype]
    common = dict(radar=sc.radar, crb_fn=crb_mu, known_order=cfg.known_order, device=ctx.device,
                  dtype=dtype, seed=ctx.seed, progress=lambda m: status(f"isac Monte Carlo: {m}"))
    mc = monte_carlo(estimators(cfg, comp, include_esprit=False, center=center), sc.mu,
                     sc.targets.gains, sc.radar.shape, cfg.snr_db, cfg.n_trials, **common)
    if "esprit3d" in cfg.baselines:
        mce = monte_carlo({"esprit3d": esprit3d}, sc.mu, sc.targets.gains, sc.radar.shape,
                          cfg.snr_db, cfg.esprit_trials, **common)
        mc["methods"]["esprit3d"] = mce["methods"]["esprit3d"]
        mc["esprit_trials"] = cfg.esprit_trials
    thresholds = {name: snr_threshold(mc, name) for name in mc["methods"]}
    mc["thresholds_db"] = thresholds

    sizes = [(sc.radar.shape[0], s, s) for s in cfg.scaling_sizes]
    scal = runtime_scaling(estimators(cfg, ("averaging", (1, 2, 2))), sizes, n_targets=4,
                           n_repeats=cfg.timing_repeats, seed=ctx.seed, device=ctx.device,
                           dtype=dtype, batch_trials=min(cfg.n_trials, 8), batch_methods=("plain",),
                           skip=lambda name, shape: name == "esprit3d" and not (
                               cfg.esprit_min_size <= shape[1] <= cfg.esprit_max_size))
    _save_mc(ctx, mc, scal)
    figures.rmse_figure(mc, ctx.figures / "rmse_vs_snr.png")
    figures.runtime_figure(scal, ctx.figures / "runtime_vs_size.png")

    i = _nearest(mc["snr_db"], ing.get("reference_snr_db", cfg.reference_snr_db))
    crb = mc["crb"]["rmse_physical"][i]
    tied = mc["crb_tied"]["rmse_physical"][i] if mc["crb_tied"]["rmse_physical"] else crb
    headline = "plain"
    metrics = _method_metrics(mc, headline, i, crb, tied)
    metrics.update(_common_metrics(ing, red, mod))
    metrics["reference_snr_db"] = float(mc["snr_db"][i])
    metrics["runtime_ms"] = 1e3 * float(mod["seconds_reference"][headline])
    for d, u in zip(DIMS, METRIC_UNITS):
        metrics[f"crb_{d}_{u}"] = float(crb[DIMS.index(d)])
        metrics[f"crb_tied_{d}_{u}"] = float(tied[DIMS.index(d)])
    for name, t in thresholds.items():
        if math.isfinite(t):
            metrics[f"snr_threshold_db_{name}"] = float(t)
    baselines = {name: _method_metrics(mc, name, i, crb, tied) for name in mc["methods"]
                 if name != headline}
    for name in baselines:
        if name in mod["seconds_reference"]:
            baselines[name]["runtime_ms"] = 1e3 * float(mod["seconds_reference"][name])
    # PLAIN against joint ESPRIT at the largest size both ran at, single and batched
    fits = [s for s in cfg.scaling_sizes if s <= cfg.esprit_max_size]
    speed = {row["method"]: row for row in scal if fits and row["shape"][1] == max(fits)}
    if "esprit3d" in speed and not speed["esprit3d"]["skipped"]:
        t_e = speed["esprit3d"]["seconds_median"]
        metrics["speedup_vs_esprit3d"] = float(t_e / speed["plain"]["seconds_median"])
        if "plain_batch" in speed:
            metrics["speedup_vs_esprit3d_batched"] = float(t_e / speed["plain_batch"]["seconds_median"])
    report = figures.report(ing, red, mod, mc, scal, metrics, i)
    return {"metrics": metrics, "baselines": baselines, "intrinsic_dimension": _intrinsic(red, mod),
            "report": report}


def _nearest(grid: list[float], value: float) -> int:
    return int(np.argmin([abs(g - value) for g in grid]))


def _method_metrics(mc: dict, name: str, i: int, crb: list[float], tied: list[float]) -> dict[str, float]:
    r = mc["methods"][name]
    out: dict[str, float] = {}
    rm = r["rmse_physical"][i] if r["n_success"][i] else [math.inf] * 3
    for d, (dim, u) in enumerate(zip(DIMS, METRIC_UNITS)):
        if math.isfinite(rm[d]):
            out[f"rmse_{dim}_{u}"] = float(rm[d])
            # the bound of the model PLAIN fits (shared coordinates tied) and the 3K-parameter one
            out[f"rmse_over_crb_{dim}"] = float(rm[d] / tied[d]) if tied[d] > 0 else math.nan
            out[f"rmse_over_crb3k_{dim}"] = float(rm[d] / crb[d]) if crb[d] > 0 else math.nan
    out["p_success"] = float(r["p_success"][i])
    out["mean_misses"] = float(r["mean_misses"][i])
    out["mean_false_targets"] = float(r["mean_false"][i])
    out["ospa_cells"] = float(r["ospa_cells"][i])
    out["mc_seconds_per_estimate"] = float(r["runtime_s"][i])
    # trials the estimator raised on (scored as empty estimates) and batch calls re-run trial by trial:
    # a method that fails (say on one device only) shows as a count, not only as a low P(success)
    out["n_failed_trials"] = float(r["n_errors"][i])
    out["n_batch_fallbacks"] = float(r["n_batch_errors"][i])
    return {k: v for k, v in out.items() if math.isfinite(v)}


def _save_mc(ctx: RunContext, mc: dict, scal: list[dict]) -> None:
    with h5py.File(ctx.results_h5, "a") as h5:
        write_array(h5, "montecarlo/snr_db", np.asarray(mc["snr_db"]), unit="dB")
        for key in ("crb", "crb_tied"):
            if mc[key]["rmse_physical"]:
                write_array(h5, f"montecarlo/{key}_rmse_physical", np.asarray(mc[key]["rmse_physical"]),
                            unit="deg,m,m/s", columns="angle,range,velocity")
        for name, r in mc["methods"].items():
            for key, unit in (("rmse_physical", "deg,m,m/s"), ("rmse_mu", "rad/sample"),
                              ("p_success", "1"), ("ospa_cells", "Rayleigh cells"),
                              ("runtime_s", "s")):
                write_array(h5, f"montecarlo/{name}/{key}", np.asarray(r[key], dtype=float), unit=unit)
        for row in scal:
            write_array(h5, f"runtime/{row['method']}/{'x'.join(map(str, row['shape']))}",
                        np.asarray([row["seconds_median"], row["seconds_min"], row["seconds_max"]],
                                   dtype=float), unit="s", columns="median,min,max",
                        repeats=row["repeats"])


def _evaluate_measured(ctx, cfg, ing, red, mod) -> dict[str, Any]:
    """No ground truth: detections, agreement with PLAIN (OSPA), standard errors, runtime."""
    from domains.isac.metrics import ospa

    with h5py.File(ctx.results_h5, "r") as h5:
        ests = {n: torch.from_numpy(h5[f"estimates/{n}/mu"][()]) for n in h5["estimates"]}
    shape = ing["shape"]
    cells = torch.tensor([2 * math.pi / n for n in shape], dtype=torch.float64)
    ref = ests.get("plain_refined", ests["plain"]).double()
    metrics = {"n_targets_detected": float(ref.shape[0]),
               "runtime_ms": 1e3 * mod["seconds_reference"]["plain"], **_common_metrics(ing, red, mod)}
    baselines = {}
    for n, mu in ests.items():
        if n == "plain":
            continue
        baselines[n] = {"n_targets_detected": float(mu.shape[0]),
                        "ospa_to_plain_cells": float(ospa(mu.double(), ests["plain"].double(), c=1.0,
                                                          scale=cells)),
                        "runtime_ms": 1e3 * mod["seconds_reference"][n]}
    report = figures.measured_report(ing, red, mod, int(ref.shape[0]))
    return {"metrics": metrics, "baselines": baselines, "intrinsic_dimension": _intrinsic(red, mod),
            "report": report}


SPEC = DomainSpec(
    name="isac",
    summary="PLAIN tensor parameter estimation for OFDM radar against the CRB and baselines",
    config=IsacConfig, profiles=PROFILES,
    ingest=ingest, reduce=reduce, model=model, evaluate=evaluate, check=checks.check,
)
