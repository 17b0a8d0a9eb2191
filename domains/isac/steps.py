"""The four steps of the ``isac`` flow, free of Prefect.

ingest    the OFDM radar simulator (a scenario) or measured CSI from HDF5
reduce    PLAIN's compression stage, per-mode covariance spectra and model orders
model     PLAIN (+ joint refinement) and the baselines on the reference tensor
evaluate  Monte Carlo RMSE against the CRB over an SNR grid, detection counts,
          OSPA, runtime against tensor size; figures and report
"""

from __future__ import annotations

import functools
import math
import time
from typing import Any, Callable

import h5py
import numpy as np
import torch

from domains.isac import figures
from domains.isac.baselines import esprit3d, fft3d, sequential
from domains.isac.config import PROFILES, IsacConfig
from domains.isac.crb import crb_mu
from domains.isac.evaluate import monte_carlo, range_doppler_map, runtime_scaling
from domains.isac.io import load_csi
from domains.isac.physics import OFDMRadar
from domains.isac.plain import plain
from domains.isac.plain.compress import compress
from domains.isac.plain.modal import estimate_order, mode_covariance
from domains.isac.refine import refine
from domains.isac.scenarios import get_scenario
from domains.isac.simulate import noise_variance, simulate_tensor
from shared.domain import DomainSpec
from shared.errors import BadInput
from shared.manifests import get_manifest, sha256_file
from shared.progress import status
from shared.runs import RunContext, write_array

DIMS = ("angle", "range", "velocity")
UNITS = ("deg", "m", "m/s")
METRIC_UNITS = ("deg", "m", "mps")
_DTYPES = {"complex64": torch.complex64, "complex128": torch.complex128}


def _cfg(ctx: RunContext) -> IsacConfig:
    return IsacConfig.model_validate(ctx.config)


def _scenario(cfg: IsacConfig):
    kw = {"dimension": cfg.close_dimension} if cfg.scenario == "close" else {}
    return get_scenario(cfg.scenario, **kw)


def _compression(cfg: IsacConfig, scenario_default) -> tuple[str, tuple[int, int, int]]:
    method, factors = scenario_default if scenario_default else ("averaging", (1, 2, 2))
    if cfg.compression is not None:
        method = cfg.compression
    if cfg.factors is not None:
        factors = tuple(cfg.factors)
    if method == "none":
        factors = (1, 1, 1)
    return method, tuple(int(f) for f in factors)


def estimators(cfg: IsacConfig, compression: tuple[str, tuple[int, int, int]],
               with_baselines: bool = True, include_esprit: bool = True) -> dict[str, Callable]:
    """Name -> ``fn(Y, n_targets) -> Estimate`` for PLAIN, PLAIN+refinement, baselines."""
    p = functools.partial(plain, compression=compression, method=cfg.method, order=cfg.order,
                          fusion=cfg.fusion)
    out: dict[str, Callable] = {"plain": p}
    if cfg.refine:
        out["plain_refined"] = lambda y, k: refine(y, p(y, k), n_targets=k)
    if with_baselines:
        table = {"fft3d": fft3d, "sequential": sequential, "esprit3d": esprit3d}
        for b in cfg.baselines:
            if b != "esprit3d" or include_esprit:
                out[b] = table[b]
    return out


