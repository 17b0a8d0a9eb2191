"""ISAC estimators follow the input's device (run where a GPU is present)."""

from __future__ import annotations

import math

import pytest
import torch

from domains.isac.baselines import esprit3d, fft3d, sequential
from domains.isac.crb import crb_mu
from domains.isac.plain import plain
from domains.isac.metrics import match
from domains.isac.refine import plain_refined
from domains.isac.scenarios import get_scenario
from domains.isac.simulate import noise_variance, simulate_tensor

pytestmark = [pytest.mark.cuda,
              pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")]


@pytest.fixture(scope="module")
def data():
    sc = get_scenario("default")
    y = simulate_tensor(sc.mu, sc.gains, sc.shape, 20.0, n_trials=1, seed=0, device="cuda",
                        dtype=torch.complex64)[0]
    return sc, y


@pytest.mark.parametrize("name", ["plain", "refine", "fft3d", "sequential", "esprit3d"])
def test_estimators_stay_on_cuda_and_find_the_targets(data, name):
    sc, y = data
    fns = {"plain": lambda y, k: plain(y, k, compression=sc.compression),
           "refine": lambda y, k: plain_refined(y, k, compression=sc.compression),
           "fft3d": fft3d, "sequential": sequential, "esprit3d": esprit3d}
    est = fns[name](y, sc.n_targets)
    assert est.mu.device.type == "cuda" and est.gains.device.type == "cuda"
    assert est.n_targets == sc.n_targets
    # one-to-one, wrapped, per parameter: every target within a fifth of a cell
    cells = torch.tensor([2 * math.pi / n for n in sc.shape], dtype=torch.float64)
    m = match(est.mu.double().cpu(), sc.mu, scale=cells, gate=0.5)
    assert m.n_misses == 0 and m.n_false == 0
    if name not in ("fft3d", "sequential"):  # the FFT grid floor is about a quarter cell
        assert bool(((m.errors.abs() / cells) < 0.2).all())


def test_crb_on_cuda_matches_cpu():
    sc = get_scenario("default")
    s2 = noise_variance(sc.gains, 10.0)
    cpu = crb_mu(sc.mu, sc.gains, sc.shape, s2)
    gpu = crb_mu(sc.mu.cuda(), sc.gains.cuda(), sc.shape, s2)
    assert gpu.device.type == "cuda"
    torch.testing.assert_close(gpu.cpu(), cpu, rtol=1e-8, atol=0)
