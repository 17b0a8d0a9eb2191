"""Monte Carlo driver, runtime sweep and range-Doppler map of domains.isac.evaluate."""

import json
import math

import pytest
import torch

from domains.isac.evaluate import (
    monte_carlo, range_doppler_map, runtime_scaling, spread_targets, to_records,
)
from domains.isac.physics import OFDMRadar
from domains.isac.types import Estimate

SHAPE = (4, 8, 6)
MU = torch.tensor([(0.5, -0.4, 0.3), (-0.7, 0.9, -1.0)], dtype=torch.float64)
GAINS = torch.tensor([1.0 + 0.0j, 0.0 + 1.0j], dtype=torch.complex128)
BIAS = torch.tensor([0.01, -0.02, 0.03], dtype=torch.float64)


def oracle(Y, n_targets):
    return Estimate(mu=MU.clone(), gains=GAINS.clone())


def biased(Y, n_targets):
    return Estimate(mu=MU + BIAS, gains=GAINS.clone())


def random_sign_bias(Y, n_targets):
    # zero-mean errors of known magnitude: the RMSE is still |BIAS|
    sign = 1.0 if float(Y[0, 0, 0].real) > 0 else -1.0
    return Estimate(mu=(MU + sign * BIAS)[[1, 0]], gains=GAINS.clone())


def misses_one(Y, n_targets):
    return Estimate(mu=MU[:1].clone(), gains=GAINS[:1].clone())


def adds_false(Y, n_targets):
    mu = torch.cat([MU, torch.tensor([[2.5, 2.5, 2.5]], dtype=torch.float64)])
    return Estimate(mu=mu, gains=torch.ones(3, dtype=torch.complex128))


def broken(Y, n_targets):
    raise RuntimeError("boom")


@pytest.fixture(scope="module")
def results():
    radar = OFDMRadar(28e9, 120e3, *SHAPE)
    est = {"oracle": oracle, "biased": biased, "random_sign": random_sign_bias,
           "misses_one": misses_one, "adds_false": adds_false, "broken": broken}
    return monte_carlo(est, MU, GAINS, SHAPE, [0.0, 20.0], n_trials=6, seed=1, radar=radar)


def test_oracle_has_zero_error_and_full_detection(results):
    r = results["methods"]["oracle"]
    assert r["rmse_mu"] == [[0.0, 0.0, 0.0]] * 2
    assert r["rmse_physical"] == [[0.0, 0.0, 0.0]] * 2
    assert r["p_correct_order"] == [1.0, 1.0] and r["p_success"] == [1.0, 1.0]
    assert r["mean_misses"] == [0.0, 0.0] and r["mean_false"] == [0.0, 0.0]
    assert r["ospa_cells"] == [0.0, 0.0]
    assert all(t >= 0 for t in r["runtime_s"])


@pytest.mark.parametrize("name", ["biased", "random_sign"])
def test_known_bias_gives_rmse_equal_to_bias(results, name):
    r = results["methods"][name]
    for row in r["rmse_mu"]:
        torch.testing.assert_close(torch.tensor(row, dtype=torch.float64), BIAS.abs(), atol=1e-12, rtol=0)
    for rows in r["rmse_mu_per_target"]:
        torch.testing.assert_close(torch.tensor(rows, dtype=torch.float64), BIAS.abs().expand(2, 3),
                                   atol=1e-12, rtol=0)
    # physical units: range and velocity maps are affine, so the error is bias / slope
    radar = OFDMRadar(28e9, 120e3, *SHAPE)
    s = radar.slopes
    phys = torch.tensor(r["rmse_physical"][0], dtype=torch.float64)
    assert phys[1].item() == pytest.approx(abs(BIAS[1].item() / s[1]), rel=1e-9)
    assert phys[2].item() == pytest.approx(abs(BIAS[2].item() / s[2]), rel=1e-9)
    # angle: the exact inverse, RMS over the two targets
    d_ang = radar.mu_to_angle(MU[:, 0] + BIAS[0]) - radar.mu_to_angle(MU[:, 0])
    assert phys[0].item() == pytest.approx(d_ang.square().mean().sqrt().item(), rel=1e-9)
    # OSPA with p = 2 of a constant offset: its length in Rayleigh cells
    cells = torch.tensor([2 * math.pi / n for n in SHAPE], dtype=torch.float64)
    assert r["ospa_cells"][0] == pytest.approx((BIAS / cells).norm().item(), rel=1e-9)


