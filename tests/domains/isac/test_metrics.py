"""Assignment, OSPA and RMSE helpers of domains.isac.metrics."""

import math

import pytest
import torch

from domains.isac.metrics import match, ospa, pairwise_distance, rmse, wrap


def test_wrap_maps_into_half_open_interval():
    x = torch.tensor([math.pi, -math.pi, 1.5 * math.pi, -1.5 * math.pi, 0.3, 4 * math.pi + 0.1],
                     dtype=torch.float64)
    expected = torch.tensor([math.pi, math.pi, -0.5 * math.pi, 0.5 * math.pi, 0.3, 0.1],
                            dtype=torch.float64)
    torch.testing.assert_close(wrap(x), expected, atol=1e-12, rtol=0)


def test_match_wraps_differences_on_the_circle():
    m = match([[3.1, 0.0]], [[-3.1, 0.0]])
    assert m.pairs == [(0, 0)]
    # 3.1 - (-3.1) = 6.2 is -0.0832 on the circle, not +6.2
    assert m.errors[0, 0].item() == pytest.approx(6.2 - 2 * math.pi, abs=1e-12)
    assert pairwise_distance([[3.1, 0.0]], [[-3.1, 0.0]])[0, 0].item() == pytest.approx(2 * math.pi - 6.2)


def test_match_is_optimal_not_greedy():
    # greedy nearest-first would pair est 0 with true 1 (distance 0.1) and leave
    # est 1 with true 0 at distance 1.0; the optimum pairs 0-0 and 1-1 (0.3 + 0.3)
    true = [[0.0], [0.4]]
    est = [[0.3], [0.7]]
    m = match(est, true, circular=False)
    assert m.pairs == [(0, 0), (1, 1)]
    torch.testing.assert_close(m.errors[:, 0], torch.tensor([0.3, 0.3], dtype=torch.float64))


def test_match_reports_misses_and_false_targets():
    true = torch.tensor([[0.0, 0.0, 0.0], [1.0, 1.0, 1.0], [-1.0, 0.5, 2.0]], dtype=torch.float64)
    est = torch.tensor([[1.01, 1.0, 1.0], [0.0, 0.02, 0.0], [2.5, -2.5, -0.5], [2.6, -2.5, -0.5]],
                       dtype=torch.float64)
    m = match(est, true, gate=0.1)
    assert m.pairs == [(1, 0), (0, 1)]
    assert m.misses == [2]
    assert m.false_targets == [2, 3]
    torch.testing.assert_close(m.errors, torch.tensor([[0.0, 0.02, 0.0], [0.01, 0.0, 0.0]],
                                                      dtype=torch.float64), atol=1e-12, rtol=0)
    # without the gate the far estimate is assigned to the third target
    assert len(match(est, true).pairs) == 3
    # empty estimate set: everything is missed
    m0 = match(torch.zeros(0, 3), true)
    assert m0.pairs == [] and m0.misses == [0, 1, 2] and m0.false_targets == []


def test_match_scale_is_per_dimension():
    # 0.5 rad in a mode with cell 1.0 is half a cell: inside a gate of 0.6 cells
    m = match([[0.5, 0.0]], [[0.0, 0.0]], scale=[1.0, 0.01], gate=0.6)
    assert m.pairs == [(0, 0)] and m.distances[0].item() == pytest.approx(0.5)
    # the same 0.5 rad in a mode with cell 0.1 is five cells: gated out
    m = match([[0.0, 0.5]], [[0.0, 0.0]], scale=[1.0, 0.1], gate=0.6)
    assert m.pairs == [] and m.misses == [0] and m.false_targets == [0]


@pytest.mark.parametrize("p", [1.0, 2.0])
def test_ospa_known_values(p):
    X = torch.tensor([[0.0, 0.0], [1.0, 1.0], [2.0, 0.0]], dtype=torch.float64)
    c = 0.5
    assert ospa(X, X, c, p, circular=False) == 0.0
    # one target missing out of n = 3: only the cardinality term c^p (n - m) / n
    assert ospa(X[:2], X, c, p, circular=False) == pytest.approx(c * (1 / 3) ** (1 / p))
    assert ospa(X, X[:2], c, p, circular=False) == pytest.approx(c * (1 / 3) ** (1 / p))
    # one point displaced by 0.3 < c: ((0.3^p) / 3)^(1/p)
    Y = X.clone()
    Y[0, 0] += 0.3
    assert ospa(Y, X, c, p, circular=False) == pytest.approx((0.3 ** p / 3) ** (1 / p))
    # displaced far beyond the cut-off: counts as c
    Y[0, 0] += 10.0
    assert ospa(Y, X, c, p, circular=False) == pytest.approx((c ** p / 3) ** (1 / p))
    # empty sets
    assert ospa(torch.zeros(0, 2), torch.zeros(0, 2), c, p) == 0.0
    assert ospa(torch.zeros(0, 2), X, c, p) == c


def test_ospa_uses_the_optimal_assignment_and_scale():
    X = [[0.0], [1.0]]
    Y = [[1.1], [0.1]]
    # optimal pairing: 0.1 and 0.1 -> (0.01 + 0.01) / 2 for p = 2
    assert ospa(X, Y, c=5.0, p=2.0, circular=False) == pytest.approx(0.1)
    # scale: 0.1 rad at a cell of 0.05 rad is 2 cells
    assert ospa(X, Y, c=5.0, p=2.0, scale=0.05, circular=False) == pytest.approx(2.0)


def test_rmse():
    e = torch.tensor([[3.0, 0.0], [-4.0, 1.0]], dtype=torch.float64)
    torch.testing.assert_close(rmse(e), torch.tensor([math.sqrt(12.5), math.sqrt(0.5)], dtype=torch.float64))
    assert torch.isnan(rmse(torch.zeros(0, 3))).all()


def test_gate_is_part_of_the_assignment_not_applied_after_it():
    # the far estimate -10 must not pull 0.4 away from its target 0
    m = match([[0.4], [-10.0]], [[0.0], [1.0]], gate=0.5, circular=False)
    assert m.pairs == [(0, 0)] and m.misses == [1] and m.false_targets == [1]
    # both pairs lie inside the gate; the raw-distance optimum pairs (0.4001, 0)
    # with (0.4, 0) and leaves (0.75, 0.3) 0.81 from (0, 0), outside the gate
    m = match([[0.4001, 0.0], [0.75, 0.3]], [[0.0, 0.0], [0.4, 0.0]], gate=0.5, circular=False)
    assert m.pairs == [(0, 0), (1, 1)] and m.misses == [] and m.false_targets == []
