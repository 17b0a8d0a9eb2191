"""The four steps of the ``ecog`` flow, free of Prefect.

ingest    simulator (embedded default) or recordings (Neuromatch npz, Miller .mat,
          EDF/BDF, BrainVision, FIF) -> MNE preprocessing -> epochs per task
reduce    folds once per participant and task; UMAP + KNN screen inside the folds;
          PCA and Tucker summaries from the low-rank core
model     LSTM-CNN and CNN, CSP + LDA, tangent space + LR, HG-power LDA on the
          same folds; cross-participant transfer with LoRA / FLoRA adapters
evaluate  per-participant accuracy and ROC-AUC, Spearman rho of screen score
          against the deep model's accuracy, figures, report

Per-participant work is a function over ONE participant (``prepare_participant``,
``reduce_participant``, ``model_participant``) plus a combine, so a runner can
map participants over workers.
"""

from __future__ import annotations

import time
from typing import Any

import h5py
import numpy as np
import torch

from domains.ecog import figures, io
from domains.ecog.config import PROFILES, EcogConfig, IngestConfig, ModelConfig, ReduceConfig
from domains.ecog.cv import make_folds
from domains.ecog.decode import baseline_cv, deep_cv
from domains.ecog.preprocess import preprocess, task_arrays
from domains.ecog.screen import screen_cv, warm_umap
from domains.ecog.simulate import Participant, generate
from shared.domain import DomainSpec
from shared.errors import BadInput
from shared.manifests import sha256_file
from shared.progress import progress
from shared.runs import RunContext, write_array
from shared.timing import measure


def _cfg(ctx: RunContext) -> EcogConfig:
    return EcogConfig.model_validate(ctx.config)


# ------------------------------------------------------------------------ ingest
def simulated(icfg: IngestConfig, seed: int) -> list[Participant]:
    """The simulated participants the ingest section describes."""
    return generate(n_participants=icfg.n_participants if icfg.gains is None else len(icfg.gains),
                    gains=icfg.gains, max_gain=icfg.max_gain, seed=seed, n_channels=icfg.n_channels,
                    n_trials_per_class=icfg.n_trials_per_class, cue_s=icfg.cue_s, rest_s=icfg.rest_s,
                    sfreq=icfg.sim_sfreq_hz, bad_channels=icfg.bad_channels,
                    imagery_fraction=icfg.imagery_fraction, shift_somatotopy=icfg.shift_somatotopy,
                    line_freq=icfg.line_freq_hz)


def prepare_participant(p: Participant, icfg: IngestConfig, tasks: list[str], where: str) -> dict[str, Any]:
    """Preprocess and epoch ONE participant: ``{"tasks": {task: arrays}, "psd", "psd_freqs", "channels"}``."""
    blocks = {name: preprocess(raw, epoch_s=icfg.epoch_s, line_freq=icfg.line_freq_hz,
                               notch_harmonics=icfg.notch_harmonics, car=icfg.car, envelope=icfg.envelope,
                               hg_band=tuple(icfg.hg_band_hz), envelope_sfreq=icfg.envelope_sfreq_hz,
                               band_sfreq=icfg.band_sfreq_hz, where=f"{where} ({p.pid}, {name})")
              for name, raw in p.raws.items()}
    out = {t: a for t in tasks if (a := task_arrays(blocks, t)) is not None}
    first = blocks.get("movement") or next(iter(blocks.values()))
    return {"tasks": out, "psd": first.psd, "psd_freqs": first.psd_freqs, "channels": first.channels,
            "env_sfreq": first.env_sfreq}


