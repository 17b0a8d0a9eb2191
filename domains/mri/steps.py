"""The four steps of the ``mri`` flow, free of Prefect.

ingest    the embedded default (MNI152 T1 -> multi-coil fastMRI files per split,
          2x-resolution test slices, a T2-like contrast) or a user's fastMRI file
reduce    coil compression by SVD (virtual coils), energy kept per volume
model     the unified neural operator and MONAI's VarNet on the same budget
          (or a checkpoint, no training); FLoRA against full fine-tuning
evaluate  PSNR/SSIM/NMSE per mask family x acceleration (incl. a held-out
          family) against zero-filled, SENSE-TV and VarNet; 2x resolution;
          coil-compression cost; time per slice; figures and report
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import torch

from domains.mri import checkpoint as ckpt
from domains.mri import figures
from domains.mri.coils import coil_basis, compress, n_virtual
from domains.mri.config import PROFILES, MriConfig
from domains.mri.checks import build_varnet, check
from domains.mri.cs import lambda_for, tune_lambda, tv_recon, wavelet_recon
from domains.mri.data import MaskPool, stack
from domains.mri.embedded import SOURCE, mni_volume, slice_positions, split_positions, write_split
from domains.mri.evaluate import combine, evaluate_setting, prepared, time_per_slice
from domains.mri.io import check_file, read_fastmri, write_fastmri
from domains.mri.masks import FAMILIES
from domains.mri.model import ARCH, NOVarNet
from domains.mri.operators import zero_filled
from domains.mri.train import reconstruct, train
from shared.domain import DomainSpec
from shared.errors import BadInput
from shared.manifests import sha256_file
from shared.progress import status
from shared.runs import RunContext, write_array

EMBEDDED_ID = "mni152-simulated"


def _cfg(ctx: RunContext) -> MriConfig:
    return MriConfig.model_validate(ctx.config)


def operator_kwargs(cfg: MriConfig, ref_size: int) -> dict:
    m = cfg.model
    return {"cascades": m.cascades, "chans": m.chans, "pools": m.pools, "radius": m.radius,
            "ref_size": int(ref_size), "kernel_shape": list(m.kernel_shape), "kspace_operator": m.kspace_operator,
            "kno_chans": m.kno_chans, "kno_pools": m.kno_pools}


def _spaced(items: list[int], n: int) -> list[int]:
    if len(items) <= n:
        return list(items)
    idx = np.linspace(0, len(items) - 1, n).round().astype(int)
    return [items[i] for i in idx]


# ------------------------------------------------------------------------ ingest
def ingest(ctx: RunContext, prev: dict[str, dict]) -> dict[str, Any]:
    """Write the embedded default as fastMRI files, or register the user's file."""
    cfg = _cfg(ctx)
    if ctx.data:
        info = check_file(ctx.data)
        return {"kind": "user", "files": {"test": str(ctx.data)}, "shape": list(info["shape"]),
                "has_target": info["has_target"], "has_mask": info["has_mask"],
                "data": {"source": str(ctx.data), "sha256": sha256_file(ctx.data), "synthetic": False}}
    ic = cfg.ingest
    vol = mni_volume("t1")
    splits = split_positions(slice_positions(vol, ic.min_brain_fraction), block=ic.block, step=ic.slice_step)
    splits["test"] = _spaced(splits["test"], ic.max_test_slices)
    splits["val"] = _spaced(splits["val"], ic.max_val_slices)
    empty = [name for name in ("train", "val", "test") if not splits[name]]
    if empty:  # needs the phantom (seconds to build), so it is checked here rather than before Prefect
        raise BadInput("--set ingest.min_brain_fraction",
                       f"{ic.min_brain_fraction:g} (with ingest.block={ic.block}, slice_step={ic.slice_step}) leaves "
                       f"no {'/'.join(empty)} slices; lower it")
    d = Path(ctx.run_dir) / "data"
    files = {}
    for i, name in enumerate(("train", "val", "test")):
        status(f"mri ingest: simulating {name} ({len(splits[name])} slices)")
        files[name] = str(write_split(d / f"{name}.h5", splits[name], ic.size, ic.n_coils, seed=ctx.seed + i,
                                      oversample=ic.oversample, noise=ic.noise))
    for n in ic.extra_train_sizes:  # multi-resolution training: same slices, same seed, another grid
        if n == ic.size:
            continue
        files[f"train_{n}"] = str(write_split(d / f"train_{n}.h5", splits["train"], n, ic.n_coils, seed=ctx.seed,
                                              oversample=ic.oversample, noise=ic.noise))
    if ic.twice_resolution:
        files["test_2x"] = str(write_split(d / "test_2x.h5", splits["test"], 2 * ic.size, ic.n_coils,
                                           seed=ctx.seed + 2, oversample=ic.oversample, noise=ic.noise))
    if ic.adapt_contrast:
        files["adapt_train"] = str(write_split(d / "adapt_train.h5", _spaced(splits["train"], ic.adapt_train_slices),
                                               ic.size, ic.n_coils, seed=ctx.seed + 3, contrast="t2like",
                                               oversample=ic.oversample, noise=ic.noise))
        files["adapt_test"] = str(write_split(d / "adapt_test.h5", splits["test"], ic.size, ic.n_coils,
                                              seed=ctx.seed + 4, contrast="t2like", oversample=ic.oversample,
                                              noise=ic.noise))
    return {"kind": "embedded", "files": files, "positions": splits, "size": ic.size, "n_coils": ic.n_coils,
            "data": {"source": f"{SOURCE}: {ic.size}x{ic.size}, {ic.n_coils} coils", "sha256": None,
                     "synthetic": True}}