def test_misses_and_false_targets_are_counted(results):
    m = results["methods"]["misses_one"]
    assert m["mean_misses"] == [1.0, 1.0] and m["mean_false"] == [0.0, 0.0]
    assert m["p_correct_order"] == [0.0, 0.0] and m["p_success"] == [0.0, 0.0]
    # no successful trial: RMSE on successful trials is NaN; matched pairs are exact
    assert all(math.isnan(v) for v in m["rmse_mu"][0])
    assert m["rmse_mu_matched"][0] == [0.0, 0.0, 0.0]
    # OSPA: one of n = 2 targets missing, c = 1 cell, p = 2 -> sqrt(1/2)
    assert m["ospa_cells"][0] == pytest.approx(math.sqrt(0.5))
    f = results["methods"]["adds_false"]
    assert f["mean_misses"] == [0.0, 0.0] and f["mean_false"] == [1.0, 1.0]
    # a false target fails the trial even with every true target found (exactly)
    assert f["p_success"] == [0.0, 0.0] and f["n_success"] == [0, 0]
    assert f["rmse_mu_matched"][0] == [0.0, 0.0, 0.0]
    assert f["ospa_cells"][0] == pytest.approx(math.sqrt(1 / 3))


def test_physical_range_error_wraps_across_zero():
    # truth at +0.2 m, estimate at -0.2 m: 0.4 m apart, although -0.2 m reads
    # as R_max - 0.2 m on the default [0, R_max) interval
    radar = OFDMRadar(28e9, 120e3, *SHAPE)
    r_max = radar.limits()["unambiguous"]["range_m"][1]
    f64 = dict(dtype=torch.float64)
    mu_true = radar.to_mu(torch.tensor([10.0], **f64), torch.tensor([0.2], **f64), torch.tensor([5.0], **f64))
    mu_hat = radar.to_mu(torch.tensor([10.0], **f64), torch.tensor([-0.2], **f64), torch.tensor([5.0], **f64))
    assert radar.from_mu(mu_hat)[0, 1].item() == pytest.approx(r_max - 0.2)

    def below_zero(Y, n_targets):
        return Estimate(mu=mu_hat.clone(), gains=GAINS[:1].clone())

    r = monte_carlo({"m": below_zero}, mu_true, GAINS[:1], SHAPE, [20.0], n_trials=2, seed=1, radar=radar)
    phys = r["methods"]["m"]["rmse_physical"][0]
    assert phys[1] == pytest.approx(0.4, rel=1e-6)
    assert phys[0] == pytest.approx(0.0, abs=1e-9) and phys[2] == pytest.approx(0.0, abs=1e-9)


def test_failing_estimator_is_scored_not_fatal(results):
    b = results["methods"]["broken"]
    assert b["n_errors"] == [6, 6] and b["first_error"][0] == "RuntimeError: boom"
    assert b["mean_misses"] == [2.0, 2.0]


def test_failing_batch_form_is_recorded_and_rerun_trial_by_trial():
    from domains.isac.figures import _failure_notes
    from domains.isac.types import BatchedEstimator

    def bad_batch(Y, n_targets):
        raise RuntimeError("batch kernel failed")

    est = BatchedEstimator(oracle, bad_batch)
    r = monte_carlo({"oracle": est}, MU, GAINS, SHAPE, [10.0, 20.0], n_trials=3, seed=1, crb_fn=None,
                    tied_crb_fn=None)
    m = r["methods"]["oracle"]
    assert m["n_batch_errors"] == [1, 1] and m["first_batch_error"][0] == "RuntimeError: batch kernel failed"
    assert m["n_errors"] == [0, 0] and m["p_success"] == [1.0, 1.0]  # the single form scored every trial
    notes = "\n".join(_failure_notes(r))
    assert "2 batch call(s) raised" in notes and "batch kernel failed" in notes
    clean = monte_carlo({"oracle": oracle}, MU, GAINS, SHAPE, [10.0], n_trials=2, seed=1, crb_fn=None,
                        tied_crb_fn=None)
    assert _failure_notes(clean) == []


def test_crb_and_serialisation(results):
    crb0, crb20 = (torch.tensor(c, dtype=torch.float64) for c in results["crb"]["rmse_mu"])
    # the CRB scales with the noise variance: 20 dB is 10x smaller in std
    torch.testing.assert_close(crb0 / crb20, torch.full((3,), 10.0, dtype=torch.float64), rtol=1e-9, atol=0)
    assert len(results["crb"]["rmse_physical"]) == 2
    text = json.dumps(results)  # plain lists and floats only
    assert json.loads(text)["snr_db"] == [0.0, 20.0]
    rows = to_records(results)
    assert len(rows) == 6 * 2
    row = next(r for r in rows if r["method"] == "biased" and r["snr_db"] == 20.0)
    assert row["rmse_mu_range"] == pytest.approx(0.02)
    assert row["crb_mu_velocity"] == pytest.approx(results["crb"]["rmse_mu"][1][2])


def test_trials_are_seeded_and_shared_between_methods():
    seen = []

    def record(Y, n_targets):
        seen.append(Y.clone())
        return oracle(Y, n_targets)

    monte_carlo({"a": record, "b": record}, MU, GAINS, SHAPE, [10.0], n_trials=3, seed=5,
                crb_fn=None)
    assert len(seen) == 6
    for t in range(3):
        assert torch.equal(seen[t], seen[3 + t])
    again = []
    monte_carlo({"a": lambda Y, k: (again.append(Y.clone()), oracle(Y, k))[1]}, MU, GAINS, SHAPE,
                [10.0], n_trials=3, seed=5, crb_fn=None, max_batch_entries=SHAPE[0] * SHAPE[1] * SHAPE[2])
    # chunking changes the per-chunk seeds, but every trial is still a fresh draw
    assert not torch.equal(again[0], again[1])


