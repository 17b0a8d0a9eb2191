"""Benchmarks of the shared low-rank core, each case side by side with its baseline.

    python bench/lowrank.py              # paper-scale sizes (minutes on 2 CPU cores)
    python bench/lowrank.py --quick      # small sizes (about a minute)
    python bench/lowrank.py --crossover  # SVD solver timings behind svd(method="auto")
    python bench/lowrank.py --device cuda

Cases (issue 3):
  (a) truncated HOSVD of a 256^3 float32 tensor at ranks 32^3, against
      tensorly.decomposition.tucker(n_iter_max=0) on the numpy and the pytorch
      backends, at matching relative error;
  (b) rank-50 SVD of a 20000 x 2000 matrix with a decaying spectrum:
      randomized against torch.linalg.svd, error ratio to the optimal truncation;
  (c) a complex 16 x 180 x 560 ISAC-like tensor (a few 3-D complex harmonics
      plus noise), HOSVD against TensorLy;
  (d) effective GB/s of (a) (input bytes / seconds) beside a plain tensor copy.

TensorLy's backend is set explicitly before every TensorLy call (the global
backend may have been switched by someone else) and put back to pytorch.
Times are the best of ``--reps`` runs after one warm-up run.
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import tensorly as tl  # noqa: E402
from tensorly.decomposition import tucker as tl_tucker  # noqa: E402

from shared.lowrank import TuckerTensor, hosvd, svd  # noqa: E402


def sync(device):
    if str(device).startswith("cuda"):
        torch.cuda.synchronize()


def best_time(fn, reps, device="cpu", warmup=True):
    """Best wall time of ``reps`` calls (after one warm-up call); returns (seconds, last result)."""
    out = fn() if warmup else None
    sync(device)
    best = math.inf
    for _ in range(reps):
        t0 = time.perf_counter()
        out = fn()
        sync(device)
        best = min(best, time.perf_counter() - t0)
    return best, out


def rel_err(X, Y):
    X = torch.as_tensor(X)
    Y = torch.as_tensor(Y).to(X.device)
    return float(torch.linalg.vector_norm((X - Y).to(torch.complex128 if X.is_complex() else torch.float64))
                 / torch.linalg.vector_norm(X.to(torch.complex128 if X.is_complex() else torch.float64)))


def tucker_test_tensor(shape, ranks, dtype, noise, seed, device):
    g = torch.Generator().manual_seed(seed)
    core = torch.randn(*ranks, generator=g, dtype=dtype)
    facs = [torch.linalg.qr(torch.randn(n, r, generator=g, dtype=dtype)).Q for n, r in zip(shape, ranks)]
    X = TuckerTensor(core, facs).to_tensor()
    X = X / torch.linalg.vector_norm(X) * math.sqrt(X.numel())
    X = X + noise * torch.randn(X.shape, generator=g, dtype=dtype)
    return X.to(device).contiguous()


def tensorly_hosvd(X, ranks, backend):
    """tucker(n_iter_max=0) on the given backend; returns the relative error too."""
    tl.set_backend(backend)
    try:
        Xb = X.cpu().numpy() if backend == "numpy" else X
        core, factors = tl_tucker(Xb, rank=list(ranks), n_iter_max=0, init="svd")
        return core, factors
    finally:
        tl.set_backend("pytorch")


def tensorly_error(X, tk, backend):
    tl.set_backend(backend)
    try:
        rec = tl.tucker_to_tensor(tk)
    finally:
        tl.set_backend("pytorch")
    return rel_err(X.cpu(), torch.as_tensor(np.asarray(rec)) if backend == "numpy" else rec.cpu())


def row(name, seconds, err, base=None):
    ratio = f"{base / seconds:7.2f}x" if base else "        "
    print(f"  {name:<44s} {seconds * 1e3:10.1f} ms  {ratio}  rel.err {err:.4e}", flush=True)


def case_a_d(args, device):
    n, r = (128, 16) if args.quick else (256, 32)
    shape, ranks = (n, n, n), (r, r, r)
    X = tucker_test_tensor(shape, ranks, torch.float32, 0.1, 0, device)
    print(f"(a) truncated HOSVD, {n}^3 float32, ranks {r}^3 (Tucker model + 10% noise), device {device}")
    # The numpy baseline takes seconds per call: --slow-reps runs of it, no warm-up.
    t_np, tk_np = best_time(lambda: tensorly_hosvd(X, ranks, "numpy"), args.slow_reps, device, warmup=False)
    e_np = tensorly_error(X, tk_np, "numpy")
    t_pt, tk_pt = best_time(lambda: tensorly_hosvd(X, ranks, "pytorch"), args.reps, device)
    e_pt = tensorly_error(X, tk_pt, "pytorch")
    t_ours, ours = best_time(lambda: hosvd(X, ranks), args.reps, device)
    t_seq, seq = best_time(lambda: hosvd(X, ranks, sequential=True), args.reps, device)
    row("tensorly tucker(n_iter_max=0), numpy", t_np, e_np)
    row("tensorly tucker(n_iter_max=0), pytorch", t_pt, e_pt, t_np)
    row("shared.lowrank.hosvd (Gram + eigh)", t_ours, ours.rel_error(X), t_np)
    row("shared.lowrank.hosvd(sequential=True)", t_seq, seq.rel_error(X), t_np)
    print(f"  speed-up vs tensorly numpy: {t_np / t_ours:.2f}x (goal >= 3x: {'met' if t_np / t_ours >= 3 else 'NOT met'}); "
          f"vs tensorly pytorch: {t_pt / t_ours:.2f}x")

    nbytes = X.numel() * X.element_size()
    t_copy, _ = best_time(lambda: X.clone(), max(args.reps, 3), device)
    print(f"(d) effective bandwidth of (a): input bytes / seconds ({nbytes / 1e6:.0f} MB)")
    print(f"  plain tensor copy (X.clone())              {nbytes / t_copy / 1e9:8.2f} GB/s  ({t_copy * 1e3:.1f} ms; "
          f"{2 * nbytes / t_copy / 1e9:.2f} GB/s read+write)")
    print(f"  hosvd                                      {nbytes / t_ours / 1e9:8.2f} GB/s  "
          f"({t_copy / t_ours * 100:.1f}% of the copy rate)")
    print(f"  hosvd(sequential=True)                     {nbytes / t_seq / 1e9:8.2f} GB/s")
    print(f"  tensorly numpy                             {nbytes / t_np / 1e9:8.2f} GB/s")
    return {"a_numpy_s": t_np, "a_pytorch_s": t_pt, "a_ours_s": t_ours, "a_seq_s": t_seq,
            "d_copy_gbs": nbytes / t_copy / 1e9, "d_ours_gbs": nbytes / t_ours / 1e9}


def case_b(args, device):
    m, n, k = (5000, 1000, 50) if args.quick else (20000, 2000, 50)
    print(f"(b) rank-{k} SVD of a {m} x {n} float32 matrix, device {device}")
    g = torch.Generator().manual_seed(1)
    out = {}
    for label, spec in (("fast decay  s_i = exp(-i/25)", lambda i: torch.exp(-i / 25)),
                        ("slow decay  s_i = 1/(1+i)", lambda i: 1.0 / (1.0 + i))):
        # Gaussian factors give a matrix whose spectrum follows s closely; the
        # optimal error is read off the full SVD, not assumed.
        s = spec(torch.arange(n, dtype=torch.float32))
        A = ((torch.randn(m, n, generator=g) / math.sqrt(m)) * s) @ (torch.randn(n, n, generator=g) / math.sqrt(n))
        A = A.to(device)
        t_full, (U, S, Vh) = best_time(lambda: torch.linalg.svd(A, full_matrices=False), 1, device, warmup=False)
        opt = float(torch.linalg.vector_norm(S[k:].double()) / torch.linalg.vector_norm(S.double()))
        print(f"  [{label}]  optimal rank-{k} rel. error {opt:.4e}")
        row("torch.linalg.svd (full) + truncation", t_full, opt)
        for q in (1, 2):
            t_r, (Ur, Sr, Vhr) = best_time(lambda: svd(A, k, method="randomized", power_iters=q, seed=0), args.reps, device)
            err = rel_err(A, (Ur * Sr) @ Vhr)
            row(f"svd(randomized, p=10, q={q})", t_r, err, t_full)
            print(f"      error ratio to optimal {err / opt:.4f} (goal <= 1.01: {'met' if err / opt <= 1.01 else 'NOT met'}); "
                  f"speed-up {t_full / t_r:.1f}x (goal >= 5x: {'met' if t_full / t_r >= 5 else 'NOT met'})")
            out[f"b_{label.split()[0]}_q{q}"] = (t_full / t_r, err / opt)
        t_g, (Ug, Sg, Vhg) = best_time(lambda: svd(A, k, method="gram"), args.reps, device)
        row("svd(gram)", t_g, rel_err(A, (Ug * Sg) @ Vhg), t_full)
    return out


def case_c(args, device):
    shape, K = (16, 180, 560), 5
    print(f"(c) complex64 {shape} ISAC-like tensor: {K} 3-D complex harmonics + noise (SNR 20 dB), ranks ({K},{K},{K})")
    g = torch.Generator().manual_seed(2)
    freqs = torch.rand(K, 3, generator=g, dtype=torch.float64) * 2 * math.pi
    amps = torch.randn(K, generator=g, dtype=torch.complex128)
    steer = [torch.exp(1j * torch.arange(n, dtype=torch.float64)[:, None] * freqs[:, d][None, :]) for d, n in enumerate(shape)]
    X = torch.einsum("k,ak,bk,ck->abc", amps, *steer)
    X = X + 0.1 * torch.linalg.vector_norm(X) / math.sqrt(X.numel()) * torch.randn(shape, generator=g, dtype=torch.complex128)
    X = X.to(torch.complex64).to(device).contiguous()
    ranks = (K, K, K)
    t_np, tk_np = best_time(lambda: tensorly_hosvd(X, ranks, "numpy"), args.slow_reps, device, warmup=False)
    t_pt, tk_pt = best_time(lambda: tensorly_hosvd(X, ranks, "pytorch"), args.reps, device)
    t_ours, ours = best_time(lambda: hosvd(X, ranks), args.reps, device)
    row("tensorly tucker(n_iter_max=0), numpy", t_np, tensorly_error(X, tk_np, "numpy"))
    row("tensorly tucker(n_iter_max=0), pytorch", t_pt, tensorly_error(X, tk_pt, "pytorch"), t_np)
    row("shared.lowrank.hosvd", t_ours, ours.rel_error(X), t_np)
    print(f"  speed-up vs tensorly numpy {t_np / t_ours:.2f}x, vs pytorch {t_pt / t_ours:.2f}x; "
          f"compression {ours.compression_ratio:.0f}:1")
    return {"c_numpy_s": t_np, "c_pytorch_s": t_pt, "c_ours_s": t_ours}


def crossover(args, device):
    """Timings of the three SVD solvers over shapes and ranks (the basis of svd(method='auto'))."""
    from shared.lowrank.svd import choose_method

    print(f"SVD solver crossover, float32, device {device}: seconds full / gram / randomized (p=10, q=2); auto's pick")
    g = torch.Generator().manual_seed(0)
    shapes = [(500, 500), (1000, 1000), (1000, 2000), (500, 4000), (256, 65536), (2000, 2000)]
    for m, n in shapes:
        A = torch.randn(m, n, generator=g).to(device)
        for k in (5, 20, 50, 100, 250):
            if k >= min(m, n):
                continue
            times = {}
            for meth in ("full", "gram", "randomized"):
                times[meth], _ = best_time(lambda: svd(A, k, method=meth, seed=0), args.reps, device)
            fastest = min(times, key=times.get)
            pick = choose_method(m, n, k, device=A.device)  # auto's pick on this device (its calibration)
            print(f"  {m:>5d} x {n:<6d} k={k:<4d} {times['full']:8.4f} {times['gram']:8.4f} {times['randomized']:8.4f}"
                  f"   fastest {fastest:<10s} auto {pick:<10s} (auto/fastest {times[pick] / times[fastest]:.2f})",
                  flush=True)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="small sizes")
    p.add_argument("--crossover", action="store_true", help="only the SVD solver crossover table")
    p.add_argument("--cases", default="abcd", help="subset of a, b, c, d (d comes with a)")
    p.add_argument("--reps", type=int, default=3, help="timed runs per method (best is reported)")
    p.add_argument("--slow-reps", type=int, default=2, help="timed runs of the TensorLy numpy baselines")
    p.add_argument("--device", default="cpu")
    args = p.parse_args(argv)
    device = torch.device(args.device)
    print(f"# {time.strftime('%Y-%m-%d %H:%M:%S %Z')}  torch {torch.__version__}  tensorly {tl.__version__}  "
          f"numpy {np.__version__}  threads {torch.get_num_threads()}  {platform.processor() or platform.machine()}"
          f"  device {torch.cuda.get_device_name(device) if device.type == 'cuda' else 'cpu'}"
          f"  load average {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    print(f"# command: python bench/lowrank.py {' '.join(sys.argv[1:] if argv is None else argv)}")
    if args.crossover:
        crossover(args, device)
        return
    if "a" in args.cases or "d" in args.cases:
        case_a_d(args, device)
    if "b" in args.cases:
        case_b(args, device)
    if "c" in args.cases:
        case_c(args, device)


if __name__ == "__main__":
    main()
