"""Sample counts of the epochs and of the decoders' time axis, as plain arithmetic.

One home for the lengths that preprocessing (MNE), the decoders (torch) and
the header check (no torch) must agree on, so the check can reject a
configuration the decoders cannot run before any run directory exists.
"""

from __future__ import annotations

import math


def decimation(sfreq: float, target: float) -> int:
    """Integer decimation factor that brings ``sfreq`` nearest to ``target`` (at least 1)."""
    return max(1, int(round(sfreq / target)))


def decimated_rate(sfreq: float, target: float) -> float:
    """The rate actually reached by decimating ``sfreq`` towards ``target``, Hz."""
    return sfreq / decimation(sfreq, target)


def epoch_samples(epoch_s: float, sfreq: float) -> int:
    """Samples of an epoch ``[0, epoch_s)`` at ``sfreq`` (before decimation)."""
    return int(round(epoch_s * sfreq))


def decimated_samples(epoch_s: float, sfreq: float, target: float) -> int:
    """Samples of an epoch after MNE's ``Epochs(decim=...)`` (every ``decim``-th sample from the first)."""
    return math.ceil(epoch_samples(epoch_s, sfreq) / decimation(sfreq, target))


def conv_pool_length(n_times: int, kernel: int) -> int:
    """Time length after the decoders' two blocks ``Conv1d(kernel, padding=kernel // 2) -> pool(2)``.

    ``Conv1d`` gives ``T + 2 * (kernel // 2) - kernel + 1`` (T for an odd kernel,
    T + 1 for an even one); each pool halves, rounding down. 0 when the input
    is too short for the blocks.
    """
    t = int(n_times)
    for _ in range(2):
        t = t + 2 * (kernel // 2) - kernel + 1
        if t < 1:
            return 0
        t //= 2
    return t
