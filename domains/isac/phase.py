"""Phase wrapping: the one home of the ISAC domain's circular arithmetic.

Convention: a phase (or any periodic quantity) is represented in the
half-open interval ``(-period/2, period/2]``; for angles ``(-pi, pi]``, so
``+pi`` stays ``+pi`` and ``-pi`` becomes ``+pi``. Normalized frequencies,
frequency differences, FFT bins and physical spans (a range or velocity
difference on its unambiguous interval) all use it.
"""

from __future__ import annotations

import math

import torch

__all__ = ["wrap"]


def wrap(x, period: float = 2.0 * math.pi) -> torch.Tensor:
    """Wrap ``x`` into ``(-period/2, period/2]``.

    Parameters
    ----------
    x : torch.Tensor or array-like
        Real values (radians for the default period); non-tensors become float64.
    period : float
        Length of the interval (``2 pi`` for phases).

    Returns
    -------
    torch.Tensor
        Same shape, dtype and device as ``x``.
    """
    if not isinstance(x, torch.Tensor) or not x.is_floating_point():
        x = torch.as_tensor(x, dtype=torch.float64)
    half = 0.5 * period
    # remainder maps into [0, period); reflecting it makes the interval (-half, half]
    return half - torch.remainder(half - x, period)