def ingest(ctx: RunContext, prev: dict[str, dict]) -> dict[str, Any]:
    """Load or simulate participants, preprocess them and write their epochs to ``results.h5``.

    Writes ``epochs/<pid>/<task>/{env, band, y}``, ``epochs/<pid>/psd`` and, for
    simulations, the known gains as attributes of ``epochs/<pid>``.
    """
    cfg = _cfg(ctx)
    icfg, tasks = cfg.ingest, list(cfg.evaluate.tasks)
    if ctx.data:
        parts = io.load_participants(ctx.data, icfg)
        data = {"source": str(ctx.data), "sha256": sha256_file(ctx.data), "synthetic": False}
    else:  # --dataset was checked by io.check_input (spec.check) before the run began
        parts = simulated(icfg, ctx.seed)
        data = {"source": f"simulated: {len(parts)} participants, gains "
                          f"{[round(p.gain, 3) for p in parts]}", "sha256": None, "synthetic": True}
    where = ctx.data or "simulator"
    records = []
    with h5py.File(ctx.results_h5, "a") as h5:
        for p in progress(parts, desc="ecog preprocess", unit="participant"):
            prep = prepare_participant(p, icfg, tasks, where)
            g = h5.require_group(f"epochs/{p.pid}")
            if p.gain is not None:
                g.attrs["gain"] = p.gain
            for k, v in p.info.items():
                g.attrs[k] = v if isinstance(v, str) else np.asarray(v)
            write_array(h5, f"epochs/{p.pid}/psd", prep["psd"], unit="V^2/Hz", rows="tongue,hand",
                        channels=",".join(prep["channels"]))
            write_array(h5, f"epochs/{p.pid}/psd_freqs", prep["psd_freqs"], unit="Hz")
            shapes = {}
            for t, a in prep["tasks"].items():
                write_array(h5, f"epochs/{p.pid}/{t}/env", a["env"], unit="high-gamma power (a.u.)",
                            sfreq_hz=prep["env_sfreq"])
                write_array(h5, f"epochs/{p.pid}/{t}/band", a["band"], unit="V", sfreq_hz=icfg.band_sfreq_hz)
                write_array(h5, f"epochs/{p.pid}/{t}/y", a["y"], unit="class (1 hand / movement)")
                shapes[t] = list(a["env"].shape)
            records.append({"pid": p.pid, "gain": p.gain, "channels": len(prep["channels"]), "shapes": shapes})
    if not any(r["shapes"] for r in records):  # the check catches this from the headers; the blocks' bads may not
        raise BadInput(where, f"none of evaluate.tasks {tasks} could be epoched (movement_vs_imagery needs a "
                              "movement and an imagery block with the same good channels)")
    return {"participants": records, "tasks": tasks, "data": data}


def _task_data(h5: h5py.File, pid: str, task: str) -> dict[str, np.ndarray]:
    g = h5[f"epochs/{pid}/{task}"]
    return {"env": g["env"][()], "band": g["band"][()], "y": g["y"][()]}


# ------------------------------------------------------------------------ reduce
def reduce_participant(arrays: dict[str, np.ndarray], rcfg: ReduceConfig, seed: int, where: str) -> dict[str, Any]:
    """Folds, screen and low-rank summaries of ONE participant-task."""
    from shared.lowrank import PCA
    from shared.lowrank.tucker import hosvd

    y = arrays["y"]
    counts = np.bincount(y, minlength=2)
    if counts.min() < rcfg.n_folds:
        raise BadInput(where, f"class counts {counts.tolist()}: fewer trials than the {rcfg.n_folds} CV folds")
    folds = make_folds(y, rcfg.n_folds, seed)
    kw = dict(method=rcfg.screen, n_components=rcfg.n_components, n_neighbors=rcfg.n_neighbors,
              min_dist=rcfg.min_dist, n_epochs=rcfg.umap_epochs, knn_k=rcfg.knn_k, time_bins=rcfg.time_bins,
              seed=seed)
    timing, scr = measure(lambda: screen_cv(arrays["env"], y, folds, **kw), repeats=1, warmup=0)
    X = torch.log(torch.as_tensor(arrays["env"], dtype=torch.float64).clamp(min=1e-30))
    X = (X - X.mean(dim=(0, 2), keepdim=True)) / X.std(dim=(0, 2), keepdim=True)
    pca = PCA(n_components=rcfg.pca_variance).fit(X.reshape(len(X), -1))
    tk = hosvd(X, energy=rcfg.tucker_energy)
    rel = float(torch.linalg.norm(tk.to_tensor() - X) / torch.linalg.norm(X))
    return {"folds": folds, "screen": scr, "screen_seconds": timing.median_s,
            "pca_components": int(pca.n_components_), "tucker_ranks": [int(r) for r in tk.core.shape],
            "tucker_rel_error": rel}


