"""Configuration of the ``isac`` flow and its profile presets."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.config import threads_field

Baseline = Literal["fft3d", "sequential", "esprit3d"]


class IsacConfig(BaseModel):
    """Settings of the ``isac`` flow (``--set key=value`` overrides any field)."""

    model_config = ConfigDict(extra="forbid")

    # data
    scenario: Literal["default", "plain-demo", "close"] = Field(
        default="default", description="simulated scenario (domains/isac/scenarios.py) when no --data")
    close_dimension: Literal["angle", "range", "velocity"] = Field(
        default="velocity", description="the dimension the two 'close' targets share within a cell")
    snr_db: list[float] = Field(default=[-10.0, 0.0, 10.0, 20.0], min_length=1,
                                description="per-entry SNR grid of the Monte Carlo run, dB")
    reference_snr_db: float = Field(default=10.0, description="SNR of the headline metrics and figures, dB")
    n_trials: int = Field(default=50, ge=1, description="noise realisations per SNR")
    # PLAIN
    compression: Literal["none", "decimation", "averaging"] | None = Field(
        default=None, description="None: the scenario's own (averaging for all presets)")
    factors: list[int] | None = Field(default=None, min_length=3, max_length=3,
                                      description="compression factor per mode; None: the scenario's")
    max_range_m: float | None = Field(
        default=None, gt=0, description="largest range the compressed delay band must hold, m "
        "(the band is centred on [0, max_range_m]); None: the scenario's, or for --data the whole "
        "non-negative compressed interval")
    max_speed_mps: float | None = Field(
        default=None, gt=0, description="largest |radial velocity| the compressed Doppler band "
        "must hold, m/s; None: not checked")
    method: Literal["root-music", "esprit", "esprit-music"] = Field(
        default="root-music", description="PLAIN's per-mode frequency estimator")
    order: Literal["aic", "mdl"] = Field(default="aic", description="per-mode model-order criterion")
    fusion: Literal["omp", "omp-tucker", "ls"] = Field(
        default="omp", description="PLAIN's fusion: Tensor-OMP, the reference code's Tucker OMP, TensorLS")
    known_order: bool = Field(default=True, description="give every method the true number of targets")
    n_targets: int | None = Field(default=None, ge=1,
                                  description="targets to look for in measured CSI; None estimates it")
    refine: bool = Field(default=True, description="also run PLAIN + joint variable-projection refinement")
    # baselines and sweeps
    baselines: list[Baseline] = Field(default=["fft3d", "sequential", "esprit3d"],
                                      description="classical estimators run on the same trials")
    esprit_trials: int = Field(default=10, ge=1, description="trials per SNR for joint 3-D ESPRIT (slow)")
    scaling_sizes: list[Annotated[int, Field(ge=16)]] = Field(
        default=[32, 64, 128, 256], min_length=1,
        description="N_F = N_T of the runtime sweep (N_R = 16; each >= 16: the sweep compresses by (1, 2, 2) "
                    "and resolves 4 targets)")
    esprit_max_size: int = Field(default=64, description="largest sweep size joint ESPRIT is run at")
    esprit_min_size: int = Field(default=0, description="smallest sweep size joint ESPRIT is run at")
    timing_repeats: int = Field(default=5, ge=1, description="timed calls per runtime (after one warm-up); "
                                "the median is reported")
    dtype: Literal["complex64", "complex128"] = Field(
        default="complex128", description="precision of the simulated and loaded tensors")
    threads: int = threads_field("PLAIN's many small eigh/eig calls run fastest on one")


PROFILES = {
    # about 1-2 minutes of CPU on one idle core (docs/benchmarks.md: far more under load, 2 threads)
    "quick": {"snr_db": [-10.0, 0.0, 10.0, 20.0], "n_trials": 20, "esprit_trials": 2,
              "scaling_sizes": [32, 64], "esprit_max_size": 64, "esprit_min_size": 64},
    "full": {"snr_db": [-20.0, -17.5, -15.0, -12.5, -10.0, -7.5, -5.0, -2.5, 0.0, 5.0, 10.0, 15.0, 20.0],
             "n_trials": 200, "esprit_trials": 20, "scaling_sizes": [32, 64, 128, 256, 512, 1024],
             "esprit_max_size": 64},
}
