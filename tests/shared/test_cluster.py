"""Torch k-means against scikit-learn; contingency-based scores against scikit-learn's."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.cluster import KMeans as SKMeans
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

from shared.cluster import (KMeans, adjusted_rand, contingency, elbow_k, matching_accuracy,
                            normalized_mutual_info, per_class_f1, purity)


def _blobs(n=3000, k=5, d=4, seed=0):
    g = np.random.default_rng(seed)
    centres = g.normal(0, 4, (k, d))
    y = g.integers(0, k, n)
    return centres[y] + g.normal(0, 1.0, (n, d)), y


def test_kmeans_matches_sklearn_inertia():
    X, y = _blobs()
    ours = KMeans(5, n_init=4, seed=0).fit(torch.from_numpy(X))
    sk = SKMeans(5, n_init=4, random_state=0).fit(X)
    assert ours.inertia_ == pytest.approx(sk.inertia_, rel=0.01)
    lab = ours.predict(torch.from_numpy(X)).numpy()
    assert adjusted_rand_score(y, lab) > 0.95
    assert ours.score(torch.from_numpy(X)) == pytest.approx(ours.inertia_, rel=1e-9)


def test_scores_match_sklearn_and_known_answers():
    g = np.random.default_rng(1)
    t = g.integers(0, 6, 2000)
    p = np.where(g.random(2000) < 0.7, (t + 2) % 7, g.integers(0, 7, 2000))
    C = contingency(t, p, 6, 7)
    assert C.sum() == 2000
    assert adjusted_rand(C) == pytest.approx(adjusted_rand_score(t, p), abs=1e-12)
    assert normalized_mutual_info(C) == pytest.approx(normalized_mutual_info_score(t, p), abs=1e-12)
    perm = (t * 5 + 3) % 6  # a relabelling of t is a perfect clustering
    Cp = contingency(t, perm, 6, 6)
    assert matching_accuracy(Cp) == 1.0 and purity(Cp) == 1.0 and np.allclose(per_class_f1(Cp), 1)
    # two clusters merged: purity stays 1 for the split side, Hungarian pays for the unmatched
    C2 = np.array([[50, 0], [50, 0], [0, 100]])
    assert matching_accuracy(C2) == 0.75 and purity(C2) == 0.75


def test_nodata_labels_are_ignored_and_elbow():
    C = contingency(np.array([0, 1, 255, 1]), np.array([1, 0, 0, 255]), 2, 2)
    assert C.tolist() == [[0, 1], [1, 0]]
    ks = list(range(2, 10))
    inertia = [100, 40, 12, 10, 9, 8.5, 8, 7.8]  # a clear elbow at k = 4
    assert elbow_k(ks, inertia) == 4
