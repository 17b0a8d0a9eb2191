"""Internal indices of a code's k-means partition (the label-free restart criteria of the study)."""

from __future__ import annotations

import torch

from domains.geo.selection import partition_indices, selection_score


def test_separated_blobs_score_better_than_one_blob_on_every_index():
    g = torch.Generator().manual_seed(0)
    centres = torch.tensor([[0.0, 0.0], [4.0, 0.0], [0.0, 4.0]])
    blobs = centres[torch.arange(3000) % 3] + 0.3 * torch.randn(3000, 2, generator=g)
    blob = torch.randn(3000, 2, generator=g)
    sep = partition_indices(blobs, 3, seed=0, sample=1000)
    one = partition_indices(blob, 3, seed=0, sample=1000)
    assert sep["davies_bouldin"] < 0.5 < one["davies_bouldin"]
    assert sep["silhouette"] > 0.7 > one["silhouette"]
    assert sep["calinski_harabasz"] > 10 * one["calinski_harabasz"]
    for index in ("davies_bouldin", "calinski_harabasz", "silhouette"):  # lower selection score = better
        assert selection_score(sep, index) < selection_score(one, index)
    # the indices do not depend on the code's units (a uniform scaling of the code space)
    scaled = partition_indices(7.0 * blobs, 3, seed=0, sample=1000)
    for index, v in sep.items():
        assert abs(scaled[index] - v) <= 1e-6 * max(1.0, abs(v))


def test_choose_k_finds_the_number_of_blobs_over_the_whole_range():
    """``model.k`` = "silhouette" / "elbow": the k of four well separated blobs, searched over
    k_range inclusive of both ends; an int k is taken as is."""
    from domains.geo.model import choose_k

    g = torch.Generator().manual_seed(1)
    centres = torch.tensor([[0.0, 0.0], [6.0, 0.0], [0.0, 6.0], [6.0, 6.0]])
    X = centres[torch.arange(600) % 4] + 0.4 * torch.randn(600, 2, generator=g)
    k, info = choose_k(X, "silhouette", [2, 6], n_init=2, max_iter=30, seed=0, sample=600)
    assert k == 4 and info["k_grid"] == [2, 3, 4, 5, 6] and len(info["silhouette"]) == 5
    assert max(info["silhouette"]) == info["silhouette"][2] > 0.6
    assert choose_k(X, "elbow", [2, 6], n_init=2, max_iter=30, seed=0, sample=600)[0] == 4
    assert choose_k(X, 7, [2, 6], n_init=4, max_iter=50, seed=0) == (7, {})
