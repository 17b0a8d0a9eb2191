"""Shared folds, the leak audit (with planted leaks), the screen, the deep models, the baselines."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from domains.ecog import cv as cvmod
from domains.ecog import models, screen
from domains.ecog.config import ModelConfig
from domains.ecog.cv import FoldUse, LeakError, audit, make_folds, split
from domains.ecog.decode import baseline_cv, deep_cv
from domains.ecog.models import CNN, LSTMCNN
from domains.ecog.preprocess import preprocess, task_arrays
from domains.ecog.screen import screen_cv

SMALL_NET = ModelConfig(conv_filters=[8, 8], lstm_hidden=8, dense=[8, 8], max_epochs=40, patience=10)


@pytest.fixture(scope="module")
def task(strong):
    blocks = {k: preprocess(r, epoch_s=1.5) for k, r in strong.raws.items()}
    a = task_arrays(blocks, "hand_vs_tongue")
    a["folds"] = make_folds(a["y"], 5, seed=0)
    return a


def test_folds_are_stratified_and_cover_every_trial_once(task):
    folds, y = task["folds"], task["y"]
    assert sorted(np.unique(folds)) == [0, 1, 2, 3, 4]
    for k in range(5):
        assert np.bincount(y[folds == k]).tolist() == [4, 4]
    np.testing.assert_array_equal(folds, make_folds(y, 5, seed=0))  # deterministic per seed


def test_screen_deep_and_baselines_share_the_folds(task):
    a = task
    results = {"screen": screen_cv(a["env"], a["y"], a["folds"], method="pca"),
               "lstm_cnn": deep_cv("lstm_cnn", a["env"], a["y"], a["folds"], SMALL_NET),
               "ts_lr": baseline_cv("ts_lr", a["band"], a["env"], a["y"], a["folds"]),
               "csp_lda": baseline_cv("csp_lda", a["band"], a["env"], a["y"], a["folds"])}
    for k in range(5):
        test = split(a["folds"], k)[1]
        for name, r in results.items():
            u = r["uses"][k]
            np.testing.assert_array_equal(u.test, test, err_msg=name)
            assert not set(u.fit) & set(test) and not set(u.norm) & set(test) and not set(u.val) & set(test)
    # known answer: a strong participant is decoded by all of them
    assert results["screen"]["score"] > 0.85
    assert results["ts_lr"]["accuracy"] > 0.9 and results["csp_lda"]["accuracy"] > 0.85
    assert results["lstm_cnn"]["accuracy"] > 0.8 and results["lstm_cnn"]["roc_auc"] > 0.85


def test_planted_early_stopping_leak_is_caught(task):
    def leaky(train, y, fraction, seed):  # early-stops on the test fold: the Keras notebooks' bug
        test = np.setdiff1d(np.arange(len(y)), train)
        return train, test

    with pytest.raises(LeakError, match="used for val"):
        deep_cv("cnn", task["env"], task["y"], task["folds"], SMALL_NET, splitter=leaky)


def test_planted_normalisation_leak_is_caught(task, monkeypatch):
    orig = cvmod.Standardizer.fit

    def fit_on_everything(self, X, index):  # statistics over all trials, test included
        return orig(self, X, np.arange(len(X)))

    monkeypatch.setattr(cvmod.Standardizer, "fit", fit_on_everything)
    with pytest.raises(LeakError, match="used for norm"):
        deep_cv("cnn", task["env"], task["y"], task["folds"], SMALL_NET)


def test_audit_accepts_clean_and_rejects_fit_leak():
    audit(FoldUse("m", 0, test=np.array([0, 1]), fit=np.array([2, 3]), norm=np.array([2, 3])))
    with pytest.raises(LeakError, match="used for fit"):
        audit(FoldUse("m", 0, test=np.array([0, 1]), fit=np.array([1, 2]), norm=np.array([2])))


def test_zero_gain_participant_is_at_chance_for_the_screen(null):
    blocks = {k: preprocess(r, epoch_s=1.5) for k, r in null.raws.items()}
    a = task_arrays(blocks, "hand_vs_tongue")
    s = screen_cv(a["env"], a["y"], make_folds(a["y"], 5, 0), method="pca")
    assert abs(s["score"] - 0.5) < 0.2


@pytest.mark.parametrize("cls", [LSTMCNN, CNN])
def test_models_map_channels_by_time_to_logits(cls):
    net = cls(9, 30, 2, filters=(8, 4), kernel=5, hidden=6, dense=(8, 4), dropout=0.0)
    assert net(torch.randn(5, 9, 30)).shape == (5, 2)


FAST_NET = ModelConfig(conv_filters=[8, 8], lstm_hidden=8, dense=[8, 8], max_epochs=2, min_epochs=0, patience=2)


@pytest.mark.parametrize("role", ["fit", "val"])
def test_planted_leak_inside_model_training_is_caught(task, monkeypatch, role):
    """The audit sees the trials models.fit really trained / stopped on, not the ones it was handed."""
    orig = models.fit

    def leaky(net, X, y, fit_idx, val_idx, **kw):  # trains (or early-stops) on every trial, test included
        everything = np.arange(len(X))
        return orig(net, X, y, everything if role == "fit" else fit_idx,
                    everything if role == "val" else val_idx, **kw)

    monkeypatch.setattr(models, "fit", leaky)
    with pytest.raises(LeakError, match=f"used for {role}"):
        deep_cv("cnn", task["env"], task["y"], task["folds"], FAST_NET)


def test_planted_leak_inside_the_screen_embedding_is_caught(task, monkeypatch):
    """The audit sees the rows the screen's scaler and embedding were fitted on inside embed_fold."""
    orig = screen.embed_fold

    def leaky(F, train, test, **kw):  # the classic transductive screen: fitted on all trials
        return orig(F, np.arange(len(F)), test, **kw)

    monkeypatch.setattr(screen, "embed_fold", leaky)
    with pytest.raises(LeakError, match="used for fit"):
        screen_cv(task["env"], task["y"], task["folds"], method="pca")
