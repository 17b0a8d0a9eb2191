"""Unit maps of the OFDM radar: exact round trips, Jacobians, resolution and limits."""

import math

import pytest
import torch

from domains.isac.physics import SPEED_OF_LIGHT, OFDMRadar, wrap
from domains.isac.scenarios import get_scenario
from shared.errors import BadInput

C = SPEED_OF_LIGHT


@pytest.mark.parametrize("geometry", ["monostatic", "one-way"])
@pytest.mark.parametrize("reference", ["broadside", "axis"])
def test_round_trip(geometry, reference):
    radar = OFDMRadar(28e9, 120e3, 16, 128, 64, geometry=geometry, angle_reference=reference)
    lim = radar.limits()["unambiguous"]
    angle = torch.tensor([-60.0, -10.0, 0.0, 33.3, 60.0], dtype=torch.float64)
    if reference == "axis":
        angle = angle + 90.0
    rng = torch.linspace(0.0, 0.99 * lim["range_m"][1], 5, dtype=torch.float64)
    vel = torch.linspace(0.99 * lim["velocity_mps"][0], 0.99 * lim["velocity_mps"][1], 5,
                         dtype=torch.float64)
    mu = radar.to_mu(angle, rng, vel)
    assert mu.shape == (5, 3)
    assert bool((mu > -math.pi).all() and (mu <= math.pi).all())
    back = radar.from_mu(mu)
    torch.testing.assert_close(back, torch.stack([angle, rng, vel], -1), rtol=0, atol=1e-9)
    # and the other way round, from normalized frequencies
    mu2 = torch.tensor([[0.7, -0.3, 0.2], [-2.5, 0.4, -3.0]], dtype=torch.float64)
    torch.testing.assert_close(radar.to_mu(*radar.from_mu(mu2).unbind(-1)), mu2, rtol=0, atol=1e-12)


def test_monostatic_formulas_of_the_brief():
    radar = OFDMRadar(28e9, 120e3, 16, 128, 64)
    t = (1 + 1 / 14) / 120e3
    mu = radar.to_mu(torch.tensor(30.0, dtype=torch.float64), torch.tensor(100.0, dtype=torch.float64),
                     torch.tensor(10.0, dtype=torch.float64))
    assert mu[0].item() == pytest.approx(math.pi * 0.5, abs=1e-12)
    assert mu[1].item() == pytest.approx(-4 * math.pi * 120e3 * 100.0 / C, abs=1e-12)
    assert mu[2].item() == pytest.approx(4 * math.pi * 28e9 * t * 10.0 / C, abs=1e-12)
    # brief section 12: R = 10/100/200 m -> -0.050/-0.503/-1.006 rad
    assert radar.range_to_mu(torch.tensor([10.0, 100.0, 200.0])).tolist() == pytest.approx(
        [-0.0503, -0.503, -1.006], abs=1e-3)


def test_jacobian_matches_finite_differences():
    radar = OFDMRadar(26e9, 60e3, 16, 180, 560, geometry="one-way", angle_reference="axis")
    phys = torch.tensor([[54.0, 111.0, 1.4], [126.0, 333.0, -4.0]], dtype=torch.float64)
    jac = radar.jacobian(phys)
    h = torch.tensor([1e-6, 1e-5, 1e-6], dtype=torch.float64)
    for m in range(3):
        dp = torch.zeros(3, dtype=torch.float64)
        dp[m] = h[m]
        f = lambda p: radar.to_mu(*p.unbind(-1))[..., m]
        fd = (f(phys + dp) - f(phys - dp)) / (2 * h[m])
        torch.testing.assert_close(jac[:, m], fd, rtol=1e-6, atol=0)


def test_limits_match_the_brief_table():
    lim = OFDMRadar(28e9, 120e3, 16, 128, 64).limits()
    assert lim["resolution"]["range_m"] == pytest.approx(9.76, abs=0.01)
    assert lim["resolution"]["velocity_mps"] == pytest.approx(9.37, abs=0.01)
    assert lim["resolution"]["sin"] == pytest.approx(0.125)
    assert lim["unambiguous"]["range_m"][1] == pytest.approx(1249, abs=1)
    assert lim["unambiguous"]["velocity_mps"][1] == pytest.approx(300, abs=0.5)
    assert lim["range_in_cp_m"] == pytest.approx(89, abs=0.5)
    comp = OFDMRadar(28e9, 120e3, 16, 128, 64).limits((1, 2, 4))
    assert comp["compressed_shape"] == [16, 64, 16]
    assert comp["unambiguous"]["range_m"][1] == pytest.approx(625, abs=1)
    assert comp["unambiguous"]["velocity_mps"][1] == pytest.approx(75, abs=0.1)
    # compression keeps the resolution
    assert comp["resolution"] == lim["resolution"]


