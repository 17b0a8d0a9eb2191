"""PLAIN: compression, per-mode estimation, fusion; exactness, accuracy, bad input."""

import math

import pytest
import torch

from domains.isac.phase import wrap
from scipy.optimize import linear_sum_assignment

from domains.isac.crb import crb_mu
from domains.isac.plain import averaging_gain, compress, plain, plain_batch
from domains.isac.plain.modal import estimate_order, information_criterion
from domains.isac.scenarios import get_scenario
from domains.isac.simulate import noise_variance, simulate_tensor, synthesize
from shared.errors import BadInput



def _matched_errors(mu_hat, mu_true, weight=None):
    """Wrapped errors of the optimally assigned estimates, ordered like the truth."""
    assert mu_hat.shape == mu_true.shape
    d = wrap(mu_hat[:, None, :] - mu_true[None])
    cost = (d ** 2 / (1.0 if weight is None else weight[None])).sum(-1)
    rows, cols = linear_sum_assignment(cost.numpy())
    out = torch.empty_like(mu_true)
    out[torch.as_tensor(cols)] = d[rows, cols]
    return out


@pytest.fixture(scope="module")
def default():
    return get_scenario("default")


@pytest.mark.parametrize("compression", [None, ("averaging", (1, 2, 2)), ("decimation", (1, 2, 2)),
                                         ("averaging", (1, 4, 2))])
@pytest.mark.parametrize("method", ["root-music", "esprit", "esprit-music"])
def test_noiseless_recovery_default(default, compression, method):
    y = synthesize(default.mu, default.gains, default.shape)
    est = plain(y, default.n_targets, compression=compression, method=method)
    err = _matched_errors(est.mu, default.mu)
    assert float(err.abs().max()) < 1e-6
    # amplitudes refit on the full tensor
    order = torch.as_tensor(linear_sum_assignment(
        (est.mu[:, None] - default.mu[None]).abs().sum(-1).numpy())[1])
    gains = torch.empty_like(est.gains)
    gains[order] = est.gains
    assert float((gains - default.gains).abs().max()) < 1e-6
    assert est.mu.dtype == torch.float64 and est.gains.dtype == torch.complex128


@pytest.mark.parametrize("fusion", ["omp", "omp-tucker", "ls"])
def test_noiseless_model_order_and_fusion(default, fusion):
    y = synthesize(default.mu, default.gains, default.shape)
    est = plain(y, None, fusion=fusion)
    assert est.n_targets == 4
    assert float(_matched_errors(est.mu, default.mu).abs().max()) < 1e-6
    # one angle, one range, one velocity is shared by two targets: 3 candidates per mode
    assert est.extra["mode_orders"] == [3, 3, 3]


def test_averaging_keeps_vandermonde_structure():
    mu = torch.tensor([0.31, -0.9, 2.0], dtype=torch.float64)
    shape, factors = (12, 30, 28), (2, 3, 4)
    y = synthesize(mu[None], torch.ones(1, dtype=torch.complex128), shape)
    yc = compress(y, "averaging", factors)
    assert yc.shape == (6, 10, 7)
    want = torch.ones(1, dtype=torch.complex128)
    mus = []
    for m in range(3):
        want = want * averaging_gain(mu[m], factors[m])
        mus.append(wrap(factors[m] * mu[m]))
    expected = synthesize(torch.stack(mus)[None], want, yc.shape)
    torch.testing.assert_close(yc, expected, rtol=0, atol=1e-13)
    # the gain is the closed form (1/D) e^{j mu (D-1)/2} sin(D mu / 2) / sin(mu / 2)
    d, w = 4, 0.3
    g = averaging_gain(torch.tensor(w, dtype=torch.float64), d)
    closed = math.sin(d * w / 2) / (d * math.sin(w / 2))
    assert abs(complex(g) - closed * complex(math.cos(w * (d - 1) / 2), math.sin(w * (d - 1) / 2))) < 1e-14


def test_averaging_divides_the_noise_variance():
    g = torch.Generator().manual_seed(0)
    n = torch.randn((2, 64, 256), dtype=torch.complex128, generator=g)
    nc = compress(n, "averaging", (1, 4, 2))
    assert float((nc.abs() ** 2).mean()) == pytest.approx(1 / 8, rel=0.05)
    assert compress(n, "decimation", (1, 4, 2)).shape == (2, 16, 128)


