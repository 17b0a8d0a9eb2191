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


def _overlapping(seed=4, n=1500, k=8):
    # overlapping blobs: restarts end in different local optima
    g = np.random.default_rng(seed)
    X = g.normal(0, 2.5, (k, 2))[g.integers(0, k, n)] + g.normal(0, 1, (n, 2))
    return torch.from_numpy(X), torch.from_numpy(g.uniform(0.1, 3.0, n))


def _record_inits(monkeypatch):
    import shared.cluster as sc

    inits, seeding = [], sc.kmeans_plusplus

    def recording(*a, **k):
        C = seeding(*a, **k)
        inits.append(C.clone())
        return C

    monkeypatch.setattr(sc, "kmeans_plusplus", recording)
    return inits


def test_weighted_kmeans_centres_are_weighted_means_and_match_sklearn(monkeypatch):
    X, w = _overlapping()
    inits = _record_inits(monkeypatch)
    ours = KMeans(8, n_init=1, tol=0.0, max_iter=300, seed=0).fit(X, sample_weight=w)
    lab = ours.labels_
    means = torch.stack([(X[lab == j] * w[lab == j, None]).sum(0) / w[lab == j].sum() for j in range(8)])
    torch.testing.assert_close(ours.cluster_centers_, means, rtol=0, atol=1e-12)
    assert ours.inertia_ == pytest.approx(float((((X - ours.cluster_centers_[lab]) ** 2).sum(1) * w).sum()))
    # scikit-learn's weighted Lloyd from the same k-means++ start reaches the same centres
    sk = SKMeans(8, init=inits[0].numpy(), n_init=1, max_iter=300, tol=0.0).fit(X.numpy(), sample_weight=w.numpy())
    np.testing.assert_allclose(ours.cluster_centers_.numpy(), sk.cluster_centers_, atol=1e-9)
    assert ours.inertia_ == pytest.approx(sk.inertia_, rel=1e-9)


def test_kmeans_keeps_the_best_restart(monkeypatch):
    import shared.cluster as sc

    X, _ = _overlapping()
    inits = _record_inits(monkeypatch)
    best = KMeans(8, n_init=5, seed=0).fit(X).inertia_
    single = []
    for C0 in inits:  # each restart on its own, from its own seeding
        monkeypatch.setattr(sc, "kmeans_plusplus", lambda *a, C0=C0, **k: C0.clone())
        single.append(KMeans(8, n_init=1, seed=0).fit(X).inertia_)
    assert len(single) == 5 and max(single) > min(single) * 1.01  # the restarts differ
    assert best == pytest.approx(min(single), rel=1e-12)
