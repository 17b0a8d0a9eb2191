"""Figures and the markdown report of the ``geo`` flow."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from domains.geo.raster import LABEL_NODATA
from shared.cluster import hungarian_matching
from shared.plots import new_figure, save

METHOD_TITLES = {"raw": "raw bands", "pca": "PCA", "ae": "canonical AE", "sae": "stacked AE (paper)",
                 "improved": "improved"}


def _colours(n: int) -> np.ndarray:
    import matplotlib

    cmap = matplotlib.colormaps["tab20" if n > 10 else "tab10"]
    return np.array([cmap(i % cmap.N)[:3] for i in range(n)])


def matched_lut(C: np.ndarray | None, k: int, n_units: int) -> np.ndarray:
    """Cluster -> display code: Hungarian-matched clusters take their unit's code, others follow."""
    lut = np.arange(k) + (n_units if C is not None else 0)
    if C is not None:
        for j, i in hungarian_matching(C).items():
            lut[j] = i
        spare = n_units
        for j in range(k):
            if lut[j] >= n_units:
                lut[j] = spare
                spare += 1
    return lut


def rgb(codes: np.ndarray, n_colours: int) -> np.ndarray:
    """Codes ``(h, w)`` to an RGB image, nodata white."""
    col = _colours(max(n_colours, 1))
    out = np.ones(codes.shape + (3,))
    ok = codes != LABEL_NODATA
    out[ok] = col[np.clip(codes[ok], 0, len(col) - 1)]
    return out


def quicklook(codes: np.ndarray, n_colours: int, path: Path, title: str) -> Path:
    """A PNG preview of one unit map."""
    fig, ax = new_figure(1, 1, size=(4.5, 4.5))
    ax[0, 0].imshow(rgb(codes, n_colours), interpolation="nearest")
    ax[0, 0].set_title(title, fontsize=9)
    ax[0, 0].set_axis_off()
    return save(fig, path)


def maps_figure(rows: list[dict], path: Path) -> Path:
    """Maps side by side: one row per sensor, reference first, then each method.

    ``rows``: ``[{"sensor", "reference" (codes or None), "maps": {method: codes}, "n_colours"}]``,
    codes already matched to the reference's (see :func:`matched_lut`).
    """
    ncol = 1 + max(len(r["maps"]) for r in rows)
    fig, axes = new_figure(ncol, len(rows), size=(2.6, 2.7))
    for i, r in enumerate(rows):
        panels = [("reference", r["reference"])] + [(METHOD_TITLES.get(m, m), c) for m, c in r["maps"].items()]
        for j in range(ncol):
            ax = axes[i, j]
            ax.set_axis_off()
            if j < len(panels) and panels[j][1] is not None:
                ax.imshow(rgb(panels[j][1], r["n_colours"]), interpolation="nearest")
                t = panels[j][0] + (f" ({r['scores'][panels[j][0]]})" if panels[j][0] in r.get("scores", {}) else "")
                ax.set_title(f"{r['sensor']}: {t}" if j == 0 else t, fontsize=8)
    return save(fig, path)


def spectra_figure(rows: list[dict], path: Path) -> Path:
    """Per-cluster mean spectra of the headline method, beside the reference units' means."""
    fig, axes = new_figure(len(rows), 1, size=(4.6, 3.4))
    for j, r in enumerate(rows):
        ax = axes[0, j]
        wl = np.asarray(r["wavelengths"], float)
        col = _colours(r["n_colours"])
        for c, (code, mean) in enumerate(zip(r["cluster_codes"], r["cluster_means"])):
            ax.plot(wl, mean, "-o", ms=3, color=col[code % len(col)], label=f"cluster {c}")
        for u, mean in enumerate(r.get("unit_means", [])):
            ax.plot(wl, mean, "--", lw=1, color=col[u % len(col)], alpha=0.7)
        ax.set_xlabel("wavelength (um)" if np.isfinite(wl).all() else "band")
        ax.set_ylabel("reflectance")
        ax.set_title(f"{r['sensor']}: {METHOD_TITLES.get(r['method'], r['method'])} clusters "
                     "(solid) vs units (dashed)", fontsize=8)
        ax.legend(fontsize=6, ncol=2)
    return save(fig, path)


