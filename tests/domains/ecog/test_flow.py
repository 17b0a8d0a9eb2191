"""The ecog steps end to end (quick profile, smaller), and the CLI's bad-input contract."""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np
import pytest

from domains.ecog.config import EcogConfig, PROFILES
from domains.ecog.cv import make_folds
from domains.ecog.io import check_input
from domains.ecog.steps import SPEC
from pipelines.flowkit import call_directly, execute
from shared.config import build_config

from . import layouts

# the quick profile, shrunk: 3 participants with known gains, short epochs, small nets
SMALL = ["ingest.gains=[0.0,0.06,0.15]", "ingest.n_channels=10", "ingest.bad_channels=[9]",
         "ingest.n_trials_per_class=15", "ingest.cue_s=1.5", "ingest.rest_s=0.5", "reduce.umap_epochs=60",
         "model.max_epochs=40", "model.conv_filters=[8,8]", "model.lstm_hidden=8", "model.dense=[8,8]",
         "model.models=[lstm_cnn]", "model.adapt_epochs=20"]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs")
    return execute(SPEC, call_directly, out=str(out), device="cpu", seed=0, sets=SMALL)


def test_quick_flow_end_to_end(run):
    run_dir, ev = run
    m = json.loads((Path(run_dir) / "metrics.json").read_text())
    met, base = m["metrics"], m["baselines"]
    assert m["status"] == "completed" and m["data"]["synthetic"] is True
    assert set(base) == {"csp_lda", "ts_lr", "hg_lda"}
    assert 0.5 <= met["accuracy"] <= 1 and 0 <= met["roc_auc"] <= 1
    assert np.isfinite(met["spearman_rho"]) and met["spearman_rho"] > 0  # the paper's claim, as a property
    assert met["umap_warmup_seconds"] > 0 and met["deep_over_screen_cost"] > 0
    assert {f"transfer_accuracy_{k}" for k in ("naive", "scratch", "finetune", "lora", "flora")} <= set(met)
    figs = {p.name for p in (Path(run_dir) / "figures").glob("*.png")}
    assert figs == {"umap_embeddings.png", "high_gamma_spectra.png", "screen_vs_dl_hand_vs_tongue.png",
                    "accuracy_hand_vs_tongue.png"}
    assert "| S02 |" in ev["report"] and "Spearman" in ev["report"] and "UMAP + KNN" in ev["report"]


def test_flow_known_answers_and_shared_folds(run):
    run_dir, _ = run
    with h5py.File(Path(run_dir) / "results.h5") as h5:
        y2 = h5["epochs/S02/hand_vs_tongue/y"][()]
        folds = h5["folds/S02/hand_vs_tongue"][()]
        np.testing.assert_array_equal(folds, make_folds(y2, 5, seed=0))
        pred = {m: h5[f"predictions/S02/hand_vs_tongue/{m}"][()] for m in ("lstm_cnn", "ts_lr", "hg_lda")}
        acc0 = ((h5["predictions/S00/hand_vs_tongue/hg_lda"][()] >= 0.5) == h5["epochs/S00/hand_vs_tongue/y"][()]).mean()
        screen2 = (h5["screen/S02/hand_vs_tongue/pred"][()] == y2).mean()
        assert h5["epochs/S02/hand_vs_tongue/env"].shape[1] == 9  # bad channel excluded
    assert ((pred["hg_lda"] >= 0.5) == y2).mean() > 0.9  # gain 0.15: decoded
    assert ((pred["ts_lr"] >= 0.5) == y2).mean() > 0.85
    assert abs(acc0 - 0.5) < 0.25  # gain 0: chance (30 trials)
    assert screen2 > 0.8


# ------------------------------------------------------------------ bad input, before Prefect
@pytest.mark.parametrize("case", ["mat_missing_stim", "npz_missing_keys", "edf_no_cues", "fif_low_rate",
                                  "npz_low_rate", "fif_all_bad", "fif_few_trials", "npz_few_trials",
                                  "sim_all_bad", "sim_few_trials", "npz_pickle_refused"])
