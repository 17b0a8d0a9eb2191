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


def test_inner_split_holds_out_the_fraction_stratified():
    """val_fraction is the share held out for early stopping (sklearn: ceil(fraction * n) trials), per class."""
    y = np.array([0] * 12 + [1] * 12 + [0] * 8 + [1] * 8)  # 40 trials
    train = np.arange(40)[np.arange(40) % 5 != 0]  # 32 training trials, 16 per class
    fit, val = cvmod.inner_split(train, y, 0.25, seed=3)
    assert len(val) == 8 and len(fit) == 24  # ceil(0.25 * 32)
    assert np.bincount(y[val]).tolist() == [4, 4]  # stratified
    np.testing.assert_array_equal(np.sort(np.concatenate([fit, val])), train)


@pytest.mark.parametrize("as_torch", [False, True])
def test_standardizer_is_per_channel_over_trials_and_time(as_torch):
    """mean_/std_ are (C, 1): over the fitted trials and all times; numpy and torch inputs agree."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((6, 3, 7)) * np.array([1.0, 2.0, 5.0])[:, None] + np.array([0.0, 3.0, -1.0])[:, None]
    idx = np.array([0, 2, 3])
    s = cvmod.Standardizer().fit(torch.from_numpy(X) if as_torch else X, idx)
    mean = np.asarray(s.mean_)
    std = np.asarray(s.std_)
    assert mean.shape == (3, 1) and std.shape == (3, 1)
    np.testing.assert_allclose(mean[:, 0], X[idx].mean((0, 2)), rtol=1e-12)
    np.testing.assert_allclose(std[:, 0], X[idx].std((0, 2)) + 1e-6, rtol=1e-12)
    Z = np.asarray(s.transform(torch.from_numpy(X) if as_torch else X))[idx]
    np.testing.assert_allclose(Z.mean((0, 2)), 0, atol=1e-12)
    np.testing.assert_allclose(Z.std((0, 2)), 1, atol=1e-5)


def test_folds_are_shuffled_by_the_seed():
    """Class-blocked labels (all tongue, then all hand): the seed reshuffles the folds (shuffled K-fold)."""
    y = np.array([0] * 10 + [1] * 10)
    f = [make_folds(y, 5, seed=s) for s in range(3)]
    assert not np.array_equal(f[0], f[1]) and not np.array_equal(f[1], f[2])
    for folds in f:
        for k in range(5):
            assert np.bincount(y[folds == k]).tolist() == [2, 2]


def test_screen_features_are_log_mean_power_per_bin():
    env = np.full((2, 3, 8), np.e)
    np.testing.assert_allclose(screen.screen_features(env, 4), np.ones((2, 12)))
    ramp = np.broadcast_to(np.exp(np.arange(8.0)), (1, 1, 8))  # bins of 2 samples: log((e^a + e^(a+1)) / 2)
    expect = [np.log((np.exp(a) + np.exp(a + 1)) / 2) for a in (0, 2, 4, 6)]
    np.testing.assert_allclose(screen.screen_features(ramp, 4)[0], expect, rtol=1e-12)


def test_screen_knn_with_every_training_trial_predicts_the_majority():
    """knn_k = len(train): every neighbour votes, so the training majority (class 0, 12 vs 8) wins everywhere;
    with k = 1 the separable classes would be decoded."""
    rng = np.random.default_rng(1)
    y = np.array([0] * 15 + [1] * 10)
    env = np.exp(rng.standard_normal((25, 4, 8)) * 0.1 + 2.0 * y[:, None, None])  # class 1: 2 log units up
    folds = make_folds(y, 5, seed=0)
    s = screen_cv(env, y, folds, method="pca", knn_k=10_000)
    np.testing.assert_array_equal(s["pred"], 0)
    assert s["score"] == pytest.approx(0.6)
    assert screen_cv(env, y, folds, method="pca", knn_k=1)["score"] == 1.0


def test_class_weights_are_keras_balanced():
    """'balanced' weights n / (n_classes * count), as Keras' class_weight='balanced' (brief section 5)
    and scikit-learn's compute_class_weight."""
    from sklearn.utils.class_weight import compute_class_weight

    y = np.array([0, 0, 0, 0, 0, 0, 1, 1, 1, 1])
    w = models._class_weights(torch.as_tensor(y), 2)
    np.testing.assert_allclose(w.numpy(), compute_class_weight("balanced", classes=np.arange(2), y=y), rtol=1e-6)


def test_lstm_cnn_is_two_max_pooled_conv_blocks_then_a_two_layer_lstm_read_at_its_last_step():
    """Bafana's LSTM-CNN (brief section 5): Conv -> MaxPool(2) twice, LSTM -> LSTM over time, the last step."""
    torch.manual_seed(0)
    net = LSTMCNN(6, 24, 2, filters=(5, 4), kernel=3, hidden=7, dense=(6, 5), dropout=0.0).eval()
    assert net.lstm.num_layers == 2 and isinstance(net.conv.pool, torch.nn.MaxPool1d)
    x = torch.randn(3, 6, 24)
    with torch.no_grad():
        h = net.conv(x)
        ref = torch.nn.functional.max_pool1d(torch.relu(net.conv.conv1(x)), 2)
        ref = torch.nn.functional.max_pool1d(torch.relu(net.conv.conv2(ref)), 2)
        torch.testing.assert_close(h, ref)
        seq, _ = net.lstm(h.transpose(1, 2))
        torch.testing.assert_close(net(x), net.head(seq[:, -1]))
        mean = LSTMCNN(6, 24, 2, filters=(5, 4), kernel=3, hidden=7, dense=(6, 5), dropout=0.0, readout="mean")
        mean.load_state_dict(net.state_dict())
        torch.testing.assert_close(mean.eval()(x), net.head(seq.mean(1)))


def test_early_stopping_restores_the_best_epochs_weights(task):
    """After early stopping the model holds the weights of its best validation epoch, not the last one."""
    X = models.log_input(task["env"], "cpu")
    X = (X - X.mean()) / X.std()
    y = torch.as_tensor(task["y"])
    fit_idx, val_idx = np.arange(0, 40, 2), np.arange(1, 40, 2)
    torch.manual_seed(0)
    net = LSTMCNN(X.shape[1], X.shape[2], 2, filters=(8, 8), hidden=8, dense=(8, 8), dropout=0.0)
    h = models.fit(net, X, y, fit_idx, val_idx, epochs=40, patience=3, lr=3e-2, weight_decay=0.0,
                   batch_size=8, seed=0)
    assert h["best_epoch"] < h["epochs_run"] - 1  # it ran past its best epoch
    loss = torch.nn.CrossEntropyLoss(weight=models._class_weights(y[fit_idx], 2))
    with torch.no_grad():
        v = float(loss(net(X[val_idx]), y[val_idx]))
    assert v == pytest.approx(h["val_loss"], abs=1e-5)


def test_baselines_are_moabbs_pipelines():
    """CSP+LDA and TS+LR with MOABB's settings (brief section 8)."""
    from domains.ecog.decode import baseline_pipeline

    csp, lda = baseline_pipeline("csp_lda").named_steps.values()
    assert (csp.n_components, csp.cov_est, csp.transform_into, csp.component_order) == \
        (4, "concat", "average_power", "mutual_info")
    assert lda.solver == "svd"
    cov, ts, lr = baseline_pipeline("ts_lr").named_steps.values()
    assert cov.estimator == "oas" and ts.metric == "riemann" and lr.C == 1.0
