"""Configuration of the ``lowrank`` flow and its profile presets."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator


class LowrankConfig(BaseModel):
    """Settings of the ``lowrank`` flow (``--set key=value`` overrides any field).

    ``lowdim config lowrank`` lists them with their defaults and descriptions.
    """

    # validate_default: the default true_ranks must fit an overridden shape (--set shape=[4,4]) too
    model_config = ConfigDict(extra="forbid", validate_default=True)

    # synthetic data (used when no --data is given)
    shape: list[int] = Field(default=[48, 40, 32], min_length=2,
                             description="synthetic tensor shape, one size >= 1 per mode (ignored with --data)")
    true_ranks: list[int] = Field(default=[6, 5, 4],
                                  description="multilinear rank of the synthetic tensor, 1 <= rank <= size per mode")
    noise: float = Field(default=0.0, ge=0.0, description="noise norm relative to the signal norm (synthetic data)")
    # reduction
    ranks: list[int] | None = Field(default=None,
                                    description="ranks kept per mode; null chooses them by `energy`")
    energy: float = Field(default=1 - 1e-12, gt=0.0, le=1.0,
                          description="retained fraction of squared singular values per mode, in (0, 1]")
    algorithm: Literal["hosvd", "hooi"] = Field(
        default="hosvd", description="hosvd: one-pass truncated HOSVD; hooi: HOSVD refined by HOOI sweeps")
    svd_method: Literal["auto", "full", "randomized", "gram"] = Field(
        default="auto",
        description="SVD solver of the reduction (auto: randomized for 2-way data, per shape and device for N-way)")
    dtype: Literal["float32", "float64"] = Field(default="float64", description="floating-point precision")
    # intrinsic dimension of the mode-`id_mode` fibres
    id_method: Literal["twonn", "pca"] = Field(
        default="twonn", description="intrinsic-dimension estimator of the mode-`id_mode` fibres")
    id_mode: int = Field(default=0, ge=0, description="mode whose fibres the intrinsic dimension is measured on")

    @field_validator("shape")
    @classmethod
    def _positive_sizes(cls, v: list[int]) -> list[int]:
        if any(s < 1 for s in v):
            raise ValueError(f"every size must be at least 1, got {v}")
        return v

    @field_validator("true_ranks")
    @classmethod
    def _ranks_fit_shape(cls, v: list[int], info: ValidationInfo) -> list[int]:
        shape = info.data.get("shape")
        if shape is None:  # shape itself was invalid and is reported
            return v
        if len(v) != len(shape):
            raise ValueError(f"has {len(v)} entries for the {len(shape)}-way shape {shape} (set true_ranks too)")
        for n, (r, i) in enumerate(zip(v, shape)):
            if not 1 <= r <= i:
                raise ValueError(f"rank {r} of mode {n} is not in [1, {i}] (shape {shape}; set true_ranks too)")
        return v


PROFILES = {
    "quick": {},
    "full": {"shape": [256, 256, 256], "true_ranks": [32, 32, 32], "noise": 1e-3,
             "dtype": "float32", "energy": 0.999},
}
