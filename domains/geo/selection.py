"""Label-free selection among encoders by an internal index of their codes' k-means partition.

The paper scores its methods by Calinski-Harabasz and Davies-Bouldin on the
clustered codes (brief, section 4). The same indices rank several trained
initialisations of one encoder (restarts) without the reference map: each
start's codes of the training pixels are clustered with k-means, and the
start whose partition is most compact and separated is kept. All three
indices are invariant to a uniform scaling of the code space, so codes of
different stacks are comparable.

======================  ==========================================  ==========
index                   definition (scikit-learn)                    better
======================  ==========================================  ==========
``davies_bouldin``      mean over clusters of the worst ratio of     lower
                        summed within-cluster spreads to the
                        centre distance
``calinski_harabasz``   between / within dispersion, dof-scaled      higher
``silhouette``          mean silhouette on a sample                  higher
======================  ==========================================  ==========
"""

from __future__ import annotations

import torch

from shared.cluster import KMeans

INDICES = ("davies_bouldin", "calinski_harabasz", "silhouette")


@torch.no_grad()
def partition_indices(codes: torch.Tensor, k: int, *, n_init: int = 4, max_iter: int = 100, seed: int = 0,
                      sample: int = 5000) -> dict[str, float]:
    """Internal indices of the k-means partition of ``codes`` ``(n, c)`` into ``k`` clusters.

    k-means is fitted on all ``n`` rows (the torch k-means of the model
    step); Davies-Bouldin and Calinski-Harabasz are over all rows, the
    silhouette over ``sample`` rows drawn with ``seed`` (it is O(n^2)).

    Returns
    -------
    dict
        ``davies_bouldin``, ``calinski_harabasz``, ``silhouette`` (floats;
        the worst possible values when k-means finds fewer than 2 clusters).
    """
    from sklearn.metrics import calinski_harabasz_score, davies_bouldin_score, silhouette_score

    X = codes.double()
    lab = KMeans(int(k), n_init=n_init, max_iter=max_iter, seed=seed).fit(X).labels_
    x, y = X.cpu().numpy(), lab.cpu().numpy()
    if not 2 <= len(set(y.tolist())) < len(y):  # the indices need 2 <= clusters <= samples - 1
        return {"davies_bouldin": float("inf"), "calinski_harabasz": 0.0, "silhouette": -1.0}
    g = torch.Generator().manual_seed(int(seed))
    idx = torch.randperm(x.shape[0], generator=g)[:sample].numpy()
    return {"davies_bouldin": float(davies_bouldin_score(x, y)),
            "calinski_harabasz": float(calinski_harabasz_score(x, y)),
            "silhouette": float(silhouette_score(x[idx], y[idx])) if 1 < len(set(y[idx].tolist())) < len(idx) else -1.0}


def selection_score(indices: dict[str, float], index: str) -> float:
    """The figure to minimise for ``index`` (lower is better: DB as is, CH and silhouette negated)."""
    v = indices[index]
    return v if index == "davies_bouldin" else -v
