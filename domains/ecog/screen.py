"""The cheap screen: UMAP (or PCA) embedding + KNN, scored by stratified CV.

Bafana scores one 80/20 split of UMAP-embedded data (12 test trials, steps of
0.083); here the score is the out-of-fold KNN accuracy over the shared folds,
and the embedding is fitted inside each training fold (scaler and UMAP see only
training trials; test trials are placed with ``UMAP.transform``), so the score
is not transductive.

UMAP's first fit in a process compiles numba code (~25 s on 2 cores);
:func:`warm_umap` pays that once per process (later calls return at once).
"""

from __future__ import annotations

import functools
import warnings

import numpy as np
from sklearn.neighbors import KNeighborsClassifier
from sklearn.preprocessing import StandardScaler

from domains.ecog.cv import FoldUse, audit, fit_rows, split


def screen_features(env: np.ndarray, time_bins: int) -> np.ndarray:
    """Log mean power per channel in ``time_bins`` equal bins: ``(trials, channels * time_bins)``."""
    n, c, t = env.shape
    b = max(1, min(time_bins, t))
    edges = np.linspace(0, t, b + 1).astype(int)
    binned = np.stack([env[..., edges[i]:edges[i + 1]].mean(-1) for i in range(b)], axis=-1)
    return np.log(np.maximum(binned, 1e-30)).reshape(n, c * b)


def _umap(n_train: int, n_components: int, n_neighbors: int, min_dist: float, n_epochs: int | None, seed: int):
    import umap

    return umap.UMAP(n_components=n_components, n_neighbors=max(2, min(n_neighbors, n_train - 1)),
                     min_dist=min_dist, n_epochs=n_epochs, init="random", random_state=seed, n_jobs=1)


@functools.cache
def warm_umap() -> float:
    """Compile UMAP's numba kernels once per process (fit + transform on a small array).

    Returns the seconds it took the first time (later calls return the cached value).
    """
    import time

    t0 = time.perf_counter()
    rng = np.random.default_rng(0)
    x = rng.standard_normal((60, 8)).astype(np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        u = _umap(50, 2, 15, 0.1, 20, 0).fit(x[:50])
        u.transform(x[50:])
    return time.perf_counter() - t0


def embed_fold(F: np.ndarray, train: np.ndarray, test: np.ndarray, *, method: str, n_components: int,
               n_neighbors: int, min_dist: float, n_epochs: int | None,
               seed: int) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """Scaler + embedding fitted on ``F[train]``; ``F[test]`` is only transformed.

    Returns
    -------
    (np.ndarray, np.ndarray, dict)
        Embeddings of the fitted rows and of ``test``, and the rows each fit saw
        (``norm``: the scaler, ``fit``: the embedding; the rows of the first array),
        recorded where they are used so that the audit sees them.
    """
    scaler, norm_rows = fit_rows(StandardScaler(), F, None, train)
    a, b = scaler.transform(F[norm_rows]), scaler.transform(F[test])
    if method == "umap":
        warm_umap()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "n_jobs overridden by random_state"
            u = _umap(len(a), n_components, n_neighbors, min_dist, n_epochs, seed).fit(a)
            return (u.embedding_.astype(np.float32), u.transform(b).astype(np.float32),
                    {"norm": norm_rows, "fit": norm_rows})
    import torch

    from shared.lowrank import PCA

    p = PCA(n_components=min(n_components, *a.shape)).fit(torch.from_numpy(a))
    return (p.transform(torch.from_numpy(a)).numpy().astype(np.float32),
            p.transform(torch.from_numpy(b)).numpy().astype(np.float32), {"norm": norm_rows, "fit": norm_rows})


def screen_cv(env: np.ndarray, y: np.ndarray, folds: np.ndarray, *, method: str = "umap", n_components: int = 2,
              n_neighbors: int = 15, min_dist: float = 0.1, n_epochs: int | None = 200, knn_k: int = 4,
              time_bins: int = 4, seed: int = 0) -> dict:
    """The screen score of one participant and task over the shared folds.

    Parameters
    ----------
    env : np.ndarray
        ``(trials, channels, times)`` high-gamma power envelope.
    y : np.ndarray
        ``(trials,)`` labels.
    folds : np.ndarray
        ``(trials,)`` fold id per trial (:func:`domains.ecog.cv.make_folds`).

    Returns
    -------
    dict
        ``score`` (out-of-fold KNN accuracy), ``pred`` ``(trials,)``, ``embedding``
        ``(trials, n_components)`` (each trial placed by its fold's embedding; the
        folds' coordinate frames differ), ``fold0`` (fold 0's training and test
        indices and embeddings), ``uses`` (audited).
    """
    F = screen_features(env, time_bins)
    pred = np.zeros(len(y), np.int64)
    emb = np.zeros((len(y), n_components), np.float32)
    uses = []
    for k in range(int(folds.max()) + 1):
        train, test = split(folds, k)
        e_tr, e_te, rows = embed_fold(F, train, test, method=method, n_components=n_components,
                                      n_neighbors=n_neighbors, min_dist=min_dist, n_epochs=n_epochs, seed=seed)
        uses.append(audit(FoldUse(f"screen_{method}", k, test=test, fit=rows["fit"], norm=rows["norm"])))
        # the KNN learns the labels of the rows the embedding was fitted on
        knn = KNeighborsClassifier(n_neighbors=min(knn_k, len(e_tr))).fit(e_tr, y[rows["fit"]])
        pred[test] = knn.predict(e_te)
        emb[test] = e_te
        if k == 0:  # one fold's embedding in one coordinate frame, for the figure
            fold0 = {"train": rows["fit"], "train_embedding": e_tr, "test": test, "test_embedding": e_te}
    return {"score": float((pred == y).mean()), "pred": pred, "embedding": emb, "fold0": fold0, "uses": uses}
