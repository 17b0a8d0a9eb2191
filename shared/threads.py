"""CPU thread limits for a block of work, in the calling thread only, restored on exit.

torch sizes its CPU parallel regions (elementwise kernels, MKL's GEMM and
LAPACK) from the *calling thread's* OpenMP setting, which threadpoolctl sets
and restores. So a limit here never reaches another thread (Prefect runs
tasks in a thread pool) and ``torch.get_num_threads()``, a process-wide
setting that ``torch.set_num_threads`` would race on, is never touched.

Why limit at all: on the shared 2-core machine, many small ops on 2 OpenMP
threads spend their time in barrier spin-waits while other processes hold a
core (an optimiser loop of a small model: 3.0 s on 2 threads, 0.32 s on 1;
eigh of 256 x 256: 2.7 s against 0.02 s). Use :func:`cpu_threads` instead of
``torch.set_num_threads`` in library code.
"""

from __future__ import annotations

import sys
import threading
from contextlib import contextmanager
from typing import Iterator

_openmp = None
_modules_seen = -1
_lock = threading.Lock()


def _controller():
    """threadpoolctl's view of the OpenMP runtimes loaded now (~3 ms to build).

    A process may hold several OpenMP runtimes (torch's libgomp, the copies
    scikit-learn and numba's wheels vendor), and an import can load one
    after the first call here. So the view is rebuilt whenever the number
    of imported modules has changed since it was built: an O(1) check that
    catches every runtime an import brings, while repeated calls in a
    settled process (the core's small LAPACK calls) reuse it.
    """
    global _openmp, _modules_seen
    with _lock:
        n = len(sys.modules)
        if _openmp is None or n != _modules_seen:
            from threadpoolctl import ThreadpoolController

            _openmp = ThreadpoolController().select(user_api="openmp")
            _modules_seen = len(sys.modules)  # after threadpoolctl's own first import
        return _openmp


@contextmanager
def cpu_threads(n: int) -> Iterator[None]:
    """Run the block with at most ``n`` OpenMP threads in the calling thread (``n <= 0``: unchanged).

    The limit is this thread's and is restored on exit; no process-wide
    setting changes. The thread count can change results in the last bits:
    threaded reductions (a convolution's backward pass, a large sum) add
    in a count-dependent order, and training carries that into the weights
    (mri: ``threads=2`` trains other networks than ``threads=1``; the same
    count gives bit-identical runs).
    """
    if n <= 0:
        yield
        return
    with _controller().limit(limits=int(n)):
        yield