# ------------------------------------------------------------------------ reduce
def reduce(ctx: RunContext, prev: dict[str, dict]) -> dict[str, Any]:
    """Coil compression by SVD: virtual coils per volume keeping ``reduce.energy``."""
    cfg = _cfg(ctx)
    rc = cfg.reduce
    files = prev["ingest"]["files"]
    out_files, per_file = {}, {}
    with h5py.File(ctx.results_h5, "a") as h5:
        spectra = {}
        for name, path in files.items():
            vol = read_fastmri(path)
            U, energy = coil_basis(vol.kspace.to(ctx.device))
            spectra[name] = (vol, U, energy)
            write_array(h5, f"reduce/{name}/coil_energy", energy, unit="1 (squared singular value)")
        v = max(n_virtual(e, rc.energy, rc.max_coils) for _, _, e in spectra.values())
        for name, (vol, U, energy) in spectra.items():
            kept = float(energy[:v].sum() / energy.sum())
            per_file[name] = {"coils": int(vol.kspace.shape[1]), "virtual_coils": v, "energy_kept": kept}
            if rc.compress and v < vol.kspace.shape[1]:
                kc = compress(vol.kspace.to(ctx.device), U, v).cpu()
                p = Path(ctx.run_dir) / "data" / f"{Path(files[name]).stem}_vc{v}.h5"
                write_fastmri(p, kc, vol.target, mask=vol.mask, attrs={"acquisition": vol.attrs.get("acquisition", ""),
                                                                      "virtual_coils": v, "energy_kept": kept})
                out_files[name] = str(p)
            else:
                out_files[name] = files[name]
    test = per_file.get("test", next(iter(per_file.values())))
    return {"files": out_files, "full_files": dict(files), "virtual_coils": v, "per_file": per_file,
            "energy_kept": test["energy_kept"], "coils": test["coils"], "compressed": bool(rc.compress)}