def test_bad_input_exits_2_with_one_line(tmp_path, capsys, case):
    t = tmp_path
    path, sets = {
        "mat_missing_stim": lambda: (layouts.write_miller_mat(t / "bp_mot_t_h.mat", drop=("stim",)), []),
        "npz_missing_keys": lambda: (_flat_without(t / "x.npz", "t_on"), []),
        "edf_no_cues": lambda: (_edf_without_cues(t / "x.edf"), []),
        "fif_low_rate": lambda: (layouts.write_fif(t / "x_raw.fif", sfreq=250.0), []),
        "npz_low_rate": lambda: (layouts.write_nma_npz(t / "x.npz", srate=200.0), ["ingest.allow_pickle=true"]),
        "fif_all_bad": lambda: (layouts.write_fif(t / "x_raw.fif", bads=[f"E{c:02d}" for c in range(8)]), []),
        "fif_few_trials": lambda: (layouts.write_fif(t / "x_raw.fif", n_trials=3), []),
        "npz_few_trials": lambda: (layouts.write_nma_npz(t / "x.npz", n_trials=4), ["ingest.allow_pickle=true"]),
        "sim_all_bad": lambda: (None, ["ingest.bad_channels=[0,1,2,3,4,5,6,7,8,9,10,11]"]),
        "sim_few_trials": lambda: (None, ["ingest.n_trials_per_class=3"]),
        "npz_pickle_refused": lambda: (layouts.write_nma_npz(t / "x.npz"), []),
    }[case]()
    capsys.readouterr()
    assert layouts.run_bad(tmp_path, path, *sets) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ")
    expect = {"mat_missing_stim": "missing keys ['stim']", "npz_missing_keys": "missing keys ['t_on']",
              "edf_no_cues": "no cues", "fif_low_rate": "too low", "npz_low_rate": "too low",
              "fif_all_bad": "all ECoG channels", "fif_few_trials": "fewer than the 5 CV folds",
              "npz_few_trials": "fewer than the 5 CV folds", "sim_all_bad": "channels are bad",
              "sim_few_trials": "fewer than the 5 CV folds", "npz_pickle_refused": "runs code"}[case]
    assert expect in err[0]


def test_pickle_accepted_with_the_flag(tmp_path):
    f = layouts.write_nma_npz(tmp_path / "motor_imagery.npz")
    cfg = build_config(EcogConfig, PROFILES["quick"], {"ingest": {"allow_pickle": True}})
    check_input(str(f), None, cfg)  # no error: the user trusts the file


def _flat_without(path, key):
    d = layouts.nma_dict(0)
    np.savez(path, **{k: np.asarray(v) for k, v in d.items() if k in ("V", "t_on", "t_off", "stim_id", "srate",
                                                                      "scale_uv") and k != key})
    return path


def _edf_without_cues(path):
    import mne

    raw = layouts.annotated_raw()
    raw.set_annotations(None)
    mne.export.export_raw(str(path), raw, fmt="edf", overwrite=True, verbose="error")
    return path


def test_flow_on_a_recording_file(tmp_path):
    """A Miller .mat through every step: provenance, one participant, no rho (needs >= 3)."""
    f = layouts.write_miller_mat(tmp_path / "bp_mot_t_h.mat", n_trials=10)
    run_dir, ev = execute(SPEC, call_directly, out=str(tmp_path / "runs"), device="cpu", data=str(f),
                          sets=["reduce.screen=pca", "model.models=[cnn]", "model.baselines=[ts_lr]",
                                "model.max_epochs=5", "ingest.epoch_s=1.0", "evaluate.headline_model=cnn"])
    m = json.loads((Path(run_dir) / "metrics.json").read_text())
    assert m["data"]["synthetic"] is False and len(m["data"]["sha256"]) == 64
    assert "spearman_rho" not in m["metrics"] and m["baselines"]["ts_lr"]["accuracy"] > 0.8  # gain 0.2
    assert "| bp |" in ev["report"]
    assert "PCA + KNN" in ev["report"] and "UMAP" not in ev["report"]  # the label follows reduce.screen


@pytest.mark.prefect
def test_prefect_flow_publishes_the_metrics_it_wrote(run_artifacts, tmp_path):
    """The flow as Prefect tasks (tiny: 2 participants, a few epochs, no transfer): its table artifact
    carries the same decoding accuracy as the run's metrics.json."""
    from pipelines.ecog import ecog_flow

    tiny = SMALL + ["ingest.gains=[0.0,0.15]", "ingest.n_trials_per_class=10", "reduce.umap_epochs=20",
                    "model.max_epochs=3", "model.min_epochs=1", "model.transfer=false",
                    "model.baselines=[hg_lda]", "evaluate.figures=false"]
    run_dir = Path(ecog_flow(profile="quick", out=str(tmp_path), device="cpu", seed=0, sets=tiny))
    m = json.loads((run_dir / "metrics.json").read_text())
    assert m["status"] == "completed" and m["domain"] == "ecog" and set(m["baselines"]) == {"hg_lda"}

    mine = run_artifacts("ecog-metrics", run_dir)
    assert len(mine) == 1 and mine[0][0].type == "table"
    ours = {r["metric"]: r["value"] for r in mine[0][1] if r["method"] == "lowdim"}
    assert ours["accuracy"] == pytest.approx(m["metrics"]["accuracy"])
