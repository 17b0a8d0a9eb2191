"""CPU thread limits for one step, restored on exit (never process-wide)."""

from __future__ import annotations

import functools
import threading
from contextlib import contextmanager

_lock = threading.Lock()


@functools.lru_cache(maxsize=1)
def _openmp():
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController().select(user_api="openmp")


@contextmanager
def cpu_threads(n: int):
    """Run the block with ``n`` OpenMP threads in the *calling* thread (0: unchanged).

    torch sizes its CPU parallel regions from the calling thread's OpenMP
    setting, which threadpoolctl sets and restores; other threads and
    ``torch.set_num_threads`` are untouched. On the shared 2-core machine,
    elementwise kernels ran 20x faster on one thread than on two under load
    (docs/benchmarks.md, mri section).
    """
    if n <= 0:
        yield
        return
    with _lock:
        ctl = _openmp()
    with ctl.limit(limits=int(n)):
        yield
