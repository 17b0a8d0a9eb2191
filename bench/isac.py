"""ISAC benchmark: PLAIN against the CRBs and the joint / FFT baselines, side by side.

Four parts, each printing ratios against the issue's goals:

1. ``accuracy``: the ``default`` scenario (28 GHz, 120 kHz, 16x128x64, 4
   targets, pairs sharing one coordinate exactly) over an SNR grid. RMSE over
   both CRBs (the 3K-parameter one and the one of the model PLAIN fits, with
   shared coordinates tied) and every method's SNR threshold: the lowest SNR
   from which on P(success) >= 0.9 and RMSE <= 2x the 3K-parameter CRB. Goal:
   PLAIN + refinement's threshold >= 3 dB below joint ESPRIT's.
2. ``runtime``: seconds per estimate at 16x64x64 (``shared.timing.measure``:
   warm-up, median of repeats) for PLAIN (single and batched over trials),
   joint 3-D ESPRIT (randomized and exact SVD), 3-D FFT and the sequential
   pipeline; goal PLAIN >= 100x faster than the randomized-SVD ESPRIT.
3. ``bands``: the range interval the compressed estimator reaches on the
   16x180x560, 26 GHz / 60 kHz grid with factors (1, 4, 14), monostatic and
   one-way, with targets near its far edge.
4. ``close``: two targets a quarter cell apart in velocity at 20 dB: PLAIN,
   PLAIN + joint refinement and joint ESPRIT against the CRB in the close
   dimension; goal refinement <= 2x CRB.

Usage::

    python bench/isac.py [--quick] [--parts accuracy,runtime,bands,close] [--json out.json] [--threads N]
"""

from __future__ import annotations

import argparse
import datetime
import functools
import json
import math
import platform
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from domains.isac.baselines import esprit3d, fft3d, sequential  # noqa: E402
from domains.isac.evaluate import (DIMENSIONS, PHYSICAL_UNITS, monte_carlo, runtime_scaling,  # noqa: E402
                                   snr_threshold)
from domains.isac.physics import OFDMRadar  # noqa: E402
from domains.isac.refine import plain_estimators  # noqa: E402
from domains.isac.scenarios import get_scenario  # noqa: E402
from domains.isac.simulate import simulate_tensor  # noqa: E402

GOAL_THRESHOLD_DB = 3.0
GOAL_SPEEDUP = 100.0
GOAL_CLOSE = 2.0
# where and in which precision the trials are simulated (--device, --dtype)
RUN: dict = {"device": None, "dtype": torch.complex128}


def _plain(sc) -> dict:
    """PLAIN and PLAIN + refinement with the scenario's compression and band (batched)."""
    band = sc.radar.band(tuple(sc.compression[1]), sc.max_range_m)
    return plain_estimators(compression=sc.compression, center=band["center_mu"])


def _fmt(x: float, digits: int = 3) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "nan"
    return f"{x:.{digits}g}"


def part_accuracy(quick: bool, seed: int) -> dict:
    sc = get_scenario("default")
    snrs = [-30.0, -27.5, -25.0, -22.5, -20.0, -17.5, -15.0, -12.5, -10.0, -5.0, 0.0, 10.0, 20.0]
    n_trials = 20 if quick else 100
    esprit_snrs = [-15.0, -12.5, -10.0, -5.0, 0.0, 10.0, 20.0]
    esprit_trials = 3 if quick else 10
    est = {**_plain(sc), "fft3d": functools.partial(fft3d, pad=2), "sequential": sequential}
    t0 = time.perf_counter()
    res = monte_carlo(est, sc.mu, sc.gains, sc.shape, snrs, n_trials, seed=seed, radar=sc.radar, **RUN)
    r_e = monte_carlo({"esprit3d": esprit3d}, sc.mu, sc.gains, sc.shape, esprit_snrs, esprit_trials,
                      seed=seed, radar=sc.radar, **RUN)
    res["wall_s"] = time.perf_counter() - t0
    thr = {name: snr_threshold(res, name) for name in res["methods"]}
    thr["esprit3d"] = snr_threshold(r_e, "esprit3d")
    print(f"\n## (i) default scenario {sc.shape}, K={sc.n_targets}, {n_trials} trials/SNR "
          f"({esprit_trials} for esprit3d on {esprit_snrs}) ({res['wall_s']:.0f} s)")
    print("RMSE / CRB (tied | 3K parameters) per dimension, successful trials; "
          "P(ok) = all targets matched within 0.5 cell, no false target")
    print(f"{'method':<14} {'SNR':>6} " + " ".join(f"{d:>15}" for d in DIMENSIONS) +
          f" {'P(ok)':>6} {'s/est':>8}")
    ratios = {}
    for name, r, grid, ref in [(n, r, snrs, res) for n, r in res["methods"].items()] + \
            [("esprit3d", r_e["methods"]["esprit3d"], esprit_snrs, r_e)]:
        ratios[name] = []
        for i, snr in enumerate(grid):
            rat = [(r["rmse_mu"][i][d] / ref["crb_tied"]["rmse_mu"][i][d],
                    r["rmse_mu"][i][d] / ref["crb"]["rmse_mu"][i][d]) for d in range(3)]
            ratios[name].append(rat)
            print(f"{name:<14} {snr:>6.1f} " + " ".join(f"{_fmt(a):>7}|{_fmt(b):<7}" for a, b in rat) +
                  f" {r['p_success'][i]:>6.2f} {r['runtime_s'][i]:>8.4f}")
    i10 = snrs.index(10.0)
    print("CRB std at 10 dB (3K | tied): " + ", ".join(
        f"{_fmt(res['crb']['rmse_physical'][i10][d])} | {_fmt(res['crb_tied']['rmse_physical'][i10][d])} "
        f"{PHYSICAL_UNITS[d]}" for d in range(3)))
    print("SNR threshold (P(ok) >= 0.9 and RMSE <= 2x the 3K-parameter CRB from there up): " +
          ", ".join(f"{n} {t:g} dB" for n, t in thr.items()))
    gap = thr["esprit3d"] - thr.get("plain_refined", math.inf)
    lowest = min(snrs)
    note = f" (PLAIN + refinement already passes at the lowest grid SNR, {lowest:g} dB)" \
        if thr.get("plain_refined") == lowest else ""
    print(f"goal PLAIN+refinement threshold >= {GOAL_THRESHOLD_DB:g} dB below joint ESPRIT's: "
          f"{_fmt(gap)} dB{note} -> {'MET' if gap >= GOAL_THRESHOLD_DB else 'NOT MET'}")
    res["esprit"] = r_e
    res["thresholds_db"] = thr
    res["ratios"] = ratios
    return res


