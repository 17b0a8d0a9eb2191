"""The four steps of the ``lowrank`` flow, free of Prefect.

ingest    an HDF5 dataset (``--data file.h5:/path``) or a synthetic Tucker tensor
reduce    truncated HOSVD (or HOOI) for N-way data, randomized SVD for 2-way data
model     none
evaluate  relative error and compression against TensorLy's HOSVD / the optimal
          truncation, intrinsic dimension, spectrum and energy figures
"""

from __future__ import annotations

import math

from typing import Any

import h5py
import numpy as np

from domains.lowrank.config import LowrankConfig
from domains.lowrank.data import load_h5_tensor, synthetic_tensor
from domains.lowrank.figures import energy_figure, spectrum_figure
from shared.errors import BadInput
from shared.h5data import inspect_h5, scan_finite
from shared.manifests import get_manifest, resolve_entry, sha256_file
from shared.runs import RunContext, write_array

# torch is imported inside the steps: `check` and the config need only h5py and
# numpy, so a bad input is reported before torch's import (seconds under load).


def _dtype(name: str):
    import torch

    return {"float32": torch.float32, "float64": torch.float64}[name]


def _cfg(ctx: RunContext) -> LowrankConfig:
    return LowrankConfig.model_validate(ctx.config)


def _load_input(ctx: RunContext, ingest: dict[str, Any]) -> torch.Tensor:
    cfg = _cfg(ctx)
    x, _ = load_h5_tensor(ingest["tensor"], dtype=_dtype(cfg.dtype))
    return x.to(ctx.device)


def ingest(ctx: RunContext, prev: dict[str, dict]) -> dict[str, Any]:
    """Load or generate the tensor; a synthetic one is stored as ``results.h5:/input``."""
    cfg = _cfg(ctx)
    if ctx.data:
        x, where = load_h5_tensor(ctx.data, dtype=_dtype(cfg.dtype))
        path = where.rsplit(":", 1)[0]
        return {"tensor": where, "shape": list(x.shape),
                "data": {"source": where, "sha256": sha256_file(path), "synthetic": False}}
    if ctx.dataset:
        m = get_manifest(ctx.dataset)
        if m.domain != "lowrank" or not m.generator:
            raise BadInput(f"--dataset {ctx.dataset}", "not an embedded lowrank dataset")
        x = resolve_entry(m.generator)(**m.params, seed=ctx.seed)
        source = f"manifest:{m.id}"
    else:
        x = synthetic_tensor(cfg.shape, cfg.true_ranks, cfg.noise, ctx.seed, _dtype(cfg.dtype))
        source = f"synthetic tucker {cfg.shape} rank {cfg.true_ranks} noise {cfg.noise:g}"
    with h5py.File(ctx.results_h5, "a") as h5:
        write_array(h5, "input", x, unit="1", description=source)
    return {"tensor": f"{ctx.results_h5}:/input", "shape": list(x.shape),
            "data": {"source": source, "sha256": None, "synthetic": True}}


def _check_ranks(ranks: list[int] | None, shape: list[int]) -> None:
    if ranks is None:
        return
    if len(ranks) != len(shape):
        raise BadInput("--set ranks", f"has {len(ranks)} entries for a {len(shape)}-way tensor {shape}")
    for n, (r, i) in enumerate(zip(ranks, shape)):
        if not 1 <= r <= i:
            raise BadInput("--set ranks", f"rank {r} of mode {n} exceeds the mode size {i}"
                           if r > i else f"rank {r} of mode {n} must be at least 1")
    if len(shape) == 2 and ranks[0] != ranks[1]:  # a matrix has one rank: say so rather than keep the smaller
        raise BadInput("--set ranks", f"a matrix has one rank (row and column rank are equal), got {ranks}; "
                                      f"give it twice, e.g. ranks=[{min(ranks)},{min(ranks)}]")


def _check_id_mode(id_mode: int, ndim: int) -> None:
    if id_mode >= ndim:
        raise BadInput("--set id_mode", f"mode {id_mode} does not exist in a {ndim}-way tensor "
                                        f"(use 0..{ndim - 1})")


