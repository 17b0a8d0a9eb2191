"""The paper AEs' training schedule: a floor on Adam updates for small training samples."""

from __future__ import annotations

import pytest
import torch

from domains.geo.autoencoders import DenseAE, StackedAE, schedule_epochs, train_ae
from domains.geo.reduce import log_ratios


def test_schedule_raises_epochs_only_below_the_update_floor():
    assert schedule_epochs(10, 64, 4000, 3000) == 48  # 63 updates per epoch -> 48 epochs >= 3000 updates
    assert schedule_epochs(10, 64, 20_000, 3000) == 10  # 313 per epoch: the paper's 10 epochs suffice
    assert schedule_epochs(5, 16, 100, 0) == 5


def test_more_updates_reconstruct_better(one_thread):
    # points on a 2-D plane in 7-D, inside (0, 1): a 2-D code can reconstruct them
    g = torch.Generator().manual_seed(0)
    X = 0.5 + 0.2 * (torch.rand(300, 2, generator=g) - 0.5) @ torch.randn(2, 7, generator=g).clamp(-1, 1)
    short, long_ = DenseAE([7, 6, 4, 2]), DenseAE([7, 6, 4, 2])
    long_.load_state_dict(short.state_dict())
    h_short = train_ae(short, X, 2, 64, seed=0)
    h_long = train_ae(long_, X, 2, 64, seed=0, min_steps=400)
    assert len(h_short) == 2 and len(h_long) == schedule_epochs(2, 64, 300, 400) == 80
    assert h_long[-1] < h_short[-1]


def test_seeded_initialisation_does_not_depend_on_the_global_generator():
    torch.manual_seed(1)
    a = StackedAE(7, seed=3)
    torch.manual_seed(2)
    b, c = StackedAE(7, seed=3), StackedAE(7, seed=4)
    pa, pb, pc = (torch.cat([p.flatten() for p in m.parameters()]) for m in (a, b, c))
    assert torch.equal(pa, pb) and not torch.equal(pa, pc)


def test_log_ratios_cancel_a_per_pixel_illumination_factor():
    g = torch.Generator().manual_seed(0)
    rho = 0.05 + 0.4 * torch.rand(50, 7, generator=g, dtype=torch.float64)
    shade = 0.3 + torch.rand(50, 1, generator=g, dtype=torch.float64)  # hillshade per pixel
    torch.testing.assert_close(log_ratios(shade * rho), log_ratios(rho))
    # the spectral shape is kept: different spectra stay apart, and each row sums to zero
    assert (log_ratios(rho)[0] - log_ratios(rho)[1]).abs().max() > 0.05
    torch.testing.assert_close(log_ratios(rho).sum(1), torch.zeros(50, dtype=torch.float64))


def test_restarts_keep_the_initialisation_with_the_lowest_objective(one_thread):
    from domains.geo.autoencoders import objective, restart_seed, train_restarts

    g = torch.Generator().manual_seed(1)
    X = 0.5 + 0.2 * (torch.rand(256, 2, generator=g) - 0.5) @ torch.randn(2, 7, generator=g).clamp(-1, 1)
    model, hist, objs = train_restarts(lambda r: DenseAE([7, 6, 4, 2], seed=restart_seed(5, r)), X, 3, 64, 3, seed=0)
    assert len(objs) == 3 and len(set(objs)) == 3  # three different starts
    assert objective(model, X) == min(objs)
    # restart 0 is the plain seeded model: one restart reproduces it exactly
    one, _, objs1 = train_restarts(lambda r: DenseAE([7, 6, 4, 2], seed=restart_seed(5, r)), X, 3, 64, 1, seed=0)
    assert objs1 == objs[:1]


def test_stacked_restarts_keep_the_whole_stack_with_the_lowest_reconstruction(one_thread):
    from domains.geo.autoencoders import restart_seed

    g = torch.Generator().manual_seed(1)
    X = 0.5 + 0.2 * (torch.rand(256, 2, generator=g) - 0.5) @ torch.randn(2, 7, generator=g).clamp(-1, 1)
    kw = dict(epochs=[2, 2, 2], batch_sizes=[64, 64, 64], seed=0)
    sae = StackedAE(7, seed=5)
    objs = sae.fit(X, restarts=3, **kw)["restart_objectives"]
    assert len(objs) == 3 and len(set(objs)) == 3  # three different whole stacks
    assert sae.objectives(X)["recon"] == min(objs)
    # start r is the stack initialised with restart_seed(5, r), trained alone (the starts train in
    # lockstep: equal up to floating-point summation order)
    best = StackedAE(7, seed=restart_seed(5, objs.index(min(objs))))
    best.fit(X, **kw)
    torch.testing.assert_close(sae.encode(X), best.encode(X))
    # one start is the plain seeded fit, with no restart record
    plain = StackedAE(7, seed=5)
    assert "restart_objectives" not in plain.fit(X, **kw)
    assert plain.objectives(X)["recon"] == pytest.approx(objs[0], rel=1e-5)


def test_lockstep_training_equals_training_each_net_alone(one_thread):
    from domains.geo.autoencoders import train_lockstep

    g = torch.Generator().manual_seed(2)
    X = torch.rand(500, 7, generator=g)
    alone = [DenseAE([7, 6, 4, 2], seed=s) for s in (1, 2, 3)]
    h_alone = [train_ae(m, X, 2, 32, seed=4) for m in alone]
    lock = [DenseAE([7, 6, 4, 2], seed=s) for s in (1, 2, 3)]
    h_lock = train_lockstep(lock, X, 2, 32, seed=4)
    for a, b, ha, hb in zip(alone, lock, h_alone, h_lock):
        for p, q in zip(a.parameters(), b.parameters()):
            torch.testing.assert_close(p, q, atol=1e-5, rtol=1e-4)
        assert hb == pytest.approx(ha, rel=1e-5)
    # different starts train to different nets (the lockstep does not couple them)
    assert not torch.allclose(lock[0].enc[0].weight, lock[1].enc[0].weight)


def test_stacked_stages_feed_the_previous_reconstruction_joined_with_their_input():
    """Brief section 2: stage 2 sees concat(stage-1 reconstruction, x) (2D), stage 3 concat(h2, z2) (5 + 2D)."""
    g = torch.Generator().manual_seed(0)
    x = torch.rand(16, 7, generator=g)
    sae = StackedAE(7, seed=1).eval()
    with torch.no_grad():
        x1 = sae.stage1(x)[0]
        assert (x1 - x).abs().max() > 0.05  # an untrained reconstruction is not x itself
        z2 = sae._z2(x)
        torch.testing.assert_close(z2, torch.cat([x1, x], 1))
        h2 = torch.selu(sae.stage2.enc[1](torch.selu(sae.stage2.enc[0](z2))))  # cut at the 5-unit layer
        assert h2.shape == (16, 5)
        z3 = sae._z3(x)
        torch.testing.assert_close(z3, torch.cat([h2, x1, x], 1))
        torch.testing.assert_close(sae.encode(x), sae.stage3.encode(z3))
        assert sae.encode(x).shape == (16, 2)
