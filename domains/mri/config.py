"""Configuration of the ``mri`` flow, sectioned by step, and its profiles."""

from __future__ import annotations

from typing import Annotated, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field

from shared.config import threads_field

# the one list of mask families (domains.mri.masks draws them); kept here, not in masks.py, so that
# reading the config (a --set typo's check before Prefect) imports no torch
Family = Literal["equispaced", "random", "gaussian_2d", "poisson_2d", "radial"]
FAMILIES: tuple[str, ...] = get_args(Family)
#: an acceleration below 1 would sample more than all of k-space: a bad-input error (exit 2)
Acceleration = Annotated[float, Field(ge=1.0)]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class IngestConfig(_Section):
    """The embedded default (ignored with ``--data``)."""

    size: int = Field(default=64, ge=16, description="matrix size H = W of the simulated slices, pixels")
    n_coils: int = Field(default=8, ge=1, description="simulated receive coils")
    oversample: int = Field(default=2, ge=1, description="simulation grid / output grid (avoids the inverse crime)")
    noise: float = Field(default=0.003, ge=0, description="complex k-space noise std relative to the image maximum")
    slice_step: int = Field(default=2, ge=1, description="keep every n-th axial position inside each split block")
    block: int = Field(default=6, ge=2, description="axial slices per split block (train/test/val interleaved)")
    min_brain_fraction: float = Field(default=0.12, gt=0, lt=1,
                                      description="axial positions whose brain area covers at least this fraction")
    max_test_slices: int = Field(default=6, ge=1, description="test slices kept (evenly spaced over the test positions)")
    max_val_slices: int = Field(default=4, ge=1, description="validation slices kept (CS lambda tuning)")
    twice_resolution: bool = Field(default=True, description="also write the test slices at 2x the matrix size")
    extra_train_sizes: list[int] = Field(default=[96], description="also write the training slices at these matrix "
                                         "sizes (same field of view) for multi-resolution training; keep them "
                                         "below 2x size, so the 2x test stays an unseen resolution")
    adapt_contrast: bool = Field(default=True, description="also write a T2-like contrast (adaptation data)")
    adapt_train_slices: int = Field(default=8, ge=1, description="training slices of the new contrast")


class ReduceConfig(_Section):
    """Coil compression by SVD (virtual coils)."""

    compress: bool = Field(default=True, description="reconstruct from virtual coils (False: all physical coils)")
    energy: float = Field(default=0.99, gt=0, le=1, description="energy fraction the virtual coils keep")
    max_coils: int | None = Field(default=None, ge=1, description="upper bound on the virtual coils; None: by energy")


class ModelConfig(_Section):
    """The unified neural operator, the VarNet baseline and the adaptation runs."""

    checkpoint: str | None = Field(default=None, description="operator checkpoint (.pt) to reuse: no training")
    varnet_checkpoint: str | None = Field(default=None, description="VarNet checkpoint to reuse (with checkpoint)")
    cascades: int = Field(default=3, ge=1, description="unrolled cascades of the operator")
    chans: int = Field(default=8, ge=2, description="UDNO channels at the first level")
    pools: int = Field(default=2, ge=0, description="UDNO pooling levels")
    radius: float = Field(default=0.05, gt=0, description="DISCO radius, units of the [-1, 1] training image")
    kernel_shape: list[int] = Field(default=[3, 4], min_length=2, max_length=2,
                                    description="DISCO basis (rings, angles): (r - 1) a + 1 weights per channel pair")
    kspace_operator: bool = Field(default=True, description="include the k-space neural operator (KNO)")
    kno_chans: int = Field(default=8, ge=2, description="KNO channels at the first level")
    kno_pools: int = Field(default=2, ge=0, description="KNO pooling levels")
    steps: int = Field(default=60, ge=0, description="training steps (both models)")
    multires_every: int = Field(default=2, ge=0, description="every n-th training step draws from the next of "
                                "ingest.extra_train_sizes (both models, same stream); 0: the base size only")
    batch: int = Field(default=6, ge=1, description="slices per training step")
    lr: float = Field(default=5e-3, gt=0, description="Adam learning rate (both models)")
    train_families: list[Family] = Field(default=["equispaced", "random", "gaussian_2d", "poisson_2d"], min_length=1,
                                         description="mask families drawn in training (one per sample)")
    train_accelerations: list[Acceleration] = Field(default=[4.0, 8.0], min_length=1,
                                             description="accelerations drawn in training")
    mask_seeds: int = Field(default=8, ge=1, description="distinct random masks per family and acceleration in training")
    augment: bool = Field(default=True, description="random flips, global phase and intensity scale in training")
    mask_zooms: list[Annotated[float, Field(ge=1.0)]] = Field(
        default=[1.0, 1.5, 2.0, 3.0], min_length=1,
        description="each training mask is the centre of a mask drawn for a k-space this many times larger, one "
                    "factor drawn per sample (both models, same stream): z is the sampling that an acquisition of "
                    "z times the matrix, same field of view, has inside this grid's band; [1]: plain masks only")
    varnet: bool = Field(default=True, description="train MONAI's E2E-VarNet baseline on the same budget")
    varnet_cascades: int = Field(default=3, ge=1, description="VarNet cascades")
    varnet_features: list[int] = Field(default=[5, 5, 10, 20, 40, 5], min_length=6, max_length=6,
                                       description="VarNet ComplexUnet features (similar parameter count)")
    adapt: bool = Field(default=True, description="adapt to the T2-like contrast: FLoRA against full fine-tuning")
    adapt_steps: int = Field(default=6, ge=1, description="adaptation steps (both FLoRA and full fine-tuning)")
    adapt_rank: int = Field(default=2, ge=1, description="FLoRA Tucker rank per weight mode of every DISCO layer")
    adapt_scale: float = Field(default=2.0, gt=0, description="FLoRA scale")
    adapt_lr: float = Field(default=3e-3, gt=0, description="FLoRA learning rate")
    finetune_lr: float = Field(default=5e-4, gt=0, description="full fine-tuning learning rate")
    resolution_factor: float = Field(default=1.0, gt=0,
                                     description="--data: pixel density relative to training (1 = same pixel size)")


