"""The ecog flow end to end on the GPU (skipped without CUDA): the CPU flow test's known answers."""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch

from domains.ecog.cv import make_folds
from domains.ecog.steps import SPEC
from pipelines.flowkit import call_directly, execute

pytestmark = [pytest.mark.cuda, pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")]

# the shrunk quick profile of tests/domains/ecog/test_flow.py (SMALL there): 3 participants with known gains
SMALL = ["ingest.gains=[0.0,0.06,0.15]", "ingest.n_channels=10", "ingest.bad_channels=[9]",
         "ingest.n_trials_per_class=15", "ingest.cue_s=1.5", "ingest.rest_s=0.5", "reduce.umap_epochs=60",
         "model.max_epochs=40", "model.conv_filters=[8,8]", "model.lstm_hidden=8", "model.dense=[8,8]",
         "model.models=[lstm_cnn]", "model.adapt_epochs=20"]


def test_quick_flow_on_cuda_decodes_the_known_gains(tmp_path):
    run_dir, ev = execute(SPEC, call_directly, out=str(tmp_path), device="cuda", seed=0, sets=SMALL)
    m = json.loads((Path(run_dir) / "metrics.json").read_text())
    met, base = m["metrics"], m["baselines"]
    assert m["device"].startswith("cuda") and m["status"] == "completed"
    # test_quick_flow_end_to_end's thresholds
    assert set(base) == {"csp_lda", "ts_lr", "hg_lda"}
    assert 0.5 <= met["accuracy"] <= 1 and 0 <= met["roc_auc"] <= 1
    assert np.isfinite(met["spearman_rho"]) and met["spearman_rho"] > 0
    assert {f"transfer_accuracy_{k}" for k in ("naive", "scratch", "finetune", "lora", "flora")} <= set(met)
    # test_flow_known_answers_and_shared_folds's
    with h5py.File(Path(run_dir) / "results.h5") as h5:
        y2 = h5["epochs/S02/hand_vs_tongue/y"][()]
        np.testing.assert_array_equal(h5["folds/S02/hand_vs_tongue"][()], make_folds(y2, 5, seed=0))
        pred = {k: h5[f"predictions/S02/hand_vs_tongue/{k}"][()] for k in ("lstm_cnn", "ts_lr", "hg_lda")}
        acc0 = ((h5["predictions/S00/hand_vs_tongue/hg_lda"][()] >= 0.5) == h5["epochs/S00/hand_vs_tongue/y"][()]).mean()
        screen2 = (h5["screen/S02/hand_vs_tongue/pred"][()] == y2).mean()
        assert h5["epochs/S02/hand_vs_tongue/env"].shape[1] == 9
    assert ((pred["hg_lda"] >= 0.5) == y2).mean() > 0.9
    assert ((pred["ts_lr"] >= 0.5) == y2).mean() > 0.85
    assert abs(acc0 - 0.5) < 0.25
    assert screen2 > 0.8
