"""One way to time a call: warm-up, repeats, a real median, device synchronised.

Every runtime the project reports (flow metrics, ``bench/``) goes through
:func:`measure`, so figures are comparable across domains and devices.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass
from typing import Any, Callable


@dataclass(frozen=True)
class Timing:
    """Wall-clock seconds of repeated calls (warm-up calls excluded)."""

    median_s: float
    min_s: float
    max_s: float
    repeats: int

    @property
    def median_ms(self) -> float:
        return 1e3 * self.median_s


def synchronize(device: Any = None) -> None:
    """Wait for queued GPU work on ``device`` (a no-op on CPU or without torch)."""
    if device is None:
        return
    import torch

    dev = torch.device(device)
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)
    elif dev.type == "mps":  # pragma: no cover - no such device here
        torch.mps.synchronize()


def measure(fn: Callable[[], Any], *, repeats: int = 5, warmup: int = 1,
            device: Any = None) -> tuple[Timing, Any]:
    """Time ``fn()``: ``warmup`` untimed calls, then ``repeats`` timed ones.

    Parameters
    ----------
    fn : callable
        Called with no arguments; wrap arguments in a lambda or partial.
    repeats : int
        Timed calls (at least 1); the median of an odd count is a real sample.
    warmup : int
        Untimed calls first (caches, allocator, JIT, cuDNN autotuning).
    device : torch.device or str, optional
        Synchronised before each clock read, so asynchronous GPU work is counted.

    Returns
    -------
    timing : Timing
    result : Any
        The last call's return value.
    """
    if repeats < 1:
        raise ValueError("repeats must be >= 1")
    out = None
    for _ in range(max(0, warmup)):
        out = fn()
    synchronize(device)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        synchronize(device)
        times.append(time.perf_counter() - t0)
    return Timing(statistics.median(times), min(times), max(times), repeats), out
