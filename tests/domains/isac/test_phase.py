"""The one phase-wrapping convention of the ISAC domain: (-pi, pi]."""

import math

import torch

from domains.isac import metrics, physics
from domains.isac.phase import wrap


def test_wrap_is_half_open_and_keeps_plus_pi():
    x = torch.tensor([math.pi, -math.pi, 3 * math.pi, -3 * math.pi, 0.3, -0.3, 2 * math.pi],
                     dtype=torch.float64)
    out = wrap(x)
    assert (out > -math.pi).all() and (out <= math.pi).all()
    torch.testing.assert_close(out, torch.tensor([math.pi, math.pi, math.pi, math.pi, 0.3, -0.3, 0.0],
                                                 dtype=torch.float64), atol=1e-12, rtol=0)


def test_wrap_with_a_physical_period():
    # a range difference on a 100 m unambiguous interval lies in (-50, 50]
    out = wrap(torch.tensor([50.0, -50.0, 70.0, -130.0], dtype=torch.float64), period=100.0)
    torch.testing.assert_close(out, torch.tensor([50.0, 50.0, -30.0, -30.0], dtype=torch.float64))


def test_every_module_uses_the_same_convention():
    x = torch.tensor([-math.pi, math.pi, 5.0, -5.0], dtype=torch.float64)
    for fn in (metrics.wrap, physics.wrap):
        torch.testing.assert_close(fn(x), wrap(x), atol=0, rtol=0)
