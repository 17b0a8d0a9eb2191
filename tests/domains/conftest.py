"""Fixtures shared by every domain's tests."""

from __future__ import annotations

import pytest
import torch


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """Run each domain test module on one torch thread (tests may set this; library code never does).

    The domains' kernels are small (16 x 16 eigh, small convolutions and FFTs, small
    models): on a shared 2-core machine a second thread only adds contention (LAPACK
    calls were measured 50-100x slower on 2 threads under load, docs/benchmarks.md).
    """
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)