def part_runtime(quick: bool, seed: int) -> dict:
    shape = (16, 64, 64)
    n_rep = 5 if quick else 9
    batch = 20
    sc = get_scenario("default")
    est = {**_plain(sc), "esprit3d": esprit3d,
           "esprit3d_full_svd": functools.partial(esprit3d, svd_method="full"),
           "fft3d": functools.partial(fft3d, pad=2), "sequential": sequential}
    rows = runtime_scaling(est, [shape], n_targets=4, snr_db=20.0, n_repeats=n_rep, seed=seed,
                           batch_trials=batch, **RUN)
    print(f"\n## (ii) runtime per estimate at {shape}, K=4, 20 dB: shared.timing.measure, one warm-up, "
          f"median of {n_rep} (min in brackets); *_batch: a batch of {batch} trials, per estimate")
    t = {r["method"]: r["seconds_median"] for r in rows}
    for r in rows:
        print(f"{r['method']:<22} {r['seconds_median']:>9.4f} s  [{r['seconds_min']:.4f}]"
              f"  = {r['seconds_median'] / t['plain']:>8.1f}x PLAIN")
    from domains.isac.baselines.esprit3d import default_subarray
    L = default_subarray(shape)
    print(f"esprit3d sub-array {L}: smoothed matrix {math.prod(L)} x "
          f"{2 * math.prod(n - l + 1 for n, l in zip(shape, L))}; 'esprit3d' uses the shared core's "
          "auto SVD (randomized here), 'esprit3d_full_svd' the exact SVD")
    out = {"shape": list(shape), "rows": rows}
    for name in ("esprit3d", "esprit3d_full_svd"):
        for p in ("plain", "plain_batch"):
            ratio = t[name] / t[p]
            out[f"speedup_{p}_vs_{name}"] = ratio
            print(f"goal {p} >= {GOAL_SPEEDUP:.0f}x faster than {name}: {ratio:.1f}x -> "
                  f"{'MET' if ratio >= GOAL_SPEEDUP else 'NOT MET'}")
    return out


def part_bands(quick: bool, seed: int) -> dict:
    """The range interval reached on PLAIN's 16x180x560 grid with factors (1, 4, 14)."""
    out = {}
    print("\n## (iii) range intervals under compression: 26 GHz, 60 kHz, 16x180x560, averaging (1, 4, 14)")
    for geometry, ranges in (("monostatic", [330.0, 400.0, 590.0]), ("one-way", [700.0, 1180.0, 1210.0])):
        radar = OFDMRadar(26e9, 60e3, 16, 180, 560, geometry=geometry)
        band = radar.band((1, 4, 14))
        vmax = band["velocity_mps"][1]
        mu = radar.to_mu(torch.tensor([-20.0, 10.0, 35.0], dtype=torch.float64),
                         torch.tensor(ranges, dtype=torch.float64),
                         torch.tensor([0.3 * vmax, -0.5 * vmax, 0.1 * vmax], dtype=torch.float64))
        y = simulate_tensor(mu, torch.tensor([1.0, 0.9j, -0.8], dtype=torch.complex128), radar.shape, 20.0,
                            seed=seed)[0]
        est = plain_estimators(refined=False, compression=("averaging", (1, 4, 14)),
                               center=band["center_mu"])["plain"](y, 3)
        got = sorted(radar.from_mu(est.mu, min_range_m=band["range_m"][0])[:, 1].tolist())
        out[geometry] = {"interval_m": band["range_reach_m"], "velocity_mps": band["velocity_mps"],
                         "true_m": ranges, "estimated_m": got}
        print(f"{geometry:<11} reaches {band['range_reach_m'][0]:.0f} to {band['range_reach_m'][1]:.1f} m, "
              f"|v| < {vmax:.2f} m/s; targets {ranges} m -> PLAIN {[round(g, 2) for g in got]} m")
    return out


