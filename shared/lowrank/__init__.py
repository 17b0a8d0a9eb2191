"""The shared low-rank core: SVD, Tucker, CP, PCA, intrinsic dimension,
leverage-score sampling and low-rank adapters, on PyTorch (CPU or CUDA).

Every function keeps its input's device and dtype, real or complex.  Importing
this package sets TensorLy's backend to PyTorch once (the project rule: never
``tl.backend_context`` inside tasks; it resets the global backend on exit).
It imports neither scikit-learn nor anything heavier than TensorLy.
"""

from __future__ import annotations

import os

import tensorly as _tl

os.environ.setdefault("TENSORLY_BACKEND", "pytorch")  # for worker processes started from here
_tl.set_backend("pytorch")

from shared.lowrank.svd import svd, svdvals  # noqa: E402
from shared.lowrank.tucker import Tucker, TuckerTensor, hooi, hosvd, hosvd_streamed  # noqa: E402
from shared.lowrank.cp import CPTensor, cp  # noqa: E402
from shared.lowrank.intrinsic import intrinsic_dimension  # noqa: E402
from shared.lowrank.pca import PCA  # noqa: E402
from shared.lowrank.sampling import leverage_sample, leverage_scores  # noqa: E402
from shared.lowrank.adapters import (  # noqa: E402
    FLoRA,
    LoRA,
    SVFit,
    TrainedRankPruning,
    apply_adapters,
    count_trainable,
    merge,
    unmerge,
)

__all__ = [
    "svd",
    "svdvals",
    "TuckerTensor",
    "Tucker",
    "hosvd",
    "hooi",
    "hosvd_streamed",
    "CPTensor",
    "cp",
    "PCA",
    "intrinsic_dimension",
    "leverage_sample",
    "leverage_scores",
    "LoRA",
    "FLoRA",
    "SVFit",
    "apply_adapters",
    "merge",
    "unmerge",
    "count_trainable",
    "TrainedRankPruning",
]
