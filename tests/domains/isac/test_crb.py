"""Deterministic CRB from per-mode Gram pieces."""

import math

import pytest
import torch

from domains.isac.crb import (crb_mu, crb_mu_plain_style, crb_physical, crb_single_target,
                              fisher_information)
from domains.isac.scenarios import get_scenario
from domains.isac.simulate import noise_variance, vandermonde


def test_single_target_closed_form_numbers_of_the_brief():
    mu = torch.tensor([[0.3, -0.2, 0.05]], dtype=torch.float64)
    got = crb_mu(mu, torch.tensor([1.0 + 0j]), (8, 32, 28), 1.0)[0]
    assert got.tolist() == pytest.approx([1.3287e-5, 8.182e-7, 1.069e-6], rel=2e-4)
    torch.testing.assert_close(got, crb_single_target((8, 32, 28), 1.0), rtol=1e-10, atol=0)


@pytest.mark.parametrize("snr, amp", [(1.0, 1.0), (10.0, 0.3), (0.1, 2.0)])
def test_single_target_scales_with_snr(snr, amp):
    mu = torch.tensor([[-1.0, 2.5, 0.0]], dtype=torch.float64)
    sigma2 = amp ** 2 / snr
    got = crb_mu(mu, torch.tensor([amp * 1j], dtype=torch.complex128), (5, 9, 12), sigma2)[0]
    torch.testing.assert_close(got, crb_single_target((5, 9, 12), snr), rtol=1e-10, atol=0)


def test_gram_form_equals_explicit_projector():
    torch.manual_seed(0)
    shape, k = (4, 5, 6), 3
    mu = torch.rand(k, 3, dtype=torch.float64) * 2 - 1
    b = torch.randn(k, dtype=torch.complex128)
    a = [vandermonde(mu[:, m], shape[m]) for m in range(3)]
    d = [1j * torch.arange(shape[m], dtype=torch.float64)[:, None] * a[m] for m in range(3)]
    kr = lambda x, y, z: torch.einsum("ik,jk,lk->ijlk", x, y, z).reshape(-1, k)
    s = kr(*a)
    delta = torch.cat([kr(*(d[q] if q == r else a[q] for q in range(3))) for r in range(3)], 1)
    proj = torch.eye(s.shape[0], dtype=s.dtype) - s @ torch.linalg.solve(s.mH @ s, s.mH)
    bb = torch.outer(b.conj(), b).repeat(3, 3)
    f = 2 / 0.7 * ((delta.mH @ proj @ delta) * bb).real
    torch.testing.assert_close(fisher_information(mu, b, shape, 0.7), f, rtol=1e-9, atol=1e-9)
    full = crb_mu(mu, b, shape, 0.7, full=True)
    torch.testing.assert_close(crb_mu(mu, b, shape, 0.7), torch.diagonal(full).reshape(3, k).T)


def test_well_separated_targets_approach_the_single_target_bound():
    s = get_scenario("default")
    crb = crb_mu(s.mu, s.gains, s.shape, 1.0)
    single = crb_single_target(s.shape, 1.0)
    ratio = crb / single
    assert bool((ratio > 0.99).all()) and bool((ratio < 1.2).all())


def test_physical_units_use_the_jacobian():
    s = get_scenario("default")
    var = crb_physical(s.radar, s.mu, s.gains, 0.1)
    jac = s.radar.jacobian(s.targets.physical)
    torch.testing.assert_close(var * jac ** 2, crb_mu(s.mu, s.gains, s.shape, 0.1))
    # broadside-referenced angle: dmu/dtheta = pi cos(theta) rad per rad
    assert jac[0, 0].item() == pytest.approx(math.pi * math.cos(math.radians(-30)) * math.pi / 180)


def test_close_targets_raise_the_bound():
    s = get_scenario("close")
    c = crb_mu(s.mu, s.gains, s.shape, 1.0)
    single = crb_single_target(s.shape, 1.0)
    assert bool((c[:, 2] >= single[2] * 0.999).all())


