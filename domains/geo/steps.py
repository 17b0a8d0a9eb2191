"""The four steps of the ``geo`` flow, free of Prefect.

ingest    the synthetic scene (written as Landsat / Sentinel-2 / ASTER products and
          read back), a user's product (``--data`` MTL / MTD / band / GeoTIFF) or
          Indian Pines; aligned windowed reads -> reflectance stack, flags, sample
reduce    per-band scaling and the encoders (raw, PCA, canonical AE, stacked AE,
          improved), fitted on the sample
model     k-means per method on the sample's codes, labelling window by window,
          majority filter, COG unit maps with colour tables
evaluate  Hungarian / majority accuracy, ARI, NMI, F1 and confusion against the
          reference map; Calinski-Harabasz and Davies-Bouldin; figures; report
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import h5py
import numpy as np
import rasterio
import torch
from rasterio.enums import Resampling
from rasterio.transform import Affine
from rasterio.windows import Window

from domains.geo import figures
from domains.geo.checks import INDIAN_PINES, check, rules
from domains.geo.config import PROFILES, GeoConfig
from domains.geo.evaluate import combine_scores, reference_max, score_tile, unit_scores
from domains.geo.io import combine_ingest, ingest_tile, layers, product_grid, read_tile, write_generic
from domains.geo.model import choose_k, filter_tile, fit_sample, label_tile
from domains.geo.raster import GDAL_ENV, LABEL_NODATA, AlignedReader, Grid, create_raster, palette, \
    read_downsampled, windows, write_cog
from domains.geo.reduce import fit_methods
from domains.geo.sensors import Product, open_product
from domains.geo.simulate import SceneParams, generate
from shared.cluster import KMeans
from shared.domain import DomainSpec
from shared.errors import BadInput
from shared.manifests import get_manifest, sha256_file
from shared.progress import progress
from shared.runs import RunContext, write_array

def _cfg(ctx: RunContext) -> GeoConfig:
    return GeoConfig.model_validate(ctx.config)


# ------------------------------------------------------------------------ ingest
def _inputs(ctx: RunContext, cfg: GeoConfig) -> tuple[dict[str, Product], str | None, list[str] | None, dict]:
    """Scene name -> product, the reference map, unit names and provenance."""
    ic = cfg.ingest
    if ctx.data:
        p = open_product(ctx.data, aster_scale=ic.aster_scale, generic_scale=ic.generic_scale)
        # a product folder is hashed by its metadata file (MTL / MTD), which names every band
        return ({p.sensor: p}, ic.reference, None,
                {"source": str(ctx.data), "sha256": sha256_file(p.source), "synthetic": False})
    if ctx.dataset == INDIAN_PINES:
        return _indian_pines(ctx)
    if ctx.dataset:
        m = get_manifest(ctx.dataset)
        if m.domain != "geo" or m.access != "embedded":
            raise BadInput(f"--dataset {ctx.dataset}", "not an embedded geo dataset; use --data")
    params = SceneParams(size30=ic.scene_size, n_units=ic.n_units, cloud_cover=ic.cloud_cover,
                         noise_sigma=ic.noise_sigma, seed=ctx.seed, vegetation=ic.vegetation,
                         illumination=ic.relief)
    gen = generate(ctx.path("inputs"), ic.sensors, params, block=ic.block)
    products = {s: open_product(p, aster_scale=ic.aster_scale) for s, p in gen["products"].items()}
    src = (f"synthetic:geo-synthetic ({ic.scene_size}x{ic.scene_size} px at 30 m, {ic.n_units} units, "
           f"{', '.join(ic.sensors)})")
    return products, gen["reference"], gen["units"], {"source": src, "sha256": None, "synthetic": True}


def _indian_pines(ctx: RunContext):
    from tensorly.datasets import load_indian_pines

    b = load_indian_pines()
    cube = np.asarray(b.tensor, dtype=np.float32)  # (145, 145, 200) AVIRIS radiance-like DN
    gt = np.asarray(b.ticks[0]).astype(np.int64)  # (145, 145) ground truth, 0 = background
    ticks = list(getattr(b, "ticks", []))
    wl = [float(w) / 1000.0 for w in ticks[1]] if len(ticks) > 1 and len(ticks[1]) == cube.shape[2] else None
    d = ctx.path("inputs")
    d.mkdir(parents=True, exist_ok=True)
    cube_path = write_generic(d / "indian_pines.tif", cube + 1.0, nodata=0.0)  # +1: no valid 0 DN
    ref = np.where(gt > 0, gt - 1, LABEL_NODATA).astype(np.uint8)
    ref_path = write_generic(d / "indian_pines_gt.tif", ref[..., None].astype(np.float32), nodata=LABEL_NODATA)
    from domains.geo.sensors import generic_product

    p = generic_product(cube_path, wavelengths=wl if wl and len(wl) == cube.shape[2] else None)
    p.sensor = INDIAN_PINES
    names = [f"class {c}" for c in range(1, int(gt.max()) + 1)]
    return ({INDIAN_PINES: p}, str(ref_path), names,
            {"source": "tensorly.datasets.load_indian_pines (AVIRIS Indian Pines, 145x145x200, 16 classes)",
             "sha256": sha256_file(cube_path), "synthetic": False})


def ingest(ctx: RunContext, prev: dict[str, dict]) -> dict[str, Any]:
    """Read each product onto its target grid window by window.

    Writes per scene ``scene_<name>.tif`` (float32 reflectance, NaN fill),
    ``flags_<name>.tif`` (uint8 VALID | CLEAR) and ``results.h5``
    ``<name>/sample/{rho,flags,rc}``, ``<name>/band_min``, ``<name>/band_max``.
    """
    cfg = _cfg(ctx)
    ic = cfg.ingest
    products, reference, units, data = _inputs(ctx, cfg)
    rng = np.random.default_rng(ctx.seed)
    scenes = []
    for name, product in products.items():
        grid = product_grid(product, ic.resolution, ic.crs)
        rate = min(1.0, 3.0 * ic.sample_pixels / grid.n_pixels)
        stack_path, flags_path = ctx.path(f"scene_{name}.tif"), ctx.path(f"flags_{name}.tif")
        acc = None
        with rasterio.Env(**GDAL_ENV), AlignedReader(grid, layers(product)) as rd:
            dst = create_raster(stack_path, grid, len(product.bands), "float32", float("nan"), ic.block)
            fdst = create_raster(flags_path, grid, 1, "uint8", None, ic.block)
            try:
                for w in progress(windows(grid, ic.block), desc=f"ingest {name}", unit="window"):
                    rho, flags = read_tile(rd, product, w, rules(cfg))
                    dst.write(rho, window=w)
                    fdst.write(flags, 1, window=w)
                    part = ingest_tile(rho, flags, w, rate, rng)
                    acc = part if acc is None else combine_ingest([acc, part], 4 * ic.sample_pixels, rng)
            finally:
                dst.close()
                fdst.close()
        acc = combine_ingest([acc], ic.sample_pixels, rng)
        if acc.n_valid == 0 or acc.n_clear == 0:
            raise BadInput(product.source, "no valid pixels after masking (fill, cloud, shadow)")
        with h5py.File(ctx.results_h5, "a") as h5:
            write_array(h5, f"{name}/sample/rho", acc.sample, unit="1 (surface reflectance)",
                        bands=",".join(product.band_names))
            write_array(h5, f"{name}/sample/flags", acc.sample_flags, unit="bit flags (1 valid, 2 clear)")
            write_array(h5, f"{name}/sample/rc", acc.sample_rc, unit="pixel (row, col)")
            write_array(h5, f"{name}/band_min", acc.vmin, unit="1")
            write_array(h5, f"{name}/band_max", acc.vmax, unit="1")
        scenes.append({"name": name, "product": product.to_dict(), "grid": grid.to_dict(),
                       "stack": str(stack_path), "flags": str(flags_path), "n_valid": acc.n_valid,
                       "n_clear": acc.n_clear, "n_sample": int(acc.sample.shape[0])})
    return {"scenes": scenes, "reference": reference, "units": units, "data": data}


# ------------------------------------------------------------------------ reduce
def reduce(ctx: RunContext, prev: dict[str, dict]) -> dict[str, Any]:
    """Fit every method's scaling and encoder on each scene's sample; save them."""
    cfg = _cfg(ctx)
    dev = torch.device(ctx.device)
    out = {}
    (Path(ctx.run_dir) / "models").mkdir(exist_ok=True)
    for sc in prev["ingest"]["scenes"]:
        name = sc["name"]
        product = Product.from_dict(sc["product"])
        with h5py.File(ctx.results_h5, "r") as h5:
            rho = torch.from_numpy(h5[f"{name}/sample/rho"][()]).to(dev)
            flags = torch.from_numpy(h5[f"{name}/sample/flags"][()]).to(dev)
            vmin = torch.from_numpy(h5[f"{name}/band_min"][()])
            vmax = torch.from_numpy(h5[f"{name}/band_max"][()])
        methods = fit_methods(rho, flags, vmin, vmax, cfg.reduce, product.red_nir(), ctx.seed)
        path = ctx.path(f"models/{name}.pt")
        torch.save({k: m.to("cpu") for k, m in methods.items()}, path)
        info = {}
        for k, m in methods.items():
            i = {kk: v for kk, v in m.info.items() if kk != "loss"}
            if "loss" in m.info:
                loss = m.info["loss"]
                i["final_loss"] = loss[-1] if isinstance(loss, list) else {s: h[-1] for s, h in loss.items()}
            info[k] = i
        out[name] = {"models": str(path), "info": info}
    return {"scenes": out}


def _load_methods(path: str, device) -> dict:
    ms = torch.load(path, map_location="cpu", weights_only=False)
    return {k: m.to(device) for k, m in ms.items()}


# ------------------------------------------------------------------------- model
def model(ctx: RunContext, prev: dict[str, dict]) -> dict[str, Any]:
    """k-means per method, labels window by window, majority filter, COG unit maps."""
    cfg = _cfg(ctx)
    mc = cfg.model
    dev = torch.device(ctx.device)
    out = {}
    for sc in prev["ingest"]["scenes"]:
        name = sc["name"]
        grid = Grid.from_dict(sc["grid"])
        methods = _load_methods(prev["reduce"]["scenes"][name]["models"], dev)
        with h5py.File(ctx.results_h5, "r") as h5:
            rho = torch.from_numpy(h5[f"{name}/sample/rho"][()]).to(dev)
            flags = torch.from_numpy(h5[f"{name}/sample/flags"][()]).to(dev)
        kms, info = {}, {}
        for mname, m in methods.items():
            keep = m.keep(rho, flags)
            codes = m.codes(rho[keep])
            fit = fit_sample(codes, mc.fit_pixels, ctx.seed)
            k, sel = choose_k(fit, mc.k, mc.k_range, mc.n_init, mc.max_iter, ctx.seed)
            if k > fit.shape[0]:
                raise BadInput("--set model.k", f"k={k} exceeds the {fit.shape[0]} valid sampled pixels of {name}")
            km = KMeans(k, n_init=mc.n_init, max_iter=mc.max_iter, seed=ctx.seed).fit(fit)
            kms[mname] = km
            info[mname] = {"k": k, "inertia": km.inertia_, "n_iter": km.n_iter_, "fit_pixels": int(fit.shape[0]),
                           **({"k_selection": sel} if sel else {})}
            info[mname].update(_internal_indices(fit, km, cfg.evaluate.index_sample, ctx.seed))
            with h5py.File(ctx.results_h5, "a") as h5:
                write_array(h5, f"{name}/{mname}/centers", km.cluster_centers_, unit="code units")
        raw = {m: ctx.path(f"labels_raw_{name}_{m}.tif") for m in methods}
        with rasterio.Env(**GDAL_ENV):
            dsts = {m: create_raster(p, grid, 1, "uint8", LABEL_NODATA, cfg.ingest.block) for m, p in raw.items()}
            try:
                with rasterio.open(sc["stack"]) as st, rasterio.open(sc["flags"]) as fl:
                    for w in progress(windows(grid, cfg.ingest.block), desc=f"label {name}", unit="window"):
                        labs = label_tile(st.read(window=w), fl.read(1, window=w), methods, kms, dev)
                        for m, lab in labs.items():
                            dsts[m].write(lab, 1, window=w)
            finally:
                for d in dsts.values():
                    d.close()
            cogs = {}
            for m, p in raw.items():
                k = info[m]["k"]
                filt = ctx.path(f"labels_{name}_{m}.tif")
                with rasterio.open(p) as src:
                    dst = create_raster(filt, grid, 1, "uint8", LABEL_NODATA, cfg.ingest.block, "DEFLATE",
                                        method=m, k=k, majority_size=mc.majority_size)
                    try:
                        for w in progress(windows(grid, cfg.ingest.block), desc=f"majority {name} {m}",
                                          unit="window"):
                            dst.write(filter_tile(src, w, mc.majority_size, k), 1, window=w)
                    finally:
                        dst.close()
                p.unlink()
                cog = ctx.path(f"unitmap_{name}_{m}.tif")
                if mc.cog:
                    write_cog(filt, cog, palette(k))
                    filt.unlink()
                else:
                    filt.rename(cog)
                cogs[m] = str(cog)
        out[name] = {"cogs": cogs, "methods": info}
    return {"scenes": out}


def _internal_indices(codes: torch.Tensor, km: KMeans, n: int, seed: int) -> dict[str, float]:
    """Calinski-Harabasz and Davies-Bouldin on a sample of codes (the paper's indices)."""
    from sklearn.metrics import calinski_harabasz_score, davies_bouldin_score

    g = torch.Generator().manual_seed(seed + 7)
    idx = torch.randperm(codes.shape[0], generator=g)[:n].to(codes.device)
    x = codes[idx].double().cpu().numpy()
    lab = km.predict(codes[idx]).cpu().numpy()
    if not 2 <= len(np.unique(lab)) < len(lab):  # both indices need 2 <= clusters <= samples - 1
        return {}
    return {"calinski_harabasz": float(calinski_harabasz_score(x, lab)),
            "davies_bouldin": float(davies_bouldin_score(x, lab))}


# ---------------------------------------------------------------------- evaluate
def evaluate(ctx: RunContext, prev: dict[str, dict]) -> dict[str, Any]:
    """Scores against the reference map, figures and the report."""
    cfg = _cfg(ctx)
    ing, mod = prev["ingest"], prev["model"]
    ref_path = ing["reference"]
    ref_nodata = cfg.ingest.reference_nodata
    units = ing["units"]
    if ref_path and ref_nodata is None:
        with rasterio.open(ref_path) as r:
            ref_nodata = int(r.nodata) if r.nodata is not None else None
    table, map_rows, spec_rows, conf = {}, [], [], None
    metrics: dict[str, float] = {}
    baselines: dict[str, dict[str, float]] = {}
    headline = cfg.evaluate.headline
    for sc in ing["scenes"]:
        name = sc["name"]
        grid = Grid.from_dict(sc["grid"])
        product = Product.from_dict(sc["product"])
        minfo = mod["scenes"][name]["methods"]
        cogs = mod["scenes"][name]["cogs"]
        ks = {m: i["k"] for m, i in minfo.items()}
        n_units = len(units) if units else (reference_max(ref_path, ref_nodata) + 1 if ref_path else 0)
        part = _score_scene(sc, grid, cogs, ks, ref_path, ref_nodata, n_units, cfg.ingest.block)
        rows = {}
        for m in cogs:
            r = {"k": ks[m], "coverage": part.labelled[m] / max(sc["n_valid"], 1)}
            r.update({kk: v for kk, v in minfo[m].items() if kk in ("calinski_harabasz", "davies_bouldin")})
            if ref_path:
                r.update(unit_scores(part.C[m]))  # mean F1 over the units present
            rows[m] = r
        table[name] = {"methods": rows, "has_reference": bool(ref_path), "n_valid": sc["n_valid"],
                       "n_clear": sc["n_clear"], "n_common": part.n_common,
                       "n_reference": part.n_reference,
                       "grid": f"{grid.width}x{grid.height} px at {grid.res:g}", "cogs": [Path(c).name for c in cogs.values()]}
        for m, r in rows.items():
            target = metrics if m == headline else baselines.setdefault(m, {})
            for key in ("matching_accuracy", "majority_accuracy", "ari", "nmi", "mean_f1", "coverage",
                        "calinski_harabasz", "davies_bouldin"):
                if key in r:
                    target[f"{key}_{name}"] = float(r[key])
        _save_scores(ctx, name, part)
        # figures: matched colours, previews
        n_col = max(ks.values()) + (n_units if ref_path else 0)
        luts = {m: figures.matched_lut(part.C.get(m), ks[m], n_units) for m in cogs}
        maps = {}
        for m, c in cogs.items():
            prev_codes = read_downsampled(c)
            maps[m] = np.where(prev_codes == LABEL_NODATA, LABEL_NODATA, luts[m][np.minimum(prev_codes, ks[m] - 1)])
        ref_prev = _reference_preview(ref_path, grid, ref_nodata, maps) if ref_path else None
        sc_scores = {figures.METHOD_TITLES.get(m, m): f"ACC {rows[m]['matching_accuracy']:.2f}"
                     for m in rows if "matching_accuracy" in rows[m]}
        map_rows.append({"sensor": name, "reference": ref_prev, "maps": maps, "n_colours": n_col,
                         "scores": sc_scores})
        hm = headline if headline in cogs else next(iter(cogs))
        wl = [w if w is not None else i for i, w in enumerate(product.wavelengths)]
        cm = part.spec_sum[hm] / np.maximum(part.spec_n[hm][:, None], 1)
        um = part.unit_sum / np.maximum(part.unit_n[:, None], 1) if ref_path else []
        spec_rows.append({"sensor": name, "method": hm, "wavelengths": wl, "cluster_means": cm,
                          "cluster_codes": luts[hm], "unit_means": um, "n_colours": n_col})
        figures.quicklook(maps[hm], n_col, ctx.figures / f"quicklook_{name}_{hm}.png",
                          f"{name}: {figures.METHOD_TITLES.get(hm, hm)} unit map")
        if ref_path and conf is None:
            conf = (part.C[hm], luts[hm], name, hm)
    figures.maps_figure(map_rows, ctx.figures / "maps.png")
    figures.spectra_figure(spec_rows, ctx.figures / "spectra.png")
    if conf is not None:
        C, lut, name, hm = conf
        names = units or [f"unit {i}" for i in range(C.shape[0])]
        figures.confusion_figure(C, lut, names, f"{name}: {figures.METHOD_TITLES.get(hm, hm)} vs reference",
                                 ctx.figures / "confusion.png")
    note = ("Synthetic scene: folded strata, a granite intrusion and alluvial channels with vegetation, "
            "clouds, shadows and a fill border, written as real products and read back."
            if ing["data"]["synthetic"] else "")
    rep = figures.report(table, {"source": ing["data"]["source"], "note": note, "units": units,
                                 "headline": headline})
    if not metrics:  # headline method not run: promote the first method
        first = next(iter(baselines))
        metrics = baselines.pop(first)
    intr = _intrinsic(ctx, ing["scenes"][0]["name"])
    return {"metrics": metrics, "baselines": baselines, "intrinsic_dimension": intr, "report": rep,
            "table": table}


def _score_scene(sc, grid: Grid, cogs: dict, ks: dict, ref_path, ref_nodata, n_units: int, block: int):
    lay = {f"lab:{m}": (p, 1, Resampling.nearest, LABEL_NODATA) for m, p in cogs.items()}
    if ref_path:
        lay["ref"] = (ref_path, 1, Resampling.nearest, ref_nodata)
    acc = None
    with AlignedReader(grid, lay) as rd, rasterio.open(sc["stack"]) as st:
        for w in progress(windows(grid, block), desc=f"score {sc['name']}", unit="window"):
            labels = {m: rd.read(f"lab:{m}", w) for m in cogs}
            ref = rd.read("ref", w) if ref_path else None
            part = score_tile(ref, labels, st.read(window=w), max(n_units, 1), ks, ref_nodata)
            acc = part if acc is None else combine_scores([acc, part])
    return acc


def _reference_preview(ref_path, grid: Grid, nodata, maps) -> np.ndarray:
    """The reference read (nearest) onto a decimated copy of the scene grid, the maps' preview shape."""
    h, w = next(iter(maps.values())).shape
    small = Grid(grid.crs, tuple(grid.affine @ Affine.scale(grid.width / w, grid.height / h))[:6], w, h)
    with AlignedReader(small, {"ref": (ref_path, 1, Resampling.nearest, nodata)}) as rd:
        a = rd.read("ref", Window(0, 0, w, h))
    # nodata and codes outside 0..254 (negative, or no uint8 preview colour) show as nodata
    off = (a < 0) | (a >= LABEL_NODATA) | ((a == nodata) if nodata is not None else False)
    return np.where(off, LABEL_NODATA, a).astype(np.uint8)


def _save_scores(ctx: RunContext, name: str, part) -> None:
    with h5py.File(ctx.results_h5, "a") as h5:
        for m, C in part.C.items():
            write_array(h5, f"{name}/{m}/confusion", C, unit="pixels", rows="reference unit", cols="cluster")
        for m, s in part.spec_sum.items():
            write_array(h5, f"{name}/{m}/cluster_mean_spectra", s / np.maximum(part.spec_n[m][:, None], 1),
                        unit="1 (surface reflectance)")


def _intrinsic(ctx: RunContext, name: str) -> dict[str, Any]:
    from shared.lowrank import intrinsic_dimension

    with h5py.File(ctx.results_h5, "r") as h5:
        x = torch.from_numpy(h5[f"{name}/sample/rho"][()]).double()
    x = x[torch.isfinite(x).all(1)]
    return {"estimator": f"TwoNN on the {name} band vectors (sample)",
            "value": float(intrinsic_dimension(x, "twonn", max_points=2000, seed=ctx.seed))}


SPEC = DomainSpec(
    name="geo",
    summary="Geological unit maps from Landsat 8/9, Sentinel-2 and ASTER: PCA, canonical and stacked "
            "autoencoders, k-means and a majority filter, scored against a reference map",
    config=GeoConfig, profiles=PROFILES,
    ingest=ingest, reduce=reduce, model=model, evaluate=evaluate, check=check,
)