def confusion_figure(C: np.ndarray, lut: np.ndarray, unit_names: list[str], title: str, path: Path) -> Path:
    """Row-normalised confusion matrix (units x clusters in matched order)."""
    order = np.argsort(lut)
    Cm = C[:, order].astype(float)
    Cn = Cm / np.maximum(Cm.sum(1, keepdims=True), 1)
    fig, axes = new_figure(1, 1, size=(5.2, 4.2))
    ax = axes[0, 0]
    im = ax.imshow(Cn, vmin=0, vmax=1, cmap="Blues")
    for i in range(Cn.shape[0]):
        for j in range(Cn.shape[1]):
            ax.text(j, i, f"{Cn[i, j]:.2f}", ha="center", va="center", fontsize=6,
                    color="white" if Cn[i, j] > 0.5 else "black")
    ax.set_yticks(range(len(unit_names)), [n[:18] for n in unit_names], fontsize=7)
    ax.set_xticks(range(Cm.shape[1]), [f"c{int(j)}" for j in order], fontsize=7)
    ax.set_xlabel("cluster (matched order)")
    ax.set_title(title, fontsize=8)
    fig.colorbar(im, ax=ax, shrink=0.8)
    return save(fig, path)


def report(table: dict, meta: dict) -> str:
    """The markdown report: the method x sensor table, per-scene details, figures."""
    sensors = list(table)
    methods = list(next(iter(table.values()))["methods"]) if table else []
    has_ref = any(t["has_reference"] for t in table.values())
    lines = [f"# geo: geological unit maps ({meta['source']})", ""]
    lines += [meta.get("note", ""), ""]
    if has_ref:
        lines += ["## Matching accuracy / ARI / NMI against the reference map", "",
                  "| method | " + " | ".join(sensors) + " |", "|---|" + "---|" * len(sensors)]
        for m in methods:
            cells = []
            for s in sensors:
                r = table[s]["methods"][m]
                cells.append(f"{r['matching_accuracy']:.3f} / {r['ari']:.3f} / {r['nmi']:.3f}"
                             if "ari" in r else "-")
            lines.append(f"| {METHOD_TITLES.get(m, m)} | " + " | ".join(cells) + " |")
        lines += ["", "Cells: one-to-one Hungarian matching accuracy / adjusted Rand index / normalised "
                      "mutual information, on the pixels every method labels and the reference covers, "
                      "after the majority filter. The paper reports 86.6-90 % accuracy for its stacked AE "
                      "on real scenes (protocol unpublished).", ""]
    for s in sensors:
        t = table[s]
        lines += [f"## {s}", "", f"Grid {t['grid']} (CRS units); {t['n_valid']} valid pixels, {t['n_clear']} clear; "
                                 f"{t.get('n_common', 0)} pixels scored"
                                 + (f" of the {t['n_reference']} the reference covers on valid reflectance"
                                    if t.get("n_reference") else "") + ".", "",
                  "| method | k | labelled | matching acc | majority acc | ARI | NMI | mean F1 | CH | DB |",
                  "|---|---|---|---|---|---|---|---|---|---|"]
        for m, r in t["methods"].items():
            def f(key, fmt="{:.3f}"):
                return fmt.format(r[key]) if key in r else "-"
            lines.append(f"| {METHOD_TITLES.get(m, m)} | {r['k']} | {f('coverage', '{:.1%}')} | "
                         f"{f('matching_accuracy')} | {f('majority_accuracy')} | {f('ari')} | {f('nmi')} | "
                         f"{f('mean_f1')} | {f('calinski_harabasz', '{:.4g}')} | {f('davies_bouldin')} |")
        hm = meta.get("headline")
        if hm in t["methods"] and "f1_per_unit" in t["methods"][hm]:
            names = meta.get("units") or [f"unit {i}" for i in range(len(t["methods"][hm]["f1_per_unit"]))]
            f1 = ", ".join(f"{n} {v:.2f}" if v is not None else f"{n} absent"
                           for n, v in zip(names, t["methods"][hm]["f1_per_unit"]))
            lines += ["", f"Per-unit F1 of {METHOD_TITLES.get(hm, hm)} (Hungarian-matched cluster): {f1}."]
        lines += ["", f"Unit maps (COG, mode overviews, colour table): {', '.join(t['cogs'])}", ""]
    lines += ["## Figures", "", "![maps side by side](figures/maps.png)", "",
              "![per-cluster mean spectra](figures/spectra.png)", ""]
    if has_ref:
        lines += ["![confusion matrix](figures/confusion.png)", ""]
    lines += ["CH = Calinski-Harabasz, DB = Davies-Bouldin (the paper's internal indices, on a sample of "
              "codes before the majority filter). `improved` masks QA/SCL clouds, shadow and NDVI, "
              "takes log band ratios to each pixel's geometric mean (they cancel the terrain's shading), "
              "scales each band to [0, 1] and encodes with the core's PCA (or an AE) fitted on "
              "leverage-sampled pixels.", ""]
    return "\n".join(lines)