# ------------------------------------------------------------------------- model
def model(ctx: RunContext, prev: dict[str, dict]) -> dict[str, Any]:
    """Train (or load) the operator and VarNet; adapt with FLoRA and full fine-tuning."""
    cfg = _cfg(ctx)
    mc = cfg.model
    files = prev["reduce"]["files"]
    mdir = Path(ctx.run_dir) / "model"
    rec: dict[str, Any] = {"trained": mc.checkpoint is None}
    fams = [f for f in mc.train_families]
    held_out = [f for f in FAMILIES if f not in fams]
    rec["train_families"], rec["held_out"] = fams, held_out
    if mc.checkpoint:
        op, ck = ckpt.load_model(mc.checkpoint, ARCH, NOVarNet)
        rec["operator"] = str(mc.checkpoint)
        rec["operator_meta"] = ck.get("meta", {})
        rec["train_families"] = ck.get("meta", {}).get("train_families", fams)
        rec["held_out"] = [f for f in FAMILIES if f not in rec["train_families"]]
        rec["ref_size"] = int(ck["kwargs"]["ref_size"])
        if mc.varnet_checkpoint:
            from domains.mri.varnet import ARCH as VN_ARCH

            ckpt.load_model(mc.varnet_checkpoint, VN_ARCH, build_varnet, "model.varnet_checkpoint")
            rec["varnet"] = str(mc.varnet_checkpoint)
        rec["n_params"] = sum(p.numel() for p in op.parameters())
        return rec
    tr = read_fastmri(files["train"])
    size = int(tr.kspace.shape[-1])
    kw = operator_kwargs(cfg, size)
    torch.manual_seed(ctx.seed)
    op = NOVarNet(**kw)
    extra = []  # multi-resolution training grids (ingest.extra_train_sizes), density relative to the base
    for name in sorted((n for n in files if n.startswith("train_")), key=lambda n: int(n.split("_")[1])):
        v = read_fastmri(files[name])
        extra.append((v.kspace, v.target, v.kspace.shape[-1] / size))
    common = dict(steps=mc.steps, batch=mc.batch, families=fams, accelerations=mc.train_accelerations,
                  seed=ctx.seed, device=ctx.device, augment=mc.augment, mask_seeds=mc.mask_seeds,
                  extra=extra if mc.multires_every else [], every=mc.multires_every,
                  mask_zooms=list(mc.mask_zooms), masks=MaskPool())  # one pool: VarNet redraws no mask
    status("mri model: training the operator")
    h_op = train(op, tr.kspace, tr.target, lr=mc.lr, desc="operator", **common)
    sizes = [size] + ([int(round(size * e[2])) for e in extra] if mc.multires_every else [])
    rec["train_sizes"] = sizes
    meta = {"train_families": fams, "train_accelerations": mc.train_accelerations, "steps": mc.steps,
            "train_sizes": sizes, "mask_zooms": list(mc.mask_zooms),
            "batch": mc.batch, "train_seconds": h_op.seconds, "data": prev["ingest"]["data"]["source"]}
    rec["operator"] = str(ckpt.save(mdir / "operator.pt", op, ARCH, kw, meta))
    rec["n_params"] = sum(p.numel() for p in op.parameters())
    rec["ref_size"] = size
    rec["train_seconds"] = {"operator": h_op.seconds}
    rec["final_loss"] = {"operator": float(np.mean(h_op.loss[-5:])) if h_op.loss else math.nan}
    with h5py.File(ctx.results_h5, "a") as h5:
        write_array(h5, "model/operator/loss", np.asarray(h_op.loss), unit="1 (1 - SSIM + L1)")
    if mc.varnet:
        from domains.mri.varnet import ARCH as VN_ARCH

        torch.manual_seed(ctx.seed)
        vn = build_varnet(mc.varnet_cascades, list(mc.varnet_features))
        status("mri model: training VarNet")
        h_vn = train(vn, tr.kspace, tr.target, lr=mc.lr, desc="VarNet", **common)
        rec["varnet"] = str(ckpt.save(mdir / "varnet.pt", vn, VN_ARCH,
                                      {"cascades": mc.varnet_cascades, "features": list(mc.varnet_features)},
                                      meta | {"train_seconds": h_vn.seconds}))
        rec["varnet_params"] = sum(p.numel() for p in vn.parameters())
        rec["train_seconds"]["varnet"] = h_vn.seconds
        rec["final_loss"]["varnet"] = float(np.mean(h_vn.loss[-5:])) if h_vn.loss else math.nan
        with h5py.File(ctx.results_h5, "a") as h5:
            write_array(h5, "model/varnet/loss", np.asarray(h_vn.loss), unit="1 (1 - SSIM + L1)")
    if mc.adapt and "adapt_train" in files:
        from domains.mri.adapt import adapt_both

        status("mri model: adapting to the T2-like contrast")
        ad = read_fastmri(files["adapt_train"])
        res = adapt_both(op, ad.kspace, ad.target, steps=mc.adapt_steps, batch=mc.batch, rank=mc.adapt_rank,
                         scale=mc.adapt_scale, lr_flora=mc.adapt_lr, lr_full=mc.finetune_lr, families=fams,
                         accelerations=mc.train_accelerations, seed=ctx.seed + 7, device=ctx.device)
        rec["adapt"] = {
            "flora": str(ckpt.save(mdir / "operator_flora.pt", _unwrap(res["flora"], kw), ARCH, kw,
                                   meta | {"adapted": "flora"})),
            "full": str(ckpt.save(mdir / "operator_finetuned.pt", res["full"], ARCH, kw, meta | {"adapted": "full"})),
            "flora_trainable": res["flora_trainable"], "total_params": res["total"],
            "flora_fraction": res["flora_trainable"] / res["total"], "steps": mc.adapt_steps,
            "flora_seconds": res["flora_seconds"], "full_seconds": res["full_seconds"]}
    return rec


def _unwrap(merged_model, kw: dict):
    """A plain NOVarNet carrying a merged FLoRA model's weights (adapters folded in)."""
    from shared.lowrank.adapters import AdapterLayer

    plain = NOVarNet(**kw)
    src = merged_model
    state = {}
    for name, p in src.state_dict().items():
        state[name.replace(".base.", ".")] = p
    names = {n for n, m in src.named_modules() if isinstance(m, AdapterLayer)}
    state = {k: v for k, v in state.items() if not any(k.startswith(n + ".") and ("core" in k or "factors" in k)
                                                          for n in names)}
    plain.load_state_dict(state, strict=True)
    return plain


# ---------------------------------------------------------------------- evaluate
def evaluate(ctx: RunContext, prev: dict[str, dict]) -> dict[str, Any]:
    """Metrics per family x acceleration, baselines, 2x resolution, coil cost, timing, figures."""
    cfg = _cfg(ctx)
    return _evaluate(ctx, cfg, prev)


def _methods(cfg: MriConfig, op, vn, lam: dict[float, float] | None,
             lam_wav: dict[float, float] | None = None) -> dict:
    """The methods of one evaluation; ``lam``/``lam_wav`` map acceleration -> tuned CS weight.

    A CS method picks the weight tuned at the acceleration nearest (in log
    scale) to the batch's effective acceleration, so a user's own mask gets
    the weight of the nearest tuned setting.
    """
    ec = cfg.evaluate
    ms = {"zero_filled": lambda b: zero_filled(b.y)}
    if ec.cs and lam is not None:
        ms["cs_tv"] = lambda b: tv_recon(b.y, b.sens, b.mask, lambda_for(lam, _acc(b)), ec.cs_iterations)
    if ec.cs_wavelet and lam_wav is not None:
        ms["cs_wavelet"] = lambda b: wavelet_recon(b.y, b.sens, b.mask, lambda_for(lam_wav, _acc(b)),
                                                   ec.cs_iterations, ec.cs_wavelet_name)
    if vn is not None:
        ms["varnet"] = lambda b: reconstruct(vn, b)
    ms["operator"] = lambda b: reconstruct(op, b)
    return ms


