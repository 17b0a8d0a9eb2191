"""Benchmarks of the geo domain, ours beside the baseline in one run.

1. majority   vectorised 7x7 majority filter vs scipy.ndimage.generic_filter + scipy.stats.mode
              (the paper's way) on the same tile: time ratio and share of identical pixels
2. kmeans     torch k-means vs scikit-learn KMeans on the same pixels at equal inertia (within 1 %)
3. scene      a Landsat-size scene (7961 x 7841 x 7, generated once with windowed writes; --quick:
              2048 x 2048) through the flow: per-step seconds and peak RSS of the flow's process
4. accuracy   the method x sensor table of the default synthetic scene and of Indian Pines
5. restarts   whole-stack restarts of the paper's stacked AE on the quick scene, seeds --seeds: --restarts
              stacks trained in lockstep (StackedAE.fit_starts; --min-steps: the update floor), each
              start's label-free figures (reconstruction, stage-3 objective, Davies-Bouldin,
              Calinski-Harabasz, silhouette of its codes' k-means partition, consensus with the other
              starts) and its matching accuracy beside PCA's (same pixels, k-means, filter and scoring
              as the flow); then the pick of every criterion among the first R starts, and the best
              start by the labels (a ceiling, not a method)
6. paper-scale  the `full` profile (1024^2 scene, paper epochs on 1 M pixels, k = the scene's 6 units)
              with methods PCA and stacked AE, seeds --seeds, sensors --sensors: accuracy and step times

Usage::

    .venv/bin/python bench/geo.py --quick            # about 5 minutes on 2 cores
    .venv/bin/python bench/geo.py                    # full scene (generation ~ once, cached)
    .venv/bin/python bench/geo.py --parts majority,kmeans --device cuda
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from shared.timing import measure  # noqa: E402


def bench_majority(quick: bool) -> dict:
    from scipy import ndimage, stats

    from domains.geo.majority import majority_filter
    from domains.geo.simulate import Scene, SceneParams

    side = 128 if quick else 512
    sc = Scene(SceneParams(size30=side, cloud_cover=0))
    t = np.arange(side) * 30.0 + 15.0
    x, y = np.meshgrid(618705.0 + t, 6569725.0 - t)
    lab = sc.units(x, y)
    rng = np.random.default_rng(0)
    noisy = np.where(rng.random(lab.shape) < 0.2, rng.integers(0, 6, lab.shape), lab).astype(np.uint8)
    t_ours, ours = measure(lambda: majority_filter(noisy, 7, 6), repeats=5)
    t_ref, ref = measure(lambda: ndimage.generic_filter(
        noisy, lambda v: stats.mode(v, keepdims=False).mode, size=7, mode="reflect"), repeats=1, warmup=0)
    same = float((ours == ref.astype(np.uint8)).mean())
    px = side * side
    scene_px = 7961 * 7841
    return {"tile": f"{side}x{side}", "ours_s": t_ours.median_s, "generic_filter_s": t_ref.median_s,
            "speedup": t_ref.median_s / t_ours.median_s, "identical_share": same,
            "generic_filter_scene_h_extrapolated": t_ref.median_s * scene_px / px / 3600,
            "ours_scene_s_extrapolated": t_ours.median_s * scene_px / px}


def bench_kmeans(quick: bool, device: str) -> dict:
    from sklearn.cluster import KMeans as SK

    from shared.cluster import KMeans
    from shared.threads import cpu_threads

    n = 200_000 if quick else 1_000_000
    g = np.random.default_rng(0)
    centres = g.uniform(0, 1, (8, 7))
    X = (centres[g.integers(0, 8, n)] + g.normal(0, 0.05, (n, 7))).astype(np.float32)
    Xt = torch.from_numpy(X).to(device)
    t_ours, km = measure(lambda: KMeans(8, n_init=3, seed=0).fit(Xt), repeats=3, device=device)
    with cpu_threads(1):  # the flow's default `threads` setting
        t_one, _ = measure(lambda: KMeans(8, n_init=3, seed=0).fit(Xt), repeats=3, device=device)
    t_sk, sk = measure(lambda: SK(8, n_init=3, random_state=0).fit(X), repeats=3)
    sk_inertia = float(((X - sk.cluster_centers_[sk.labels_]) ** 2).sum())
    return {"n": n, "d": 7, "k": 8, "device": device, "ours_s": t_ours.median_s, "ours_one_thread_s": t_one.median_s,
            "sklearn_s": t_sk.median_s,
            "speedup": t_sk.median_s / t_ours.median_s, "inertia_ours": km.inertia_, "inertia_sklearn": sk_inertia,
            "inertia_ratio": km.inertia_ / sk_inertia}


_FLOW = r"""
import json, resource, sys, time, torch
sys.path.insert(0, {root!r})
from domains.geo.steps import SPEC
from pipelines.flowkit import call_directly, execute
t0 = time.perf_counter()
run_dir, ev = execute(SPEC, call_directly, data={mtl!r}, out={out!r}, device={device!r}, seed=0, sets={sets!r})
wall = time.perf_counter() - t0
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 / 1024
print(json.dumps({{"run_dir": run_dir, "seconds": ev["seconds"], "wall_s": wall, "peak_rss_gib": rss,
                  "metrics": ev["metrics"], "baselines": ev["baselines"]}}))