def check(data: str | None, dataset: str | None, cfg: LowrankConfig) -> None:
    """Header-level check of the input, before Prefect starts and any run exists.

    ``--data file.h5:/path``: the file, the dataset, its dtype and shape
    (:func:`shared.h5data.inspect_h5`), a NaN scan in blocks, and the ranks and
    ``id_mode`` against the shape. ``--dataset ID``: an embedded lowrank
    manifest. Otherwise the synthetic shape (validated by the config).
    """
    if data and dataset:
        raise BadInput("--data/--dataset", "give one input, not both")
    if data:
        where, shape, _ = inspect_h5(data, min_ndim=2)
        scan_finite(where)
    elif dataset:
        m = get_manifest(dataset)
        if m.domain != "lowrank" or not m.generator:
            raise BadInput(f"--dataset {dataset}", "not an embedded lowrank dataset")
        shape = tuple(m.params.get("shape", cfg.shape))
    else:
        shape = tuple(cfg.shape)
    if not data:  # the generated tensor is held in memory a few times over (data, reconstruction, baseline)
        import psutil

        need = 4 * math.prod(shape) * (4 if cfg.dtype == "float32" else 8)
        have = psutil.virtual_memory().total
        if need > have:
            raise BadInput("--set shape", f"{list(shape)} needs about {need / 2**30:.1f} GiB for the tensor and "
                                          f"its copies, more than this machine's {have / 2**30:.1f} GiB")
    _check_ranks(cfg.ranks, list(shape))
    _check_id_mode(cfg.id_mode, len(shape))


def reduce(ctx: RunContext, prev: dict[str, dict]) -> dict[str, Any]:
    """Truncated HOSVD/HOOI (N-way) or randomized SVD (2-way); factors to ``results.h5``."""
    from shared.lowrank import hooi, hosvd, rank_from_energy, svd, svdvals
    from shared.lowrank.svd import choose_method

    cfg = _cfg(ctx)
    shape = prev["ingest"]["shape"]
    _check_ranks(cfg.ranks, shape)
    x = _load_input(ctx, prev["ingest"])
    if x.ndim == 2:
        if cfg.ranks is not None:
            rank = cfg.ranks[0]  # equal entries (_check_ranks)
        else:
            # the energy rule needs the whole spectrum; give ranks to skip this pass
            rank = rank_from_energy(svdvals(x) ** 2, cfg.energy)
        # auto: the core's device-aware choice (the same rule svd applies), resolved here for the report
        method = (choose_method(*x.shape, rank, device=x.device) if cfg.svd_method == "auto"
                  else cfg.svd_method)
        seconds, (u, s, vh) = timed(lambda: svd(x, rank, method=method, seed=ctx.seed), x)
        ranks = [rank, rank]
        with h5py.File(ctx.results_h5, "a") as h5:
            write_array(h5, "svd/U", u, unit="1")
            write_array(h5, "svd/S", s, unit="same as input")
            write_array(h5, "svd/Vh", vh, unit="1")
        kind = f"{method} SVD"
    else:
        def decompose():
            if cfg.algorithm == "hooi":
                ranks0 = cfg.ranks or list(hosvd(x, energy=cfg.energy, method=cfg.svd_method).core.shape)
                return hooi(x, ranks0)
            return hosvd(x, ranks=cfg.ranks, energy=None if cfg.ranks else cfg.energy, method=cfg.svd_method)

        seconds, tt = timed(decompose, x)
        ranks = list(tt.core.shape)
        tt.save_h5(ctx.results_h5, "tucker", unit="same as input")
        kind = f"truncated {cfg.algorithm.upper()}"
    return {"ranks": ranks, "decompose_s": seconds, "kind": kind}


def _reconstruct(ctx: RunContext) -> torch.Tensor:
    import torch

    from shared.lowrank import TuckerTensor

    with h5py.File(ctx.results_h5, "r") as h5:
        if "svd" in h5:
            u, s, vh = (torch.from_numpy(h5[f"svd/{k}"][()]) for k in ("U", "S", "Vh"))
            return ((u * s.to(u.dtype)) @ vh).to(ctx.device)
    return TuckerTensor.load_h5(ctx.results_h5, "tucker").to_tensor().to(ctx.device)


def _mode_spectra(x: torch.Tensor) -> list[np.ndarray]:
    """Singular values of every mode unfolding.

    ``svdvals`` of the unfolding, not the Gram matrix: squaring would put a
    floor at sqrt(eps) relative to the top and hide an exact rank in the figure.
    """
    import torch

    from shared.lowrank import svdvals

    return [svdvals(torch.movedim(x, n, 0).reshape(x.shape[n], -1)).cpu().numpy().astype(np.float64)
            for n in range(x.ndim)]


