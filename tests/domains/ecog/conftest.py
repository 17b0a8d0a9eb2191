"""Fixtures of the ECoG tests: small simulated participants (one torch thread: tests/domains/conftest.py)."""

from __future__ import annotations

import pytest

from domains.ecog.simulate import simulate_participant

SMALL = dict(n_channels=10, n_trials_per_class=20, cue_s=1.5, rest_s=0.5, bad_channels=[9])



@pytest.fixture(scope="session")
def strong():
    """A high-gain simulated participant (gain 0.15)."""
    return simulate_participant(3, 0.15, seed=5, **SMALL)


@pytest.fixture(scope="session")
def null():
    """A zero-gain simulated participant (no class signal)."""
    return simulate_participant(0, 0.0, seed=5, **SMALL)
