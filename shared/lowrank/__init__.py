"""The shared low-rank core: SVD, Tucker, CP, PCA, intrinsic dimension,
leverage-score sampling and low-rank adapters, on PyTorch (CPU or CUDA).

Every function keeps its input's device and dtype, real or complex.  Importing
this package changes no process-wide state: calls into TensorLy run under
:func:`shared.lowrank._utils.tensorly_pytorch` (this thread's backend, restored
after) and small LAPACK calls under :func:`shared.lowrank._utils.lapack_threads`
(this thread's OpenMP pool, restored after).  It imports neither scikit-learn
nor anything heavier than TensorLy.
"""

from __future__ import annotations

from shared.lowrank._utils import rank_from_energy, tensorly_pytorch  # noqa: E402
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
    "rank_from_energy",
    "tensorly_pytorch",
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