def test_information_criteria_count_the_signal_eigenvalues():
    lam = torch.tensor([10.0, 5.0, 1.02, 1.0, 0.99, 0.98], dtype=torch.float64)
    for crit in ("aic", "mdl"):
        ic = information_criterion(lam, 1000, crit)
        assert ic.shape == (5,)
        assert int(estimate_order(lam, 1000, crit)) == 2
    # round-off below 1e-11 of the largest eigenvalue is not signal
    lam0 = torch.tensor([4.0, 2.0, 1e-16, 3e-17, 1e-18], dtype=torch.float64)
    assert int(estimate_order(lam0, 500, "aic")) == 2


@pytest.mark.parametrize("method", ["root-music", "esprit-music"])
def test_rmse_within_twice_the_crb_at_10_db(default, method):
    snr, n_trials = 10.0, 8
    y = simulate_tensor(default.mu, default.gains, default.shape, snr, n_trials=n_trials, seed=7)
    crb = crb_mu(default.mu, default.gains, default.shape, noise_variance(default.gains, snr))
    errs = []
    for est in plain_batch(y, default.n_targets, method=method):
        assert est.n_targets == default.n_targets
        errs.append(_matched_errors(est.mu, default.mu, crb))
    rmse = torch.stack(errs).pow(2).mean(0).sqrt()
    ratio = rmse / crb.sqrt()
    assert bool((ratio <= 2.0).all()), ratio


def test_model_order_with_noise(default):
    y = simulate_tensor(default.mu, default.gains, default.shape, 0.0, n_trials=2, seed=1)
    for t in range(2):
        est = plain(y[t], None)
        assert est.n_targets == 4
        # the noise-variance estimate is the per-entry variance of the raw tensor
        assert est.extra["noise_var"] == pytest.approx(noise_variance(default.gains, 0.0), rel=0.1)


def test_center_shifts_the_unambiguous_interval():
    # mu_F = -2.0 aliases under a factor 2 (|2 mu| > pi) unless the band is centred on it
    mu = torch.tensor([[0.4, -2.0, 0.1], [-0.7, -2.3, -0.2]], dtype=torch.float64)
    b = torch.tensor([1.0, 1.0j], dtype=torch.complex128)
    y = synthesize(mu, b, (8, 32, 16))
    bad = plain(y, 2, compression=("averaging", (1, 2, 1)))
    assert float(_matched_errors(bad.mu, mu).abs().max()) > 0.5
    good = plain(y, 2, compression=("averaging", (1, 2, 1)), center=(0.0, -2.0, 0.0))
    assert float(_matched_errors(good.mu, mu).abs().max()) < 1e-6


@pytest.mark.parametrize("order", ["mdl", "true", 3])
def test_model_order_rules(default, order):
    y = simulate_tensor(default.mu, default.gains, default.shape, 10.0, seed=2)[0]
    est = plain(y, default.n_targets, order=order)
    assert est.n_targets == 4
    crb = crb_mu(default.mu, default.gains, default.shape, noise_variance(default.gains, 10.0))
    # with order 'true' (4 per mode) each mode has a spare candidate; fusion ignores it
    assert bool((_matched_errors(est.mu, default.mu, crb).abs() < 5 * crb.sqrt()).all())


def test_keeps_dtype_complex64():
    s = get_scenario("default")
    y = synthesize(s.mu, s.gains, s.shape, dtype=torch.complex64)
    est = plain(y, 4)
    assert est.mu.dtype == torch.float32 and est.gains.dtype == torch.complex64
    assert float(_matched_errors(est.mu.double(), s.mu).abs().max()) < 1e-3


@pytest.mark.parametrize("kwargs, where", [
    (dict(n_targets=4, compression=("averaging", (4, 1, 1))), "compression.factors[0]"),
    (dict(n_targets=4, compression=("decimation", (1, 1, 16))), "compression.factors[2]"),
    (dict(n_targets=16), "n_targets"),
    (dict(n_targets=0), "n_targets"),
    (dict(n_targets=2, compression=("smoothing", (1, 2, 2))), "compression.method"),
    (dict(n_targets=2, compression=("averaging", (1, 0, 2))), "compression.factors"),
    (dict(n_targets=2, fusion="magic"), "fusion"),
    (dict(n_targets=2, method="capon"), "method"),
    (dict(n_targets=None, order="true"), "order"),
    (dict(n_targets=2, order="bic"), "order"),
])
def test_bad_configuration(kwargs, where):
    y = synthesize(torch.zeros(1, 3, dtype=torch.float64), torch.ones(1, dtype=torch.complex128),
                   (16, 32, 16))
    with pytest.raises(BadInput) as err:
        plain(y, **kwargs)
    assert str(err.value).startswith(where)