def test_plain_style_bound_is_exact_for_one_target_and_optimistic_otherwise():
    mu1 = torch.tensor([[0.3, -0.2, 0.05]], dtype=torch.float64)
    one = torch.tensor([1.0 + 0j], dtype=torch.complex128)
    torch.testing.assert_close(crb_mu_plain_style(mu1, one, (8, 32, 28), 1.0),
                               crb_mu(mu1, one, (8, 32, 28), 1.0), rtol=1e-9, atol=0)
    mu2 = torch.tensor([[0.3, -0.2, 0.05], [0.35, -0.15, 0.1]], dtype=torch.float64)
    two = torch.tensor([1.0 + 0j, 0.5j], dtype=torch.complex128)
    assert bool((crb_mu_plain_style(mu2, two, (8, 16, 12), 1.0) < crb_mu(mu2, two, (8, 16, 12), 1.0)).all())


def test_tied_crb_is_the_bound_of_the_shared_parameter_model():
    from domains.isac.crb import crb_mu, crb_mu_tied, has_ties

    s = get_scenario("default")
    s2 = noise_variance(s.gains, 10.0)
    full, tied = crb_mu(s.mu, s.gains, s.shape, s2), crb_mu_tied(s.mu, s.gains, s.shape, s2)
    assert has_ties(s.mu)
    # never above the 3K-parameter bound, and strictly below it on the shared coordinates
    assert bool((tied <= full * (1 + 1e-9)).all())
    assert float(tied[0, 2] / full[0, 2]) < 0.9  # targets 0 and 2 share their velocity
    # two tied coordinates have one variance: both rows of the pair are equal
    torch.testing.assert_close(tied[0, 2], tied[2, 2], rtol=1e-10, atol=0)
    # two targets with one equal coordinate and an equal gain: the shared one
    # is estimated from twice the energy, and the pair far apart elsewhere
    # decouples, so the bound halves
    mu = torch.tensor([[0.5, -0.3, 0.2], [-1.0, 1.1, 0.2]], dtype=torch.float64)
    g = torch.ones(2, dtype=torch.complex128)
    one = crb_mu(mu, g, (16, 64, 64), 1.0)[0, 2]
    both = crb_mu_tied(mu, g, (16, 64, 64), 1.0)[0, 2]
    assert float(both / one) == pytest.approx(0.5, rel=1e-3)
    # no ties: the same bound
    u = torch.tensor([[0.5, -0.3, 0.2], [-1.0, 1.1, -0.7]], dtype=torch.float64)
    torch.testing.assert_close(crb_mu_tied(u, g, (16, 64, 64), 1.0), crb_mu(u, g, (16, 64, 64), 1.0))


def test_plug_in_noise_variance_is_unbiased_at_the_estimates():
    # y = S(mu) b + n with complex noise of variance sigma^2: fitting K targets
    # (K complex gains + 3K frequencies = 5K real parameters) leaves 2N - 5K real
    # degrees of freedom of variance sigma^2 / 2 each, so E||r||^2 = (N - 2.5 K) sigma^2.
    # A small tensor (N = 120, K = 3) makes the count matter: N - 5K would be 7 % off.
    from domains.isac.crb import plugin_standard_errors
    from domains.isac.physics import OFDMRadar
    from domains.isac.refine import refine_mu
    from domains.isac.simulate import simulate_tensor

    shape, trials = (4, 6, 5), 400
    mu = torch.tensor([(0.5, -0.4, 0.3), (-0.9, 1.2, -1.0), (2.0, 2.2, 1.9)], dtype=torch.float64)
    gains = torch.tensor([1.0, 1j, -1.0], dtype=torch.complex128)
    Y = simulate_tensor(mu, gains, shape, 20.0, n_trials=trials, seed=0)
    mu_hat = refine_mu(Y, mu.expand(trials, 3, 3).clone())[0]  # the ML estimates near the truth
    radar = OFDMRadar(28e9, 120e3, *shape)
    s2 = [plugin_standard_errors(Y[t], mu_hat[t], radar)["noise_var"] for t in range(trials)]
    # relative standard error of the mean: sqrt(2 / 225) / sqrt(400) = 0.5 %
    assert sum(s2) / trials == pytest.approx(noise_variance(gains, 20.0), rel=0.02)
