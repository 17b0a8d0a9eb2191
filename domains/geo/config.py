"""Configuration of the ``geo`` flow, sectioned by step, and its profile presets.

Each step reads only its own section (``ingest``, ``reduce``, ``model``,
``evaluate``); ``seed`` and the device come from the run context.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from shared.config import threads_field

# unit maps are uint8 with 255 as nodata: at most 255 clusters (codes 0..254)
MAX_K = 255

Sensor = Literal["landsat8", "landsat9", "sentinel2", "aster"]
Method = Literal["raw", "pca", "ae", "sae", "improved"]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class IngestConfig(_Section):
    """Reading, masking, alignment and the training sample."""

    sensors: list[Sensor] = Field(default=["landsat8", "sentinel2"], min_length=1,
                                  description="synthetic scene only: products generated and read back")
    scene_size: int = Field(default=160, ge=32,
                            description="synthetic scene only: side of the 30 m grid, pixels")
    n_units: int = Field(default=6, ge=2, le=6,
                         description="synthetic scene only: geological units in the reference map")
    cloud_cover: float = Field(default=0.06, ge=0, lt=0.9,
                               description="synthetic scene only: target fraction of cloudy pixels")
    noise_sigma: float = Field(default=0.006, ge=0, description="synthetic scene only: reflectance noise sd")
    vegetation: bool = Field(default=True, description="synthetic scene only: green and dry vegetation cover")
    relief: float = Field(default=0.35, ge=0, description="synthetic scene only: DEM relief scale (0: flat, no shading)")
    resolution: float | None = Field(default=None, gt=0,
                                     description="target grid pixel size in CRS units; None: the finest band")
    crs: str | None = Field(default=None, description="target CRS (e.g. EPSG:32754); None: the finest band's")
    reference: str | None = Field(default=None,
                                  description="reference unit map GeoTIFF for --data (integer codes)")
    reference_nodata: int | None = Field(default=None,
                                         description="nodata code of the reference; None: the file's nodata")
    aster_scale: float = Field(default=0.001, gt=0,
                               description="ASTER GeoTIFF DN -> reflectance factor (AST_07XT: 0.001)")
    generic_scale: float = Field(default=1.0, gt=0, description="generic multiband GeoTIFF DN -> value factor")
    mask_snow: bool = Field(default=True, description="mask snow/ice (QA_PIXEL bit 5, SCL 11)")
    scl_keep: list[int] = Field(default=[4, 5, 6, 7],
                                description="Sentinel-2 SCL classes kept as clear (4 veg, 5 bare, 6 water, 7 unclassified)")
    sample_pixels: int = Field(default=20_000, ge=100, description="training sample drawn uniformly from valid pixels")
    block: int = Field(default=512, ge=64, description="window side of the streamed passes, pixels")


    @field_validator("scl_keep")
    @classmethod
    def _scl(cls, v: list[int]) -> list[int]:
        bad = [c for c in v if not 0 <= c <= 11]
        if bad:
            raise ValueError(f"SCL classes are 0..11, got {bad}")
        return v

    @field_validator("sensors")
    @classmethod
    def _unique_sensors(cls, v: list[str]) -> list[str]:
        if len(set(v)) < len(v):
            raise ValueError(f"each sensor once (one scene each), got {v}")
        return v


class ReduceConfig(_Section):
    """Scaling and the per-pixel encoders (trained on the sample, applied in blocks)."""

    methods: list[Method] = Field(default=["raw", "pca", "ae", "sae", "improved"], min_length=1,
                                  description="raw bands, PCA, canonical AE, stacked AE (paper), improved")
    pca_variance: float = Field(default=0.9, gt=0, lt=1, description="PCA keeps components to this variance")
    code_dim: int = Field(default=2, ge=1, description="AE bottleneck (paper: 2)")
    l1: float = Field(default=1e-4, ge=0, description="L1 activity penalty on every layer (paper: 1e-4)")
    lr: float = Field(default=1e-3, gt=0, description="Adam learning rate (Keras default)")
    epochs: list[int] = Field(default=[10, 5, 5], min_length=3, max_length=3,
                              description="paper epochs of AE/stage 1, stage 2, stage 3")
    batch_sizes: list[int] = Field(default=[64, 32, 16], min_length=3, max_length=3,
                                   description="paper batch sizes of AE/stage 1, stage 2, stage 3")
    min_steps: int = Field(default=3_000, ge=0,
                           description="paper methods: floor on Adam updates per stage; epochs are raised to reach it "
                                       "(the paper's epochs run over ~0.8-7 M pixels, a sample needs more)")
    restarts: int = Field(default=1, ge=1,
                          description="paper AEs: initialisations trained, one kept by a label-free figure (as "
                                      "k-means' n_init): the canonical AE by its training objective, the stacked "
                                      "AE as a whole stack (all three stages, the starts trained in lockstep at "
                                      "about the cost of one) by its reconstruction MSE of the input")
    train_pixels: int = Field(default=20_000, ge=100,
                              description="paper methods train on this many sampled pixels (paper: all)")
    improved_encoder: Literal["sae", "ae", "pca"] = Field(
        default="pca", description="encoder of the improved mode: the core's PCA (to pca_variance), or the "
                                   "paper's stacked / canonical AE trained with improved_epochs and improved_batch")
    improved_features: Literal["bands", "log_ratio"] = Field(
        default="log_ratio", description="improved mode input: reflectance, or log band ratios to the pixel's "
                                         "geometric mean (cancel topographic illumination)")
    improved_percentiles: list[float] = Field(default=[0.0, 100.0], min_length=2, max_length=2,
                                              description="improved mode maps these per-band percentiles of the clear "
                                                          "sample to [0, 1], clipped (0, 100: min-max; 2, 98 clip "
                                                          "the tails)")

    @field_validator("epochs", "batch_sizes")
    @classmethod
    def _positive(cls, v: list[int]) -> list[int]:
        if min(v) < 1:
            raise ValueError(f"each of the three stages needs at least 1, got {v}")
        return v

    @field_validator("methods")
    @classmethod
    def _unique_methods(cls, v: list[str]) -> list[str]:
        if len(set(v)) < len(v):
            raise ValueError(f"each method once, got {v}")
        return v

    @field_validator("improved_percentiles")
    @classmethod
    def _percentiles(cls, v: list[float]) -> list[float]:
        if not 0 <= v[0] < v[1] <= 100:
            raise ValueError(f"need 0 <= low < high <= 100, got {v}")
        return v
    improved_ndvi_max: float | None = Field(default=0.3,
                                            description="improved mode masks NDVI above this; None: no NDVI mask")
    improved_leverage_pixels: int = Field(default=6_000, ge=100,
                                          description="leverage-sampled training pixels of the improved mode")
    improved_leverage_mix: float = Field(default=0.5, ge=0, lt=1,
                                         description="uniform share mixed into the leverage probabilities")
    improved_epochs: int = Field(default=40, ge=1, description="epochs per stage of the improved mode")
    improved_batch: int = Field(default=512, ge=1, description="batch size of the improved mode")
    infer_batch: int = Field(default=1 << 18, ge=1024,
                             description="pixels per encoder call when the fitted methods encode a window or "
                                         "the sample (bounds the activations; codes do not depend on it)")


class ModelConfig(_Section):
    """k-means on the codes and the majority filter."""

    k: Annotated[int, Field(ge=1, le=MAX_K)] | Literal["elbow", "silhouette"] = Field(
        default=6, description="clusters (at most 255: uint8 unit maps, 255 nodata), or choose by the inertia "
                               "elbow / silhouette on a sample")
    k_range: list[int] = Field(default=[2, 12], min_length=2, max_length=2,
                               description="k searched by elbow/silhouette, low < high <= 255 (paper: 2..20)")
    n_init: int = Field(default=4, ge=1, description="k-means restarts (lowest inertia kept)")
    max_iter: int = Field(default=100, ge=1, description="Lloyd iterations per restart")
    fit_pixels: int = Field(default=20_000, ge=10, description="sampled pixels the k-means is fitted on")
    majority_size: int = Field(default=7, ge=1, description="majority (mode) filter window, pixels (odd; 1: off)")
    cog: bool = Field(default=True, description="write each unit map as a Cloud-Optimized GeoTIFF")

    @field_validator("k_range")
    @classmethod
    def _k_range(cls, v: list[int]) -> list[int]:
        if not 1 <= v[0] < v[1] <= MAX_K:
            raise ValueError(f"need 1 <= low < high <= {MAX_K}, got {v}")
        return v

    @field_validator("majority_size")
    @classmethod
    def _odd(cls, v: int) -> int:
        if v % 2 == 0:
            raise ValueError(f"the majority window must be odd (centred on its pixel), got {v}")
        return v


class EvaluateConfig(_Section):
    """Scores against the reference map and the internal indices."""

    index_sample: int = Field(default=10_000, ge=100,
                              description="pixels for Calinski-Harabasz and Davies-Bouldin")
    headline: Method = Field(default="improved", description="method reported as lowdim's metrics")


class GeoConfig(BaseModel):
    """Settings of the ``geo`` flow (``--set section.key=value`` overrides any field)."""

    model_config = ConfigDict(extra="forbid")
    threads: int = threads_field("1 in both profiles: AE training is many tiny kernels, measured 12x faster on "
                                 "one thread, inference and k-means 2-4x under load")
    ingest: IngestConfig = Field(default_factory=IngestConfig, description="ingest step")
    reduce: ReduceConfig = Field(default_factory=ReduceConfig, description="reduce step")
    model: ModelConfig = Field(default_factory=ModelConfig, description="model step")
    evaluate: EvaluateConfig = Field(default_factory=EvaluateConfig, description="evaluate step")


PROFILES = {
    # about a minute on 2 cores: two sensors, five methods, 160^2 px at 30 m
    "quick": {},
    # paper scale: larger scene, paper epochs on 1 M pixels; k stays 6 (the synthetic scene's units;
    # the paper's elbow is `--set model.k=elbow`, searched over k_range)
    "full": {"ingest": {"scene_size": 1024, "sample_pixels": 1_000_000, "block": 1024},
             "reduce": {"train_pixels": 1_000_000, "improved_leverage_pixels": 200_000,
                        "improved_epochs": 20, "improved_batch": 4096},
             "model": {"fit_pixels": 200_000, "n_init": 10, "k_range": [2, 20]},
             "evaluate": {"index_sample": 20_000}},
}