# ------------------------------------------------------------------------ ingest
def ingest(ctx: RunContext, prev: dict[str, dict]) -> dict[str, Any]:
    """Simulate the reference tensor of a scenario, or load measured CSI.

    Writes ``results.h5``: ``reference/csi`` (N_R, N_F, N_T) complex and, for
    simulations, ``truth/{mu,physical,gains}``.
    """
    cfg = _cfg(ctx)
    dtype = _DTYPES[cfg.dtype]
    if ctx.data:
        d = load_csi(ctx.data, dtype=dtype)
        if cfg.n_targets is not None:
            _check_resolvable(cfg.n_targets, tuple(d.csi.shape), where="--set n_targets")
        with h5py.File(ctx.results_h5, "a") as h5:
            write_array(h5, "reference/csi", d.csi, unit="1 (LS channel estimate)")
        return {"kind": "measured", "radar": d.radar.to_dict(), "shape": list(d.csi.shape),
                "compression": list(_compression(cfg, None)),
                "data": {"source": str(ctx.data), "sha256": sha256_file(ctx.data), "synthetic": False}}
    if ctx.dataset:
        m = get_manifest(ctx.dataset)
        if m.domain != "isac" or m.access != "embedded":
            raise BadInput(f"--dataset {ctx.dataset}", "not an embedded isac dataset; use --data FILE.h5")
        cfg = cfg.model_copy(update={"scenario": m.params.get("scenario", cfg.scenario)})
    sc = _scenario(cfg)
    method, factors = _compression(cfg, sc.compression)
    radar: OFDMRadar = sc.radar
    sigma2 = noise_variance(sc.targets.gains, cfg.reference_snr_db)
    y = simulate_tensor(sc.mu, sc.targets.gains, radar.shape, cfg.reference_snr_db, n_trials=1,
                        seed=ctx.seed, device=ctx.device, dtype=dtype)[0]
    with h5py.File(ctx.results_h5, "a") as h5:
        write_array(h5, "reference/csi", y, unit="1", snr_db=cfg.reference_snr_db, noise_var=sigma2)
        write_array(h5, "truth/mu", sc.mu, unit="rad/sample", columns="antenna,subcarrier,symbol")
        write_array(h5, "truth/physical", sc.targets.physical, unit="deg,m,m/s",
                    columns="angle,range,velocity")
        write_array(h5, "truth/gains", sc.targets.gains, unit="1")
    return {"kind": "simulated", "scenario": sc.name, "radar": radar.to_dict(),
            "shape": list(radar.shape), "n_targets": len(sc.targets), "noise_var": sigma2,
            "compression": [method, list(factors)], "limits": sc.limits(),
            "data": {"source": f"simulated:{sc.name} ({sc.notes})", "sha256": None,
                     "synthetic": True}}


def _check_resolvable(k: int, shape: tuple[int, ...], where: str) -> None:
    # a mode of length N resolves at most N - 1 frequencies (one noise dimension)
    for n, size in enumerate(shape):
        if k > size - 1:
            raise BadInput(where, f"{k} targets cannot be resolved in mode {n} of length {size} "
                                  f"(at most {size - 1})")


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
    yc = compress(y, method, factors, n_targets=k)  # BadInput if a mode gets too short
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
def model(ctx: RunContext, prev: dict[str, dict]) -> dict[str, Any]:
    """Every estimator on the reference tensor; estimates and range-Doppler map saved."""
    cfg = _cfg(ctx)
    ing = prev["ingest"]
    radar = OFDMRadar(**ing["radar"])
    method, factors = ing["compression"][0], tuple(ing["compression"][1])
    y = _reference(ctx)
    k = ing.get("n_targets") if cfg.known_order else None
    k = k if k is not None else cfg.n_targets
    ests = estimators(cfg, (method, factors), include_esprit=True)
    seconds, counts = {}, {}
    with h5py.File(ctx.results_h5, "a") as h5:
        for name, fn in ests.items():
            t0 = time.perf_counter()
            est = fn(y, k)
            seconds[name] = time.perf_counter() - t0
            counts[name] = est.n_targets
            write_array(h5, f"estimates/{name}/mu", est.mu, unit="rad/sample")
            write_array(h5, f"estimates/{name}/physical", radar.from_mu(est.mu.cpu().double()),
                        unit="deg,m,m/s", columns="angle,range,velocity")
            write_array(h5, f"estimates/{name}/gains", est.gains, unit="1")
        rd = range_doppler_map(y, radar=radar)
        write_array(h5, "range_doppler/power_db", rd["power_db"], unit="dB re peak")
        truth = h5["truth/physical"][()] if "truth/physical" in h5 else None
        best = "plain_refined" if "plain_refined" in ests else "plain"
        est_phys = h5[f"estimates/{best}/physical"][()]
    figures.range_doppler_figure(rd, truth, est_phys, best, ctx.figures / "range_doppler.png")
    return {"seconds_reference": seconds, "n_detected": counts}


