"""Fixtures of the ECoG tests: one torch thread, small simulated participants."""

from __future__ import annotations

import pytest
import torch

from domains.ecog.simulate import simulate_participant

SMALL = dict(n_channels=10, n_trials_per_class=20, cue_s=1.5, rest_s=0.5, bad_channels=[9])


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """Small models and LAPACK calls: a second thread only adds contention on 2 shared cores."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="session")
def strong():
    """A high-gain simulated participant (gain 0.15)."""
    return simulate_participant(3, 0.15, seed=5, **SMALL)


@pytest.fixture(scope="session")
def null():
    """A zero-gain simulated participant (no class signal)."""
    return simulate_participant(0, 0.0, seed=5, **SMALL)