def test_runtime_scaling_rows():
    rows = runtime_scaling({"oracle": oracle}, [(4, 8, 6), (4, 16, 6)], n_targets=2,
                           n_repeats=2, skip=lambda name, shape: shape[1] > 8)
    assert [r["skipped"] for r in rows] == [False, True]
    assert rows[0]["repeats"] == 2 and rows[0]["n_entries"] == 192
    assert math.isnan(rows[1]["seconds_median"])


def test_runtime_is_a_warm_median_of_five_not_a_cold_call(monkeypatch):
    # a fake clock: the estimator's n-th call takes DUR[n] seconds; the first
    # (cold) call is the slowest and must not be counted, the median is real
    import shared.timing

    clock = [0.0]
    dur = iter([100.0, 1.0, 5.0, 2.0, 4.0, 3.0, 7.0, 7.0])
    monkeypatch.setattr(shared.timing.time, "perf_counter", lambda: clock[0])

    def slow(Y, k):
        clock[0] += next(dur)
        return oracle(Y, k)

    rows = runtime_scaling({"slow": slow}, [(4, 8, 6)], n_targets=2)
    assert rows[0]["repeats"] == 5
    assert rows[0]["seconds_median"] == 3.0 and rows[0]["seconds_max"] == 5.0


def test_spread_targets_are_separated():
    mu = spread_targets(4, span=1.2, seed=3)
    assert mu.shape == (4, 3)
    for m in range(3):
        v = mu[:, m].sort().values
        torch.testing.assert_close(v, torch.linspace(-1.2, 1.2, 4, dtype=torch.float64))


def test_range_doppler_map_peaks_at_the_target():
    radar = OFDMRadar(28e9, 120e3, 4, 32, 16)
    rng, vel = 30.0, 40.0
    mu = radar.to_mu(torch.tensor([10.0]), torch.tensor([rng]), torch.tensor([vel]))
    Y = torch.einsum("ak,bk,ck->abc", *[torch.exp(1j * torch.arange(n, dtype=torch.float64)[:, None] * mu[:, m])
                                        for m, n in enumerate((4, 32, 16))])
    out = range_doppler_map(Y, pad=4, radar=radar)
    P = out["power_db"]
    assert P.shape == (128, 64) and P.max().item() == 0.0
    i, j = divmod(int(P.argmax()), P.shape[1])
    cell_r = radar.limits()["resolution"]["range_m"] / 4
    cell_v = radar.limits()["resolution"]["velocity_mps"] / 4
    assert abs(out["range_m"][i].item() - rng) <= cell_r
    assert abs(out["velocity_mps"][j].item() - vel) <= cell_v
    assert torch.all(out["range_m"].diff() > 0) and torch.all(out["mu_doppler"].diff() > 0)


def test_snr_threshold_is_the_lowest_snr_from_which_on_a_method_works():
    from domains.isac.evaluate import snr_threshold

    crb = [[1.0, 1.0, 1.0]] * 5
    res = {"snr_db": [-10.0, -5.0, 0.0, 5.0, 10.0], "crb": {"rmse_mu": crb},
           "methods": {
               # -10 fails on P, -5 passes: threshold -5
               "a": {"p_success": [0.5, 0.95, 1.0, 1.0, 1.0], "n_success": [5, 9, 10, 10, 10],
                     "rmse_mu": [[1.0] * 3, [1.9] * 3, [1.0] * 3, [1.0] * 3, [1.0] * 3]},
               # passes at -10 but fails 2x the CRB at 0 dB: threshold 5
               "b": {"p_success": [1.0] * 5, "n_success": [10] * 5,
                     "rmse_mu": [[1.0] * 3, [1.0] * 3, [1.0, 2.5, 1.0], [1.0] * 3, [1.0] * 3]},
               "c": {"p_success": [1.0] * 5, "n_success": [10] * 5,
                     "rmse_mu": [[1.0] * 3] * 4 + [[3.0] * 3]}}}
    assert snr_threshold(res, "a") == -5.0
    assert snr_threshold(res, "b") == 5.0
    assert snr_threshold(res, "c") == math.inf


def test_the_report_says_why_an_estimator_sits_below_a_bound():
    from domains.isac.figures import _below_bound_notes

    mc = {"n_targets": 4, "crb": {"rmse_physical": [[1.0, 1.0, 1.0]]},
          "crb_tied": {"rmse_physical": [[0.8, 1.0, 1.0]]},
          "methods": {"plain": {"n_success": [200], "rmse_physical": [[0.85, 1.0, 0.5]]}}}
    notes = "\n".join(_below_bound_notes(mc, 0))
    assert "plain angle: 0.85x the 3K-parameter CRB" in notes and "share this coordinate" in notes
    assert "plain velocity: 0.50x even the tied bound" in notes and "range" not in notes