# ---------------------------------------------------------------------- evaluate
def evaluate(ctx: RunContext, prev: dict[str, dict]) -> dict[str, Any]:
    """Monte Carlo RMSE vs CRB, detection, OSPA and runtime; figures; report."""
    cfg = _cfg(ctx)
    ing, red, mod = prev["ingest"], prev["reduce"], prev["model"]
    if ing["kind"] == "measured":
        return _evaluate_measured(ctx, cfg, ing, red, mod)
    sc = _scenario(cfg.model_copy(update={"scenario": ing["scenario"]}))
    comp = (ing["compression"][0], tuple(ing["compression"][1]))
    dtype = _DTYPES[cfg.dtype]
    common = dict(radar=sc.radar, crb_fn=crb_mu, known_order=cfg.known_order, device=ctx.device,
                  dtype=dtype, seed=ctx.seed, progress=lambda m: status(f"isac Monte Carlo: {m}"))
    mc = monte_carlo(estimators(cfg, comp, include_esprit=False), sc.mu, sc.targets.gains,
                     sc.radar.shape, cfg.snr_db, cfg.n_trials, **common)
    if "esprit3d" in cfg.baselines:
        mce = monte_carlo({"esprit3d": esprit3d}, sc.mu, sc.targets.gains, sc.radar.shape,
                          cfg.snr_db, cfg.esprit_trials, **common)
        mc["methods"]["esprit3d"] = mce["methods"]["esprit3d"]
        mc["esprit_trials"] = cfg.esprit_trials

    sizes = [(sc.radar.shape[0], s, s) for s in cfg.scaling_sizes]
    scal = runtime_scaling(estimators(cfg, ("averaging", (1, 2, 2))), sizes, n_targets=4,
                           n_repeats=2, seed=ctx.seed, device=ctx.device, dtype=dtype,
                           skip=lambda name, shape: name == "esprit3d" and shape[1] > cfg.esprit_max_size)
    _save_mc(ctx, mc, scal)
    figures.rmse_figure(mc, ctx.figures / "rmse_vs_snr.png")
    figures.runtime_figure(scal, ctx.figures / "runtime_vs_size.png")

    i = _nearest(mc["snr_db"], cfg.reference_snr_db)
    crb = mc["crb"]["rmse_physical"][i]
    headline = "plain"
    metrics = _method_metrics(mc, headline, i, crb)
    metrics["compression_ratio"] = float(red["compression_ratio"])
    metrics["reference_snr_db"] = float(mc["snr_db"][i])
    for d, u in zip(DIMS, METRIC_UNITS):
        metrics[f"crb_{d}_{u}"] = float(crb[DIMS.index(d)])
    baselines = {name: _method_metrics(mc, name, i, crb) for name in mc["methods"] if name != headline}
    # PLAIN against joint ESPRIT at the largest size both ran at
    fits = [s for s in cfg.scaling_sizes if s <= cfg.esprit_max_size]
    speed = {row["method"]: row for row in scal if fits and row["shape"][1] == max(fits)}
    if "esprit3d" in speed and not speed["esprit3d"]["skipped"]:
        metrics["speedup_vs_esprit3d"] = float(speed["esprit3d"]["seconds_median"]
                                               / speed["plain"]["seconds_median"])
    report = figures.report(ing, red, mod, mc, scal, metrics, i)
    return {"metrics": metrics, "baselines": baselines,
            "intrinsic_dimension": {"estimator": f"{red['criterion'].upper()} model order, max over modes",
                                    "value": float(max(red["model_orders"]))},
            "report": report}


def _nearest(grid: list[float], value: float) -> int:
    return int(np.argmin([abs(g - value) for g in grid]))


