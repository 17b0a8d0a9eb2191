"""ECoG benchmark: the UMAP + KNN screen against the LSTM-CNN and the baselines, per participant.

Prints, from one run on the simulated participants (the flow's own per-participant
functions, same folds for every method):

- per participant: known gain, screen score, LSTM-CNN (and CNN) accuracy, CSP+LDA,
  tangent space + LR and HG-power LDA accuracy, side by side;
- Spearman rho of the screen score against the LSTM-CNN accuracy (goal >= 0.8);
- the LSTM-CNN's mean accuracy minus tangent space + LR's (goal >= -5 points);
- the screen's cost against the LSTM-CNN's training cost as a ratio (``shared.timing.measure``;
  UMAP's one-off numba compile is reported separately);
- cross-participant transfer with <= 10 target trials per class: naive, scratch, full
  fine-tuning, LoRA, FLoRA (goal: adapters beat scratch).

Usage::

    python bench/ecog.py --quick          # the quick profile (4 participants, about 2 minutes)
    python bench/ecog.py                  # the full profile (7 participants, paper scale; CPU: ~15 min)
    python bench/ecog.py --device cuda    # the deep models on the GPU
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from domains.ecog.config import PROFILES, EcogConfig  # noqa: E402
from domains.ecog.cv import make_folds  # noqa: E402
from domains.ecog.decode import baseline_cv, deep_cv  # noqa: E402
from shared.threads import cpu_threads  # noqa: E402
from domains.ecog.screen import screen_cv, warm_umap  # noqa: E402
from domains.ecog.steps import prepare_participant, simulated, spearman  # noqa: E402
from domains.ecog.transfer import transfer_target  # noqa: E402
from shared.config import build_config, parse_sets  # noqa: E402
from shared.timing import measure  # noqa: E402


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="the quick profile (default: full)")
    ap.add_argument("--device", default="cpu", help="cpu or cuda (deep models)")
    ap.add_argument("--task", default="hand_vs_tongue", choices=["hand_vs_tongue", "movement_vs_imagery"])
    ap.add_argument("--transfer-targets", type=int, default=None, help="override model.transfer_targets")
    ap.add_argument("--set", dest="sets", action="append", default=[], help="config override, as the CLI")
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args(argv)
    profile = "quick" if a.quick else "full"
    cfg = build_config(EcogConfig, PROFILES[profile], parse_sets(a.sets))
    mcfg = cfg.model
    if a.transfer_targets is not None:
        mcfg = mcfg.model_copy(update={"transfer_targets": a.transfer_targets})
    rc = cfg.reduce
    print(f"ecog benchmark, profile {profile}, device {a.device}, task {a.task}, CPU threads "
          f"{cfg.threads}, seed {a.seed}")
    t0 = time.perf_counter()
    parts = simulated(cfg.ingest, a.seed)
    preps = [prepare_participant(p, cfg.ingest, [a.task], "simulator")["tasks"][a.task] for p in parts]
    print(f"simulated + preprocessed {len(parts)} participants in {time.perf_counter() - t0:.1f} s "
          f"(trials x channels x times {preps[0]['env'].shape})")
    compile_s = warm_umap()
    print(f"UMAP numba compile (once per process): {compile_s:.1f} s")

    methods = list(mcfg.models) + list(mcfg.baselines)
    rows, screen_t, deep_t = [], [], []
    with cpu_threads(cfg.threads):
        for p, arr in zip(parts, preps):
            folds = make_folds(arr["y"], rc.n_folds, a.seed)
            kw = dict(method=rc.screen, n_components=rc.n_components, n_neighbors=rc.n_neighbors,
                      min_dist=rc.min_dist, n_epochs=rc.umap_epochs, knn_k=rc.knn_k, time_bins=rc.time_bins,
                      seed=a.seed)
            ts, scr = measure(lambda: screen_cv(arr["env"], arr["y"], folds, **kw), repeats=3, warmup=0)
            row = {"pid": p.pid, "gain": p.gain, "screen": scr["score"]}
            for m in mcfg.models:
                td, r = measure(lambda: deep_cv(m, arr["env"], arr["y"], folds, mcfg, device=a.device,
                                                seed=a.seed), repeats=1, warmup=0, device=a.device)
                row[m] = r["accuracy"]
                if m == "lstm_cnn":
                    screen_t.append(ts.median_s)
                    deep_t.append(td.median_s)
            for b in mcfg.baselines:
                row[b] = baseline_cv(b, arr["band"], arr["env"], arr["y"], folds)["accuracy"]
            rows.append(row)
            print(f"  {p.pid}: " + ", ".join(f"{k} {v:.3f}" for k, v in row.items() if k not in ("pid", "gain")),
                  flush=True)

        print("\nper-participant 5-fold CV accuracy (same folds for every method)")
        head = ["participant", "gain", "screen"] + methods
        print(" | ".join(f"{h:>11}" for h in head))
        for r in rows:
            print(" | ".join([f"{r['pid']:>11}", f"{r['gain']:>11.3f}"] + [f"{r[k]:>11.3f}" for k in head[2:]]))
        means = {k: float(np.mean([r[k] for r in rows])) for k in head[2:]}
        print(" | ".join([f"{'mean':>11}", f"{'':>11}"] + [f"{means[k]:>11.3f}" for k in head[2:]]))

        rho = spearman([r["screen"] for r in rows], [r["lstm_cnn"] for r in rows])
        gap = 100 * (means["lstm_cnn"] - means["ts_lr"])
        ratio = float(np.mean(deep_t) / np.mean(screen_t))
        print(f"\nSpearman rho(screen, LSTM-CNN) over {len(rows)} participants: {rho:.3f}  "
              f"(goal >= 0.8: {'met' if rho >= 0.8 else 'NOT met'})")
        print(f"LSTM-CNN - TS+LR mean accuracy: {gap:+.1f} points  (goal >= -5: {'met' if gap >= -5 else 'NOT met'})")
        print(f"cost per participant: screen {np.mean(screen_t):.2f} s (median of 3), LSTM-CNN 5-fold training "
              f"{np.mean(deep_t):.2f} s -> LSTM-CNN / screen = {ratio:.1f}x (UMAP compile {compile_s:.1f} s "
              "once per process, excluded)")

        if mcfg.transfer and len(rows) >= 2:
            order = sorted(range(len(rows)), key=lambda i: -rows[i]["screen"])[:mcfg.transfer_targets]
            data = [(arr["env"], arr["y"]) for arr in preps]
            print(f"\ntransfer: pretrain on the others, adapt on {mcfg.transfer_shots} trials/class, "
                  f"{mcfg.transfer_repeats} draws, targets = best-screened {len(order)}")
            res = {}
            for i in order:
                r = transfer_target(i, data, mcfg, device=a.device, seed=a.seed)
                res[rows[i]["pid"]] = r
                print(f"  {rows[i]['pid']}: " + ", ".join(f"{m} {v:.3f}" for m, v in r["accuracy"].items()),
                      flush=True)
            ms = list(next(iter(res.values()))["accuracy"])
            tm = {m: float(np.mean([r["accuracy"][m] for r in res.values()])) for m in ms}
            print("  mean: " + ", ".join(f"{m} {v:.3f}" for m, v in tm.items()))
            print("  trainable params: " + ", ".join(f"{m} {int(v)}" for m, v in
                                                     next(iter(res.values()))["trainable_params"].items()))
            best = max(tm["lora"], tm["flora"])
            print(f"  adapters vs scratch: LoRA {tm['lora']:.3f}, FLoRA {tm['flora']:.3f}, scratch {tm['scratch']:.3f} "
                  f"(goal adapters > scratch: {'met' if best > tm['scratch'] else 'NOT met'})")
    print(f"\ntotal {time.perf_counter() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    torch.manual_seed(0)
    sys.exit(main())
