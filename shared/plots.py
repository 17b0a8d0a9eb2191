"""Matplotlib helpers: headless backend, one style, figures saved as PNG."""

from __future__ import annotations

from pathlib import Path


def new_figure(ncols: int = 1, nrows: int = 1, size: tuple[float, float] = (5.0, 3.6)):
    """A ``(fig, axes)`` pair on the Agg backend (no display needed)."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(nrows, ncols, figsize=(size[0] * ncols, size[1] * nrows),
                             squeeze=False, constrained_layout=True)
    return fig, axes


def save(fig, path: str | Path, dpi: int = 110) -> Path:
    """Save ``fig`` as PNG, close it and return the path."""
    import matplotlib.pyplot as plt

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi)
    plt.close(fig)
    return path
