"""Figures and the markdown report of the ``ecog`` flow."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from scipy.ndimage import uniform_filter1d

from shared.plots import new_figure, save

_LABELS = {"hand_vs_tongue": ("tongue", "hand"), "movement_vs_imagery": ("imagery", "movement")}
_NAMES = {"lstm_cnn": "LSTM-CNN", "cnn": "CNN", "csp_lda": "CSP+LDA", "ts_lr": "TS+LR", "hg_lda": "HG-LDA"}
_SCREENS = {"umap": "UMAP", "pca": "PCA"}


def screen_label(method: str) -> str:
    """``"UMAP + KNN"`` / ``"PCA + KNN"``: the screen's name from ``reduce.screen``."""
    return f"{_SCREENS.get(method, method)} + KNN"


def _name(m: str, screen: str) -> str:
    return f"{screen_label(screen)} screen" if m == "screen" else _NAMES.get(m, m)


def embeddings_figure(h5, task: str, path: Path, screen: str = "umap") -> Path:
    """Fold 0 of the screen: the embedding (``screen``: umap / pca) fitted on its training trials (dots),
    test trials placed by ``transform`` (rings)."""
    pids = [p for p in h5["screen"] if task in h5["screen"][p]]
    n = len(pids)
    cols = min(4, n)
    fig, axes = new_figure(cols, math.ceil(n / cols), size=(3.0, 2.8))
    for ax in axes.flat[n:]:
        ax.axis("off")
    for ax, pid in zip(axes.flat, pids):
        g0 = h5[f"screen/{pid}/{task}/fold0"]
        y = h5[f"epochs/{pid}/{task}/y"][()]
        for part, style in (("train", dict(s=10, alpha=0.7)), ("test", dict(s=40, facecolors="none"))):
            e, yy = g0[f"{part}_embedding"][()], y[g0[part][()]]
            e2 = e[:, 1] if e.shape[1] > 1 else np.zeros(len(e))
            for c, (col, name) in enumerate(zip(("tab:blue", "tab:red"), _LABELS[task])):
                kw = dict(edgecolors=col) if part == "test" else dict(c=col)
                ax.scatter(e[yy == c, 0], e2[yy == c], label=f"{name} ({part})", **kw, **style)
        g = h5[f"epochs/{pid}"].attrs.get("gain")
        ax.set_title(f"{pid}" + (f" (gain {g:.2f})" if g is not None else ""), fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    axes.flat[0].legend(fontsize=7)
    fig.suptitle(f"{_SCREENS.get(screen, screen)} screen embedding of fold 0 ({task}): training trials (dots), "
                 "test trials (rings)", fontsize=10)
    return save(fig, path)


def spectrum_contrast(psd: np.ndarray, freqs: np.ndarray, band=(70.0, 150.0)) -> tuple[np.ndarray, int]:
    """Hand / tongue power ratio in dB on ONE channel, chosen without looking at the classes.

    The channel is the one with the largest band-averaged power over both
    classes together (class-blind, so a participant with no effect shows no
    effect; the per-frequency best channel would show 1.5-2 dB of noise for
    anyone). On a tongue electrode the ratio dips below 0 dB.

    Parameters
    ----------
    psd : np.ndarray
        ``(2, n_channels, n_freqs)`` mean PSD of tongue (row 0) and hand (row 1) epochs, V^2/Hz.
    freqs : np.ndarray
        ``(n_freqs,)`` Hz.
    band : (float, float)
        The high-gamma band the channel is chosen in, Hz.

    Returns
    -------
    (np.ndarray, int)
        ``(n_freqs,)`` dB ratio of that channel, and the channel's index.
    """
    sel = (freqs >= band[0]) & (freqs <= band[1])
    ch = int(np.argmax(psd.mean(0)[:, sel].mean(1)))
    return 10 * np.log10(np.maximum(psd[1, ch], 1e-40) / np.maximum(psd[0, ch], 1e-40)), ch


def spectra_figure(h5, path: Path, band=(70.0, 150.0)) -> Path:
    """Left: mean PSD of hand cues over good channels, per participant (log-log). Right: hand / tongue
    ratio on each participant's channel with the most band power (:func:`spectrum_contrast`), as a
    running mean over 9 frequency bins."""
    fig, axes = new_figure(2, 1, size=(4.6, 3.4))
    pids = list(h5["epochs"])
    cmap = __import__("matplotlib").colormaps["viridis"]
    for i, pid in enumerate(pids):
        psd = h5[f"epochs/{pid}/psd"][()]
        f = h5[f"epochs/{pid}/psd_freqs"][()]
        col = cmap(i / max(1, len(pids) - 1))
        axes[0, 0].loglog(f, psd[1].mean(0), color=col, lw=1, label=pid)
        db, ch = spectrum_contrast(psd, f, band)
        names = h5[f"epochs/{pid}/psd"].attrs.get("channels", "")
        name = names.split(",")[ch] if names else f"#{ch}"
        # a running mean over 9 frequency bins: one channel's per-bin ratio of 20-30 trials is noisy (+-2 dB)
        axes[0, 1].semilogx(f, uniform_filter1d(db, size=9, mode="nearest"), color=col, lw=1,
                            label=f"{pid} ({name})")
    for ax in axes[0]:
        ax.axvspan(band[0], band[1], color="0.9", zorder=0)
        ax.set_xlabel("frequency (Hz)")
    axes[0, 1].axhline(0.0, color="0.6", lw=0.6)
    axes[0, 0].set_ylabel("PSD, hand cues (V$^2$/Hz)")
    axes[0, 1].set_ylabel("hand / tongue (dB)")
    axes[0, 1].set_title("channel with the most band power (class-blind), 9-bin mean", fontsize=8)
    axes[0, 1].legend(fontsize=7, ncol=2)
    fig.suptitle(f"high-gamma spectra after notch and CAR (grey: {band[0]:g}-{band[1]:g} Hz)", fontsize=10)
    return save(fig, path)


def screen_vs_dl_figure(s: dict, head: str, task: str, path: Path, screen: str = "umap") -> Path:
    """Screen score against the deep model's accuracy, one point per participant."""
    fig, axes = new_figure(1, 1, size=(4.2, 3.6))
    ax = axes[0, 0]
    for pid, row in s["table"].items():
        ax.scatter(row["screen"], row[head], c="tab:purple")
        ax.annotate(pid, (row["screen"], row[head]), fontsize=7, xytext=(3, 3), textcoords="offset points")
    ax.plot([0.3, 1.02], [0.3, 1.02], color="0.7", lw=0.8, ls="--")
    ax.axhline(0.5, color="0.8", lw=0.8)
    ax.set_xlabel(f"{screen_label(screen)} screen (CV accuracy)")
    ax.set_ylabel(f"{_NAMES.get(head, head)} CV accuracy")
    rho = s["spearman_rho"]
    ax.set_title(f"{task}: Spearman rho = {rho:.2f}" if np.isfinite(rho) else task, fontsize=10)
    return save(fig, path)


def accuracy_figure(s: dict, task: str, path: Path, screen: str = "umap") -> Path:
    """Per-participant CV accuracy of every method, grouped bars."""
    pids = list(s["table"])
    methods = list(next(iter(s["table"].values())))
    fig, axes = new_figure(1, 1, size=(max(5.0, 1.1 * len(pids) + 2), 3.4))
    ax = axes[0, 0]
    w = 0.8 / len(methods)
    for j, m in enumerate(methods):
        ax.bar(np.arange(len(pids)) + j * w, [s["table"][p][m] for p in pids], w, label=_name(m, screen))
    ax.axhline(0.5, color="k", lw=0.6, ls=":")
    ax.set_xticks(np.arange(len(pids)) + 0.4 - w / 2, pids)
    ax.set_ylim(0.0, 1.05)
    ax.set_ylabel("5-fold CV accuracy")
    ax.legend(fontsize=7, ncol=3, loc="lower right")
    ax.set_title(f"accuracy per participant ({task})", fontsize=10)
    return save(fig, path)


def _f(v) -> str:
    return "-" if v is None or (isinstance(v, float) and not np.isfinite(v)) else f"{v:.3f}"


def report(ing: dict, red: dict, mod: dict, summ: dict, metrics: dict, head: str, cfg) -> str:
    """Markdown: per-participant accuracy tables against the baselines, rho, transfer, figures."""
    scr = cfg.reduce.screen
    lines = [f"# ecog: screen ({screen_label(scr)}) against {_NAMES[head]} and baselines", "",
             f"Data: {ing['data']['source']}.", "",
             f"{cfg.reduce.n_folds}-fold stratified CV; the same folds for the screen, the deep models and the "
             f"baselines. The screen's scaler and {_SCREENS.get(scr, scr)} are fitted inside each training fold "
             "and test trials are placed with `transform`; deep-model normalisation and early stopping use "
             "training trials only (audited per fold, with the trials each fit really used).", ""]
    gains = {r["pid"]: r["gain"] for r in ing["participants"]}
    for task, s in summ.items():
        methods = list(next(iter(s["table"].values())))
        lines += [f"## {task}", "", "| participant | gain | " + " | ".join(_name(m, scr) for m in methods) + " |",
                  "|---|---|" + "---|" * len(methods)]
        for pid, row in s["table"].items():
            lines.append(f"| {pid} | {_f(gains.get(pid))} | " + " | ".join(_f(row[m]) for m in methods) + " |")
        lines.append("| **mean** | | " + " | ".join(
            _f(s["screen_mean"] if m == "screen" else s["mean_accuracy"][m]) for m in methods) + " |")
        lines += ["", f"Spearman rho (screen vs {_NAMES[head]}): {_f(s['spearman_rho'])}; "
                      f"screen {s['screen_seconds']:.2f} s vs {_NAMES[head]} {s['deep_seconds']:.2f} s per "
                      f"participant (ratio {_f(s['cost_ratio'])}).", "",
                  f"![screen vs DL](figures/screen_vs_dl_{task}.png)", "",
                  f"![accuracy](figures/accuracy_{task}.png)", ""]
    if mod["transfer"]:
        ms = list(next(iter(mod["transfer"].values()))["accuracy"])
        lines += ["## Cross-participant transfer (hand vs tongue)", "",
                  f"Pretrained on the other participants, adapted on {cfg.model.transfer_shots} trials per class "
                  f"({cfg.model.transfer_repeats} draws), tested on the rest.", "",
                  "| target | " + " | ".join(ms) + " |", "|---|" + "---|" * len(ms)]
        for t, r in mod["transfer"].items():
            lines.append(f"| {t} | " + " | ".join(_f(r["accuracy"][m]) for m in ms) + " |")
        p = next(iter(mod["transfer"].values()))["trainable_params"]
        lines += ["| trainable params | " + " | ".join(str(int(p[m])) for m in ms) + " |", ""]
    first = next(iter(red["per_task"].values()))
    lines += ["## Low-rank summaries (first task)", "", "| participant | PCA comps (90 %) | Tucker ranks | rel. error |",
              "|---|---|---|---|"]
    for pid, v in first.items():
        lines.append(f"| {pid} | {v['pca_components']} | {v['tucker_ranks']} | {_f(v['tucker_rel_error'])} |")
    if scr == "umap":
        lines += ["", f"UMAP warm-up (numba compile, once per process): {red['umap_warmup_seconds']:.1f} s."]
    lines += ["",
              "![embeddings](figures/umap_embeddings.png)", "", "![spectra](figures/high_gamma_spectra.png)", "",
              "Spectra: left, the mean PSD of hand cues over good channels; right, hand / tongue power on ONE "
              "channel per participant, the one with the most high-gamma power over both classes (chosen "
              "class-blind, so a participant without an effect stays near 0 dB; a tongue electrode dips below 0), "
              "a running mean over 9 frequency bins.",
              ""]
    return "\n".join(lines)