def _acc(b) -> float:
    """The effective acceleration of a prepared batch (first slice's mask)."""
    return float(b.mask[0].numel() / b.mask[0].sum().clamp_min(1))


def _tune(ec, val, dev, grid: list[float], recon) -> tuple[dict[float, float], dict[float, dict[float, float]]]:
    """CS weight per evaluated acceleration, tuned on the validation slices over every evaluated family.

    One weight cannot serve 4x and 8x: at 8x the SENSE least-squares fit is far
    worse conditioned (3-line ACS maps, 8x fewer samples), and the weight
    that is best there is about 10x the one best at 4x (measured; see
    docs/benchmarks.md). Criterion: the MSE against the validation target.
    """
    if val is None:  # no validation data (a user's file): the grid's middle
        return {float(a): grid[len(grid) // 2] for a in ec.accelerations}, {}
    lams, scores = {}, {}
    for a in ec.accelerations:
        b = stack([prepared(val.kspace, val.target, f, a, ec.mask_seed + 500, dev) for f in ec.families])
        lams[float(a)], scores[float(a)] = tune_lambda(b.y, b.sens, b.mask, b.target, grid, ec.cs_iterations,
                                                       lambda t, r: -float(((t - r) ** 2).mean()), recon=recon)
    return lams, scores


def _evaluate(ctx: RunContext, cfg: MriConfig, prev: dict[str, dict]) -> dict[str, Any]:
    ec = cfg.evaluate
    ing, red, mod = prev["ingest"], prev["reduce"], prev["model"]
    files = red["files"]
    dev = torch.device(ctx.device)
    op, _ = ckpt.load_model(mod["operator"], ARCH, NOVarNet)
    op.to(dev).eval()
    vn = None
    if mod.get("varnet"):
        from domains.mri.varnet import ARCH as VN_ARCH

        vn, _ = ckpt.load_model(mod["varnet"], VN_ARCH, build_varnet, "model.varnet_checkpoint")
        vn.to(dev).eval()
    test = read_fastmri(files["test"])
    if ing["kind"] == "user":
        op.set_grid(cfg.model.resolution_factor, 1.0 / cfg.model.resolution_factor)
    # CS: one weight per acceleration, tuned on the validation slices (every evaluated family)
    val = read_fastmri(files["val"]) if "val" in files else None
    lam, lam_scores, lam_wav, wav_scores = None, {}, None, {}
    if ec.cs:
        lam, lam_scores = _tune(ec, val, dev, ec.cs_lambdas, tv_recon)
    if ec.cs_wavelet:
        lam_wav, wav_scores = _tune(ec, val, dev, ec.cs_wavelet_lambdas,
                                    lambda *a: wavelet_recon(*a, wavelet=ec.cs_wavelet_name))
    methods = _methods(cfg, op, vn, lam, lam_wav)
    file_mask = test.mask if test.mask is not None else None
    settings = ([(f, a) for f in ec.families for a in ec.accelerations] if file_mask is None
                else [("file_mask", float(file_mask.numel() / max(1, int(file_mask.sum()))))])
    rows = []
    for fam, acc in settings:
        status(f"mri evaluate: {fam} {acc:g}x")
        rows.append(evaluate_setting(methods, test.kspace, test.target, fam, acc, ec.mask_seed, dev, file_mask))
    held_out = [f for f in mod["held_out"] if f in ec.families] if file_mask is None else []
    trained = [f for f in ec.families if f not in held_out]
    overall = combine(rows, trained if trained and file_mask is None else None)
    held = combine(rows, held_out) if held_out else {}
    b0 = prepared(test.kspace[:1], None, rows[0]["family"], rows[0]["acceleration"], ec.mask_seed, dev, file_mask)
    seconds = time_per_slice(methods, b0, ec.timing_repeats, dev)

    metrics: dict[str, float] = {}
    baselines: dict[str, dict[str, float]] = {n: {} for n in methods if n != "operator"}
    has_target = test.target is not None
    if has_target:
        for name in methods:
            dst = metrics if name == "operator" else baselines[name]
            for k, v in overall[name].items():
                dst[k] = v
            if held:
                for k, v in held[name].items():
                    dst[f"{k}_heldout"] = v
            for r in rows:
                dst[f"psnr_db_{r['family']}_{r['acceleration']:g}x"] = r["metrics"][name]["psnr_db"]
        metrics["psnr_gain_over_zero_filled_db"] = metrics["psnr_db"] - baselines["zero_filled"]["psnr_db"]
        if "varnet" in baselines:
            metrics["psnr_gain_over_varnet_db"] = metrics["psnr_db"] - baselines["varnet"]["psnr_db"]
            if held:
                metrics["psnr_gain_over_varnet_heldout_db"] = (metrics["psnr_db_heldout"]
                                                               - baselines["varnet"]["psnr_db_heldout"])
            metrics["ssim_gain_over_varnet"] = metrics["ssim"] - baselines["varnet"]["ssim"]
    for name, s in seconds.items():
        (metrics if name == "operator" else baselines[name])["seconds_per_slice"] = s
    for name in baselines:
        metrics[f"time_ratio_{name}_over_operator"] = seconds[name] / seconds["operator"]
    for name, lams in (("cs_tv", lam), ("cs_wavelet", lam_wav)):
        for a, v in (lams or {}).items():
            baselines.setdefault(name, {})[f"lambda_{a:g}x"] = float(v)

    extra = {}
    if has_target and "test_2x" in files:
        extra["res2x"] = _twice_resolution(cfg, files["test_2x"], op, vn, dev, metrics, baselines)
    if has_target and ing["kind"] != "user" and ec.upsampled_2x:
        extra["up2x"] = _upsampled_2x(cfg, test, op, vn, dev, metrics, baselines)
    if has_target and ing["kind"] != "user" and ec.extended_fov:
        extra["fov2x"] = _extended_fov(cfg, test, op, vn, dev, metrics, baselines)
    if has_target and ing["kind"] != "user":
        extra["coils"] = _coil_cost(cfg, red, op, dev, metrics, ec)
    if has_target and mod.get("adapt"):
        extra["adapt"] = _adaptation(cfg, files, mod, dev, metrics)
    metrics["virtual_coils"] = float(red["virtual_coils"])
    metrics["coil_energy_kept"] = float(red["energy_kept"])

    _save(ctx, rows, seconds, {"cs_tv": lam_scores, "cs_wavelet": wav_scores})
    figs = []
    if has_target:
        fa = [r for r in rows if r["acceleration"] == ec.figure_acceleration] or rows[:len(ec.families)]
        mid = test.kspace.shape[0] // 2
        figures.recon_grid(fa, test.target, mid, ctx.figures / "recon_grid.png")
        figs.append("recon_grid.png")
        if len(ec.accelerations) > 1:
            figures.psnr_vs_acceleration(rows, held_out, ctx.figures / "psnr_vs_acceleration.png")
            figs.append("psnr_vs_acceleration.png")
    report = _report(ing, red, mod, rows, metrics, baselines, seconds, lam, held_out, extra, figs, has_target,
                     lam_wav, tuned=val is not None)
    return {"metrics": metrics, "baselines": baselines,
            "intrinsic_dimension": {"estimator": f"virtual coils keeping {cfg.reduce.energy:g} of the coil energy (SVD)",
                                    "value": float(red["virtual_coils"])},
            "report": report}


def _twice_resolution(cfg, path, op, vn, dev, metrics, baselines) -> dict:
    """The same weights at 2x the matrix size (same field of view): zero-shot super-resolution."""
    ec = cfg.evaluate
    vol = read_fastmri(path)
    def unscaled_grid(b):
        # control: the same weights with their DISCO grids left at the training density (a CNN's
        # view of the finer matrix); measured, so the report shows what the rescaling itself buys
        op.set_grid(1.0, 1.0)
        try:
            return reconstruct(op, b)
        finally:
            op.set_grid(2.0, 1.0)

    op.set_grid(2.0, 1.0)
    try:
        ms = _methods(cfg, op, vn, None)  # CS has no training resolution; it is run at 1x only
        ms["operator_unscaled_grid"] = unscaled_grid
        rows = [evaluate_setting(ms, vol.kspace, vol.target, f, a, ec.mask_seed, dev)
                for f in ec.families for a in ec.twice_resolution_accelerations]
    finally:
        op.set_grid(1.0, 1.0)
    res = combine(rows)
    # the 1x reference: the same families and accelerations at the training size
    ref = [metrics[f"psnr_db_{f}_{a:g}x"] for f in ec.families for a in ec.twice_resolution_accelerations
           if f"psnr_db_{f}_{a:g}x" in metrics]
    metrics["psnr_2x_db"] = res["operator"]["psnr_db"]
    metrics["ssim_2x"] = res["operator"]["ssim"]
    metrics["psnr_gain_over_zero_filled_2x_db"] = res["operator"]["psnr_db"] - res["zero_filled"]["psnr_db"]
    metrics["psnr_2x_unscaled_grid_db"] = res["operator_unscaled_grid"]["psnr_db"]
    metrics["psnr_gain_over_zero_filled_2x_unscaled_grid_db"] = (res["operator_unscaled_grid"]["psnr_db"]
                                                                 - res["zero_filled"]["psnr_db"])
    if ref:
        ref_zf = [baselines["zero_filled"][f"psnr_db_{f}_{a:g}x"] for f in ec.families
                  for a in ec.twice_resolution_accelerations]
        metrics["psnr_1x_same_settings_db"] = float(np.mean(ref))
        metrics["psnr_drop_2x_db"] = float(np.mean(ref)) - res["operator"]["psnr_db"]
        # the 2x problem differs (finer anatomy, other masks): the cost is the gain over zero-filled lost
        metrics["psnr_gain_over_zero_filled_1x_same_settings_db"] = float(np.mean(ref) - np.mean(ref_zf))
        metrics["psnr_cost_2x_db"] = (metrics["psnr_gain_over_zero_filled_1x_same_settings_db"]
                                      - metrics["psnr_gain_over_zero_filled_2x_db"])
    for n in ("zero_filled", "varnet"):
        if n in res:
            baselines[n]["psnr_2x_db"] = res[n]["psnr_db"]
            ref_b = [baselines[n].get(f"psnr_db_{f}_{a:g}x") for f in ec.families
                     for a in ec.twice_resolution_accelerations]
            if all(v is not None for v in ref_b):
                baselines[n]["psnr_drop_2x_db"] = float(np.mean(ref_b)) - res[n]["psnr_db"]
    return {"rows": [(r["family"], r["acceleration"], r["metrics"]["operator"]["psnr_db"],
                      r["metrics"]["zero_filled"]["psnr_db"],
                      r["metrics"].get("varnet", {}).get("psnr_db", math.nan)) for r in rows]}


def _upsampled_2x(cfg, test, op, vn, dev, metrics, baselines) -> dict:
    """NO-MRI's super-resolution protocol: the 1x test slices bilinearly upsampled to 2x, same weights.

    The coil images (real and imaginary parts) and the target are upsampled
    bilinearly to twice the matrix, so the 2x problem carries no finer anatomy
    than the 1x one: the operator's gain over zero-filled can be compared
    across the two resolutions directly (unlike :func:`_twice_resolution`,
    whose 2x slices are re-simulated and hold finer detail).
    """
    import torch.nn.functional as F

    from domains.mri.fft import fft2c, ifft2c

    ec = cfg.evaluate
    h, w = test.kspace.shape[-2:]
    img = torch.view_as_real(ifft2c(test.kspace))  # (S, C, H, W, 2)
    s_, c_ = img.shape[:2]
    planes = img.permute(0, 1, 4, 2, 3).reshape(s_, 2 * c_, h, w)
    up = F.interpolate(planes, size=(2 * h, 2 * w), mode="bilinear", align_corners=False)
    up = torch.view_as_complex(up.reshape(s_, c_, 2, 2 * h, 2 * w).permute(0, 1, 3, 4, 2).contiguous())
    target = F.interpolate(test.target[:, None].float(), size=(2 * h, 2 * w), mode="bilinear",
                           align_corners=False)[:, 0]
    op.set_grid(2.0, 1.0)
    try:
        rows = [evaluate_setting(_methods(cfg, op, vn, None), fft2c(up), target, f, a, ec.mask_seed, dev)
                for f in ec.families for a in ec.twice_resolution_accelerations]
    finally:
        op.set_grid(1.0, 1.0)
    res = combine(rows)
    keys = [f"psnr_db_{f}_{a:g}x" for f in ec.families for a in ec.twice_resolution_accelerations]
    out = {}
    for n in ("operator", "varnet"):
        if n not in res:
            continue
        src = metrics if n == "operator" else baselines[n]
        gain1 = float(np.mean([src[k] - baselines["zero_filled"][k] for k in keys]))
        gain2 = res[n]["psnr_db"] - res["zero_filled"]["psnr_db"]
        src["psnr_up2x_db"] = res[n]["psnr_db"]
        src["psnr_gain_over_zero_filled_up2x_db"] = gain2
        src["psnr_cost_up2x_db"] = gain1 - gain2
        out[n] = {"psnr": res[n]["psnr_db"], "gain": gain2, "gain_1x": gain1}
    baselines["zero_filled"]["psnr_up2x_db"] = res["zero_filled"]["psnr_db"]
    return out


def _extended_fov(cfg, test, op, vn, dev, metrics, baselines) -> dict:
    """Twice the field of view at the training pixel size: coil images zero-padded to 2x the matrix.

    The k-space spacing halves, so the KNO runs at twice its training density
    and the image-space operators at their training one; scores are on the
    original field of view (the central crop), as fastMRI crops to its target.
    """
    import torch.nn.functional as F

    from domains.mri.fft import fft2c, ifft2c

    ec = cfg.evaluate
    h, w = test.kspace.shape[-2:]
    img = ifft2c(test.kspace)
    k2 = fft2c(F.pad(img, (w // 2, w - w // 2, h // 2, h - h // 2)))
    op.set_grid(1.0, 2.0)
    try:
        ms = _methods(cfg, op, vn, None)
        rows = [evaluate_setting(ms, k2, test.target, f, a, ec.mask_seed, dev)
                for f in ec.families for a in ec.twice_resolution_accelerations]
    finally:
        op.set_grid(1.0, 1.0)
    res = combine(rows)
    keys = [f"psnr_db_{f}_{a:g}x" for f in ec.families for a in ec.twice_resolution_accelerations]
    gain1 = float(np.mean([metrics[k] - baselines["zero_filled"][k] for k in keys]))
    metrics["psnr_fov2x_db"] = res["operator"]["psnr_db"]
    metrics["psnr_gain_over_zero_filled_fov2x_db"] = res["operator"]["psnr_db"] - res["zero_filled"]["psnr_db"]
    metrics["psnr_cost_fov2x_db"] = gain1 - metrics["psnr_gain_over_zero_filled_fov2x_db"]
    if "varnet" in res:
        baselines["varnet"]["psnr_fov2x_db"] = res["varnet"]["psnr_db"]
    baselines["zero_filled"]["psnr_fov2x_db"] = res["zero_filled"]["psnr_db"]
    return {"psnr": res["operator"]["psnr_db"], "gain": metrics["psnr_gain_over_zero_filled_fov2x_db"],
            "gain_1x": gain1}


def _coil_cost(cfg, red, op, dev, metrics, ec) -> dict:
    """The operator on all physical coils against the virtual coils: PSNR lost and speed-up."""
    full = read_fastmri(red["full_files"]["test"])
    comp = read_fastmri(red["files"]["test"])
    fam, acc = ec.families[0], ec.accelerations[0]
    ms = {"operator": lambda b: reconstruct(op, b)}
    r_full = evaluate_setting(ms, full.kspace, full.target, fam, acc, ec.mask_seed, dev)
    r_comp = evaluate_setting(ms, comp.kspace, comp.target, fam, acc, ec.mask_seed, dev)
    t_full = time_per_slice(ms, prepared(full.kspace[:1], None, fam, acc, ec.mask_seed, dev), ec.timing_repeats, dev)
    t_comp = time_per_slice(ms, prepared(comp.kspace[:1], None, fam, acc, ec.mask_seed, dev), ec.timing_repeats, dev)
    pf, pc = r_full["metrics"]["operator"]["psnr_db"], r_comp["metrics"]["operator"]["psnr_db"]
    metrics["psnr_all_coils_db"] = pf
    metrics["coil_compression_psnr_loss_db"] = pf - pc
    metrics["coil_compression_speedup"] = t_full["operator"] / t_comp["operator"]
    return {"family": fam, "acceleration": acc, "coils": int(full.kspace.shape[1]),
            "virtual": int(comp.kspace.shape[1]), "psnr_full": pf, "psnr_virtual": pc,
            "t_full": t_full["operator"], "t_virtual": t_comp["operator"]}


def _adaptation(cfg, files, mod, dev, metrics) -> dict:
    """Pre-adaptation, FLoRA and full fine-tuning on the new contrast's test slices."""
    ec = cfg.evaluate
    vol = read_fastmri(files["adapt_test"])
    out = {}
    for name, path in (("pretrained", mod["operator"]), ("flora", mod["adapt"]["flora"]),
                       ("full", mod["adapt"]["full"])):
        m, _ = ckpt.load_model(path, ARCH, NOVarNet)
        m.to(dev).eval()
        rows = [evaluate_setting({"operator": lambda b, m=m: reconstruct(m, b), "zero_filled": lambda b: zero_filled(b.y)},
                                 vol.kspace, vol.target, f, a, ec.mask_seed, dev)
                for f in mod["train_families"] if f in ec.families for a in ec.accelerations[:1]]
        c = combine(rows)
        out[name] = c["operator"]["psnr_db"]
        out["zero_filled"] = c["zero_filled"]["psnr_db"]
    metrics["adapt_pretrained_psnr_db"] = out["pretrained"]
    metrics["adapt_flora_psnr_db"] = out["flora"]
    metrics["adapt_finetune_psnr_db"] = out["full"]
    metrics["adapt_flora_minus_finetune_db"] = out["flora"] - out["full"]
    metrics["adapt_flora_trainable_fraction"] = float(mod["adapt"]["flora_fraction"])
    return out


def _save(ctx, rows, seconds, lam_scores) -> None:
    with h5py.File(ctx.results_h5, "a") as h5:
        for r in rows:
            g = f"evaluate/{r['family']}_{r['acceleration']:g}x"
            for name, rec in r["recon"].items():
                write_array(h5, f"{g}/{name}/reconstruction", rec, unit="1 (magnitude, target units)")
                for k, v in r["metrics"].get(name, {}).items():
                    h5[f"{g}/{name}/reconstruction"].attrs[k] = v
        for name, s in seconds.items():
            write_array(h5, f"timing/{name}/seconds_per_slice", np.asarray(s), unit="s")
        for name, per_acc in lam_scores.items():  # the tuning grids: weight and validation score per acceleration
            for a, sc in per_acc.items():
                write_array(h5, f"evaluate/cs_lambda/{name}/{a:g}x/grid", np.asarray(list(sc)), unit="1")
                write_array(h5, f"evaluate/cs_lambda/{name}/{a:g}x/score", np.asarray(list(sc.values())), unit="-MSE")


def _report(ing, red, mod, rows, metrics, baselines, seconds, lam, held_out, extra, figs, has_target,
            lam_wav=None, tuned: bool = True) -> str:
    names = ["operator"] + [n for n in ("varnet", "cs_tv", "cs_wavelet", "zero_filled") if n in baselines]
    lines = ["# mri: unified neural-operator reconstruction", "",
             f"Data: {ing['data']['source']}. Coils: {red['coils']} physical -> {red['virtual_coils']} virtual "
             f"(energy kept {red['energy_kept']:.4f}).",
             f"Operator: {mod.get('n_params', 0)} parameters"
             + (f", VarNet (MONAI): {mod['varnet_params']}" if mod.get("varnet_params") else "")
             + (f"; trained on {', '.join(mod['train_families'])}" if mod.get("train_families") else "")
             + (f"; held out: {', '.join(held_out)}" if held_out else "")
             + (f"; training grids (same field of view): {', '.join(f'{n}x{n}' for n in mod['train_sizes'])}"
                if len(mod.get("train_sizes", [])) > 1 else "")
             + ("" if mod.get("trained") else " (loaded checkpoint, no training)") + ".", ""]
    if has_target:
        lines += ["## PSNR (dB) per mask family and acceleration", ""]
        hdr = ("family", "accel", *names)
        body = [(r["family"], f"{r['acceleration']:g}x", *[r["metrics"][n]["psnr_db"] for n in names]) for r in rows]
        lines += [figures.table(body, hdr), ""]
        lines += ["## Summary (trained families; held-out family separately)", ""]
        body = []
        for n in names:
            src = metrics if n == "operator" else baselines[n]
            body.append((n, src.get("psnr_db", math.nan), src.get("ssim", math.nan), src.get("nmse", math.nan),
                         src.get("psnr_db_heldout", math.nan), 1e3 * seconds[n]))
        lines += [figures.table(body, ("method", "PSNR dB", "SSIM", "NMSE", "PSNR held-out dB", "ms / slice")), ""]
        if "psnr_gain_over_varnet_db" in metrics:
            lines += [f"Operator - VarNet: {metrics['psnr_gain_over_varnet_db']:+.2f} dB on trained families"
                      + (f", {metrics['psnr_gain_over_varnet_heldout_db']:+.2f} dB on the held-out family"
                         if "psnr_gain_over_varnet_heldout_db" in metrics else "")
                      + " (the paper reports +4 dB at full scale).", ""]
    for label, lams in (("SENSE-TV", lam), ("SENSE + L1-wavelet, FISTA", lam_wav)):
        if lams:
            how = ("tuned on the validation slices" if tuned
                   else "the middle of evaluate's lambda grid (no validation slices to tune on)")
            lines += [f"CS ({label}) lambda per acceleration, {how}: "
                      + ", ".join(f"{a:g}x {v:g}" for a, v in lams.items()) + ".", ""]
    if "res2x" in extra:
        lines += [f"2x resolution (zero-shot, same weights): operator {metrics['psnr_2x_db']:.2f} dB against "
                  f"{metrics.get('psnr_1x_same_settings_db', math.nan):.2f} dB at 1x "
                  f"(drop {metrics.get('psnr_drop_2x_db', math.nan):.2f} dB); gain over zero-filled "
                  f"{metrics.get('psnr_gain_over_zero_filled_1x_same_settings_db', math.nan):.2f} dB at 1x, "
                  f"{metrics['psnr_gain_over_zero_filled_2x_db']:.2f} dB at 2x "
                  f"(cost {metrics.get('psnr_cost_2x_db', math.nan):.2f} dB). Control, the same weights with "
                  f"their grids left at the training density: {metrics['psnr_2x_unscaled_grid_db']:.2f} dB, gain "
                  f"over zero-filled {metrics['psnr_gain_over_zero_filled_2x_unscaled_grid_db']:.2f} dB.", ""]
    if "up2x" in extra:
        u = extra["up2x"]
        lines += ["2x by bilinear upsampling of the 1x test slices (NO-MRI's super-resolution protocol): "
                  + "; ".join(f"{n} {v['psnr']:.2f} dB, gain over zero-filled {v['gain']:.2f} dB against "
                              f"{v['gain_1x']:.2f} dB at 1x (cost {v['gain_1x'] - v['gain']:.2f} dB)"
                              for n, v in u.items()) + ".", ""]
    if "fov2x" in extra:
        f = extra["fov2x"]
        lines += [f"2x field of view at the training pixel size (zero-shot): operator {f['psnr']:.2f} dB on the original "
                  f"field; gain over zero-filled {f['gain']:.2f} dB against {f['gain_1x']:.2f} dB at 1x.", ""]
    if "coils" in extra:
        c = extra["coils"]
        lines += [f"Coil compression ({c['family']} {c['acceleration']:g}x): {c['coils']} coils {c['psnr_full']:.2f} dB, "
                  f"{c['virtual']} virtual coils {c['psnr_virtual']:.2f} dB; operator time "
                  f"{1e3 * c['t_full']:.1f} -> {1e3 * c['t_virtual']:.1f} ms per slice.", ""]
    if "adapt" in extra:
        a = extra["adapt"]
        lines += [f"Adaptation to the T2-like contrast ({mod['adapt']['steps']} steps each): pretrained "
                  f"{a['pretrained']:.2f} dB, FLoRA {a['flora']:.2f} dB "
                  f"({100 * mod['adapt']['flora_fraction']:.1f} % of the parameters trained), full fine-tuning "
                  f"{a['full']:.2f} dB, zero-filled {a['zero_filled']:.2f} dB.", ""]
    lines += [f"![{f}](figures/{f})" for f in figs]
    return "\n".join(lines) + "\n"


SPEC = DomainSpec(
    name="mri",
    summary="Unified CS-MRI reconstruction with a DISCO neural operator across masks and resolutions",
    config=MriConfig, profiles=PROFILES,
    ingest=ingest, reduce=reduce, model=model, evaluate=evaluate, check=check,
)
