"""Joint variable-projection refinement: exactness, the `close` scenario, splitting."""

import math

import pytest
import torch

from domains.isac.phase import wrap
from scipy.optimize import linear_sum_assignment

from domains.isac.crb import crb_mu
from domains.isac.plain import plain
from domains.isac.atoms import ls_gains
from domains.isac.refine import refine, refine_mu, vp_cost
from domains.isac.scenarios import get_scenario
from domains.isac.simulate import noise_variance, simulate_tensor, synthesize



def _matched_errors(mu_hat, mu_true, weight):
    d = wrap(mu_hat[:, None, :] - mu_true[None])
    rows, cols = linear_sum_assignment((d ** 2 / weight[None]).sum(-1).numpy())
    out = torch.empty_like(mu_true)
    out[torch.as_tensor(cols)] = d[rows, cols]
    return out


def test_vp_cost_is_the_projected_residual():
    s = get_scenario("default")
    y = simulate_tensor(s.mu, s.gains, (6, 10, 8), 5.0, seed=2)[0]
    mu = s.mu + 0.01
    b = ls_gains(y, mu)
    fit = synthesize(mu, b, y.shape)
    assert float(vp_cost(y, mu)) == pytest.approx(float((y - fit).abs().pow(2).sum()), rel=1e-10)


def test_noiseless_refinement_converges_to_the_truth():
    s = get_scenario("default")
    y = synthesize(s.mu, s.gains, s.shape)
    cells = torch.tensor([2 * math.pi / n for n in s.shape], dtype=torch.float64)
    start = s.mu + 0.2 * cells * torch.tensor([1.0, -1.0, 0.5], dtype=torch.float64)
    est = refine(y, start)
    err = _matched_errors(est.mu, s.mu, torch.ones(3, dtype=torch.float64))
    assert float(err.abs().max()) < 1e-9
    assert float((est.gains - s.gains).abs().max()) < 1e-8
    assert est.extra["cost"] < 1e-12 * float((y.abs() ** 2).sum())


def test_batched_initialisations():
    s = get_scenario("close")
    y = synthesize(s.mu, s.gains, s.shape)
    inits = torch.stack([s.mu + 0.01, s.mu - 0.01])
    mu, b, cost = refine_mu(y, inits)
    assert mu.shape == (2, 2, 3) and b.shape == (2, 2) and cost.shape == (2,)
    torch.testing.assert_close(mu[0], s.mu, rtol=0, atol=1e-9)
    torch.testing.assert_close(mu[1], s.mu, rtol=0, atol=1e-9)


def test_close_scenario_refinement_reaches_the_crb():
    s = get_scenario("close")
    snr, n_trials = 20.0, 4
    y = simulate_tensor(s.mu, s.gains, s.shape, snr, n_trials=n_trials, seed=11)
    crb = crb_mu(s.mu, s.gains, s.shape, noise_variance(s.gains, snr))
    e_plain, e_ref = [], []
    for t in range(n_trials):
        est = plain(y[t], s.n_targets)
        e_plain.append(_matched_errors(est.mu, s.mu, crb))
        e_ref.append(_matched_errors(refine(y[t], est, s.n_targets).mu, s.mu, crb))
    close = s.extra["close_dimension"]
    r_plain = torch.stack(e_plain).pow(2).mean(0).sqrt()[:, close] / crb[:, close].sqrt()
    r_ref = torch.stack(e_ref).pow(2).mean(0).sqrt() / crb.sqrt()
    assert bool((r_ref <= 2.0).all()), r_ref
    assert bool((r_plain > 2.0).all()), r_plain  # PLAIN alone sits well above the bound
    assert bool((r_ref[:, close] < r_plain).all())


def test_split_recovers_a_merged_pair():
    # equal angle and range, a quarter cell apart in Doppler: one atom in every mode
    shape = (16, 64, 32)
    cell = 2 * math.pi / shape[2]
    mu = torch.tensor([[0.5, -0.3, 0.1], [0.5, -0.3, 0.1 + 0.25 * cell]], dtype=torch.float64)
    b = torch.tensor([1.0, 1.0j], dtype=torch.complex128)
    y = simulate_tensor(mu, b, shape, 20.0, seed=3)[0]
    crb = crb_mu(mu, b, shape, noise_variance(b, 20.0))
    est = refine(y, mu.mean(0, keepdim=True), n_targets=2)
    assert est.n_targets == 2 and est.extra["split_added"] == 1
    err = _matched_errors(est.mu, mu, crb)
    assert bool((err.abs() < 4 * crb.sqrt()).all()), err / crb.sqrt()