def reduce(ctx: RunContext, prev: dict[str, dict]) -> dict[str, Any]:
    """Shared folds + the per-participant screen score + PCA/Tucker summaries."""
    cfg = _cfg(ctx)
    rcfg = cfg.reduce
    warm_s = float(warm_umap()) if rcfg.screen == "umap" else 0.0
    out: dict[str, dict] = {}
    with h5py.File(ctx.results_h5, "a") as h5:
        for rec in progress(prev["ingest"]["participants"], desc="ecog screen", unit="participant"):
            pid = rec["pid"]
            for task in rec["shapes"]:
                r = reduce_participant(_task_data(h5, pid, task), rcfg, ctx.seed, f"{pid} {task}")
                write_array(h5, f"folds/{pid}/{task}", r["folds"], unit="fold id")
                write_array(h5, f"screen/{pid}/{task}/embedding", r["screen"]["embedding"],
                            unit="embedding (a.u.)", method=rcfg.screen)
                write_array(h5, f"screen/{pid}/{task}/pred", r["screen"]["pred"], unit="class")
                for key, v in r["screen"]["fold0"].items():
                    write_array(h5, f"screen/{pid}/{task}/fold0/{key}", v,
                                unit="trial index" if key in ("train", "test") else "embedding (a.u.)")
                out.setdefault(task, {})[pid] = {
                    "screen_score": r["screen"]["score"], "screen_seconds": r["screen_seconds"],
                    "pca_components": r["pca_components"], "tucker_ranks": r["tucker_ranks"],
                    "tucker_rel_error": r["tucker_rel_error"]}
    return {"per_task": out, "umap_warmup_seconds": warm_s, "screen": rcfg.screen}


# ------------------------------------------------------------------------- model
def model_participant(arrays: dict[str, np.ndarray], folds: np.ndarray, mcfg: ModelConfig, *, device: str,
                      seed: int) -> dict[str, dict]:
    """Every deep model and baseline on ONE participant-task over its shared folds."""
    res: dict[str, dict] = {}
    for kind in mcfg.models:
        t0 = time.perf_counter()
        r = deep_cv(kind, arrays["env"], arrays["y"], folds, mcfg, device=device, seed=seed)
        res[kind] = {**r, "seconds": time.perf_counter() - t0}
    for name in mcfg.baselines:
        t0 = time.perf_counter()
        r = baseline_cv(name, arrays["band"], arrays["env"], arrays["y"], folds)
        res[name] = {**r, "seconds": time.perf_counter() - t0}
    return res


def model(ctx: RunContext, prev: dict[str, dict]) -> dict[str, Any]:
    """Deep models and baselines per participant and task; transfer on the best-screened targets."""
    from domains.ecog.transfer import transfer_target

    cfg = _cfg(ctx)
    mcfg = cfg.model
    per_task: dict[str, dict] = {}
    transfer: dict[str, dict] = {}
    with h5py.File(ctx.results_h5, "a") as h5:
        for rec in progress(prev["ingest"]["participants"], desc="ecog decode", unit="participant"):
            pid = rec["pid"]
            for task in rec["shapes"]:
                arrays = _task_data(h5, pid, task)
                res = model_participant(arrays, h5[f"folds/{pid}/{task}"][()], mcfg, device=ctx.device,
                                        seed=ctx.seed)
                for m, r in res.items():
                    write_array(h5, f"predictions/{pid}/{task}/{m}", r["prob"], unit="P(class 1)")
                per_task.setdefault(task, {})[pid] = {
                    m: {k: float(r[k]) for k in ("accuracy", "roc_auc", "seconds") if k in r}
                    for m, r in res.items()}
        parts = [r["pid"] for r in prev["ingest"]["participants"] if "hand_vs_tongue" in r["shapes"]]
        if mcfg.transfer and len(parts) >= 2:
            scores = prev["reduce"]["per_task"]["hand_vs_tongue"]
            targets = sorted(parts, key=lambda p: -scores[p]["screen_score"])[:mcfg.transfer_targets]
            data = [(h5[f"epochs/{p}/hand_vs_tongue/env"][()], h5[f"epochs/{p}/hand_vs_tongue/y"][()])
                    for p in parts]
            for t in targets:
                transfer[t] = transfer_target(parts.index(t), data, mcfg, device=ctx.device, seed=ctx.seed)
                transfer[t].pop("repeats")
    return {"per_task": per_task, "transfer": transfer}


# ---------------------------------------------------------------------- evaluate
def spearman(a: list[float], b: list[float]) -> float:
    """Spearman's rho (nan for fewer than 3 points or a constant side)."""
    from scipy.stats import spearmanr

    if len(a) < 3 or np.ptp(a) == 0 or np.ptp(b) == 0:
        return float("nan")
    return float(spearmanr(a, b).statistic)


