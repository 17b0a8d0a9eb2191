"""Configuration of the ``ecog`` flow, sectioned by step, and its profile presets.

Each step reads only its own section (``ingest``, ``reduce``, ``model``,
``evaluate``); ``seed`` and ``device`` live in the run context. ``quick`` and
``full`` differ only in sizes and iteration counts.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from shared.config import threads_field

Task = Literal["hand_vs_tongue", "movement_vs_imagery"]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class IngestConfig(_Section):
    """Where the recordings come from and how they are preprocessed and epoched."""

    allow_pickle: bool = Field(
        default=False, description="trust a Neuromatch .npz that stores pickled objects; loading a "
                                   "pickle runs code from the file, so it is off unless you set it")
    sfreq_hz: float = Field(default=1000.0, gt=0,
                            description="sampling rate of Miller .mat files (they do not store it), Hz")
    block: Literal["movement", "imagery"] = Field(
        default="movement", description="which block a single EDF/BrainVision/FIF/.mat file holds "
                                        "when its name does not say (Miller names: *_mot_* / *_im_*)")
    n_participants: int = Field(default=7, ge=1, description="simulated participants")
    gains: list[float] | None = Field(
        default=None, min_length=1, description="high-gamma gain per simulated participant (separability); "
                                                "None: evenly graded from 0 to max_gain")
    max_gain: float = Field(default=0.12, ge=0, description="largest simulated high-gamma gain (fraction)")
    n_channels: int = Field(default=16, ge=4, description="simulated electrodes per participant")
    n_trials_per_class: int = Field(default=30, ge=2, description="simulated cues per class per block")
    cue_s: float = Field(default=3.0, gt=0, description="simulated cue length (movement/imagery), s")
    rest_s: float = Field(default=3.0, gt=0, description="simulated rest after each cue, s")
    sim_sfreq_hz: float = Field(default=1000.0, gt=0, description="simulator sampling rate, Hz")
    imagery_fraction: float = Field(default=0.25, ge=0, le=1,
                                    description="imagery effect as a fraction of the movement effect")
    bad_channels: list[int] = Field(default=[15], description="simulated bad electrodes (0-based, each < "
                                                              "n_channels), 500 uV white noise, listed in "
                                                              "info['bads']; recordings keep their own bads")
    shift_somatotopy: bool = Field(
        default=True, description="each simulated participant has its own hand/tongue electrodes "
                                  "(so naive cross-participant transfer fails, as in the paper)")
    line_freq_hz: float = Field(default=60.0, gt=0, description="mains frequency to notch (US 60 Hz)")
    notch_harmonics: int = Field(default=3, ge=0, description="notch the line and this many harmonics - 1")
    envelope: Literal["hilbert", "paper"] = Field(
        default="hilbert", description="hilbert: 70-150 Hz FIR band-pass + Hilbert envelope; paper: "
                                       "high-pass 50 Hz, square, low-pass 10 Hz, divide by the mean")
    hg_band_hz: list[float] = Field(default=[70.0, 150.0], min_length=2, max_length=2,
                                    description="high-gamma band of the envelope and of the baselines, Hz; "
                                                "the data's rate must exceed 2 x (top + 2 Hz)")
    car: bool = Field(default=True, description="common average reference over good ECoG channels")
    epoch_s: float = Field(default=2.0, gt=0, description="epoch length from each cue onset, s (at most the "
                                                          "spacing of the cues: cue_s + rest_s when simulated)")
    envelope_sfreq_hz: float = Field(default=20.0, gt=0,
                                     description="rate of the envelope after smoothing and decimation, Hz "
                                                 "(below half the recording's rate)")
    band_sfreq_hz: float = Field(default=500.0, gt=0,
                                 description="rate of the band-passed epochs the baselines use, Hz; above "
                                             "2 x the top of hg_band_hz (their covariance reads that band)")

    @field_validator("hg_band_hz")
    @classmethod
    def _band_ordered(cls, v: list[float]) -> list[float]:
        if not 0 < v[0] < v[1]:
            raise ValueError(f"expected 0 < low < high Hz, got {v}")
        return v

    @field_validator("band_sfreq_hz")
    @classmethod
    def _band_rate_holds_the_band(cls, v: float, info: ValidationInfo) -> float:
        # decimating below 2 x the band's top would alias the 70-150 Hz signal CSP / tangent space read
        band = info.data.get("hg_band_hz")
        if band is not None and not v > 2 * band[1]:
            raise ValueError(f"{v:g} Hz is not above 2 x the high-gamma top ({band[1]:g} Hz, ingest.hg_band_hz): "
                             f"the band-passed signal would alias; use more than {2 * band[1]:g}")
        return v


class ReduceConfig(_Section):
    """The per-participant screen and the low-rank summaries."""

    n_folds: int = Field(default=5, ge=2, description="stratified CV folds, shared by every method")
    screen: Literal["umap", "pca"] = Field(default="umap",
                                           description="embedding of the screen (pca: fast, for tests)")
    n_components: int = Field(default=2, ge=1, description="embedding dimension of the screen")
    n_neighbors: int = Field(default=15, ge=2, description="UMAP n_neighbors")
    min_dist: float = Field(default=0.1, ge=0, description="UMAP min_dist")
    umap_epochs: int | None = Field(default=200, ge=10, description="UMAP optimisation epochs (None: UMAP's own)")
    knn_k: int = Field(default=4, ge=1, description="neighbours of the KNN classifier")
    time_bins: int = Field(default=4, ge=1, description="envelope time bins per channel in the screen's features")
    pca_variance: float = Field(default=0.9, gt=0, lt=1,
                                description="variance fraction of the PCA summary (paper: 0.9)")
    tucker_energy: float = Field(default=0.9, gt=0, le=1,
                                 description="energy per mode of the Tucker summary of trials x channels x time")


class ModelConfig(_Section):
    """The deep decoders, the baselines and cross-participant transfer."""

    models: list[Literal["lstm_cnn", "cnn"]] = Field(default=["lstm_cnn", "cnn"],
                                                     description="deep decoders trained per fold")
    baselines: list[Literal["csp_lda", "ts_lr", "hg_lda"]] = Field(
        default=["csp_lda", "ts_lr", "hg_lda"],
        description="csp_lda: mne CSP + LDA; ts_lr: pyriemann tangent space + logistic regression; "
                    "hg_lda: LDA on log high-gamma power per channel")
    conv_filters: list[int] = Field(default=[32, 16], min_length=2, max_length=2,
                                    description="filters of the two conv blocks")
    kernel: int = Field(default=5, ge=1, description="temporal kernel of the conv blocks, samples")
    pool: Literal["max", "avg"] = Field(default="max", description="pooling of the conv blocks (paper: max)")
    readout: Literal["last", "mean"] = Field(default="last",
                                             description="LSTM-CNN readout: last LSTM step (paper) or mean over time")
    lstm_hidden: int = Field(default=32, ge=1, description="LSTM units (two stacked layers)")
    dense: list[int] = Field(default=[32, 16], min_length=2, max_length=2, description="dense layer widths")
    dropout: float = Field(default=0.3, ge=0, lt=1, description="dropout after each LSTM / dense layer")
    lr: float = Field(default=1e-2, gt=0, description="Adam learning rate")
    weight_decay: float = Field(default=1e-4, ge=0, description="Adam weight decay")
    batch_size: int = Field(default=8, ge=1, description="minibatch size (paper: 25; 8 suits 30-50 training trials)")
    max_epochs: int = Field(default=60, ge=1, description="training epochs at most")
    min_epochs: int = Field(default=10, ge=0,
                            description="epochs trained before the validation loss may stop training")
    patience: int = Field(default=15, ge=1, description="early-stopping patience on the inner validation loss")
    val_fraction: float = Field(default=0.2, gt=0, lt=1,
                                description="share of each TRAINING fold held out for early stopping")
    transfer: bool = Field(default=True, description="run cross-participant transfer")
    transfer_targets: int = Field(default=2, ge=1, description="target participants of the transfer study")
    transfer_shots: int = Field(default=10, ge=1, le=10, description="target trials per class to adapt on")
    transfer_repeats: int = Field(default=3, ge=1, description="random draws of the adaptation trials")
    adapter_rank: int = Field(default=4, ge=1, description="rank of the LoRA/FLoRA adapters")
    adapt_epochs: int = Field(default=60, ge=1, description="epochs of adaptation / from-scratch training")
    adapt_lr: float = Field(default=1e-2, gt=0, description="learning rate of adaptation")


class EvaluateConfig(_Section):
    """Metrics, figures and the report."""

    tasks: list[Task] = Field(default=["hand_vs_tongue", "movement_vs_imagery"], min_length=1,
                              description="decoding tasks per participant")
    headline_model: Literal["lstm_cnn", "cnn"] = Field(default="lstm_cnn",
                                                       description="deep model the screen is compared to")
    figures: bool = Field(default=True, description="write the PNG figures")


class EcogConfig(_Section):
    """Settings of the ``ecog`` flow (``--set section.key=value`` overrides any field)."""

    threads: int = threads_field("the decoders' small kernels run fastest on one thread of a loaded CPU")
    ingest: IngestConfig = Field(default_factory=IngestConfig, description="read by the ingest step")
    reduce: ReduceConfig = Field(default_factory=ReduceConfig, description="read by the reduce step")
    model: ModelConfig = Field(default_factory=ModelConfig, description="read by the model step")
    evaluate: EvaluateConfig = Field(default_factory=EvaluateConfig, description="read by the evaluate step")

    @field_validator("evaluate")
    @classmethod
    def _headline_is_trained(cls, v: EvaluateConfig, info: ValidationInfo) -> EvaluateConfig:
        # the headline model's accuracy and rho are the run's metrics: it must be one of the trained models
        m = info.data.get("model")
        if m is not None and v.headline_model not in m.models:
            raise ValueError(f"headline_model '{v.headline_model}' is not among model.models {m.models} "
                             f"(add it there or set evaluate.headline_model to one of them)")
        return v


PROFILES = {
    # ~60-90 s on 2 cores including UMAP's numba compile (measured in docs/benchmarks.md)
    "quick": {
        "ingest": {"n_participants": 4, "n_channels": 12, "bad_channels": [11], "n_trials_per_class": 20,
                   "cue_s": 2.0, "rest_s": 1.0, "epoch_s": 1.5},
        "reduce": {"umap_epochs": 100},
        "model": {"max_epochs": 60, "patience": 15, "conv_filters": [16, 16], "lstm_hidden": 16,
                  "dense": [16, 8], "transfer_targets": 1, "transfer_repeats": 1, "adapt_epochs": 40},
        "evaluate": {"tasks": ["hand_vs_tongue"]},
    },
    "full": {
        "ingest": {"n_participants": 7, "n_channels": 46, "bad_channels": [45], "n_trials_per_class": 30,
                   "cue_s": 3.0, "rest_s": 3.0, "epoch_s": 2.0},
        "reduce": {"umap_epochs": None},
        "model": {"max_epochs": 100, "patience": 20, "conv_filters": [64, 32], "lstm_hidden": 64,
                  "dense": [64, 32], "transfer_targets": 7, "transfer_repeats": 5, "adapt_epochs": 80},
        "evaluate": {"tasks": ["hand_vs_tongue", "movement_vs_imagery"]},
    },
}
