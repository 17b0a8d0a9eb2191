"""shared.threads.cpu_threads: a thread-local, restored CPU thread limit."""

from __future__ import annotations

import threading

import pytest
import torch

from shared.threads import cpu_threads


def _openmp_threads() -> int:
    from threadpoolctl import threadpool_info

    return next(i["num_threads"] for i in threadpool_info() if i["user_api"] == "openmp")


def test_limit_is_this_threads_and_restored():
    if torch.get_num_threads() < 2:
        pytest.skip("needs 2 threads to see a change")
    n_main, n_torch = _openmp_threads(), torch.get_num_threads()
    seen = {}
    ready, done = threading.Event(), threading.Event()

    def worker():
        with cpu_threads(1):
            seen["inside"] = _openmp_threads()
            x = torch.randn(200, 200)
            seen["result"] = (x @ x).sum()  # computes as usual
            ready.set()
            done.wait(10)
        seen["after"] = _openmp_threads()

    t = threading.Thread(target=worker)
    t.start()
    ready.wait(10)
    seen["main"], seen["torch"] = _openmp_threads(), torch.get_num_threads()
    done.set()
    t.join()
    assert seen["inside"] == 1 and seen["after"] == n_main
    assert seen["main"] == n_main and seen["torch"] == n_torch == torch.get_num_threads()
    with cpu_threads(0):  # 0: unchanged
        assert _openmp_threads() == n_main


def test_a_runtime_loaded_after_the_first_call_is_limited_too():
    """scikit-learn vendors its own libgomp; imported after a first ``cpu_threads`` call, it must
    still be limited (a cached view of the runtimes missed it). Run in a fresh process so that
    the import order is this test's."""
    import subprocess
    import sys

    code = (
        "import torch\n"
        "from threadpoolctl import threadpool_info\n"
        "from shared.threads import cpu_threads\n"
        "with cpu_threads(1): pass\n"
        "import sklearn.cluster\n"
        "omp = lambda: [i['num_threads'] for i in threadpool_info() if i['user_api'] == 'openmp']\n"
        "assert len(omp()) >= 2, omp()\n"
        "with cpu_threads(1): inside = omp()\n"
        "print(inside)\n"
        "assert all(n == 1 for n in inside), inside\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
