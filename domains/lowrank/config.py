"""Configuration of the ``lowrank`` flow and its profile presets."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class LowrankConfig(BaseModel):
    """Settings of the ``lowrank`` flow (``--set key=value`` overrides any field)."""

    model_config = ConfigDict(extra="forbid")

    # synthetic data (used when no --data is given)
    shape: list[int] = Field(default=[48, 40, 32], min_length=2, description="synthetic tensor shape")
    true_ranks: list[int] = Field(default=[6, 5, 4], description="multilinear rank of the synthetic tensor")
    noise: float = Field(default=0.0, ge=0.0, description="noise norm relative to the signal norm")
    # reduction
    ranks: list[int] | None = Field(default=None, description="ranks per mode; None chooses them by energy")
    energy: float = Field(default=1 - 1e-12, gt=0.0, le=1.0,
                          description="retained fraction of squared singular values per mode")
    algorithm: Literal["hosvd", "hooi"] = "hosvd"
    svd_method: Literal["auto", "full", "randomized", "gram"] = "auto"
    dtype: Literal["float32", "float64"] = "float64"
    # intrinsic dimension of the mode-`id_mode` fibres
    id_method: Literal["twonn", "pca"] = "twonn"
    id_mode: int = Field(default=0, ge=0)


PROFILES = {
    "quick": {},
    "full": {"shape": [256, 256, 256], "true_ranks": [32, 32, 32], "noise": 1e-3,
             "dtype": "float32", "energy": 0.999},
}
