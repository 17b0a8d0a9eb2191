"""Monte Carlo evaluation of ISAC estimators (Prefect-free).

:func:`monte_carlo` runs every estimator on the same simulated trials over an
SNR grid and reports, per method and SNR:

* RMSE per dimension in normalized frequency (rad/sample) and, with a radar,
  in physical units (deg, m, m/s), on *successful* trials (every true target
  matched within the gate and no false target - PLAIN's convention of
  dropping trials with K_hat != K, made explicit) and over all gated pairs;
* P(K_hat = K), the success rate, mean misses and false targets per trial
  (optimal assignment, never sort-by-angle) and the mean OSPA distance;
* mean wall-clock seconds per estimate;
* the CRB per dimension as ``sqrt(mean_k CRB_k)``, the quantity an RMSE
  averaged over targets is compared with.

Results are plain dicts and lists of floats (JSON- and HDF5-ready). NaN marks
"no data" (e.g. no successful trial); JSON writers should allow NaN or map it
to null.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence

import torch
from torch import Tensor

from domains.isac.baselines.sequential import range_doppler_spectra
from domains.isac.crb import crb_mu, crb_mu_tied
from domains.isac.metrics import match, ospa
from domains.isac.phase import wrap
from domains.isac.physics import OFDMRadar
from domains.isac.simulate import noise_variance, simulate_tensor

__all__ = ["monte_carlo", "runtime_scaling", "range_doppler_map", "spread_targets",
           "to_records", "snr_threshold", "DIMENSIONS", "PHYSICAL_UNITS"]

DIMENSIONS = ("angle", "range", "velocity")
PHYSICAL_UNITS = ("deg", "m", "m/s")


def _sync(device: torch.device) -> None:
    # GPU kernels are asynchronous: time only completed work
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _physical_errors(radar: OFDMRadar, mu_hat: Tensor, mu_true: Tensor) -> Tensor:
    """Physical errors (deg, m, m/s) of paired estimates, ``(n, 3)``.

    Range and velocity differences are wrapped into their unambiguous
    intervals (the maps are affine on the circle), so a target near range 0
    estimated at a tiny positive delay frequency is not a full-scale error.
    """
    err = radar.from_mu(mu_hat) - radar.from_mu(mu_true)
    lim = radar.limits()["unambiguous"]
    for d, span in ((1, lim["range_m"][1] - lim["range_m"][0]),
                    (2, lim["velocity_mps"][1] - lim["velocity_mps"][0])):
        err[:, d] = wrap(err[:, d], period=span)
    return err


def _run_trials(fn: Callable, Y: Tensor, n_targets: int | None, device: torch.device,
                acc: dict) -> list[Tensor]:
    """Estimates of every trial of ``Y`` as ``(K_hat, 3)`` CPU float64 tensors.

    An estimator with a ``batch`` form (:class:`domains.isac.types.BatchedEstimator`)
    gets the whole chunk in one call; the others trial by trial. The seconds
    (device synchronised) go to ``acc["seconds"]``; a failing trial is scored
    as an empty estimate and counted in ``acc["errors"]``, never fatal. A
    failing batch call is counted in ``acc["batch_errors"]`` (its first
    message in ``acc["first_batch_error"]``) and the chunk is re-run trial by trial.
    """
    empty = torch.zeros((0, 3), dtype=torch.float64)

    def fail(err: Exception) -> Tensor:
        acc["errors"] += 1
        acc["first_error"] = acc["first_error"] or f"{type(err).__name__}: {err}"
        return empty

    batch = getattr(fn, "batch", None)
    if batch is not None:
        _sync(device)
        t0 = time.perf_counter()
        try:
            ests = batch(Y, n_targets)
            _sync(device)
            acc["seconds"] += time.perf_counter() - t0
            return [e.mu.detach().to("cpu", torch.float64) for e in ests]
        except Exception as err:  # fall back to single trials, which score their own errors
            # recorded, not silent: a batch form that fails only on one device (CUDA) must show
            acc["batch_errors"] += 1
            acc["first_batch_error"] = acc["first_batch_error"] or f"{type(err).__name__}: {err}"
    out = []
    for t in range(Y.shape[0]):
        _sync(device)
        t0 = time.perf_counter()
        try:
            est = fn(Y[t], n_targets)
            _sync(device)
            out.append(est.mu.detach().to("cpu", torch.float64))
        except Exception as err:  # a failing trial is scored, not fatal
            out.append(fail(err))
        acc["seconds"] += time.perf_counter() - t0
    return out


def _rms(sq_sum: Tensor, count: int) -> list[float]:
    return (sq_sum / count).sqrt().tolist() if count else [math.nan] * int(sq_sum.numel())


def monte_carlo(estimators: dict[str, Callable], mu: Tensor, gains: Tensor,
                shape: Sequence[int], snr_grid_db: Sequence[float], n_trials: int,
                seed: int = 0, radar: OFDMRadar | None = None,
                crb_fn: Callable | None = crb_mu, *, tied_crb_fn: Callable | None = crb_mu_tied,
                known_order: bool = True,
                gate_cells: float = 0.5, ospa_c_cells: float = 1.0, ospa_p: float = 2.0,
                device: torch.device | str | None = None,
                dtype: torch.dtype = torch.complex128,
                max_batch_entries: int = 2 ** 25,
                progress: Callable[[str], None] | None = None) -> dict:
    """Monte Carlo comparison of estimators over an SNR grid.

    Parameters
    ----------
    estimators : dict of str -> callable
        ``fn(Y (N1, N2, N3), n_targets) -> Estimate``; bind options with
        ``functools.partial``. A :class:`domains.isac.types.BatchedEstimator`
        runs each chunk of trials in one batched call (its ``runtime_s`` is
        the batch time per trial).
    mu : Tensor (K, 3)
        True normalized frequencies, rad/sample.
    gains : Tensor (K,), complex
        True amplitudes.
    shape : (N1, N2, N3)
    snr_grid_db : sequence of float
        Per-entry SNR values (``sigma^2 = mean|b|^2 / 10^(snr/10)``).
    n_trials : int
        Noise realisations per SNR, simulated as one batched tensor (in chunks
        of at most ``max_batch_entries`` entries).
    seed : int
        SNR point i uses noise seed ``seed + 1000 i (+ chunk index)``; every
        method sees the same trials.
    radar : OFDMRadar, optional
        Adds physical-unit RMSE and CRB (deg, m, m/s) through its maps.
    crb_fn : callable or None
        ``crb_fn(mu, gains, shape, sigma2) -> (K, 3)`` variances; None skips.
    tied_crb_fn : callable or None
        The bound of the model in which exactly shared coordinates are one
        parameter (:func:`domains.isac.crb.crb_mu_tied`), reported as
        ``crb_tied`` next to ``crb``; None skips.
    known_order : bool
        Pass K to the estimators (True) or None (they choose the order).
    gate_cells : float
        Assignment gate in Rayleigh cells (``2 pi / N_m`` per mode): a pair
        farther apart counts as one miss plus one false target.
    ospa_c_cells, ospa_p : float
        OSPA cut-off (Rayleigh cells) and order.
    device, dtype
        Where and in which precision to simulate; estimators get the trials
        as they are.
    progress : callable, optional
        Called with a short status line after each SNR point.

    Returns
    -------
    dict
        ``{"shape", "n_targets", "n_trials", "seed", "snr_db", "mu_true",
        "units", "gate_cells", "ospa_c_cells", "ospa_p", "crb": {...},
        "methods": {name: {...}}}``. Per method, every metric is a list aligned
        with ``snr_db``: ``rmse_mu`` / ``rmse_physical`` ([3] per SNR,
        successful trials), ``rmse_mu_matched`` / ``rmse_physical_matched``
        (all gated pairs), ``rmse_mu_per_target`` ([K][3] per SNR, successful
        trials), ``p_correct_order``, ``p_success``, ``n_success``,
        ``mean_misses``, ``mean_false``, ``ospa_cells``, ``runtime_s``,
        ``n_errors`` and ``first_error`` (trials whose estimator raised),
        ``n_batch_errors`` and ``first_batch_error`` (batch calls that raised
        and were re-run trial by trial). ``crb`` has ``rmse_mu``,
        ``rmse_physical`` and ``rmse_mu_per_target`` lists. With a radar,
        ``physical_true`` and ``limits`` are added.
    """
    device = torch.device(device) if device is not None else mu.device
    real = torch.float64 if dtype == torch.complex128 else torch.float32
    mu = torch.as_tensor(mu).to(device=device, dtype=torch.float64)
    gains = torch.as_tensor(gains).to(device=device, dtype=torch.complex128)
    shape = tuple(int(n) for n in shape)
    K = int(mu.shape[0])
    cells = torch.tensor([2 * math.pi / n for n in shape], dtype=torch.float64)
    n_target_arg = K if known_order else None
    per_trial = math.prod(shape)
    chunk = max(1, min(int(n_trials), max_batch_entries // per_trial))

    out = {
        "shape": list(shape), "n_targets": K, "n_trials": int(n_trials), "seed": int(seed),
        "snr_db": [float(s) for s in snr_grid_db], "mu_true": mu.tolist(),
        "units": {"mu": "rad/sample", "physical": list(PHYSICAL_UNITS),
                  "dimensions": list(DIMENSIONS), "ospa": "Rayleigh cells", "runtime": "s"},
        "known_order": bool(known_order),
        "gate_cells": float(gate_cells), "ospa_c_cells": float(ospa_c_cells),
        "ospa_p": float(ospa_p),
        "crb": {"rmse_mu": [], "rmse_physical": [], "rmse_mu_per_target": []},
        "crb_tied": {"rmse_mu": [], "rmse_physical": [], "rmse_mu_per_target": []},
        "methods": {},
    }
    if radar is not None:
        out["physical_true"] = radar.from_mu(mu.cpu()).tolist()
        out["limits"] = radar.limits()
    keys = ("rmse_mu", "rmse_mu_per_target", "rmse_mu_matched", "rmse_physical",
            "rmse_physical_matched",
            "p_correct_order", "p_success", "n_success", "mean_misses", "mean_false",
            "ospa_cells", "runtime_s", "n_errors", "first_error", "n_batch_errors", "first_batch_error")
    for name in estimators:
        out["methods"][name] = {k: [] for k in keys}

    for i, snr in enumerate(snr_grid_db):
        sigma2 = noise_variance(gains, float(snr))
        if crb_fn is not None:
            bounds = {"crb": crb_fn(mu, gains, shape, sigma2)}
            if tied_crb_fn is not None:
                bounds["crb_tied"] = tied_crb_fn(mu, gains, shape, sigma2)
            for key, v in bounds.items():
                var = torch.as_tensor(v).to(torch.float64).cpu()
                out[key]["rmse_mu"].append(var.mean(0).sqrt().tolist())
                out[key]["rmse_mu_per_target"].append(var.sqrt().tolist())
                if radar is not None:
                    jac = radar.jacobian(radar.from_mu(mu.cpu())).to(torch.float64)
                    out[key]["rmse_physical"].append((var / jac ** 2).mean(0).sqrt().tolist())
        acc = {name: {"sq": torch.zeros(3, dtype=torch.float64),
                      "sq_all": torch.zeros(3, dtype=torch.float64),
                      "sqp": torch.zeros(3, dtype=torch.float64),
                      "sqp_all": torch.zeros(3, dtype=torch.float64),
                      "sq_target": torch.zeros(K, 3, dtype=torch.float64),
                      "n_pairs": 0, "n_pairs_all": 0, "order": 0, "success": 0,
                      "misses": 0, "false": 0, "ospa": 0.0, "seconds": 0.0,
                      "errors": 0, "first_error": "", "batch_errors": 0, "first_batch_error": ""}
               for name in estimators}
        for c0 in range(0, int(n_trials), chunk):
            n_c = min(chunk, int(n_trials) - c0)
            Y = simulate_tensor(mu.to(real), gains, shape, float(snr), n_trials=n_c,
                                seed=seed + 1000 * i + c0, device=device, dtype=dtype)
            for name, fn in estimators.items():
                a = acc[name]
                for t, mu_hat in enumerate(_run_trials(fn, Y, n_target_arg, device, a)):
                    m = match(mu_hat, mu.cpu(), scale=cells, gate=gate_cells)
                    a["order"] += int(mu_hat.shape[0] == K)
                    a["misses"] += m.n_misses
                    a["false"] += m.n_false
                    a["ospa"] += ospa(mu_hat, mu.cpu(), c=ospa_c_cells, p=ospa_p, scale=cells)
                    ok = m.n_misses == 0 and m.n_false == 0
                    sq = m.errors.square().sum(0) if m.pairs else torch.zeros(3, dtype=torch.float64)
                    a["sq_all"] += sq
                    a["n_pairs_all"] += len(m.pairs)
                    if radar is not None and m.pairs:
                        ih = [p[0] for p in m.pairs]
                        it = [p[1] for p in m.pairs]
                        sqp = _physical_errors(radar, mu_hat[ih], mu.cpu()[it]).square().sum(0)
                        a["sqp_all"] += sqp
                    if ok:
                        a["success"] += 1
                        a["sq"] += sq
                        a["n_pairs"] += len(m.pairs)
                        a["sq_target"][[p[1] for p in m.pairs]] += m.errors.square()
                        if radar is not None and m.pairs:
                            a["sqp"] += sqp
        for name in estimators:
            a, r = acc[name], out["methods"][name]
            n = int(n_trials)
            r["rmse_mu"].append(_rms(a["sq"], a["n_pairs"]))
            r["rmse_mu_per_target"].append(
                (a["sq_target"] / a["success"]).sqrt().tolist() if a["success"]
                else [[math.nan] * 3 for _ in range(K)])
            r["rmse_mu_matched"].append(_rms(a["sq_all"], a["n_pairs_all"]))
            if radar is not None:
                r["rmse_physical"].append(_rms(a["sqp"], a["n_pairs"]))
                r["rmse_physical_matched"].append(_rms(a["sqp_all"], a["n_pairs_all"]))
            r["p_correct_order"].append(a["order"] / n)
            r["p_success"].append(a["success"] / n)
            r["n_success"].append(a["success"])
            r["mean_misses"].append(a["misses"] / n)
            r["mean_false"].append(a["false"] / n)
            r["ospa_cells"].append(a["ospa"] / n)
            r["runtime_s"].append(a["seconds"] / n)
            r["n_errors"].append(a["errors"])
            r["first_error"].append(a["first_error"])
            r["n_batch_errors"].append(a["batch_errors"])
            r["first_batch_error"].append(a["first_batch_error"])
        if progress is not None:
            progress(f"snr {float(snr):g} dB done")
    return out


def snr_threshold(results: dict, name: str, p_min: float = 0.9, max_ratio: float = 2.0,
                  bound: str = "crb") -> float:
    """The lowest grid SNR from which on a method works: P(success) and RMSE near the bound.

    A grid point passes when ``p_success >= p_min`` and, in every mode, the
    RMSE over successful trials (rad/sample) is at most ``max_ratio`` times
    the bound's ``sqrt(mean_k CRB_k)``. The threshold is the lowest SNR whose
    point and every higher point pass (a method that fails at 20 dB after
    passing at 10 dB has no threshold below 20 dB).

    Parameters
    ----------
    results : dict
        :func:`monte_carlo` output.
    name : str
        Method.
    p_min, max_ratio : float
    bound : {"crb", "crb_tied"}
        Which bound (the 3K-parameter one by default: the same yardstick for
        every method).

    Returns
    -------
    float
        dB, or ``inf`` when even the highest SNR fails.
    """
    r = results["methods"][name]
    crb = results[bound]["rmse_mu"] if results.get(bound, {}).get("rmse_mu") else results["crb"]["rmse_mu"]
    passed = []
    for i in range(len(results["snr_db"])):
        ok = r["p_success"][i] >= p_min and r["n_success"][i] > 0 and all(
            math.isfinite(r["rmse_mu"][i][d]) and r["rmse_mu"][i][d] <= max_ratio * crb[i][d]
            for d in range(3))
        passed.append(ok)
    order = sorted(range(len(passed)), key=lambda i: results["snr_db"][i])
    best = math.inf
    for i in reversed(order):
        if not passed[i]:
            break
        best = results["snr_db"][i]
    return float(best)


def to_records(results: dict) -> list[dict]:
    """Flatten :func:`monte_carlo` results to one row per (method, SNR).

    Rows hold scalar columns (``rmse_mu_angle``, ``rmse_physical_range``,
    ``crb_mu_velocity``, ...), ready for a table artifact or an HDF5 compound.
    """
    rows = []
    for name, r in results["methods"].items():
        for i, snr in enumerate(results["snr_db"]):
            row = {"method": name, "snr_db": snr}
            for key in ("rmse_mu", "rmse_mu_matched", "rmse_physical", "rmse_physical_matched"):
                if r[key]:
                    for d, dim in enumerate(DIMENSIONS):
                        row[f"{key}_{dim}"] = r[key][i][d]
            for key in ("p_correct_order", "p_success", "mean_misses", "mean_false",
                        "ospa_cells", "runtime_s", "n_errors"):
                row[key] = r[key][i]
            for key in ("rmse_mu", "rmse_physical"):
                crb = results["crb"][key]
                if crb:
                    for d, dim in enumerate(DIMENSIONS):
                        row[f"crb_{key[5:]}_{dim}"] = crb[i][d]
            rows.append(row)
    return rows


def spread_targets(n_targets: int, span: float = 1.2, seed: int = 0) -> Tensor:
    """Well-separated test frequencies for size sweeps, ``(K, 3)`` float64.

    Per mode, K values evenly spaced in ``[-span, span]`` rad/sample, in a
    seeded random order per mode so the pairing is not the sorted one. With
    the default span the spacing is ``2.4 / (K - 1)`` rad: about 1.5 Rayleigh
    cells at N = 16 for K = 4, more for longer modes; ``span < pi / 2`` keeps
    every target unambiguous after a factor-2 compression.
    """
    gen = torch.Generator().manual_seed(seed)
    base = torch.linspace(-span, span, n_targets, dtype=torch.float64) if n_targets > 1 \
        else torch.zeros(1, dtype=torch.float64)
    return torch.stack([base[torch.randperm(n_targets, generator=gen)] for _ in range(3)], dim=1)


def runtime_scaling(estimators: dict[str, Callable], sizes: Sequence[Sequence[int]],
                    n_targets: int = 4, snr_db: float = 20.0, n_repeats: int = 5,
                    seed: int = 0, device: torch.device | str | None = None,
                    dtype: torch.dtype = torch.complex128, warmup: int = 1,
                    skip: Callable[[str, tuple], bool] | None = None,
                    batch_trials: int = 0, batch_methods: Sequence[str] | None = None) -> list[dict]:
    """Wall-clock seconds per estimate against tensor size (:func:`shared.timing.measure`).

    Parameters
    ----------
    estimators : dict of str -> callable
        As in :func:`monte_carlo`.
    sizes : sequence of (N1, N2, N3)
    n_targets : int
        Targets of :func:`spread_targets`, unit-modulus seeded-phase gains.
    snr_db : float
    n_repeats : int
        Timed calls per (method, size) after ``warmup`` untimed ones; the
        median is reported (``shared.timing.measure``, device synchronised).
    warmup : int
        Untimed calls first (allocator and kernel caches).
    skip : callable, optional
        ``skip(name, shape) -> True`` leaves a combination out (e.g. a cubic
        method at a size it cannot fit); it is reported with NaN times.
    batch_trials : int
        With ``> 0``, an estimator that has a ``batch`` form is also timed on
        a batch of this many trials; the row ``<name>_batch`` holds seconds
        per estimate (batch time / trials).
    batch_methods : sequence of str, optional
        Only these estimators get a batch row (default: all that have one).

    Returns
    -------
    list of dict
        One row per (method, size): ``method``, ``shape``, ``n_entries``,
        ``seconds_median``, ``seconds_min``, ``seconds_max``, ``repeats``,
        ``skipped``.
    """
    from shared.timing import measure

    device = torch.device(device) if device is not None else torch.device("cpu")
    real = torch.float64 if dtype == torch.complex128 else torch.float32
    mu = spread_targets(n_targets, seed=seed).to(device=device, dtype=real)
    gen = torch.Generator().manual_seed(seed)
    phase = 2 * math.pi * torch.rand(n_targets, generator=gen, dtype=torch.float64)
    gains = torch.polar(torch.ones_like(phase), phase).to(device)
    rows = []
    for shape in sizes:
        shape = tuple(int(n) for n in shape)
        Y = simulate_tensor(mu, gains, shape, snr_db, n_trials=max(1, batch_trials),
                            seed=seed, device=device, dtype=dtype)
        row0 = {"shape": list(shape), "n_entries": math.prod(shape)}
        for name, fn in estimators.items():
            runs = [(name, lambda fn=fn: fn(Y[0], n_targets), 1)]
            if batch_trials > 0 and getattr(fn, "batch", None) is not None and (
                    batch_methods is None or name in batch_methods):
                runs.append((f"{name}_batch", lambda fn=fn: fn.batch(Y, n_targets), Y.shape[0]))
            for label, call, per in runs:
                if skip is not None and skip(name, shape):
                    rows.append({"method": label, **row0, "seconds_median": math.nan,
                                 "seconds_min": math.nan, "seconds_max": math.nan, "repeats": 0,
                                 "skipped": True})
                    continue
                t, _ = measure(call, repeats=n_repeats, warmup=warmup, device=device)
                rows.append({"method": label, **row0, "seconds_median": t.median_s / per,
                             "seconds_min": t.min_s / per, "seconds_max": t.max_s / per,
                             "repeats": t.repeats, "skipped": False})
    return rows


def range_doppler_map(Y: Tensor, pad: int | Sequence[int] = 2, window: str | None = "hann",
                      radar: OFDMRadar | None = None) -> dict:
    """Range-Doppler power map of one data tensor, for a figure.

    Per-antenna zero-padded 2-D FFT over (subcarrier, symbol), summed
    non-coherently over antennas, in dB relative to its peak.

    Parameters
    ----------
    Y : Tensor (N1, N2, N3), complex
    pad : int or (Z2, Z3)
    window : None or "hann"
        Hann by default: a figure wants low sidelobes more than resolution.
    radar : OFDMRadar, optional
        Adds physical axes.

    Returns
    -------
    dict
        ``power_db`` Tensor (M2, M3) on Y's device (rows: increasing delay,
        i.e. range; columns: Doppler ascending); ``mu_delay`` (M2,) the delay
        frequency ``-2 pi j / M2`` wrapped to (-pi, pi]; ``mu_doppler`` (M3,)
        ascending in [-pi, pi). With a radar, ``range_m`` (M2,) ascending from
        0 and ``velocity_mps`` (M3,).
    """
    F = range_doppler_spectra(Y, pad, window)
    P = (F.real.square() + F.imag.square()).sum(0)
    M2, M3 = P.shape
    # bin k is mu = 2 pi k / M; delay is -mu, so bins (-j mod M) run in increasing range
    rows = (-torch.arange(M2, device=P.device)) % M2
    P = torch.fft.fftshift(P[rows], dim=1)
    real = P.dtype
    j = torch.arange(M2, dtype=real, device=P.device)
    mu_delay = -2 * math.pi * j / M2
    mu_delay = wrap(mu_delay)
    mu_doppler = 2 * math.pi * (torch.arange(M3, dtype=real, device=P.device) - M3 // 2) / M3
    tiny = torch.finfo(real).tiny
    out = {"power_db": 10 * torch.log10(P.clamp_min(tiny) / P.max().clamp_min(tiny)),
           "mu_delay": mu_delay, "mu_doppler": mu_doppler}
    if radar is not None:
        out["range_m"] = (2 * math.pi * j / M2) / abs(radar.slopes[1])
        out["velocity_mps"] = radar.mu_to_velocity(mu_doppler)
    return out
