"""Figures and the markdown report of the ``isac`` flow."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from shared.plots import new_figure, save

DIMS = ("angle", "range", "velocity")
UNITS = ("deg", "m", "m/s")
STYLE = {"plain": ("C0", "o-"), "plain_refined": ("C1", "s-"), "fft3d": ("C2", "^--"),
         "sequential": ("C4", "v--"), "esprit3d": ("C3", "d-.")}


def range_doppler_figure(rd: dict, truth: np.ndarray | None, est: np.ndarray, name: str,
                         path: Path, std: np.ndarray | None = None) -> Path:
    """Range-Doppler map (dB) with true (circles) and estimated (crosses) targets.

    Parameters
    ----------
    rd : dict
        :func:`domains.isac.evaluate.range_doppler_map` output with physical axes.
    truth, est : (K, 3) arrays of (angle deg, range m, velocity m/s) or None
    std : (K, 3) array, optional
        Standard errors of ``est`` (plug-in CRB); drawn as +-2 sigma error bars.
    """
    p = np.asarray(rd["power_db"].cpu() if hasattr(rd["power_db"], "cpu") else rd["power_db"])
    r = np.asarray(rd["range_m"].cpu() if hasattr(rd["range_m"], "cpu") else rd["range_m"])
    v = np.asarray(rd["velocity_mps"].cpu() if hasattr(rd["velocity_mps"], "cpu") else rd["velocity_mps"])
    fig, ax = new_figure(size=(6.0, 4.2))
    ax = ax[0, 0]
    top = lambda a: float(np.max(a)) if len(a) else 0.0  # noqa: E731  (no estimate: noise only)
    keep = r <= max(1.3 * max(top(truth[:, 1]) if truth is not None else 0, top(est[:, 1])), r[min(8, len(r) - 1)])
    im = ax.pcolormesh(v, r[keep], p[keep], shading="auto", vmin=-40, vmax=0, cmap="viridis")
    fig.colorbar(im, ax=ax, label="power (dB re peak)")
    if truth is not None:
        ax.plot(truth[:, 2], truth[:, 1], "o", mfc="none", mec="w", ms=10, mew=1.5, label="truth")
    ax.plot(est[:, 2], est[:, 1], "x", color="r", ms=8, mew=2, label=name)
    if std is not None and len(est):
        ax.errorbar(est[:, 2], est[:, 1], xerr=2 * std[:, 2], yerr=2 * std[:, 1], fmt="none",
                    ecolor="r", elinewidth=1.5, capsize=3, label="+-2 std (CRB at the estimates)")
    vmax = max(top(np.abs(truth[:, 2])) if truth is not None else 0, top(np.abs(est[:, 2])))
    ax.set_xlim(-min(2.0 * vmax + 10, v.max()), min(2.0 * vmax + 10, v.max()))
    ax.set_xlabel("radial velocity (m/s)")
    ax.set_ylabel("range (m)")
    ax.set_title("Range-Doppler map (Hann, summed over antennas)")
    ax.legend(fontsize=8, loc="upper right")
    return save(fig, path)


def rmse_figure(mc: dict, path: Path) -> Path:
    """RMSE of angle, range and velocity against SNR for every method, with both CRBs.

    Each method's SNR threshold (``mc["thresholds_db"]``) is a dotted vertical line.
    """
    fig, axes = new_figure(ncols=3, size=(4.2, 3.4))
    snr = np.asarray(mc["snr_db"])
    crb = np.asarray(mc["crb"]["rmse_physical"])
    tied = np.asarray(mc["crb_tied"]["rmse_physical"]) if mc.get("crb_tied", {}).get("rmse_physical") else None
    thr = mc.get("thresholds_db", {})
    for d, ax in enumerate(axes[0]):
        for name, r in mc["methods"].items():
            y = np.array([row[d] if ok else np.nan for row, ok in zip(r["rmse_physical"], r["n_success"])],
                         dtype=float)
            color, style = STYLE.get(name, ("k", ".-"))
            t = thr.get(name, np.inf)
            label = f"{name} (threshold {t:g} dB)" if np.isfinite(t) else f"{name} (no threshold)"
            ax.semilogy(snr, y, style, color=color, label=label, ms=4)
            if np.isfinite(t):
                ax.axvline(t, color=color, ls=":", lw=1)
        ax.semilogy(snr, crb[:, d], "k-", lw=2, label="CRB (3K parameters)")
        if tied is not None and not np.allclose(tied, crb):
            ax.semilogy(snr, tied[:, d], "k--", lw=1.5, label="CRB, shared coordinates tied")
        ax.set_xlabel("SNR per entry (dB)")
        ax.set_ylabel(f"RMSE {DIMS[d]} ({UNITS[d]})")
        ax.grid(True, which="both", alpha=0.3)
    axes[0][0].legend(fontsize=6)
    fig.suptitle(f"{mc['n_targets']} targets, {tuple(mc['shape'])}, {mc['n_trials']} trials per SNR; "
                 "threshold: P(success) >= 0.9 and RMSE <= 2x CRB", fontsize=9)
    return save(fig, path)


def runtime_figure(scal: list[dict], path: Path) -> Path:
    """Seconds per estimate (median) against the number of tensor entries."""
    fig, ax = new_figure()
    ax = ax[0, 0]
    for name in dict.fromkeys(r["method"] for r in scal):
        rows = [r for r in scal if r["method"] == name and not r["skipped"]]
        base = name[:-6] if name.endswith("_batch") else name
        color, style = STYLE.get(base, ("k", ".-"))
        if name.endswith("_batch"):
            style = ":" + style[0]
        ax.loglog([r["n_entries"] for r in rows], [r["seconds_median"] for r in rows], style,
                  color=color, label=name.replace("_batch", " (batched, per estimate)"))
    ax.set_xlabel("tensor entries N_R N_F N_T")
    ax.set_ylabel("seconds per estimate (median)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    return save(fig, path)


def _limits_table(limits: dict | None, band: dict | None = None) -> list[str]:
    """Resolution and the intervals the estimator reaches, raw and after compression."""
    if not limits:
        return []
    rows = ["| | resolution angle (deg at broadside) | range (m) | velocity (m/s) "
            "| range reached (m) | velocity reached (m/s) | range inside the CP (m) |",
            "|---|---|---|---|---|---|---|"]
    for name, lim in limits.items():
        r, u = lim["resolution"], lim["unambiguous"]
        rng = u["range_m"]
        rows.append(f"| {name} {tuple(lim['compressed_shape'])} | {r['angle_deg_at_broadside']:.2f} | "
                    f"{r['range_m']:.2f} | {r['velocity_mps']:.2f} | {rng[0]:.0f} to {rng[1]:.0f} | "
                    f"+-{u['velocity_mps'][1]:.1f} | {lim['range_in_cp_m']:.1f} |")
    rows.append("")
    if band is not None:
        rows += [f"The compressed delay band is shifted before averaging (by {band['center_mu'][1]:.4f} "
                 f"rad/sample) so that it covers ranges {band['range_m'][0]:.0f} to {band['range_m'][1]:.0f} m; "
                 "ranges are never negative, so the estimator reaches "
                 f"{band['range_reach_m'][0]:.0f} to {band['range_reach_m'][1]:.0f} m.", ""]
    return rows


def _edge_lines(mod: dict) -> list[str]:
    flags = mod.get("edge_flags") or []
    if not flags:
        return ["No estimate lies within a resolution cell of a band edge.", ""]
    out = [f"**{len(flags)} estimate(s) within one resolution cell of a band edge** (a target just "
           "outside the band would alias there; check with a smaller compression factor):", ""]
    for f in flags:
        out.append(f"- {f['method']} target {f['target']}: {f['dimension']} {f['value']:.2f}, "
                   f"band {f['interval'][0]:.2f} to {f['interval'][1]:.2f}")
    return out + [""]


def _below_bound_notes(mc: dict, i: int) -> list[str]:
    """Why an estimator sits below a bound, where it does (beyond Monte Carlo scatter)."""
    crb = mc["crb"]["rmse_physical"][i]
    tied = mc["crb_tied"]["rmse_physical"][i] if mc.get("crb_tied", {}).get("rmse_physical") else crb
    notes = []
    for name, r in mc["methods"].items():
        if not r["n_success"][i]:
            continue
        n = max(r["n_success"][i], 1)
        # the RMSE of n Gaussian trials scatters by about 1/sqrt(2 n K) relative
        slack = 1.0 - 2.0 / np.sqrt(2.0 * n * mc["n_targets"])
        for d in range(3):
            rm = r["rmse_physical"][i][d]
            if rm < slack * tied[d]:
                notes.append(f"- {name} {DIMS[d]}: {rm / tied[d]:.2f}x even the tied bound; the CRB bounds "
                             "unbiased estimators, and a method that shrinks towards a coordinate another "
                             "target shares (or a biased one) can sit below it.")
            elif rm < slack * crb[d]:
                notes.append(f"- {name} {DIMS[d]}: {rm / crb[d]:.2f}x the 3K-parameter CRB but "
                             f"{rm / tied[d]:.2f}x the tied one: targets share this coordinate exactly and "
                             "the method estimates it once from all of them, which the 3K-parameter bound "
                             "does not assume.")
    if not notes:
        return []
    return ["Below a bound:", ""] + notes + [""]


def _failure_notes(mc: dict) -> list[str]:
    """Report lines for estimator calls that raised during the Monte Carlo (none: no lines)."""
    lines = []
    for name, r in mc["methods"].items():
        n_err, n_batch = sum(r.get("n_errors", [])), sum(r.get("n_batch_errors", []))
        if n_err:
            first = next(e for e in r["first_error"] if e)
            lines.append(f"- **{name}: {n_err} trial(s) raised** and were scored as empty estimates; "
                         f"first: `{first}`")
        if n_batch:
            first = next(e for e in r["first_batch_error"] if e)
            lines.append(f"- **{name}: {n_batch} batch call(s) raised** and were re-run trial by trial; "
                         f"first: `{first}`")
    return ["## Estimator failures", "", *lines, ""] if lines else []


def report(ing: dict, red: dict, mod: dict, mc: dict, scal: list[dict], metrics: dict,
           i: int) -> str:
    """The run's markdown summary."""
    snr = mc["snr_db"][i]
    crb = mc["crb"]["rmse_physical"][i]
    tied = mc["crb_tied"]["rmse_physical"][i] if mc.get("crb_tied", {}).get("rmse_physical") else crb
    thr = mc.get("thresholds_db", {})
    lines = [f"# isac: scenario `{ing['scenario']}`, {tuple(ing['shape'])}, {ing['n_targets']} targets", "",
             f"{ing['data']['source']}. Compression {ing['compression'][0]} "
             f"{tuple(ing['compression'][1])} -> {tuple(red['compressed_shape'])} "
             f"({red['compression_ratio']:.1f}x); per-mode {red['criterion'].upper()} orders "
             f"{red['model_orders']}; PLAIN's fusion with the order unknown finds "
             f"{mod['rank_found']} targets (the intrinsic dimension).", "",
             *_limits_table(ing.get("limits"), ing.get("band")),
             *_edge_lines(mod),
             f"## RMSE at {snr:g} dB ({mc['n_trials']} trials; ESPRIT {mc.get('esprit_trials', '-')})", "",
             "| method | angle (deg) | range (m) | velocity (m/s) | P(success) | misses | false | OSPA (cells) "
             "| SNR threshold (dB) | ms/estimate (reference tensor) |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for name, r in mc["methods"].items():
        rm = r["rmse_physical"][i]
        cells = [f"{rm[d]:.3g} ({rm[d] / tied[d]:.2f}x / {rm[d] / crb[d]:.2f}x)" if r["n_success"][i] else "-"
                 for d in range(3)]
        t = thr.get(name, np.inf)
        ms = mod.get("seconds_reference", {}).get(name)
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {r['p_success'][i]:.2f} | "
                     f"{r['mean_misses'][i]:.2f} | {r['mean_false'][i]:.2f} | {r['ospa_cells'][i]:.3f} | "
                     f"{t:g} | " + (f"{1e3 * ms:.1f}" if ms is not None else "-") + " |")
    lines.append(f"| CRB, shared coordinates tied | {tied[0]:.3g} | {tied[1]:.3g} | {tied[2]:.3g} | | | | | | |")
    lines.append(f"| CRB, 3K parameters | {crb[0]:.3g} | {crb[1]:.3g} | {crb[2]:.3g} | | | | | | |")
    lines += ["", "(a / b): RMSE over the tied CRB (the model PLAIN fits: targets that share a coordinate "
              "exactly have one parameter there) / over the 3K-parameter CRB. RMSE over trials with every "
              "target found (optimal assignment with the 0.5-cell gate inside the cost), misses and false "
              "targets counted separately. SNR threshold: the lowest grid SNR from which on P(success) >= 0.9 "
              "and RMSE <= 2x the 3K-parameter CRB in every mode (inf: none on this grid). Runtimes: "
              "shared.timing.measure, warm-up + median of repeats (joint ESPRIT: one cold call, no warm-up, "
              "as its seconds dwarf a warm-up's effect).", "",
              *_below_bound_notes(mc, i),
              *_failure_notes(mc),
              "## Runtime against size (median seconds per estimate; `_batch`: a batch of trials, per estimate)",
              "", "| method | shape | median s | repeats |", "|---|---|---|---|"]
    for r in scal:
        t = "skipped" if r["skipped"] else f"{r['seconds_median']:.4f}"
        lines.append(f"| {r['method']} | {tuple(r['shape'])} | {t} | {r['repeats']} |")
    if "speedup_vs_esprit3d" in metrics:
        lines += ["", f"PLAIN is {metrics['speedup_vs_esprit3d']:.0f}x faster per estimate than joint 3-D "
                  "ESPRIT (randomized SVD) at the largest size both ran at"
                  + (f", {metrics['speedup_vs_esprit3d_batched']:.0f}x batched over trials"
                     if "speedup_vs_esprit3d_batched" in metrics else "") + "."]
    lines += ["", "![RMSE](figures/rmse_vs_snr.png)", "![runtime](figures/runtime_vs_size.png)",
              "![range-Doppler](figures/range_doppler.png)", ""]
    return "\n".join(lines)


