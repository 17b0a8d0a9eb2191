"""Figures and the markdown report of the ``mri`` flow."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from shared.plots import new_figure, save

LABELS = {"zero_filled": "zero-filled", "cs_tv": "CS (TV)", "cs_wavelet": "CS (L1-wavelet)", "varnet": "VarNet (MONAI)", "operator": "operator (ours)"}


def recon_grid(rows: list[dict], target, slice_index: int, path: Path) -> Path:
    """Per family: ground truth, each method, and each method's error map (x5)."""
    methods = [m for m in LABELS if m in rows[0]["recon"]]
    ncols = 1 + 2 * len(methods)
    fig, axes = new_figure(ncols=ncols, nrows=len(rows), size=(1.6, 1.7))
    gt = target[slice_index].numpy()
    vmax = float(gt.max())
    for i, r in enumerate(rows):
        ax = axes[i][0]
        ax.imshow(gt, cmap="gray", vmin=0, vmax=vmax)
        ax.set_ylabel(f"{r['family']}\n{r['acceleration']:g}x", fontsize=7)
        if i == 0:
            ax.set_title("ground truth", fontsize=7)
        for j, m in enumerate(methods):
            rec = r["recon"][m][slice_index].numpy()
            a = axes[i][1 + j]
            a.imshow(rec, cmap="gray", vmin=0, vmax=vmax)
            psnr = r["metrics"].get(m, {}).get("psnr_db")
            a.set_xlabel(f"{psnr:.1f} dB" if psnr is not None else "", fontsize=6, labelpad=1)
            e = axes[i][1 + len(methods) + j]
            e.imshow(np.abs(rec - gt) * 5, cmap="inferno", vmin=0, vmax=vmax)
            if i == 0:
                a.set_title(LABELS[m], fontsize=7)
                e.set_title(f"|error| x5 {LABELS[m]}", fontsize=6)
    for row in axes:
        for a in row:
            a.set_xticks([])
            a.set_yticks([])
    return save(fig, path, dpi=100)


def psnr_vs_acceleration(rows: list[dict], held_out: list[str], path: Path) -> Path:
    """Mean PSNR over families against acceleration per method; the held-out family dashed."""
    fig, axes = new_figure(ncols=2, size=(4.6, 3.4))
    accs = sorted({r["acceleration"] for r in rows})
    methods = [m for m in LABELS if m in rows[0]["metrics"]]
    for ax, (title, keep) in zip(axes[0], (("trained families", lambda f: f not in held_out),
                                           ("held-out family " + ", ".join(held_out), lambda f: f in held_out))):
        for m in methods:
            ys = []
            for a in accs:
                v = [r["metrics"][m]["psnr_db"] for r in rows if r["acceleration"] == a and keep(r["family"])]
                ys.append(np.mean(v) if v else np.nan)
            ax.plot(accs, ys, marker="o", label=LABELS[m])
        ax.set_xlabel("acceleration")
        ax.set_ylabel("PSNR (dB)")
        ax.set_xscale("log", base=2)
        ax.set_xticks(accs, [f"{a:g}" for a in accs])
        ax.set_title(title, fontsize=9)
        ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=7)
    return save(fig, path)


def table(rows: list[tuple], header: tuple) -> str:
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for r in rows:
        out.append("| " + " | ".join(f"{v:.3f}" if isinstance(v, float) else str(v) for v in r) + " |")
    return "\n".join(out)