def timed(fn, x: torch.Tensor) -> tuple[float, Any]:
    """Seconds of ``fn()`` and its result, ours and the baseline's alike (``shared.timing.measure``).

    A tensor of up to 2^22 entries gets a warm-up and the median of 3 calls
    (a single cold call would count first-use costs); a larger one is timed
    once, where the decomposition itself dominates.
    """
    from shared.timing import measure

    small = x.numel() <= 1 << 22
    t, out = measure(fn, repeats=3 if small else 1, warmup=1 if small else 0, device=x.device)
    return t.median_s, out


def _baseline(x: torch.Tensor, ranks: list[int]) -> tuple[str, torch.Tensor, float]:
    """TensorLy's one-pass HOSVD (``tucker(n_iter_max=0)``), or the optimal SVD truncation."""
    import torch

    if x.ndim == 2:
        def full_svd():
            u, s, vh = torch.linalg.svd(x, full_matrices=False)
            r = ranks[0]
            return (u[:, :r] * s[:r].to(u.dtype)) @ vh[:r]

        seconds, xr = timed(full_svd, x)
        return "full_svd", xr, seconds
    import tensorly as tl  # imported before the clock starts: an import is not the baseline's cost
    from tensorly.decomposition import tucker

    from shared.lowrank import tensorly_pytorch

    def tensorly_hosvd():
        with tensorly_pytorch():
            core, factors = tucker(x, rank=ranks, n_iter_max=0, init="svd")
            return tl.tucker_to_tensor((core, factors))

    seconds, xr = timed(tensorly_hosvd, x)
    return "tensorly_hosvd", xr, seconds


def evaluate(ctx: RunContext, prev: dict[str, dict]) -> dict[str, Any]:
    """Relative error, compression, intrinsic dimension; baseline; figures; report."""
    import torch

    from shared.lowrank import intrinsic_dimension

    cfg = _cfg(ctx)
    red = prev["reduce"]
    ranks = red["ranks"]
    x = _load_input(ctx, prev["ingest"])
    xr = _reconstruct(ctx)
    norm = torch.linalg.vector_norm(x)
    rel = float(torch.linalg.vector_norm(x - xr) / norm)
    dense = int(np.prod(x.shape))
    stored = (int(np.prod(ranks)) + sum(i * r for i, r in zip(x.shape, ranks))) if x.ndim > 2 \
        else ranks[0] * (x.shape[0] + x.shape[1] + 1)
    base_name, xb, base_s = _baseline(x, ranks)
    base_rel = float(torch.linalg.vector_norm(x - xb) / norm)

    _check_id_mode(cfg.id_mode, x.ndim)
    mode = cfg.id_mode
    fibres = torch.movedim(x, mode, -1).reshape(-1, x.shape[mode])
    idim = float(intrinsic_dimension(fibres, method=cfg.id_method))

    spectra = _mode_spectra(x)
    with h5py.File(ctx.results_h5, "a") as h5:
        for n, s in enumerate(spectra):
            write_array(h5, f"spectrum/mode_{n}", s, unit="same as input")
    spectrum_figure(spectra, ranks, ctx.figures / "spectrum.png")
    energy_figure(spectra, ranks, cfg.energy, ctx.figures / "energy.png")

    metrics = {"rel_error": rel, "compression_ratio": dense / stored,
               "decompose_s": float(red["decompose_s"]), "n_modes": x.ndim}
    baselines = {base_name: {"rel_error": base_rel, "decompose_s": base_s,
                             "speedup_vs_baseline": base_s / max(red["decompose_s"], 1e-12)}}
    report = "\n".join([
        f"# lowrank: {red['kind']} of a {x.ndim}-way tensor {list(x.shape)}",
        "",
        f"Source: {prev['ingest']['data']['source']}. Ranks kept: {ranks}.",
        "",
        "| method | relative error | seconds | compression |",
        "|---|---|---|---|",
        f"| lowdim {red['kind']} | {rel:.3e} | {red['decompose_s']:.4f} | {dense / stored:.1f}x |",
        f"| {base_name} (baseline) | {base_rel:.3e} | {base_s:.4f} | {dense / stored:.1f}x |",
        "",
        f"Intrinsic dimension of the mode-{mode} fibres ({cfg.id_method}): {idim:.2f}.",
        "",
        "![spectrum](figures/spectrum.png)",
        "![energy](figures/energy.png)",
        "",
    ])
    return {"metrics": metrics, "baselines": baselines,
            "intrinsic_dimension": {"estimator": f"{cfg.id_method} (mode-{mode} fibres)", "value": idim},
            "report": report}