"""


def bench_scene(quick: bool, device: str, workdir: Path, methods: str, threads: int | None = None) -> dict:
    from domains.geo.simulate import Scene, SceneParams, write_landsat, write_reference

    side = 2048 if quick else None
    tag = "quick" if quick else "full"
    d = workdir / f"scene-{tag}"
    mtl = next(iter(sorted(d.glob("*/*_MTL.txt"))), None) if d.exists() else None
    gen_s = None
    if mtl is None:
        # the full scene is Landsat-size: REFLECTIVE_LINES 7961 x SAMPLES 7841 (square extent of 7961 px)
        size = side or 7961
        sc = Scene(SceneParams(size30=size, seed=0))
        t0 = time.perf_counter()
        mtl = write_landsat(d, sc, 8, sub=1, block=512)
        write_reference(d / "reference_units.tif", sc, 30.0, block=1024)
        gen_s = time.perf_counter() - t0
        if not quick:
            _crop_to_landsat(mtl, 7961, 7841)
            _crop_to_landsat_file(d / "reference_units.tif", 7961, 7841)
    sets = [f"reduce.methods={methods}", "ingest.block=1024", "ingest.reference=" + str(d / "reference_units.tif"),
            "ingest.sample_pixels=200000", "reduce.train_pixels=20000", "model.fit_pixels=100000"]
    if threads is not None:
        sets.append(f"threads={threads}")
    code = _FLOW.format(root=str(ROOT), mtl=str(mtl), out=str(workdir / "runs"), device=device, sets=sets)
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    if res.returncode != 0:
        raise RuntimeError(res.stderr[-3000:])
    rec = json.loads(res.stdout.strip().splitlines()[-1])
    import rasterio

    with rasterio.open(mtl.parent / mtl.name.replace("_MTL.txt", "_SR_B1.TIF")) as src:
        shape = (src.height, src.width)
    rec.update({"scene": f"{shape[0]}x{shape[1]}x7", "generation_s": gen_s, "methods": methods})
    return rec


def _crop_to_landsat(mtl: Path, lines: int, samples: int) -> None:
    for f in mtl.parent.glob("*.TIF"):
        _crop_to_landsat_file(f, lines, samples)
    text = mtl.read_text().replace("REFLECTIVE_SAMPLES = 7961", f"REFLECTIVE_SAMPLES = {samples}")
    mtl.write_text(text)


def _crop_to_landsat_file(path: Path, lines: int, samples: int) -> None:
    """Crop a square raster to lines x samples, block by block (windowed)."""
    import rasterio
    from rasterio.windows import Window

    tmp = path.with_suffix(".crop.tif")
    with rasterio.open(path) as src:
        prof = src.profile | {"width": samples, "height": lines}
        with rasterio.open(tmp, "w", **prof) as dst:
            for r in range(0, lines, 1024):
                w = Window(0, r, samples, min(1024, lines - r))
                dst.write(src.read(1, window=w), 1, window=w)
    os.replace(tmp, path)


def bench_accuracy(device: str, workdir: Path) -> dict:
    from domains.geo.steps import SPEC
    from pipelines.flowkit import call_directly, execute

    out = {}
    for name, kw in (("synthetic (quick profile)", {}), ("indian-pines", {"dataset": "indian-pines",
                                                                       "sets": ["model.k=16"]})):
        run_dir, ev = execute(SPEC, call_directly, out=str(workdir / "runs"), device=device, seed=0, **kw)
        out[name] = {"table": {s: {m: {k: r[k] for k in ("matching_accuracy", "majority_accuracy", "ari", "nmi",
                                                         "coverage") if k in r}
                                   for m, r in t["methods"].items()} for s, t in ev["table"].items()},
                     "seconds": ev["seconds"], "run_dir": run_dir}
    return out


def bench_restarts(device: str, workdir: Path, seeds: list[int], restarts: int,
                   min_steps: int | None = None) -> list[dict]:
    """Train ``restarts`` whole stacked AEs per seed and sensor on the flow's own sample; score each.

    The flow runs once per seed (methods PCA, stacked AE, improved: the scored pixels are those of
    the default five-method run, since only the improved mode masks). The starts are
    ``StackedAE(D, seed=seed).fit_starts(...)`` (stack ``r`` initialised with ``restart_seed(seed, r)``,
    the flow's schedule and shuffles, in lockstep as ``reduce.restarts`` trains them: start 0 equals the
    flow's own stacked AE up to floating-point summation order), then k-means, labelling, majority
    filter and scoring exactly as the model and evaluate steps do.
    """
    import h5py
    import rasterio
    from rasterio.enums import Resampling

    from domains.geo.config import GeoConfig
    from domains.geo.raster import LABEL_NODATA, AlignedReader, Grid, windows
    from domains.geo.reduce import paper_training_rows
    from domains.geo.sensors import Product
    from domains.geo.steps import SPEC
    from pipelines.flowkit import call_directly, execute
    from shared.threads import cpu_threads

    rows = []
    for seed in seeds:
        seen: dict = {}

        def caller(spec, step, ctx, prev):
            res = call_directly(spec, step, ctx, prev)
            seen["ctx"], seen[step] = ctx, res["record"]
            return res

        run_dir, ev = execute(SPEC, caller, out=str(workdir / "runs"), device=device, seed=seed,
                              sets=["reduce.methods=[pca,sae,improved]"])
        cfg = GeoConfig.model_validate(seen["ctx"].config)
        dev = torch.device(seen["ctx"].device)  # the resolved device the flow ran on
        rc, mc = cfg.reduce, cfg.model
        ing = seen["ingest"]

        def moved(p: str) -> str:  # records name the run's .partial directory, renamed on completion
            q = Path(p)
            return str(Path(run_dir) / q.relative_to(seen["ctx"].run_dir)) if q.is_relative_to(seen["ctx"].run_dir) else p

        for sc in ing["scenes"]:
            name = sc["name"]
            grid = Grid.from_dict(sc["grid"])
            D = len(Product.from_dict(sc["product"]).bands)
            h5p = Path(run_dir) / "results.h5"
            with h5py.File(h5p, "r") as h5:
                # on the run's device, as the flow's reduce and model steps hold them
                rho = torch.from_numpy(h5[f"{name}/sample/rho"][()]).to(dev)
                flags = torch.from_numpy(h5[f"{name}/sample/flags"][()]).to(dev)
                vmin = torch.from_numpy(h5[f"{name}/band_min"][()])
                vmax = torch.from_numpy(h5[f"{name}/band_max"][()])
            Xp, minmax = paper_training_rows(rho, vmin, vmax, rc.train_pixels, seed)  # as reduce.fit_methods
            ref_nodata = cfg.ingest.reference_nodata
            ref_path = moved(ing["reference"])
            with rasterio.open(ref_path) as r:
                ref_nodata = int(r.nodata) if ref_nodata is None and r.nodata is not None else ref_nodata
            lay = {"ref": (ref_path, 1, Resampling.nearest, ref_nodata)}
            lay.update({f"lab:{m}": (str(Path(run_dir) / f"unitmap_{name}_{m}.tif"), 1, Resampling.nearest,
                                     LABEL_NODATA) for m in ("pca", "improved")})
            full = next(iter(windows(grid, max(grid.width, grid.height))))
            with AlignedReader(grid, lay) as rd, rasterio.open(moved(sc["stack"])) as st, \
                    rasterio.open(moved(sc["flags"])) as fl:
                ref = rd.read("ref", full)
                fixed = {m: rd.read(f"lab:{m}", full) for m in ("pca", "improved")}
                stack, fimg = st.read(window=full), fl.read(1, window=full)
            n_units = len(ing["units"])
            from domains.geo.autoencoders import StackedAE

            with cpu_threads(cfg.threads):  # as the flow's steps (one thread: tiny kernels)
                t0 = time.perf_counter()
                starts = StackedAE(D, rc.code_dim, seed=seed).fit_starts(
                    Xp, rc.epochs, rc.batch_sizes, restarts, lr=rc.lr, l1=rc.l1, seed=seed,
                    min_steps=rc.min_steps if min_steps is None else min_steps)
                train_s = time.perf_counter() - t0
                first = len(rows)
                for r, (sae, _) in enumerate(starts):
                    rows.append(_score_start(r, seed, rc, mc, Xp, minmax, rho, flags, stack, fimg, ref, fixed,
                                             n_units, ref_nodata, sae, dev))
                    flow_t = ev["table"][name]["methods"]
                    rows[-1].update({"sensor": name, "train_s": train_s,
                                     "flow_sae_acc": flow_t["sae"]["matching_accuracy"],
                                     "flow_pca_acc": flow_t["pca"]["matching_accuracy"]})
                _consensus(rows[first:])
            for row in rows[first:]:
                print("  restarts " + json.dumps({k: (round(v, 5) if isinstance(v, float) else v)
                                                  for k, v in row.items() if k != "labels"}), flush=True)
    return rows


def _consensus(rs: list[dict]) -> None:
    """Each start's mean ARI between its partition of the training pixels and the others' (stability)."""
    from sklearn.metrics import adjusted_rand_score

    for i, a in enumerate(rs):
        a["consensus"] = float(np.mean([adjusted_rand_score(a["labels"], b["labels"]) for j, b in enumerate(rs)
                                        if j != i])) if len(rs) > 1 else 0.0


def _score_start(r, seed, rc, mc, Xp, minmax, rho, flags, stack, fimg, ref, fixed, n_units, ref_nodata,
                 sae, dev) -> dict:
    """One trained stacked AE: its label-free figures and its scores."""
    from domains.geo.evaluate import score_tile
    from domains.geo.majority import majority_filter
    from domains.geo.model import fit_sample, label_tile
    from domains.geo.raster import LABEL_NODATA
    from domains.geo.reduce import FittedMethod
    from domains.geo.selection import partition_indices
    from shared.cluster import KMeans, scores

    crit = sae.objectives(Xp, rc.l1)
    # label-free: the internal indices of the k-means partition of the training pixels' codes, and
    # that partition itself (for the consensus between starts)
    z = sae.encode(Xp)
    crit.update(partition_indices(z, mc.k, n_init=mc.n_init, max_iter=mc.max_iter, seed=seed))
    crit["labels"] = KMeans(mc.k, n_init=mc.n_init, max_iter=mc.max_iter, seed=seed).fit(z.double()).labels_.cpu().numpy()
    m = FittedMethod("sae", minmax, sae, False)
    keep = m.keep(rho, flags)
    codes = m.codes(rho[keep])
    fit = fit_sample(codes, mc.fit_pixels, seed)  # as the model step
    km = KMeans(mc.k, n_init=mc.n_init, max_iter=mc.max_iter, seed=seed).fit(fit)
    lab = label_tile(stack, fimg, {"sae": m}, {"sae": km}, dev)["sae"]  # numpy labels, as the model step's
    lab = majority_filter(lab, mc.majority_size, mc.k, LABEL_NODATA)
    part = score_tile(ref, {**fixed, "sae": lab}, stack, n_units, {"pca": mc.k, "improved": mc.k,
                                                                   "sae": mc.k}, ref_nodata)
    sc_sae, sc_pca = scores(part.C["sae"]), scores(part.C["pca"])
    return {"seed": seed, "start": r, **crit, "sae_acc": sc_sae["matching_accuracy"],
            "sae_ari": sc_sae["ari"], "pca_acc": sc_pca["matching_accuracy"]}


def _restart_picks(rows: list[dict], restarts: int) -> None:
    """Print each criterion's pick among the first R starts (R = 2, 3, 4, 6, 8, ... up to ``restarts``)."""
    from domains.geo.selection import selection_score

    lower = {"recon": lambda r: r["recon"], "stage3": lambda r: r["stage3"],
             "consensus": lambda r: -r["consensus"],
             **{c: (lambda c: lambda r: selection_score(r, c))(c)
                for c in ("davies_bouldin", "calinski_harabasz", "silhouette")}}
    groups = {}
    for r in rows:
        groups.setdefault((r["sensor"], r["seed"]), []).append(r)
    for (sensor, seed), rs in sorted(groups.items()):
        print(f"restarts {sensor} seed {seed}: PCA {rs[0]['pca_acc']:.3f}, flow's stacked AE "
              f"{rs[0]['flow_sae_acc']:.3f}; every start: " + " ".join(f"{r['sae_acc']:.3f}" for r in rs), flush=True)
    for R in sorted({R for R in (2, 3, 4, 6, 8, 12, 16) if R <= restarts} | {restarts}):
        for crit, key in [*lower.items(), ("best by the labels (ceiling)", lambda r: -r["sae_acc"])]:
            picks = []
            for (sensor, seed), rs in sorted(groups.items()):
                sub = rs[:R]
                if crit == "consensus":  # consensus within the first R starts
                    _consensus(sub)
                b = min(sub, key=key)
                picks.append(f"{sensor} {seed}: {b['sae_acc']:.3f}{'' if b['sae_acc'] >= b['pca_acc'] else ' (< PCA)'}")
            met = sum("< PCA" not in p for p in picks)
            print(f"restarts R={R} pick by {crit}: >= PCA {met}/{len(picks)}; " + "; ".join(picks), flush=True)


def bench_paper_scale(device: str, workdir: Path, seeds: list[int], sensors: list[str]) -> list[dict]:
    """The ``full`` profile with methods PCA and stacked AE, one run per seed and sensor.

    ``model.k`` is set to 6, the scene's number of units (the full profile's own default; set here
    so that a change of the profile to an elbow-chosen k cannot confound the comparison).
    """
    from domains.geo.steps import SPEC
    from pipelines.flowkit import call_directly, execute

    rows = []
    for seed in seeds:
        for sensor in sensors:
            t0 = time.perf_counter()
            run_dir, ev = execute(SPEC, call_directly, profile="full", out=str(workdir / "runs"), device=device,
                                  seed=seed, sets=[f"ingest.sensors=[{sensor}]", "reduce.methods=[pca,sae]",
                                                   "model.k=6"])
            (name, t), = ev["table"].items()
            rows.append({"seed": seed, "sensor": name, "grid": t["grid"], "seconds": ev["seconds"],
                         "wall_s": time.perf_counter() - t0, "run_dir": run_dir,
                         **{f"{m}_{k}": r[k] for m, r in t["methods"].items()
                            for k in ("matching_accuracy", "ari", "nmi")}})
            r = rows[-1]
            print(f"paper-scale seed {seed} {name} ({t['grid']}): stacked AE {r['sae_matching_accuracy']:.3f} "
                  f"(ARI {r['sae_ari']:.3f}) vs PCA {r['pca_matching_accuracy']:.3f} (ARI {r['pca_ari']:.3f}); "
                  "steps " + ", ".join(f"{k} {v:.0f} s" for k, v in ev["seconds"].items()), flush=True)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--parts", default="majority,kmeans,scene,accuracy")
    ap.add_argument("--scene-methods", default="[pca,sae,improved]")
    ap.add_argument("--threads", type=int, default=None, help="scene part: the flow's threads setting "
                    "(default: the config's, 1)")
    ap.add_argument("--seeds", default="0,1,2", help="restarts / paper-scale parts: seeds")
    ap.add_argument("--sensors", default="landsat8", help="paper-scale part: sensors, comma-separated")
    ap.add_argument("--restarts", type=int, default=4, help="restarts part: whole stacks per seed and sensor")
    ap.add_argument("--min-steps", type=int, default=None, help="restarts part: floor on Adam updates per stage "
                    "(default: the config's reduce.min_steps)")
    ap.add_argument("--workdir", default=str(Path(os.environ.get("TMPDIR", "/tmp")) / "lowdim-bench-geo"))
    a = ap.parse_args()
    # torch keeps its default threads here; the flow's steps run under its top-level `threads` setting
    # (flowkit, shared.threads.cpu_threads), which --threads overrides for the scene part
    work = Path(a.workdir)
    work.mkdir(parents=True, exist_ok=True)
    parts = a.parts.split(",")
    print(f"# bench/geo.py {'--quick ' if a.quick else ''}device={a.device} torch threads={torch.get_num_threads()}", flush=True)
    if "majority" in parts:
        r = bench_majority(a.quick)
        print(f"majority 7x7 on {r['tile']}: ours {r['ours_s'] * 1e3:.1f} ms, generic_filter+mode "
              f"{r['generic_filter_s']:.1f} s -> {r['speedup']:.0f}x; identical pixels {r['identical_share']:.4f}; "
              f"per 7961x7841 scene: ours ~{r['ours_scene_s_extrapolated']:.0f} s, generic_filter "
              f"~{r['generic_filter_scene_h_extrapolated']:.1f} h", flush=True)
    if "kmeans" in parts:
        r = bench_kmeans(a.quick, a.device)
        print(f"k-means k=8 n_init=3 on {r['n']}x7 ({r['device']}): torch {r['ours_s']:.2f} s "
              f"(one thread {r['ours_one_thread_s']:.2f} s), sklearn "
              f"{r['sklearn_s']:.2f} s -> {r['speedup']:.2f}x; inertia ratio ours/sklearn {r['inertia_ratio']:.4f}",
              flush=True)
    if "scene" in parts:
        r = bench_scene(a.quick, a.device, work, a.scene_methods, a.threads)
        secs = ", ".join(f"{k} {v:.1f} s" for k, v in r["seconds"].items())
        gen = f"generated in {r['generation_s']:.0f} s; " if r["generation_s"] else "cached; "
        print(f"scene {r['scene']} ({gen}methods {r['methods']}): {secs}; total {r['wall_s']:.1f} s; "
              f"peak RSS {r['peak_rss_gib']:.2f} GiB", flush=True)
        print("  scene metrics: " + json.dumps({k: round(v, 4) for k, v in r["metrics"].items()}), flush=True)
        print("  scene baselines: " + json.dumps({m: {k: round(v, 4) for k, v in d.items() if "accuracy" in k
                                                     or "ari" in k} for m, d in r["baselines"].items()}), flush=True)
    if "accuracy" in parts:
        acc = bench_accuracy(a.device, work)
        for name, rec in acc.items():
            print(f"accuracy, {name} (steps: " + ", ".join(f"{k} {v:.1f} s" for k, v in rec["seconds"].items()) + ")")
            for s, t in rec["table"].items():
                print(f"  {s}:")
                for m, r in t.items():
                    print(f"    {m:<9} " + "  ".join(f"{k} {v:.3f}" for k, v in r.items()))
        sys.stdout.flush()
    seeds = [int(x) for x in a.seeds.split(",")]
    if "restarts" in parts:
        rows = bench_restarts(a.device, work, seeds, a.restarts, a.min_steps)
        _restart_picks(rows, a.restarts)
    if "paper-scale" in parts:
        bench_paper_scale(a.device, work, seeds, a.sensors.split(","))


if __name__ == "__main__":
    main()
