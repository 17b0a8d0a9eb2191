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
