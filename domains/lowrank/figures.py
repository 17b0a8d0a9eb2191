"""Figures of the ``lowrank`` flow."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from shared.plots import new_figure, save


def spectrum_figure(spectra: list[np.ndarray], ranks: list[int], path: Path) -> Path:
    """Singular values of every mode unfolding (log scale), chosen ranks marked.

    Parameters
    ----------
    spectra : list of (I_n,) arrays
        Singular values of the mode-n unfolding, descending.
    ranks : list of int
        The kept rank per mode.
    """
    fig, ax = new_figure()
    ax = ax[0, 0]
    for n, (s, r) in enumerate(zip(spectra, ranks)):
        s = np.maximum(s / s[0], 1e-18)
        line, = ax.semilogy(np.arange(1, len(s) + 1), s, ".-", label=f"mode {n} (rank {r})")
        ax.axvline(r + 0.5, color=line.get_color(), lw=0.8, ls="--")
    ax.set_xlabel("index i")
    ax.set_ylabel(r"$\sigma_i / \sigma_1$ of the mode-n unfolding")
    ax.set_title("Singular-value spectrum per mode")
    ax.legend(fontsize=8)
    return save(fig, path)


def energy_figure(spectra: list[np.ndarray], ranks: list[int], energy: float, path: Path) -> Path:
    """Retained energy (cumulative squared singular values) against rank per mode."""
    fig, ax = new_figure()
    ax = ax[0, 0]
    for n, (s, r) in enumerate(zip(spectra, ranks)):
        e = np.cumsum(s**2) / np.sum(s**2)
        ax.plot(np.arange(1, len(s) + 1), e, ".-", label=f"mode {n}")
        ax.plot([r], [e[r - 1]], "ko", ms=5)
    ax.axhline(min(energy, 1.0), color="gray", lw=0.8, ls=":", label=f"threshold {energy:g}")
    ax.set_xlabel("rank")
    ax.set_ylabel("retained energy")
    ax.set_xscale("log")
    ax.set_title("Per-mode energy (dots: chosen ranks)")
    ax.legend(fontsize=8)
    return save(fig, path)
