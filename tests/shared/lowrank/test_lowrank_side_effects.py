"""The core changes no process-wide state: torch's thread count, TensorLy's backend."""

from __future__ import annotations

import os
import threading

import pytest
import torch

from shared.lowrank import cp, hosvd, svd
from shared.lowrank._utils import LAPACK_THREADS, lapack_threads


def _openmp_threads() -> int:
    from threadpoolctl import threadpool_info

    return next(i["num_threads"] for i in threadpool_info() if i["user_api"] == "openmp")


def test_import_sets_no_tensorly_backend(monkeypatch):
    """Re-running the package's import code leaves a user's global backend alone."""
    import importlib

    import tensorly as tl
    from tensorly import backend as tb

    import shared.lowrank

    before = tl.get_backend()
    monkeypatch.delenv("TENSORLY_BACKEND", raising=False)
    tl.set_backend("numpy")
    try:
        importlib.reload(shared.lowrank)
        assert (tl.get_backend(), tb.BackendManager._default_backend) == ("numpy", "numpy")
        assert "TENSORLY_BACKEND" not in os.environ
    finally:
        tl.set_backend(before)


def test_two_threads_in_the_core_leave_threads_and_backend_as_they_were():
    import tensorly as tl
    from tensorly import backend as tb

    n0 = torch.get_num_threads()
    if n0 < 2:
        pytest.skip("needs 2 torch threads to see a change")
    before = tl.get_backend()
    tl.set_backend("numpy")  # the global default a user might have chosen
    try:
        errors: list[BaseException] = []
        stop = threading.Event()

        def work(seed: int) -> None:
            try:
                g = torch.Generator().manual_seed(seed)
                X = torch.randn(30, 24, 20, generator=g, dtype=torch.float64)
                for _ in range(6):
                    hosvd(X, ranks=[5, 4, 3], method="gram")
                    svd(torch.randn(300, 200, generator=g, dtype=torch.float64), 10, method="full")
                    cp(X[:10, :8, :6], 2, n_iter=5, seed=seed)
                    assert tl.get_backend() == "numpy"  # each call restores this thread's backend
            except BaseException as e:  # noqa: BLE001
                errors.append(e)

        seen = set()
        threads = [threading.Thread(target=work, args=(s,)) for s in (1, 2)]
        for t in threads:
            t.start()
        while any(t.is_alive() for t in threads):
            seen.add(torch.get_num_threads())  # sampled while the other threads run LAPACK
            seen_backend = tl.get_backend()
            assert seen_backend == "numpy"
        for t in threads:
            t.join()
        stop.set()
        assert not errors, errors
        assert seen == {n0}
        assert torch.get_num_threads() == n0
        assert tl.get_backend() == "numpy" and tb.BackendManager._default_backend == "numpy"
    finally:
        tl.set_backend(before)


@pytest.mark.skipif(LAPACK_THREADS <= 0, reason="LOWDIM_LAPACK_THREADS=0 leaves threads alone")
def test_lapack_calls_are_single_threaded_in_the_calling_thread_only():
    if torch.get_num_threads() < 2:
        pytest.skip("needs 2 torch threads to see a change")
    n0 = _openmp_threads()
    inside, other = [], []
    ready, release = threading.Event(), threading.Event()

    def hold():
        with lapack_threads(torch.zeros(2)):
            inside.append(_openmp_threads())
            ready.set()
            release.wait(10)

    t = threading.Thread(target=hold)
    t.start()
    ready.wait(10)
    other.append(_openmp_threads())  # the main thread, while the other holds the limit
    release.set()
    t.join()
    assert inside == [LAPACK_THREADS] and other == [n0] and _openmp_threads() == n0