def test_unknown_order_prunes_false_targets():
    # PLAIN's fusion can add a weak third atom for the mismatch the merged
    # Doppler candidates leave behind; the joint fit does not need it
    s = get_scenario("close")
    y = simulate_tensor(s.mu, s.gains, s.shape, 20.0, n_trials=7, seed=1)[6]
    est = plain(y, None)
    assert est.n_targets == 3  # the case this test is about
    ref = refine(y, est)
    assert ref.n_targets == 2 and ref.extra["pruned"] == 1
    crb = crb_mu(s.mu, s.gains, s.shape, noise_variance(s.gains, 20.0))
    assert bool((_matched_errors(ref.mu, s.mu, crb).abs() < 4 * crb.sqrt()).all())


def test_plain_refined_has_the_estimator_signature():
    from domains.isac.refine import plain_refined

    s = get_scenario("default")
    y = synthesize(s.mu, s.gains, s.shape)
    est = plain_refined(y, None, compression=("averaging", (1, 2, 2)))
    assert est.n_targets == 4
    assert float(_matched_errors(est.mu, s.mu, torch.ones(3, dtype=torch.float64)).abs().max()) < 1e-9


def test_refine_mu_batches_over_trials():
    s = get_scenario("default")
    y = simulate_tensor(s.mu, s.gains, (8, 32, 16), 10.0, n_trials=3, seed=4)
    start = (s.mu + 0.01).expand(3, -1, -1)
    mu, b, cost = refine_mu(y, start)
    assert mu.shape == (3, 4, 3) and cost.shape == (3,)
    for t in range(3):
        one, _, c1 = refine_mu(y[t], s.mu + 0.01)
        torch.testing.assert_close(mu[t], one, rtol=0, atol=1e-8)
        assert float(cost[t]) == pytest.approx(float(c1), rel=1e-10)


def test_duplicate_targets_are_separated_not_a_crash():
    # two estimates on the very same atom (a singular Gram) are the case the
    # duplicate separation exists for; the cost of the start must not raise
    shape = (16, 128, 64)
    cells = torch.tensor([2 * math.pi / n for n in shape], dtype=torch.float64)
    mu = torch.tensor([[0.3, -0.2, 0.1], [0.3, -0.2, 0.1]], dtype=torch.float64)
    mu[1, 2] += 0.5 * cells[2]
    gains = torch.tensor([1.0, 0.8j], dtype=torch.complex128)
    y = simulate_tensor(mu, gains, shape, 20.0, seed=4)[0]
    start = mu.mean(0).expand(2, 3).clone()
    assert math.isfinite(float(vp_cost(y, start)))
    est = refine(y, start, n_targets=2)
    assert est.n_targets == 2
    err = _matched_errors(est.mu, mu, cells ** 2)
    assert float((err.abs() / cells).max()) < 0.05


def test_atoms_the_data_do_not_support_are_pruned_and_the_work_is_bounded():
    # issue 7 item 8: at low SNR the per-mode orders of the PLAIN demo drop and
    # the fusion fills the requested 6 targets with atoms that fit noise; the
    # refinement used to drag them about (up to 8.7x the CRB, 11 s)
    from domains.isac.metrics import match

    # the demo's targets and compression on a quarter of its symbols (test time)
    s = get_scenario("plain-demo")
    shape = (16, 180, 140)
    band = s.radar.band(s.compression[1], s.max_range_m)
    y = simulate_tensor(s.mu, s.gains, shape, -21.0, seed=1)[0]
    p = plain(y, 6, compression=s.compression, center=band["center_mu"])
    cells = torch.tensor([2 * math.pi / n for n in shape], dtype=torch.float64)
    assert match(p.mu, s.mu, scale=cells, gate=0.5).n_false >= 1
    est = refine(y, p, n_targets=6)
    m = match(est.mu, s.mu, scale=cells, gate=0.5)
    assert m.n_false == 0 and est.extra["pruned"] >= 1
    assert len(m.pairs) == len(match(p.mu, s.mu, scale=cells, gate=0.5).pairs)  # true ones kept
    assert est.extra["lm_iterations"] <= 4 * 50
