"""Leak-free cross-validation: one set of folds per participant and task, shared by
the screen, the deep models and the baselines, with an audit of every index used.

Each method reports, per fold, the trial indices it fitted on, normalised with and
early-stopped on (:class:`FoldUse`); :func:`audit` raises :class:`LeakError` when
any of them holds a test trial. The audit runs inside every CV loop, so a bug
that lets test data reach training, normalisation or early stopping stops the run.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from sklearn.model_selection import StratifiedKFold, train_test_split


class LeakError(AssertionError):
    """A test trial reached fitting, normalisation or early stopping."""


def make_folds(y: np.ndarray, n_folds: int, seed: int) -> np.ndarray:
    """Fold id per trial from stratified, shuffled K-fold (MOABB's within-session CV).

    Returns
    -------
    np.ndarray
        ``(n_trials,)`` int, values ``0..n_folds-1``.
    """
    folds = np.full(len(y), -1, dtype=np.int64)
    skf = StratifiedKFold(n_splits=n_folds, shuffle=True, random_state=seed)
    for k, (_, test) in enumerate(skf.split(np.zeros(len(y)), y)):
        folds[test] = k
    return folds


def split(folds: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """``(train, test)`` indices of fold ``k``."""
    return np.flatnonzero(folds != k), np.flatnonzero(folds == k)


def inner_split(train: np.ndarray, y: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Split TRAINING indices into ``(fit, val)`` for early stopping, stratified when possible."""
    yt = y[train]
    strat = yt if np.min(np.bincount(yt)) >= 2 else None
    fit, val = train_test_split(train, test_size=fraction, random_state=seed, stratify=strat)
    return np.sort(fit), np.sort(val)


@dataclass
class FoldUse:
    """Which trials one method used in one fold (indices into the task's trials)."""

    method: str
    fold: int
    test: np.ndarray
    fit: np.ndarray
    norm: np.ndarray
    val: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))


def audit(use: FoldUse) -> FoldUse:
    """Raise :class:`LeakError` if a test trial was fitted on, normalised with or early-stopped on."""
    test = set(np.asarray(use.test).tolist())
    for role in ("fit", "norm", "val"):
        hit = test & set(np.asarray(getattr(use, role)).tolist())
        if hit:
            raise LeakError(f"{use.method}, fold {use.fold}: test trials {sorted(hit)[:5]} used for {role}")
    return use


def fit_rows(est, X, y, rows: np.ndarray):
    """Fit a scikit-learn estimator on ``X[rows]`` (and ``y[rows]``; ``y`` None: unsupervised).

    Returns ``(est, rows)``: the rows it was fitted on, for the audit.
    """
    rows = np.asarray(rows)
    est.fit(X[rows]) if y is None else est.fit(X[rows], y[rows])
    return est, rows


class Standardizer:
    """Per-channel mean and standard deviation over trials and time, fitted on given trials.

    ``fit(X, index)`` sees only ``X[index]``; ``index_`` records which trials those were.
    """

    def fit(self, X, index: np.ndarray) -> "Standardizer":
        """``X`` ``(trials, channels, times)`` (numpy or torch); statistics from ``X[index]``."""
        self.index_ = np.asarray(index)
        sub = X[self.index_]
        if isinstance(sub, np.ndarray):
            self.mean_ = sub.mean(axis=(0, 2), keepdims=True)[0]
            self.std_ = sub.std(axis=(0, 2), keepdims=True)[0] + 1e-6
        else:  # a torch tensor: statistics stay on its device; population std (ddof 0), as numpy's
            self.mean_ = sub.mean(dim=(0, 2), keepdim=True)[0]
            self.std_ = sub.std(dim=(0, 2), correction=0, keepdim=True)[0] + 1e-6
        return self

    def transform(self, X):
        return (X - self.mean_) / self.std_
