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
                         path: Path) -> Path:
    """Range-Doppler map (dB) with true (circles) and estimated (crosses) targets.

    Parameters
    ----------
    rd : dict
        :func:`domains.isac.evaluate.range_doppler_map` output with physical axes.
    truth, est : (K, 3) arrays of (angle deg, range m, velocity m/s) or None
    """
    p = np.asarray(rd["power_db"].cpu() if hasattr(rd["power_db"], "cpu") else rd["power_db"])
    r = np.asarray(rd["range_m"].cpu() if hasattr(rd["range_m"], "cpu") else rd["range_m"])
    v = np.asarray(rd["velocity_mps"].cpu() if hasattr(rd["velocity_mps"], "cpu") else rd["velocity_mps"])
    fig, ax = new_figure(size=(6.0, 4.2))
    ax = ax[0, 0]
    keep = r <= max(1.3 * max(np.max(truth[:, 1]) if truth is not None else 0, np.max(est[:, 1])), r[min(8, len(r) - 1)])
    im = ax.pcolormesh(v, r[keep], p[keep], shading="auto", vmin=-40, vmax=0, cmap="viridis")
    fig.colorbar(im, ax=ax, label="power (dB re peak)")
    if truth is not None:
        ax.plot(truth[:, 2], truth[:, 1], "o", mfc="none", mec="w", ms=10, mew=1.5, label="truth")
    ax.plot(est[:, 2], est[:, 1], "x", color="r", ms=8, mew=2, label=name)
    vmax = max(np.max(np.abs(truth[:, 2])) if truth is not None else 0, np.max(np.abs(est[:, 2])))
    ax.set_xlim(-min(2.0 * vmax + 10, v.max()), min(2.0 * vmax + 10, v.max()))
    ax.set_xlabel("radial velocity (m/s)")
    ax.set_ylabel("range (m)")
    ax.set_title("Range-Doppler map (Hann, summed over antennas)")
    ax.legend(fontsize=8, loc="upper right")
    return save(fig, path)


def rmse_figure(mc: dict, path: Path) -> Path:
    """RMSE of angle, range and velocity against SNR for every method, with the CRB."""
    fig, axes = new_figure(ncols=3, size=(4.2, 3.4))
    snr = np.asarray(mc["snr_db"])
    crb = np.asarray(mc["crb"]["rmse_physical"])
    for d, ax in enumerate(axes[0]):
        for name, r in mc["methods"].items():
            y = np.array([row[d] if ok else np.nan for row, ok in zip(r["rmse_physical"], r["n_success"])],
                         dtype=float)
            color, style = STYLE.get(name, ("k", ".-"))
            ax.semilogy(snr, y, style, color=color, label=name, ms=4)
        ax.semilogy(snr, crb[:, d], "k-", lw=2, label="CRB")
        ax.set_xlabel("SNR per entry (dB)")
        ax.set_ylabel(f"RMSE {DIMS[d]} ({UNITS[d]})")
        ax.grid(True, which="both", alpha=0.3)
    axes[0][0].legend(fontsize=7)
    fig.suptitle(f"{mc['n_targets']} targets, {tuple(mc['shape'])}, {mc['n_trials']} trials per SNR")
    return save(fig, path)


def runtime_figure(scal: list[dict], path: Path) -> Path:
    """Seconds per estimate against the number of tensor entries."""
    fig, ax = new_figure()
    ax = ax[0, 0]
    for name in dict.fromkeys(r["method"] for r in scal):
        rows = [r for r in scal if r["method"] == name and not r["skipped"]]
        color, style = STYLE.get(name, ("k", ".-"))
        ax.loglog([r["n_entries"] for r in rows], [r["seconds_median"] for r in rows], style,
                  color=color, label=name)
    ax.set_xlabel("tensor entries N_R N_F N_T")
    ax.set_ylabel("seconds per estimate (median)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    return save(fig, path)


def _limits_table(limits: dict | None) -> list[str]:
    """Resolution and unambiguous intervals, raw and after compression."""
    if not limits:
        return []
    rows = ["| | resolution angle (deg at broadside) | range (m) | velocity (m/s) "
            "| unambiguous range (m) | unambiguous velocity (m/s) | range inside the CP (m) |",
            "|---|---|---|---|---|---|---|"]
    for name, lim in limits.items():
        r, u = lim["resolution"], lim["unambiguous"]
        rng = u.get("range_m_symmetric", u["range_m"])
        rows.append(f"| {name} {tuple(lim['compressed_shape'])} | {r['angle_deg_at_broadside']:.2f} | "
                    f"{r['range_m']:.2f} | {r['velocity_mps']:.2f} | {rng[0]:.0f} to {rng[1]:.0f} | "
                    f"+-{u['velocity_mps'][1]:.1f} | {lim['range_in_cp_m']:.1f} |")
    return rows + [""]


def report(ing: dict, red: dict, mod: dict, mc: dict, scal: list[dict], metrics: dict,
           i: int) -> str:
    """The run's markdown summary."""
    snr = mc["snr_db"][i]
    crb = mc["crb"]["rmse_physical"][i]
    lines = [f"# isac: scenario `{ing['scenario']}`, {tuple(ing['shape'])}, {ing['n_targets']} targets", "",
             f"{ing['data']['source']}. Compression {ing['compression'][0]} "
             f"{tuple(ing['compression'][1])} -> {tuple(red['compressed_shape'])} "
             f"({red['compression_ratio']:.1f}x); per-mode {red['criterion'].upper()} orders "
             f"{red['model_orders']}.", "",
             *_limits_table(ing.get("limits")),
             f"## RMSE at {snr:g} dB ({mc['n_trials']} trials; ESPRIT {mc.get('esprit_trials', '-')})", "",
             "| method | angle (deg) | range (m) | velocity (m/s) | P(success) | misses | false | OSPA (cells) | ms/estimate |",
             "|---|---|---|---|---|---|---|---|---|"]
    for name, r in mc["methods"].items():
        rm = r["rmse_physical"][i]
        cells = [f"{rm[d]:.3g} ({rm[d] / crb[d]:.2f}x)" if r["n_success"][i] else "-" for d in range(3)]
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {r['p_success'][i]:.2f} | "
                     f"{r['mean_misses'][i]:.2f} | {r['mean_false'][i]:.2f} | {r['ospa_cells'][i]:.3f} | "
                     f"{1e3 * r['runtime_s'][i]:.1f} |")
    lines.append(f"| CRB | {crb[0]:.3g} | {crb[1]:.3g} | {crb[2]:.3g} | | | | | |")
    lines += ["", "(x) is the ratio to the CRB; RMSE over trials with every target found "
              "(gated optimal assignment), misses and false targets counted separately.", "",
              "## Runtime against size", "", "| method | shape | median s |", "|---|---|---|"]
    for r in scal:
        t = "skipped" if r["skipped"] else f"{r['seconds_median']:.4f}"
        lines.append(f"| {r['method']} | {tuple(r['shape'])} | {t} |")
    lines += ["", "![RMSE](figures/rmse_vs_snr.png)", "![runtime](figures/runtime_vs_size.png)",
              "![range-Doppler](figures/range_doppler.png)", ""]
    return "\n".join(lines)