@pytest.mark.parametrize("y, what", [
    (torch.ones(4, 8, 8, dtype=torch.float64), "complex"),
    (torch.ones(4, 8, dtype=torch.complex128), "3 modes"),
    (torch.full((4, 8, 8), complex("nan"), dtype=torch.complex128), "NaN"),
    (torch.ones(1, 8, 8, dtype=torch.complex128), "at least 2"),
])
def test_bad_tensor(y, what):
    with pytest.raises(BadInput, match=what):
        plain(y, 1)


def test_long_ranges_need_the_centred_band():
    # 28 GHz / 120 kHz: with a factor 2 on the subcarriers, the symmetric map
    # reaches 312 m, the centred band the whole 625 m
    from domains.isac.physics import OFDMRadar

    radar = OFDMRadar(28e9, 120e3, 8, 64, 16)
    lim = radar.limits((1, 2, 1))["unambiguous"]
    assert lim["range_m"] == pytest.approx([0.0, 624.6], abs=0.1)
    band = radar.band((1, 2, 1))
    assert band["center_mu"][1] == pytest.approx(-math.pi / 2)
    mu = radar.to_mu(torch.tensor([-20.0, 30.0], dtype=torch.float64),
                     torch.tensor([150.0, 500.0], dtype=torch.float64),
                     torch.tensor([5.0, -40.0], dtype=torch.float64))
    y = synthesize(mu, torch.tensor([1.0, 1.0j], dtype=torch.complex128), radar.shape)
    est = plain(y, 2, compression=("averaging", (1, 2, 1)), center=band["center_mu"])
    got = radar.from_mu(est.mu)[:, 1].sort().values
    assert got.tolist() == pytest.approx([150.0, 500.0], abs=1e-4)


@pytest.mark.parametrize("options", [{}, {"method": "esprit"}, {"order": "true", "fusion": "ls"}])
def test_batch_equals_an_independent_per_trial_computation(default, options):
    # the batched front end (stacked covariances, SVD eigenvectors, batched
    # companion roots) against the per-trial pieces computed on their own:
    # eigh, the single-subspace root-MUSIC / ESPRIT
    from domains.isac.plain.modal import _polish, esprit, mode_covariance, root_music

    y = simulate_tensor(default.mu, default.gains, default.shape, 0.0, n_trials=3, seed=9)
    batch = plain_batch(y, default.n_targets, **options)
    assert len(batch) == 3
    factors = (1, 2, 2)
    for t in range(3):
        yc = compress(y[t], "averaging", factors)
        orders = []
        for m in range(3):
            r, n_s = mode_covariance(yc, m)
            lam, vec = torch.linalg.eigh(r)
            lam, vec = lam.flip(-1).clamp_min(0), vec.flip(-1)
            k = default.n_targets if options.get("order") == "true" else \
                int(estimate_order(lam, n_s, "aic", max_order=default.n_targets))
            k = min(k, r.shape[0] - 1)
            orders.append(k)
            vs = vec[:, :k]
            mu = esprit(vs) if options.get("method") == "esprit" else _polish(root_music(vs, k), vs)
            got = batch[t].extra["candidates"][m] * factors[m]
            torch.testing.assert_close(torch.sort(torch.remainder(got, 2 * math.pi)).values,
                                       torch.sort(torch.remainder(mu, 2 * math.pi)).values,
                                       rtol=0, atol=1e-7)
        assert batch[t].extra["mode_orders"] == orders
        # and the fused targets are the truth, to well under a cell at 0 dB
        cells = torch.tensor([2 * math.pi / n for n in default.shape], dtype=torch.float64)
        err = _matched_errors(batch[t].mu, default.mu, cells ** 2)
        assert float((err.abs() / cells).max()) < 0.1


def test_batch_bad_input():
    with pytest.raises(BadInput, match="trials"):
        plain_batch(torch.ones(2, 3, dtype=torch.complex128))
    y = torch.ones(2, 4, 8, 8, dtype=torch.complex128)
    y[1, 0, 0, 0] = complex("nan")
    with pytest.raises(BadInput, match="NaN"):
        plain_batch(y, 1)