def measured_report(ing: dict, red: dict, mod: dict, n_found: int) -> str:
    """Report of a run on measured CSI: detections with plug-in standard errors."""
    lines = [f"# isac: measured CSI {tuple(ing['shape'])}", "",
             f"Source: {ing['data']['source']}. {mod['headline']} found {n_found} targets; per-mode "
             f"{red['criterion'].upper()} orders {red['model_orders']}, PLAIN's fusion with the order "
             f"unknown finds {mod['rank_found']}.", "",
             *_limits_table(ing.get("limits"), ing.get("band")), *_edge_lines(mod)]
    se = mod.get("standard_errors")
    if se:
        lines += ["| target | angle (deg) | range (m) | velocity (m/s) |", "|---|---|---|---|"]
        for k, (est, std) in enumerate(zip(se["estimates"], se["physical"])):
            lines.append(f"| {k} | " + " | ".join(f"{e:.3f} +- {s:.2g}" for e, s in zip(est, std)) + " |")
        lines += ["", f"+-: standard error from the CRB at the estimates with the residual noise variance "
                  f"{se['noise_var']:.3g} per entry (no ground truth here: RMSE needs a simulation).", ""]
    lines += ["![range-Doppler](figures/range_doppler.png)", ""]
    return "\n".join(lines)