def summarise(red: dict, mod: dict, headline: str) -> dict[str, Any]:
    """Per task: per-participant table, method means, rho of screen vs headline accuracy, cost ratio."""
    out = {}
    for task, per in mod["per_task"].items():
        pids = list(per)
        methods = list(next(iter(per.values())))
        table = {p: {"screen": red["per_task"][task][p]["screen_score"],
                     **{m: per[p][m]["accuracy"] for m in methods}} for p in pids}
        mean = {m: float(np.mean([per[p][m]["accuracy"] for p in pids])) for m in methods}
        auc = {m: float(np.mean([per[p][m]["roc_auc"] for p in pids])) for m in methods
               if all("roc_auc" in per[p][m] for p in pids)}
        screen_s = float(np.mean([red["per_task"][task][p]["screen_seconds"] for p in pids]))
        deep_s = float(np.mean([per[p][headline]["seconds"] for p in pids])) if headline in methods else np.nan
        rho = spearman([table[p]["screen"] for p in pids], [table[p].get(headline, np.nan) for p in pids])
        out[task] = {"table": table, "mean_accuracy": mean, "mean_roc_auc": auc,
                     "screen_mean": float(np.mean([table[p]["screen"] for p in pids])),
                     "spearman_rho": rho, "screen_seconds": screen_s, "deep_seconds": deep_s,
                     "cost_ratio": deep_s / screen_s if screen_s > 0 else np.nan}
    return out


def evaluate(ctx: RunContext, prev: dict[str, dict]) -> dict[str, Any]:
    """Metrics against the baselines, rho, transfer, figures and report."""
    cfg = _cfg(ctx)
    ecfg = cfg.evaluate
    red, mod = prev["reduce"], prev["model"]
    head = ecfg.headline_model
    summ = summarise(red, mod, head)
    metrics: dict[str, float] = {}
    baselines: dict[str, dict[str, float]] = {}
    for i, (task, s) in enumerate(summ.items()):
        suffix = "" if i == 0 else f"_{task}"
        for m, acc in s["mean_accuracy"].items():
            target = metrics if m == head else baselines.setdefault(m, {})
            target[f"accuracy{suffix}"] = acc
            if m in s["mean_roc_auc"]:
                target[f"roc_auc{suffix}"] = s["mean_roc_auc"][m]
        metrics[f"screen_score{suffix}"] = s["screen_mean"]
        if np.isfinite(s["spearman_rho"]):
            metrics[f"spearman_rho{suffix}"] = s["spearman_rho"]
        if "ts_lr" in s["mean_accuracy"] and head in s["mean_accuracy"]:
            metrics[f"gap_to_ts_lr_points{suffix}"] = 100 * (s["mean_accuracy"][head] - s["mean_accuracy"]["ts_lr"])
        if np.isfinite(s["cost_ratio"]):
            metrics[f"deep_over_screen_cost{suffix}"] = s["cost_ratio"]
    if mod["transfer"]:
        for m in next(iter(mod["transfer"].values()))["accuracy"]:
            metrics[f"transfer_accuracy_{m}"] = float(np.mean([t["accuracy"][m] for t in mod["transfer"].values()]))
    metrics["umap_warmup_seconds"] = float(red["umap_warmup_seconds"])
    first = next(iter(red["per_task"].values()))
    pca_dims = [v["pca_components"] for v in first.values()]

    if ecfg.figures:
        with h5py.File(ctx.results_h5, "r") as h5:
            figures.embeddings_figure(h5, list(summ)[0], ctx.figures / "umap_embeddings.png", cfg.reduce.screen)
            figures.spectra_figure(h5, ctx.figures / "high_gamma_spectra.png", tuple(cfg.ingest.hg_band_hz))
        for task, s in summ.items():
            figures.screen_vs_dl_figure(s, head, task, ctx.figures / f"screen_vs_dl_{task}.png", cfg.reduce.screen)
            figures.accuracy_figure(s, task, ctx.figures / f"accuracy_{task}.png", cfg.reduce.screen)
    report = figures.report(prev["ingest"], red, mod, summ, metrics, head, cfg)
    return {"metrics": metrics, "baselines": baselines,
            "intrinsic_dimension": {"estimator": f"PCA components for {cfg.reduce.pca_variance:.0%} variance "
                                                 "(median over participants, first task)",
                                    "value": float(np.median(pca_dims))},
            "report": report}


SPEC = DomainSpec(
    name="ecog",
    summary="UMAP + KNN screening and LSTM-CNN decoding of motor and imagery ECoG, against CSP+LDA and "
            "tangent space",
    config=EcogConfig, profiles=PROFILES,
    ingest=ingest, reduce=reduce, model=model, evaluate=evaluate,
    check=io.check_input,  # header-level: file keys, cues, rate, bads, trials per class (registry: light import)
)
