"""Flow-level behaviour of issue 7: manifests honoured, batched Monte Carlo, plug-in errors."""

from __future__ import annotations

import math

import h5py
import pytest
import torch

from domains.isac.config import IsacConfig
from domains.isac.crb import crb_physical, plugin_standard_errors
from domains.isac.evaluate import monte_carlo
from domains.isac.metrics import match
from domains.isac.refine import plain_refined
from domains.isac.scenarios import get_scenario
from domains.isac.simulate import generate, noise_variance, simulate_tensor
from domains.isac.steps import SPEC, estimators, ingest
from domains.isac.types import BatchedEstimator
from shared.runs import start_run

MANIFEST = """id: sim-close-30db
domain: isac
title: test manifest
description: close scenario at 30 dB, seed 5
license: MIT
citation: none
homepage: null
access: embedded
files: []
format: in-memory
generator: "domains.isac.simulate:generate"
params:
  scenario: close
  snr_db: 30.0
  n_trials: 1
  seed: 5
"""


def test_an_embedded_dataset_is_built_from_its_manifest(tmp_path, monkeypatch):
    # item 7: the generator, snr_db and seed of the manifest, not only its scenario
    root = tmp_path / "manifests"
    (root / "isac").mkdir(parents=True)
    (root / "isac" / "sim-close-30db.yaml").write_text(MANIFEST)
    monkeypatch.setenv("LOWDIM_MANIFESTS", str(root))
    cfg = SPEC.resolve_config("quick", [])
    SPEC.check(None, "sim-close-30db", cfg)
    ctx = start_run(tmp_path / "runs", "isac", profile="quick", device="cpu", seed=0,
                    config=cfg.model_dump(mode="json"), dataset="sim-close-30db")
    rec = ingest(ctx, {})
    assert rec["scenario"] == "close" and rec["reference_snr_db"] == 30.0 and rec["reference_seed"] == 5
    with h5py.File(ctx.results_h5) as h5:
        y = torch.from_numpy(h5["reference/csi"][()])
    want = generate("close", 30.0, n_trials=1, seed=5, dimension=cfg.close_dimension).csi[0]
    torch.testing.assert_close(y, want, rtol=0, atol=0)


def test_the_flow_runs_plain_batched_over_trials():
    # item 10: PLAIN and PLAIN + refinement get whole chunks of trials
    cfg = IsacConfig()
    est = estimators(cfg, ("averaging", (1, 2, 2)), with_baselines=False)
    assert all(isinstance(fn, BatchedEstimator) for fn in est.values())
    sc = get_scenario("default")
    calls = {"one": 0, "batch": 0}
    inner = est["plain"]

    def one(y, k):
        calls["one"] += 1
        return inner.one(y, k)

    def batch(y, k):
        calls["batch"] += 1
        return inner.batch(y, k)

    r = monte_carlo({"plain": BatchedEstimator(one, batch)}, sc.mu, sc.gains, sc.shape, [10.0], 4,
                    seed=1, crb_fn=None)
    assert calls == {"one": 0, "batch": 1}
    assert r["methods"]["plain"]["p_success"] == [1.0]
    # the same trials one by one give the same scores
    r1 = monte_carlo({"plain": inner.one}, sc.mu, sc.gains, sc.shape, [10.0], 4, seed=1, crb_fn=None)
    assert r1["methods"]["plain"]["rmse_mu"][0] == pytest.approx(r["methods"]["plain"]["rmse_mu"][0], rel=1e-9)


def test_plug_in_standard_errors_match_the_true_crb_at_10_db():
    # item 9: CRB at the estimates with the residual noise variance, within 30 %
    sc = get_scenario("default")
    y = simulate_tensor(sc.mu, sc.gains, sc.shape, 10.0, seed=3)[0]
    est = plain_refined(y, sc.n_targets, compression=sc.compression)
    se = plugin_standard_errors(y, est.mu, sc.radar)
    true = crb_physical(sc.radar, sc.mu, sc.gains, noise_variance(sc.gains, 10.0)).sqrt()
    cells = torch.tensor([2 * math.pi / n for n in sc.shape], dtype=torch.float64)
    m = match(est.mu, sc.mu, scale=cells, gate=0.5)
    assert m.n_misses == 0 and m.n_false == 0
    for i_hat, i_true in m.pairs:
        ratio = se["std_physical"][i_hat] / true[i_true]
        assert bool(((ratio > 0.7) & (ratio < 1.3)).all()), ratio
    assert se["noise_var"] == pytest.approx(noise_variance(sc.gains, 10.0), rel=0.05)