def test_plain_demo_limits_one_way():
    s = get_scenario("plain-demo")
    lim = s.limits()
    assert s.radar.symbol_duration_s == pytest.approx(17.857e-6, rel=1e-4)
    assert lim["raw"]["resolution"]["range_m"] == pytest.approx(27.8, abs=0.05)
    assert lim["raw"]["resolution"]["velocity_mps"] == pytest.approx(1.15, abs=0.01)
    band = lim["compressed"]["unambiguous"]["range_band_m"]
    assert band[1] - band[0] == pytest.approx(1249, abs=1)
    # centred on the scenario's [0, 450] m: reaches 225 + 1249 / 2 m
    assert lim["compressed"]["unambiguous"]["range_m"] == pytest.approx([0.0, 225 + 1249 / 2], abs=1)
    assert lim["compressed"]["unambiguous"]["velocity_mps"][1] == pytest.approx(23.1, abs=0.05)
    assert lim["compressed"]["compressed_shape"] == [16, 45, 40]


def test_range_read_out_interval_starts_at_min_range():
    radar = OFDMRadar(28e9, 120e3, 16, 128, 64)
    r_max = radar.limits()["unambiguous"]["range_m"][1]
    mu = radar.range_to_mu(torch.tensor([-0.5, 3.0], dtype=torch.float64))
    # a band starting at -5 m keeps -0.5 m; the default [0, R_max) reads R_max - 0.5
    torch.testing.assert_close(radar.mu_to_range(mu, min_range_m=-5.0),
                               torch.tensor([-0.5, 3.0], dtype=torch.float64), rtol=0, atol=1e-9)
    assert radar.mu_to_range(mu)[0].item() == pytest.approx(r_max - 0.5, abs=1e-9)
    # the interval is [min, min + R_max): a band from 100 m reads 3 m as 3 + R_max
    assert radar.mu_to_range(mu, min_range_m=100.0)[1].item() == pytest.approx(3.0 + r_max, abs=1e-9)
    phys = torch.tensor([[10.0, -0.5, 4.0]], dtype=torch.float64)
    assert radar.from_mu(radar.to_mu(*phys.unbind(-1)), min_range_m=-5.0)[0, 1].item() == pytest.approx(-0.5)


def test_plain_demo_follows_the_reference_code():
    """Brief section 8: distances rounded to the FFT-225 sample taps, UMa-LOS path-loss gains."""
    s = get_scenario("plain-demo")
    tap = C / (225 * 60e3)  # one sample of the 1.25x-oversampled 180-subcarrier grid, 22.2 m
    assert s.extra["tap_m"] == pytest.approx(tap)
    d = s.targets.range_m
    # linspace(50, 400, 6) = 50, 120, ..., 400 m rounded to whole taps
    taps = [round(x / tap) for x in torch.linspace(50.0, 400.0, 6, dtype=torch.float64).tolist()]
    assert taps == [2, 5, 9, 12, 15, 18]
    torch.testing.assert_close(d, torch.tensor(taps, dtype=torch.float64) * tap, rtol=0, atol=1e-9)
    # PL = 28 + 22 log10 d + 20 log10 fc + 4 * 0.74 dB: |b_p|^2 / |b_0|^2 = (d_0 / d_p)^2.2,
    # the common terms cancel in the mean-|b|^2 = 1 rescaling
    g2 = s.targets.gains.abs() ** 2
    assert g2.mean().item() == pytest.approx(1.0, rel=1e-12)
    torch.testing.assert_close(g2 / g2[0], (d[0] / d) ** 2.2, rtol=1e-12, atol=0)


@pytest.mark.parametrize("name", ["default", "plain-demo", "close"])
def test_scenarios_are_inside_their_limits(name):
    s = get_scenario(name)
    lim = s.limits()["compressed"]
    phys = s.targets.physical
    assert s.mu.shape == (s.n_targets, 3)
    torch.testing.assert_close(s.radar.from_mu(s.mu), phys, rtol=0, atol=1e-9)
    # every compressed frequency stays unambiguous
    factors = torch.tensor(lim["compression_factors"], dtype=torch.float64)
    assert bool(((s.mu * factors).abs() < math.pi).all())
    assert bool((phys[:, 1] < lim["unambiguous"]["range_m"][1]).all())
    if name != "plain-demo":  # PLAIN removes the common delay; ours keep ranges inside the CP
        assert bool((phys[:, 1] < lim["range_in_cp_m"]).all())


def test_close_is_a_quarter_cell_apart():
    s = get_scenario("close")
    d = (s.mu[0] - s.mu[1]).abs()
    cells = torch.tensor([2 * math.pi / n for n in s.shape], dtype=torch.float64)
    assert d[2] / cells[2] == pytest.approx(0.25, abs=1e-9)
    assert bool((d[:2] / cells[:2] > 2).all())
    for dim, m in (("range", 1), ("angle", 0)):
        s = get_scenario("close", dimension=dim)
        d = (s.mu[0] - s.mu[1]).abs()
        assert d[m] / cells[m] == pytest.approx(0.25, rel=1e-3)


def test_unknown_scenario_is_bad_input():
    with pytest.raises(BadInput, match="scenario"):
        get_scenario("nope")


def test_wrap_keeps_pi():
    x = torch.tensor([math.pi, -math.pi, 3 * math.pi, 0.5 - 2 * math.pi], dtype=torch.float64)
    torch.testing.assert_close(wrap(x), torch.tensor([math.pi, math.pi, math.pi, 0.5], dtype=torch.float64))
