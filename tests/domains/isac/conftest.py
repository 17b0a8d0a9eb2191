"""Fixtures for the ISAC tests."""

from __future__ import annotations

import pytest
import torch


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """Run each module on one torch thread.

    The estimators' kernels are small (16 x 16 eigh, companion-matrix eig); on a
    shared 2-core machine a second thread only adds contention (LAPACK calls
    were measured 50-100x slower on 2 threads under load, docs/benchmarks.md).
    """
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)