class EvaluateConfig(_Section):
    """Test-time masks, baselines, timing and figures."""

    families: list[Family] = Field(default=list(FAMILIES), min_length=1, description="mask families evaluated")
    accelerations: list[Acceleration] = Field(default=[4.0, 8.0], min_length=1,
                                       description="accelerations evaluated (each >= 1)")
    mask_seed: int = Field(default=1000, description="seed of the test masks (distinct from training seeds)")
    cs: bool = Field(default=True, description="run the SENSE-TV compressed-sensing baseline")
    cs_lambdas: list[float] = Field(default=[3e-3, 1e-2, 3e-2, 1e-1, 3e-1], min_length=1,
                                    description="TV weights tried on the validation slices, per acceleration")
    cs_iterations: int = Field(default=60, ge=1, description="iterations of both CS baselines (TV primal-dual, "
                                                             "L1-wavelet FISTA)")
    cs_wavelet: bool = Field(default=True, description="run the SENSE + L1-wavelet compressed-sensing baseline")
    cs_wavelet_lambdas: list[float] = Field(default=[1e-2, 2e-2, 5e-2, 1e-1, 2e-1, 5e-1], min_length=1,
                                            description="L1-wavelet weights tried on the validation slices, "
                                                        "per acceleration")
    cs_wavelet_name: str = Field(default="db4", description="PyWavelets wavelet of the L1-wavelet baseline")
    twice_resolution_accelerations: list[Acceleration] = Field(default=[4.0], min_length=1,
                                                        description="accelerations of the 2x-resolution test")
    upsampled_2x: bool = Field(default=True, description="also test 2x by bilinear upsampling of the test slices "
                                                         "(NO-MRI's super-resolution protocol)")
    extended_fov: bool = Field(default=True, description="also test a 2x field of view at the training pixel size "
                                                         "(test slices zero-padded to twice the matrix)")
    timing_repeats: int = Field(default=5, ge=1, description="timed repeats per method (median)")
    figure_acceleration: float = Field(default=4.0, ge=1, description="acceleration shown in the reconstruction grid")


class MriConfig(BaseModel):
    """Settings of the ``mri`` flow (``--set section.key=value`` overrides any field)."""

    model_config = ConfigDict(extra="forbid")

    threads: int = threads_field()
    ingest: IngestConfig = Field(default_factory=IngestConfig, description="data (ingest step)")
    reduce: ReduceConfig = Field(default_factory=ReduceConfig, description="coil compression (reduce step)")
    model: ModelConfig = Field(default_factory=ModelConfig, description="models (model step)")
    evaluate: EvaluateConfig = Field(default_factory=EvaluateConfig, description="metrics (evaluate step)")


PROFILES = {
    # 64 x 64, 8 coils, a short CPU training: about a minute on 2 cores
    "quick": {},
    # paper-like sizes for a GPU: 320 x 320 from a 640 grid, 15 coils, NO-MRI's widths
    "full": {
        "threads": 0,
        "ingest": {"size": 320, "n_coils": 15, "slice_step": 1, "max_test_slices": 24, "max_val_slices": 8,
                   "adapt_train_slices": 24, "extra_train_sizes": [480]},
        "model": {"cascades": 6, "chans": 18, "pools": 4, "radius": 0.02, "kno_chans": 16, "kno_pools": 4,
                  "steps": 4000, "batch": 4, "lr": 3e-4, "train_accelerations": [2.0, 4.0, 6.0, 8.0, 16.0],
                  "varnet_cascades": 6, "varnet_features": [18, 18, 36, 72, 144, 18], "adapt_steps": 200,
                  "adapt_rank": 4, "adapt_lr": 1e-3, "finetune_lr": 1e-4},
        "evaluate": {"accelerations": [2.0, 4.0, 6.0, 8.0, 16.0], "cs_iterations": 200,
                     "cs_lambdas": [1e-3, 3e-3, 1e-2, 3e-2, 1e-1, 3e-1, 1.0]},
    },
}
