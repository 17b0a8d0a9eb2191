"""Per-participant decoding over the shared folds: the deep models and the baselines.

Every function here takes ONE participant-task (arrays and its fold ids) and
returns out-of-fold scores plus the audited :class:`~domains.ecog.cv.FoldUse`
records; :func:`domains.ecog.steps` combines participants.

Baselines, as MOABB runs them (brief section 8), on the band-passed high-gamma signal:

- ``csp_lda``: ``mne.decoding.CSP(n_components=4, log=True, cov_est="concat",
  transform_into="average_power", component_order="mutual_info")`` -> LDA (svd);
- ``ts_lr``: pyriemann ``Covariances("oas")`` -> ``TangentSpace("riemann")`` ->
  ``LogisticRegression(C=1.0)``;
- ``hg_lda``: LDA on the log mean high-gamma power per channel (the known-answer decoder).
"""

from __future__ import annotations

import mne
import numpy as np
import torch
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import make_pipeline

from domains.ecog import models
from domains.ecog.cv import FoldUse, Standardizer, audit, fit_rows, inner_split, split


def scores(y: np.ndarray, prob: np.ndarray) -> dict[str, float]:
    """Accuracy (argmax / threshold 0.5) and, for two classes, ROC-AUC of out-of-fold scores."""
    out = {"accuracy": float(((prob >= 0.5).astype(int) == y).mean())}
    if len(np.unique(y)) == 2:
        out["roc_auc"] = float(roc_auc_score(y, prob))
    return out


def baseline_pipeline(name: str):
    """The scikit-learn pipeline of baseline ``name`` (features computed inside, per fold)."""
    if name == "csp_lda":
        from mne.decoding import CSP

        return make_pipeline(CSP(n_components=4, reg=None, log=True, cov_est="concat",
                                 transform_into="average_power", component_order="mutual_info"),
                             LinearDiscriminantAnalysis(solver="svd"))
    if name == "ts_lr":
        from pyriemann.estimation import Covariances
        from pyriemann.tangentspace import TangentSpace

        return make_pipeline(Covariances(estimator="oas"), TangentSpace(metric="riemann"),
                             LogisticRegression(C=1.0, max_iter=1000))
    if name == "hg_lda":
        return LinearDiscriminantAnalysis(solver="svd")
    raise ValueError(f"unknown baseline {name}")


def hg_power(env: np.ndarray) -> np.ndarray:
    """Log mean high-gamma power per channel, ``(trials, channels)``."""
    return np.log(np.maximum(env.mean(-1), 1e-30)).astype(np.float64)


def baseline_cv(name: str, band: np.ndarray, env: np.ndarray, y: np.ndarray, folds: np.ndarray) -> dict:
    """Out-of-fold probability of class 1 for one baseline; every estimator is fitted on the training fold."""
    X = hg_power(env) if name == "hg_lda" else band.astype(np.float64)
    prob = np.zeros(len(y))
    uses = []
    for k in range(int(folds.max()) + 1):
        train, test = split(folds, k)
        with mne.utils.use_log_level("error"):  # CSP logs every covariance it estimates
            est, rows = fit_rows(baseline_pipeline(name), X, y, train)
            uses.append(audit(FoldUse(name, k, test=test, fit=rows, norm=rows)))  # features and scaling inside
            prob[test] = est.predict_proba(X[test])[:, 1]
    return {"prob": prob, **scores(y, prob), "uses": uses}


def deep_cv(kind: str, env: np.ndarray, y: np.ndarray, folds: np.ndarray, cfg, *, device="cpu",
            seed: int = 0, splitter=inner_split) -> dict:
    """Out-of-fold decoding with a deep model ``kind`` ("lstm_cnn" or "cnn").

    In each fold: the training trials are split into fit / validation (``splitter``),
    the log-envelope is standardised with training-fold statistics, a fresh model
    is trained on the fit part and early-stopped on the validation part, and the
    test trials are predicted once. Every index set is audited.

    Parameters
    ----------
    cfg : ModelConfig
        The model section (sizes, optimiser, epochs, patience, val_fraction).
    device : str or torch.device
        Where the model and data live.
    splitter : callable
        ``(train, y, fraction, seed) -> (fit, val)``; replaceable in tests.

    Returns
    -------
    dict
        ``prob`` ``(trials,)``, ``accuracy``, ``roc_auc``, ``uses``, ``epochs`` (best epoch per fold).
    """
    X = models.log_input(env, device)
    yt = torch.as_tensor(y, dtype=torch.int64, device=X.device)
    prob = np.zeros(len(y))
    uses, epochs = [], []
    for k in range(int(folds.max()) + 1):
        train, test = split(folds, k)
        fit_idx, val_idx = splitter(train, y, cfg.val_fraction, seed + k)
        norm = Standardizer().fit(X, train)
        # the split, before training (a bad splitter fails at once) ...
        uses.append(audit(FoldUse(kind, k, test=test, fit=fit_idx, norm=norm.index_, val=val_idx)))
        Xn = norm.transform(X)
        torch.manual_seed(seed * 100 + k)
        net = models.build(kind, X.shape[1], X.shape[2], cfg).to(X.device)
        hist = models.fit(net, Xn, yt, fit_idx, val_idx, epochs=cfg.max_epochs, patience=cfg.patience, lr=cfg.lr,
                          weight_decay=cfg.weight_decay, batch_size=cfg.batch_size, seed=seed + k,
                          min_epochs=cfg.min_epochs)
        # and what training really touched, recorded inside models.fit (a leak there is caught too)
        uses[-1] = audit(FoldUse(kind, k, test=test, fit=hist["fit_index"], norm=norm.index_,
                                 val=hist["val_index"]))
        epochs.append(hist["best_epoch"])
        te = torch.as_tensor(test, device=X.device)
        prob[test] = models.predict_proba(net, Xn[te])[:, 1].cpu().numpy()
    return {"prob": prob, **scores(y, prob), "uses": uses, "epochs": epochs}