def part_close(quick: bool, seed: int) -> dict:
    sc = get_scenario("close")
    dim = sc.extra["close_dimension"]
    n_trials = 20 if quick else 100
    p = _plain(sc)
    est = {"plain": p["plain"], "plain+refine": p["plain_refined"], "fft3d": functools.partial(fft3d, pad=2)}
    res = monte_carlo(est, sc.mu, sc.gains, sc.shape, [20.0], n_trials, seed=seed, radar=sc.radar, **RUN)
    esprit_trials = min(n_trials, 20)  # seconds per call: the first trials of the same seeds
    r_e = monte_carlo({"esprit3d": esprit3d}, sc.mu, sc.gains, sc.shape, [20.0], esprit_trials,
                      seed=seed, radar=sc.radar, **RUN)
    res["methods"]["esprit3d"] = r_e["methods"]["esprit3d"]
    crb = res["crb"]["rmse_physical"][0][dim]
    unit = PHYSICAL_UNITS[dim]
    print(f"\n## (iii) close scenario ({sc.notes}), 20 dB, {n_trials} trials "
          f"({esprit_trials} for esprit3d); "
          f"close dimension: {DIMENSIONS[dim]}, CRB std {_fmt(crb)} {unit}")
    print(f"{'method':<14} {'RMSE ok':>10} {'/CRB':>8} {'RMSE pairs':>11} {'/CRB':>8} {'P(ok)':>6} {'s/est':>8}")
    out = {"dimension": DIMENSIONS[dim], "crb": crb, "methods": {}}
    for name, r in res["methods"].items():
        ok = r["rmse_physical"][0][dim]
        allp = r["rmse_physical_matched"][0][dim]
        out["methods"][name] = {"rmse_success": ok, "ratio_success": ok / crb,
                                "rmse_matched": allp, "ratio_matched": allp / crb,
                                "p_success": r["p_success"][0], "runtime_s": r["runtime_s"][0],
                                "n_errors": r["n_errors"][0], "first_error": r["first_error"][0]}
        print(f"{name:<14} {_fmt(ok):>10} {_fmt(ok / crb):>8} {_fmt(allp):>11} {_fmt(allp / crb):>8} "
              f"{r['p_success'][0]:>6.2f} {r['runtime_s'][0]:>8.4f}"
              + (f"  ({r['n_errors'][0]} errors: {r['first_error'][0]})" if r["n_errors"][0] else ""))
    m = out["methods"]["plain+refine"]
    ratio = m["ratio_success"] if m["p_success"] > 0 else math.inf
    met = ratio <= GOAL_CLOSE and m["p_success"] >= 0.9
    print(f"goal PLAIN+refinement <= {GOAL_CLOSE:.0f}x CRB in {DIMENSIONS[dim]} (and P(ok) >= 0.9): "
          f"{_fmt(ratio)}x, P(ok) {m['p_success']:.2f} -> {'MET' if met else 'NOT MET'}")
    out["goal_met"] = bool(met)
    out["results"] = res
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="fewer trials and SNR points")
    p.add_argument("--parts", default="accuracy,runtime,bands,close")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", type=Path, help="write all results to this JSON file")
    p.add_argument("--threads", type=int, help="torch intra-op threads (default: torch's)")
    p.add_argument("--device", default="cpu", help="cpu or cuda: where the trials are simulated and estimated")
    p.add_argument("--dtype", default="complex128", choices=["complex64", "complex128"])
    args = p.parse_args(argv)
    RUN.update(device=torch.device(args.device), dtype=getattr(torch, args.dtype))
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    info = {"date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "torch": torch.__version__, "threads": torch.get_num_threads(),
            "device": str(RUN["device"]), "dtype": str(RUN["dtype"]),
            "machine": platform.processor() or platform.machine(), "python": platform.python_version(),
            "load_average": list(__import__("os").getloadavg()),
            "command": "python bench/isac.py " + " ".join(argv if argv is not None else sys.argv[1:])}
    print("# ISAC benchmark", json.dumps(info))
    out = {"info": info}
    parts = {"accuracy": part_accuracy, "runtime": part_runtime, "bands": part_bands, "close": part_close}
    for name in args.parts.split(","):
        t0 = time.perf_counter()
        out[name] = parts[name](args.quick, args.seed)
        print(f"[{name}: {time.perf_counter() - t0:.0f} s]")
    if args.json:
        args.json.write_text(json.dumps(out, indent=1, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
