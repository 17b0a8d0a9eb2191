"""Benchmark of the mri domain: the unified operator against VarNet, CS and zero-filled, measured side by side.

One run of the flow (the chosen profile) gives, on the same data and masks:
PSNR per mask family x acceleration for every method (incl. the held-out
family), the operator-VarNet difference at equal training budget against the
paper's +4 dB, the 2x-resolution readings (raw PSNR change, gain over
zero-filled lost, NO-MRI's bilinear-upsampling protocol), FLoRA against full
fine-tuning, and time per slice as ratios. It then trains the same two
architectures at 2x with the same budget (:func:`native_2x`: the resolution
gap of the zero-shot weights) and sweeps the number of virtual coils (PSNR
and the reconstruction speed-up from fewer coils).

    .venv/bin/python bench/mri.py --quick                 # quick profile, 2-core CPU (~4 min)
    .venv/bin/python bench/mri.py --quick --no-native-2x  # without the 2x-trained references (~2 min)
    .venv/bin/python bench/mri.py --device cuda           # full profile on a GPU
    .venv/bin/python bench/mri.py --gap-study             # the resolution gap over seeds 0-2 at 180 steps
                                                          # (no flow run; ~50 min on the loaded 2-core CPU)

The gap study (:func:`gap_study`) exists because one seed at the quick
profile's 60 steps carries about +-0.5 dB: it trains the four models of the
resolution gap per seed for longer and scores them part-way, on more test
slices, and prints each seed and the mean +- spread.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

PAPER_GAIN_DB = 4.0


def coil_sweep(run_dir: Path, device, repeats: int, family: str = "poisson_2d", acc: float = 4.0) -> list[dict]:
    """PSNR and time per slice against the number of virtual coils (operator, CS-TV, zero-filled)."""
    from domains.mri import checkpoint as ckpt
    from domains.mri.coils import coil_basis, compress
    from domains.mri.cs import tv_recon
    from domains.mri.evaluate import evaluate_setting, prepared, time_per_slice
    from domains.mri.io import read_fastmri
    from domains.mri.model import ARCH, NOVarNet
    from domains.mri.operators import zero_filled
    from domains.mri.train import reconstruct

    cfg = json.loads((run_dir / "config.json").read_text())["config"]
    lam = json.loads((run_dir / "metrics.json").read_text())["baselines"].get("cs_tv", {}).get(f"lambda_{acc:g}x", 1e-2)
    op, _ = ckpt.load_model(run_dir / "model" / "operator.pt", ARCH, NOVarNet)
    op.to(device).eval()
    full = read_fastmri(run_dir / "data" / "test.h5")
    U, _ = coil_basis(full.kspace)
    n = full.kspace.shape[1]
    methods = {"zero_filled": lambda b: zero_filled(b.y),
               "cs_tv": lambda b: tv_recon(b.y, b.sens, b.mask, lam, cfg["evaluate"]["cs_iterations"]),
               "operator": lambda b: reconstruct(op, b)}
    rows = []
    for v in sorted({1, 2, 3, 4, 6, n} & set(range(1, n + 1))):
        k = full.kspace if v == n else compress(full.kspace, U, v)
        r = evaluate_setting(methods, k, full.target, family, acc, 1000, device)
        t = time_per_slice(methods, prepared(k[:1], None, family, acc, 1000, device), repeats, device)
        rows.append({"coils": v, **{f"psnr_{m}": r["metrics"][m]["psnr_db"] for m in methods},
                     **{f"ms_{m}": 1e3 * t[m] for m in methods}})
    return rows


def native_2x(run_dir: Path, device, threads_note: str = "") -> dict:
    """The resolution gap: the same architectures trained AT 2x (same budget) against the zero-shot weights.

    The 2x test problem is not the 1x one (the re-simulated slices hold finer
    anatomy, and zero-filled gains about 3 dB there), so neither the raw PSNR
    change nor the gain over zero-filled isolates what zero-shot use costs.
    This reference does: an operator of the same architecture and a VarNet,
    each trained with the run's steps, batch, masks and seed on the training
    slices simulated at 2x, are scored on the same 2x test slices as the
    run's (zero-shot) weights. Gap = native - zero-shot.
    """
    import h5py

    from domains.mri import checkpoint as ckpt
    from domains.mri.coils import coil_basis, compress
    from domains.mri.embedded import write_split
    from domains.mri.evaluate import combine, evaluate_setting
    from domains.mri.io import read_fastmri
    from domains.mri.model import ARCH, NOVarNet
    from domains.mri.operators import zero_filled
    from domains.mri.data import MaskPool
    from domains.mri.train import reconstruct, train
    from domains.mri.varnet import ARCH as VN_ARCH
    from domains.mri.varnet import VarNet

    cfg = json.loads((run_dir / "config.json").read_text())["config"]
    ic, mc, ec = cfg["ingest"], cfg["model"], cfg["evaluate"]
    seed = json.loads((run_dir / "metrics.json").read_text())["seed"]
    v = int(json.loads((run_dir / "metrics.json").read_text())["metrics"]["virtual_coils"])
    with h5py.File(run_dir / "data" / "train.h5") as f:
        pos = [int(z) for z in f.attrs["slice_positions"]]
    tr = read_fastmri(write_split(run_dir / "data" / "train_native2x.h5", pos, 2 * ic["size"], ic["n_coils"],
                                  seed=seed, oversample=ic["oversample"], noise=ic["noise"]))
    U, _ = coil_basis(tr.kspace)
    k2 = compress(tr.kspace, U, v) if v < tr.kspace.shape[1] else tr.kspace
    test = read_fastmri(run_dir / "data" / (f"test_2x_vc{v}.h5" if (run_dir / "data" / f"test_2x_vc{v}.h5").exists()
                                            else "test_2x.h5"))
    common = dict(steps=mc["steps"], batch=mc["batch"], lr=mc["lr"], families=mc["train_families"],
                  accelerations=mc["train_accelerations"], seed=seed, device=device, augment=mc["augment"],
                  mask_seeds=mc["mask_seeds"], mask_zooms=list(mc.get("mask_zooms", [1.0])), masks=MaskPool())
    zs_op, ck = ckpt.load_model(run_dir / "model" / "operator.pt", ARCH, NOVarNet)
    torch.manual_seed(seed)
    nat_op = NOVarNet(**ck["kwargs"])
    h_op = train(nat_op, k2, tr.target, density=2.0, desc="operator at 2x", **common)
    zs_vn, _ = ckpt.load_model(run_dir / "model" / "varnet.pt", VN_ARCH, VarNet)
    torch.manual_seed(seed)
    nat_vn = VarNet(mc["varnet_cascades"], mc["varnet_features"])
    h_vn = train(nat_vn, k2, tr.target, desc="VarNet at 2x", **common)
    models = {"operator_zero_shot": zs_op, "operator_native": nat_op, "varnet_zero_shot": zs_vn,
              "varnet_native": nat_vn}
    for m in models.values():
        m.to(device).eval()
        if hasattr(m, "set_grid"):
            m.set_grid(2.0, 1.0)
    methods = {n: (lambda b, m=m: reconstruct(m, b)) for n, m in models.items()}
    methods["zero_filled"] = lambda b: zero_filled(b.y)
    rows = [evaluate_setting(methods, test.kspace, test.target, f, a, ec["mask_seed"], device)
            for f in ec["families"] for a in ec["twice_resolution_accelerations"]]
    res = {n: r["psnr_db"] for n, r in combine(rows).items()}
    res["per_family"] = {f"{r['family']}_{r['acceleration']:g}x": {n: r["metrics"][n]["psnr_db"] for n in methods}
                         for r in rows}
    res["train_seconds"] = {"operator": h_op.seconds, "varnet": h_vn.seconds}
    return res


def gap_study(seeds: list[int], steps: int, evals: list[int], test_slices: int, device, sets: list[str] = (),
              out_dir: str | None = None, log=print, models: list[str] | None = None) -> dict:
    """The resolution gap over several seeds and training lengths (no flow run).

    For each seed, the quick profile's data are simulated as the flow does
    (training slices at the base size and at ``ingest.extra_train_sizes``,
    test slices at 1x and 2x, data seeds as in the flow), plus the training
    slices at 2x for the native reference. Four models are trained with the
    same stream and budget: the operator and the VarNet on the base + extra
    grids (the flow's multi-resolution training, zero-shot at 2x) and both
    trained at 2x (native). Each is scored on the 2x test (every evaluated
    family at ``evaluate.twice_resolution_accelerations``) after each of
    ``evals`` steps, within one training run; the zero-shot operator also at
    1x with the same masks. ``test_slices`` test positions are used (the
    test blocks at every position when it exceeds the flow's six).

    Returns ``{"per_seed": {seed: {step: {model: psnr, ...}}}, "config": ...}``;
    gap = native - zero-shot, per model kind. The final weights are saved in
    ``out_dir`` as ``s{seed}_{model}.pt`` (state dicts). ``models`` limits the
    run to some of ``operator_zero_shot``, ``operator_native``,
    ``varnet_zero_shot``, ``varnet_native`` (e.g. a training variant of the
    zero-shot operator against native references measured before).
    """
    from domains.mri.coils import coil_basis, compress, n_virtual
    from domains.mri.config import MriConfig
    from domains.mri.embedded import mni_volume, slice_positions, split_positions, write_split
    from domains.mri.evaluate import combine, evaluate_setting
    from domains.mri.io import read_fastmri
    from domains.mri.model import NOVarNet
    from domains.mri.operators import zero_filled
    from domains.mri.steps import _spaced, operator_kwargs
    from domains.mri.data import MaskPool
    from domains.mri.train import reconstruct, train
    from domains.mri.varnet import VarNet
    from shared.config import build_config, parse_sets

    cfg = build_config(MriConfig, {}, parse_sets(list(sets)))  # the quick profile is the defaults
    ic, mc, ec = cfg.ingest, cfg.model, cfg.evaluate
    evals = sorted({e for e in evals if 0 < e <= steps} | {steps})
    vol = mni_volume("t1")
    pos = slice_positions(vol, ic.min_brain_fraction)
    train_pos = split_positions(pos, block=ic.block, step=ic.slice_step)["train"]
    test_all = split_positions(pos, block=ic.block, step=1 if test_slices > 8 else ic.slice_step)["test"]
    test_pos = _spaced(test_all, test_slices)
    d = Path(out_dir or tempfile.mkdtemp(prefix="bench-mri-gap-"))
    d.mkdir(parents=True, exist_ok=True)
    accs = ec.twice_resolution_accelerations
    res: dict = {"config": {"seeds": list(seeds), "steps": steps, "evals": evals, "test_slices": len(test_pos),
                            "train_slices": len(train_pos), "families": list(ec.families), "accelerations": accs,
                            "train_sizes": [ic.size] + list(ic.extra_train_sizes), "native_size": 2 * ic.size,
                            "batch": mc.batch, "lr": mc.lr, "multires_every": mc.multires_every},
                 "per_seed": {}}
    for seed in seeds:
        t0 = time.perf_counter()
        sizes = {"train": [ic.size, *ic.extra_train_sizes, 2 * ic.size], "test": [ic.size, 2 * ic.size]}
        vols = {}
        for name, ps, s_off in (("train", train_pos, 0), ("test", test_pos, 2)):
            for n in sizes[name]:
                p = write_split(d / f"s{seed}_{name}_{n}.h5", ps, n, ic.n_coils, seed=seed + s_off,
                                oversample=ic.oversample, noise=ic.noise)
                vols[(name, n)] = read_fastmri(p)
        bases = {key: coil_basis(v.kspace) for key, v in vols.items()}
        v = max(n_virtual(e, cfg.reduce.energy, cfg.reduce.max_coils) for _, e in bases.values())
        data = {key: (compress(vol_.kspace, bases[key][0], v) if cfg.reduce.compress and v < vol_.kspace.shape[1]
                      else vol_.kspace, vol_.target) for key, vol_ in vols.items()}
        log(f"seed {seed}: data simulated ({len(train_pos)} train / {len(test_pos)} test slices, {v} virtual "
            f"coils) in {time.perf_counter() - t0:.0f} s")
        zf = {}

        def score(model, n: int, factor: float) -> dict[str, float]:
            k, t = data[("test", n)]
            if hasattr(model, "set_grid"):
                model.set_grid(factor, 1.0)
            methods = {"m": lambda b: reconstruct(model, b)}
            if n not in zf:
                methods["zf"] = lambda b: zero_filled(b.y)
            rows = [evaluate_setting(methods, k, t, f, a, ec.mask_seed, device) for f in ec.families for a in accs]
            if n not in zf:
                zf[n] = {"mean": combine(rows)["zf"]["psnr_db"],
                         **{f"{r['family']}_{r['acceleration']:g}x": r["metrics"]["zf"]["psnr_db"] for r in rows}}
            if hasattr(model, "set_grid"):
                model.set_grid(1.0, 1.0)
            return {"mean": combine(rows)["m"]["psnr_db"],
                    **{f"{r['family']}_{r['acceleration']:g}x": r["metrics"]["m"]["psnr_db"] for r in rows}}

        common = dict(steps=steps, batch=mc.batch, lr=mc.lr, families=mc.train_families,
                      accelerations=mc.train_accelerations, seed=seed, device=device, augment=mc.augment,
                      mask_seeds=mc.mask_seeds, mask_zooms=list(mc.mask_zooms), masks=MaskPool())
        base = data[("train", ic.size)]
        extra = [(*data[("train", n)], n / ic.size) for n in ic.extra_train_sizes] if mc.multires_every else []
        per: dict = {e: {} for e in evals}
        seconds = {}
        for kind in ("operator", "varnet"):
            for where in ("zero_shot", "native"):
                name = f"{kind}_{where}"
                if models and name not in models:
                    continue
                torch.manual_seed(seed)
                model = (NOVarNet(**operator_kwargs(cfg, ic.size)) if kind == "operator"
                         else VarNet(mc.varnet_cascades, list(mc.varnet_features)))

                def on_step(k, m, name=name, where=where):
                    if k in per:
                        per[k][name] = score(m, 2 * ic.size, 2.0)
                        if where == "zero_shot":
                            per[k][name + "_1x"] = score(m, ic.size, 1.0)

                if where == "zero_shot":
                    h = train(model, *base, extra=extra, every=mc.multires_every, desc=name, on_step=on_step,
                              **common)
                else:
                    h = train(model, *data[("train", 2 * ic.size)], density=2.0, desc=name, on_step=on_step,
                              **common)
                seconds[name] = h.seconds
                torch.save(model.state_dict(), d / f"s{seed}_{name}.pt")  # for later test-time studies
                log(f"seed {seed}: {name} trained {steps} steps in {h.seconds:.0f} s; 2x PSNR by step: " +
                    ", ".join(f"{e}: {per[e][name]['mean']:.2f}" for e in evals))
        for e in evals:
            per[e]["zero_filled"], per[e]["zero_filled_1x"] = zf.get(2 * ic.size), zf.get(ic.size)
        res["per_seed"][seed] = {"steps": per, "train_seconds": seconds, "virtual_coils": v,
                                 "seconds": time.perf_counter() - t0}
    return res


def gap_summary(res: dict) -> list[str]:
    """Per seed and mean +- sample std of the gaps, by training step."""
    import statistics

    lines = []
    seeds = list(res["per_seed"])
    for e in res["config"]["evals"]:
        rows = {s: res["per_seed"][s]["steps"][e] for s in seeds}
        if not all(f"{k}_{w}" in r for r in rows.values() for k in ("operator", "varnet")
                   for w in ("zero_shot", "native")):
            continue  # a partial run (--gap-models): its per-model lines were printed during the run
        gaps = {k: [r[f"{k}_native"]["mean"] - r[f"{k}_zero_shot"]["mean"] for r in rows.values()]
                for k in ("operator", "varnet")}
        g1 = [r["operator_zero_shot_1x"]["mean"] - r["zero_filled_1x"]["mean"] for r in rows.values()]
        for s, r in rows.items():
            lines.append(f"step {e:4d} seed {s}: operator gap {r['operator_native']['mean']:.2f} - "
                         f"{r['operator_zero_shot']['mean']:.2f} = {r['operator_native']['mean'] - r['operator_zero_shot']['mean']:+.2f} dB"
                         f"; VarNet gap {r['varnet_native']['mean']:.2f} - {r['varnet_zero_shot']['mean']:.2f} = "
                         f"{r['varnet_native']['mean'] - r['varnet_zero_shot']['mean']:+.2f} dB; zero-filled 2x "
                         f"{r['zero_filled']['mean']:.2f}; operator 1x {r['operator_zero_shot_1x']['mean']:.2f} "
                         f"(gain over zero-filled {r['operator_zero_shot_1x']['mean'] - r['zero_filled_1x']['mean']:+.2f})")
        sd = lambda x: statistics.stdev(x) if len(x) > 1 else float("nan")  # noqa: E731
        lines.append(f"step {e:4d} mean over {len(seeds)} seeds: operator gap {statistics.mean(gaps['operator']):+.2f} "
                     f"+- {sd(gaps['operator']):.2f} dB (min {min(gaps['operator']):+.2f}, max "
                     f"{max(gaps['operator']):+.2f}); VarNet gap {statistics.mean(gaps['varnet']):+.2f} +- "
                     f"{sd(gaps['varnet']):.2f} dB; operator 1x gain {statistics.mean(g1):+.2f} +- {sd(g1):.2f} dB "
                     f"(goal: gap <= 1 dB)")
    return lines


def mask_stream(profile: str, sets: list[str] = (), seed: int = 0, log=print) -> dict:
    """Masks drawn over a profile's training stream: the process LRU alone against :class:`MaskPool`.

    Replays the keys that training draws (one family, acceleration, mask seed
    and zoom per sample, uniformly as :func:`domains.mri.data.training_batch`;
    every ``multires_every``-th step on the next extra grid) for the operator
    and then VarNet (the same stream twice). It counts the masks each cache
    has to draw (an LRU of 512 entries, as :func:`domains.mri.masks.make_mask`'s,
    fed that sequence; the pool draws each distinct key once), times one
    real draw of every (family, grid, acceleration, zoom) class (seed 0), and
    prices each cache's draws with those times. Nothing is trained.
    """
    import functools

    from domains.mri.data import zoomed_mask
    from pipelines.registry import REGISTRY

    cfg = REGISTRY["mri"].resolve_config(profile, list(sets))
    ic, mc = cfg.ingest, cfg.model
    grids = [ic.size] + (list(ic.extra_train_sizes) if mc.multires_every else [])
    gen = torch.Generator().manual_seed(int(seed))
    pick = lambda seq: seq[int(torch.randint(len(seq), (), generator=gen))]  # noqa: E731
    keys, n_extra = [], 0
    for step in range(mc.steps):
        g = grids[0]
        if len(grids) > 1 and (step + 1) % mc.multires_every == 0:
            g = grids[1 + n_extra % (len(grids) - 1)]
            n_extra += 1
        for _ in range(mc.batch):
            keys.append((pick(list(mc.train_families)), g, float(pick(list(mc.train_accelerations))),
                         int(torch.randint(mc.mask_seeds, (), generator=gen)), float(pick(list(mc.mask_zooms)))))
    stream = keys + keys  # the operator, then VarNet on the same stream
    misses = []
    lru = functools.lru_cache(maxsize=512)(lambda key: misses.append(key))
    for key in stream:
        lru(key)
    pool_draws = sorted(set(stream))
    cost: dict = {}
    zoomed_mask("poisson_2d", (16, 16), 4.0, 0, 1.0)  # compiles the dart thrower (numba) before timing
    for fam, g, acc, _, zoom in sorted({(k[0], k[1], k[2], 0, k[4]) for k in stream}):
        t0 = time.perf_counter()
        zoomed_mask(fam, (g, g), acc, 0, zoom)
        cost[(fam, g, acc, zoom)] = time.perf_counter() - t0
    price = lambda draws: sum(cost[(k[0], k[1], k[2], k[4])] for k in draws)  # noqa: E731
    res = {"profile": profile, "samples": len(stream), "distinct_keys": len(pool_draws),
           "lru_draws": len(misses), "pool_draws": len(pool_draws),
           "lru_seconds": price(misses), "pool_seconds": price(pool_draws),
           "slowest_class": max(cost, key=cost.get), "slowest_seconds": max(cost.values())}
    log(f"## Training masks, profile {profile}: {res['samples']} samples (operator + VarNet, {mc.steps} steps x "
        f"batch {mc.batch} each), {res['distinct_keys']} distinct masks")
    log(f"process LRU (512) alone: {res['lru_draws']} draws, {res['lru_seconds']:.0f} s of drawing; MaskPool: "
        f"{res['pool_draws']} draws, {res['pool_seconds']:.0f} s -> {res['lru_seconds'] / max(res['pool_seconds'], 1e-9):.1f}x "
        f"(slowest class {res['slowest_class']}: {res['slowest_seconds']:.2f} s per draw)")
    return res


def _lams(baselines: dict, name: str) -> str:
    """The CS weights tuned per acceleration, e.g. ``4x 0.03, 8x 0.3``."""
    d = baselines.get(name, {})
    return ", ".join(f"{k[7:]} {v:g}" for k, v in d.items() if k.startswith("lambda_")) or "-"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="quick profile (2-core CPU)")
    ap.add_argument("--profile", default=None, choices=["quick", "full"])
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=1, help="torch threads of this process")
    ap.add_argument("--set", dest="sets", action="append", default=[], help="extra --set overrides")
    ap.add_argument("--no-native-2x", dest="native_2x", action="store_false",
                    help="skip the resolution-gap reference (both models trained at 2x, a few minutes on CPU)")
    ap.add_argument("--gap-study", action="store_true",
                    help="only the resolution gap over --gap-seeds at --gap-steps (no flow run; quick-profile "
                         "data and models, --set overrides apply)")
    ap.add_argument("--gap-seeds", type=int, nargs="+", default=[0, 1, 2], help="seeds of the gap study")
    ap.add_argument("--gap-steps", type=int, default=180, help="training steps of every model in the gap study")
    ap.add_argument("--gap-evals", type=int, nargs="*", default=[60, 120],
                    help="earlier steps at which the gap study also scores (within the same training runs)")
    ap.add_argument("--gap-test-slices", type=int, default=16, help="test slices of the gap study")
    ap.add_argument("--gap-models", nargs="*", default=None,
                    help="only these of operator_zero_shot operator_native varnet_zero_shot varnet_native")
    ap.add_argument("--gap-dir", default=None, help="folder for the gap study's data and weights (default: a temp dir)")
    ap.add_argument("--json", default=None, help="write the gap study's results to this JSON file")
    ap.add_argument("--mask-stream", action="store_true",
                    help="only count and price the masks the profile's training draws, process LRU against "
                         "the per-run MaskPool (no training; --profile, --set apply)")
    a = ap.parse_args(argv)
    profile = a.profile or ("quick" if a.quick else ("full" if a.device.startswith("cuda") else "quick"))
    torch.set_num_threads(a.threads)  # this process only
    if a.mask_stream:
        mask_stream(profile, a.sets)
        return 0
    if a.gap_study:
        t0 = time.perf_counter()
        res = gap_study(a.gap_seeds, a.gap_steps, a.gap_evals, a.gap_test_slices, torch.device(a.device), a.sets,
                        out_dir=a.gap_dir, log=lambda msg: print(msg, flush=True), models=a.gap_models)
        if a.json:
            Path(a.json).write_text(json.dumps(res, indent=1))
        print(f"\n## Resolution gap, {len(a.gap_seeds)} seeds, {a.gap_steps} steps, "
              f"{res['config']['test_slices']} test slices ({time.perf_counter() - t0:.0f} s)")
        print("\n".join(gap_summary(res)))
        return 0
    from domains.mri.steps import SPEC
    from pipelines.flowkit import call_directly, execute

    out = tempfile.mkdtemp(prefix="bench-mri-")
    t0 = time.perf_counter()
    run_dir, ev = execute(SPEC, call_directly, profile=profile, out=out, device=a.device, seed=0, sets=a.sets)
    wall = time.perf_counter() - t0
    m, b = ev["metrics"], ev["baselines"]
    print(f"# mri benchmark, profile {profile}, device {a.device}, flow wall {wall:.1f} s "
          f"(steps: {', '.join(f'{k} {v:.1f}' for k, v in ev['seconds'].items())})")
    print("\n## PSNR (dB) per family x acceleration: operator | VarNet | CS-TV | CS-L1-wavelet | zero-filled "
          "| op - VarNet")
    for k in sorted(key for key in m if key.startswith("psnr_db_") and key.endswith("x") and key != "psnr_db_heldout"):
        row = [m[k]] + [b.get(n, {}).get(k, float("nan")) for n in ("varnet", "cs_tv", "cs_wavelet", "zero_filled")]
        print(f"{k[8:]:>16}: " + " | ".join(f"{v:6.2f}" for v in row) + f" | {row[0] - row[1]:+5.2f}")
    print("\n## Summary")
    print(f"operator - VarNet (trained families): {m.get('psnr_gain_over_varnet_db', float('nan')):+.2f} dB; "
          f"held-out family: {m.get('psnr_gain_over_varnet_heldout_db', float('nan')):+.2f} dB; "
          f"paper +{PAPER_GAIN_DB:.0f} dB -> difference "
          f"{m.get('psnr_gain_over_varnet_db', float('nan')) - PAPER_GAIN_DB:+.2f} dB")
    print(f"SSIM operator {m['ssim']:.4f} VarNet {b.get('varnet', {}).get('ssim', float('nan')):.4f} "
          f"CS-TV {b.get('cs_tv', {}).get('ssim', float('nan')):.4f} "
          f"CS-wavelet {b.get('cs_wavelet', {}).get('ssim', float('nan')):.4f} zero-filled {b['zero_filled']['ssim']:.4f}")
    print(f"operator - zero-filled: {m['psnr_gain_over_zero_filled_db']:+.2f} dB; operator - CS-TV: "
          f"{m['psnr_db'] - b.get('cs_tv', {}).get('psnr_db', float('nan')):+.2f} dB (lambda {_lams(b, 'cs_tv')}); "
          f"operator - CS-L1-wavelet: {m['psnr_db'] - b.get('cs_wavelet', {}).get('psnr_db', float('nan')):+.2f} dB "
          f"(lambda {_lams(b, 'cs_wavelet')})")
    if "psnr_2x_db" in m:
        print(f"2x resolution: operator {m['psnr_2x_db']:.2f} dB vs {m['psnr_1x_same_settings_db']:.2f} dB at 1x "
              f"(drop {m['psnr_drop_2x_db']:+.2f} dB); VarNet drop {b.get('varnet', {}).get('psnr_drop_2x_db', float('nan')):+.2f} dB; "
              f"zero-filled drop {b['zero_filled'].get('psnr_drop_2x_db', float('nan')):+.2f} dB; operator gain over "
              f"zero-filled at 2x {m['psnr_gain_over_zero_filled_2x_db']:+.2f} dB against "
              f"{m.get('psnr_gain_over_zero_filled_1x_same_settings_db', float('nan')):+.2f} dB at 1x -> cost "
              f"{m.get('psnr_cost_2x_db', float('nan')):.2f} dB (goal <= 1 dB)")
        print(f"   control, the same weights with the grid left at the training density: "
              f"{m['psnr_2x_unscaled_grid_db']:.2f} dB, gain over zero-filled "
              f"{m['psnr_gain_over_zero_filled_2x_unscaled_grid_db']:+.2f} dB (rescaled minus unscaled: "
              f"{m['psnr_2x_db'] - m['psnr_2x_unscaled_grid_db']:+.2f} dB)")
    if "psnr_up2x_db" in m:
        print(f"2x by bilinear upsampling (NO-MRI's protocol): operator {m['psnr_up2x_db']:.2f} dB, gain over zero-filled "
              f"{m['psnr_gain_over_zero_filled_up2x_db']:+.2f} dB -> cost {m['psnr_cost_up2x_db']:.2f} dB; VarNet "
              f"{b.get('varnet', {}).get('psnr_up2x_db', float('nan')):.2f} dB, cost "
              f"{b.get('varnet', {}).get('psnr_cost_up2x_db', float('nan')):.2f} dB")
    if a.native_2x and "psnr_2x_db" in m:
        r = native_2x(Path(run_dir), torch.device(a.device))
        print(f"2x resolution gap (same architecture and budget trained at 2x, minus the zero-shot weights, on the "
              f"same 2x test): operator {r['operator_native']:.2f} - {r['operator_zero_shot']:.2f} = "
              f"{r['operator_native'] - r['operator_zero_shot']:+.2f} dB (goal <= 1 dB); VarNet {r['varnet_native']:.2f} - "
              f"{r['varnet_zero_shot']:.2f} = {r['varnet_native'] - r['varnet_zero_shot']:+.2f} dB; zero-filled "
              f"{r['zero_filled']:.2f} dB; native gains over zero-filled: operator "
              f"{r['operator_native'] - r['zero_filled']:+.2f}, VarNet {r['varnet_native'] - r['zero_filled']:+.2f} dB "
              f"(training at 2x: operator {r['train_seconds']['operator']:.0f} s, VarNet "
              f"{r['train_seconds']['varnet']:.0f} s)")
        for k, row in r["per_family"].items():
            print(f"   {k:>16}: " + " | ".join(f"{n} {v:.2f}" for n, v in row.items()))
    if "adapt_flora_psnr_db" in m:
        print(f"adaptation (T2-like): pretrained {m['adapt_pretrained_psnr_db']:.2f}, FLoRA {m['adapt_flora_psnr_db']:.2f} "
              f"({100 * m['adapt_flora_trainable_fraction']:.1f} % trained), full fine-tuning "
              f"{m['adapt_finetune_psnr_db']:.2f} dB -> FLoRA - full {m['adapt_flora_minus_finetune_db']:+.2f} dB")
    print("\n## Time per slice (median of repeats, shared.timing.measure)")
    t_op = m["seconds_per_slice"]
    print(f"operator {1e3 * t_op:.2f} ms")
    for n in ("varnet", "cs_tv", "cs_wavelet", "zero_filled"):
        if n in b and "seconds_per_slice" in b[n]:
            print(f"{n} {1e3 * b[n]['seconds_per_slice']:.2f} ms -> {n} / operator = "
                  f"{b[n]['seconds_per_slice'] / t_op:.3f}")
    cfg = json.loads((Path(run_dir) / "config.json").read_text())["config"]
    rows = coil_sweep(Path(run_dir), torch.device(a.device), cfg["evaluate"]["timing_repeats"])
    full = rows[-1]
    print(f"\n## Coil compression (poisson_2d 4x; operator trained on {int(m['virtual_coils'])} virtual coils)")
    print("coils | PSNR op / CS / ZF (dB) | lost vs all coils op / CS / ZF | ms op / CS | speed-up op / CS")
    for r in rows:
        print(f"{r['coils']:5d} | {r['psnr_operator']:6.2f} / {r['psnr_cs_tv']:6.2f} / {r['psnr_zero_filled']:6.2f} | "
              f"{full['psnr_operator'] - r['psnr_operator']:+5.2f} / {full['psnr_cs_tv'] - r['psnr_cs_tv']:+5.2f} / "
              f"{full['psnr_zero_filled'] - r['psnr_zero_filled']:+5.2f} | {r['ms_operator']:6.2f} / {r['ms_cs_tv']:6.2f} | "
              f"{full['ms_operator'] / r['ms_operator']:4.2f} / {full['ms_cs_tv'] / r['ms_cs_tv']:4.2f}")
    print(f"\nrun directory: {run_dir}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