def _method_metrics(mc: dict, name: str, i: int, crb: list[float]) -> dict[str, float]:
    r = mc["methods"][name]
    out: dict[str, float] = {}
    rm = r["rmse_physical"][i] if r["n_success"][i] else [math.inf] * 3
    for d, (dim, u) in enumerate(zip(DIMS, METRIC_UNITS)):
        if math.isfinite(rm[d]):
            out[f"rmse_{dim}_{u}"] = float(rm[d])
            out[f"rmse_over_crb_{dim}"] = float(rm[d] / crb[d]) if crb[d] > 0 else math.nan
    out["p_success"] = float(r["p_success"][i])
    out["mean_misses"] = float(r["mean_misses"][i])
    out["mean_false_targets"] = float(r["mean_false"][i])
    out["ospa_cells"] = float(r["ospa_cells"][i])
    out["runtime_ms"] = 1e3 * float(r["runtime_s"][i])
    return {k: v for k, v in out.items() if math.isfinite(v)}


def _save_mc(ctx: RunContext, mc: dict, scal: list[dict]) -> None:
    with h5py.File(ctx.results_h5, "a") as h5:
        write_array(h5, "montecarlo/snr_db", np.asarray(mc["snr_db"]), unit="dB")
        write_array(h5, "montecarlo/crb_rmse_physical", np.asarray(mc["crb"]["rmse_physical"]),
                    unit="deg,m,m/s", columns="angle,range,velocity")
        for name, r in mc["methods"].items():
            for key, unit in (("rmse_physical", "deg,m,m/s"), ("rmse_mu", "rad/sample"),
                              ("p_success", "1"), ("ospa_cells", "Rayleigh cells"),
                              ("runtime_s", "s")):
                write_array(h5, f"montecarlo/{name}/{key}", np.asarray(r[key], dtype=float), unit=unit)
        for row in scal:
            write_array(h5, f"runtime/{row['method']}/{'x'.join(map(str, row['shape']))}",
                        np.asarray(row["seconds"], dtype=float), unit="s")


def _evaluate_measured(ctx, cfg, ing, red, mod) -> dict[str, Any]:
    """No ground truth: detections, agreement with PLAIN (OSPA) and runtime."""
    from domains.isac.metrics import ospa

    with h5py.File(ctx.results_h5, "r") as h5:
        ests = {n: torch.from_numpy(h5[f"estimates/{n}/mu"][()]) for n in h5["estimates"]}
    shape = ing["shape"]
    cells = torch.tensor([2 * math.pi / n for n in shape], dtype=torch.float64)
    ref = ests.get("plain_refined", ests["plain"]).double()
    metrics = {"n_targets_detected": float(ref.shape[0]), "compression_ratio": red["compression_ratio"],
               "runtime_ms": 1e3 * mod["seconds_reference"]["plain"]}
    baselines = {}
    for n, mu in ests.items():
        if n == "plain":
            continue
        baselines[n] = {"n_targets_detected": float(mu.shape[0]),
                        "ospa_to_plain_cells": float(ospa(mu.double(), ests["plain"].double(), c=1.0,
                                                          scale=cells)),
                        "runtime_ms": 1e3 * mod["seconds_reference"][n]}
    report = "\n".join([f"# isac: measured CSI {shape}", "",
                        f"Source: {ing['data']['source']}. PLAIN found {int(ref.shape[0])} targets.",
                        "", "No ground truth: RMSE and CRB need a simulation.",
                        "", "![range-Doppler](figures/range_doppler.png)", ""])
    return {"metrics": metrics, "baselines": baselines,
            "intrinsic_dimension": {"estimator": f"{red['criterion'].upper()} model order, max over modes",
                                    "value": float(max(red["model_orders"]))},
            "report": report}


SPEC = DomainSpec(
    name="isac",
    summary="PLAIN tensor parameter estimation for OFDM radar against the CRB and baselines",
    config=IsacConfig, profiles=PROFILES,
    ingest=ingest, reduce=reduce, model=model, evaluate=evaluate,
)
