"""Cross-participant transfer: pretrain on the other participants, adapt on a few target trials.

For one target participant (hand vs tongue):

1. pretrain the LSTM-CNN on every other participant's trials, pooled (each
   participant standardised with its own statistics; early stopping on a
   validation split of the pooled source trials);
2. per repeat, draw ``shots`` target trials per class as the adaptation set;
   the rest are the test set, and the target's normalisation uses the
   adaptation trials only;
3. compare on the same adaptation / test trials:

   - ``naive``: the pretrained model as is (Bafana's naive transfer was at chance);
   - ``scratch``: a fresh model trained on the adaptation trials;
   - ``finetune``: every pretrained weight trained on them;
   - ``lora`` / ``flora``: the core's low-rank adapters (``shared.lowrank.adapters``)
     on the conv and hidden dense layers plus the (tiny) output layer, everything
     else frozen (the LSTM is not an adaptable layer type and stays frozen).

Every fine-tuning variant runs the same fixed number of epochs (there are too
few target trials for early stopping).
"""

from __future__ import annotations

import copy

import numpy as np
import torch

from domains.ecog import models
from domains.ecog.cv import FoldUse, Standardizer, audit, inner_split
from shared.lowrank.adapters import apply_adapters, count_trainable

ADAPTED_LAYERS = r"(conv\.conv1|conv\.conv2|head\.fc1|head\.fc2)"
METHODS = ("naive", "scratch", "finetune", "lora", "flora")


def _standardise(X: torch.Tensor, index: np.ndarray) -> torch.Tensor:
    return Standardizer().fit(X, index).transform(X)


def pretrain(sources: list[tuple[np.ndarray, np.ndarray]], cfg, *, device="cpu", seed: int = 0):
    """The LSTM-CNN trained on pooled source participants ``[(env, y), ...]`` (same channels, times)."""
    xs = [_standardise(models.log_input(env, device), np.arange(len(env))) for env, _ in sources]
    X = torch.cat(xs)
    y_np = np.concatenate([y for _, y in sources]).astype(np.int64)
    y = torch.as_tensor(y_np, device=X.device)
    fit_idx, val_idx = inner_split(np.arange(len(y_np)), y_np, cfg.val_fraction, seed)
    torch.manual_seed(seed)
    net = models.build("lstm_cnn", X.shape[1], X.shape[2], cfg).to(X.device)
    models.fit(net, X, y, fit_idx, val_idx, epochs=cfg.max_epochs, patience=cfg.patience, lr=cfg.lr,
               weight_decay=cfg.weight_decay, batch_size=cfg.batch_size, seed=seed)
    return net


def adaptation_split(y: np.ndarray, shots: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``shots`` trials per class (seeded) for adaptation; the rest for testing."""
    rng = np.random.default_rng(seed)
    adapt = np.concatenate([rng.choice(np.flatnonzero(y == c), size=min(shots, int((y == c).sum()) - 1),
                                       replace=False) for c in np.unique(y)])
    return np.sort(adapt), np.setdiff1d(np.arange(len(y)), adapt)


def adapt_once(pre: torch.nn.Module, env: np.ndarray, y: np.ndarray, adapt: np.ndarray, test: np.ndarray, cfg,
               *, device="cpu", seed: int = 0, methods=METHODS) -> dict[str, dict]:
    """Accuracy on ``test`` of every method adapted on ``adapt``; trainable parameter counts."""
    X = models.log_input(env, device)
    norm = Standardizer().fit(X, adapt)
    audit(FoldUse("transfer", 0, test=test, fit=adapt, norm=norm.index_))
    Xn = norm.transform(X)
    yt = torch.as_tensor(y, dtype=torch.int64, device=X.device)
    te = torch.as_tensor(test, device=X.device)
    out = {}
    for m in methods:
        torch.manual_seed(seed)
        if m == "scratch":
            net = models.build("lstm_cnn", X.shape[1], X.shape[2], cfg).to(X.device)
        else:
            net = copy.deepcopy(pre)
        if m in ("lora", "flora"):
            apply_adapters(net, m, cfg.adapter_rank, target=ADAPTED_LAYERS)
            net.head.out.requires_grad_(True)  # the 2-way output layer is retrained in full (tiny)
        if m != "naive":
            lr = cfg.adapt_lr if m in ("lora", "flora") else cfg.lr
            models.fit(net, Xn, yt, adapt, None, epochs=cfg.adapt_epochs, patience=cfg.adapt_epochs, lr=lr,
                       weight_decay=0.0 if m in ("lora", "flora") else cfg.weight_decay,
                       batch_size=cfg.batch_size, seed=seed)
        pred = models.predict_proba(net, Xn[te]).argmax(1).cpu().numpy()
        out[m] = {"accuracy": float((pred == y[test]).mean()),
                  "trainable_params": float(count_trainable(net) if m != "naive" else 0)}
    return out


def transfer_target(target: int, data: list[tuple[np.ndarray, np.ndarray]], cfg, *, device="cpu",
                    seed: int = 0) -> dict:
    """The transfer study for participant ``target`` of ``data`` (one ``(env, y)`` per participant).

    Channels and times are cut to the smallest participant's (the paper kept the
    first 46 channels for the same reason).

    Returns
    -------
    dict
        Method -> mean accuracy over repeats, plus ``repeats`` (per-repeat dicts).
    """
    n_ch = min(e.shape[1] for e, _ in data)
    n_t = min(e.shape[2] for e, _ in data)
    cut = [(e[:, :n_ch, :n_t], y) for e, y in data]
    sources = [d for i, d in enumerate(cut) if i != target]
    pre = pretrain(sources, cfg, device=device, seed=seed)
    env, y = cut[target]
    reps = []
    for r in range(cfg.transfer_repeats):
        adapt, test = adaptation_split(y, cfg.transfer_shots, seed + 1000 * r + target)
        reps.append(adapt_once(pre, env, y, adapt, test, cfg, device=device, seed=seed + r))
    mean = {m: float(np.mean([rep[m]["accuracy"] for rep in reps])) for m in reps[0]}
    params = {m: reps[0][m]["trainable_params"] for m in reps[0]}
    return {"accuracy": mean, "trainable_params": params, "repeats": reps}
