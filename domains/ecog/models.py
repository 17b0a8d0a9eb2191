"""The deep decoders (LSTM-CNN and a plain CNN) and their training loop, in torch.

Both take the log high-gamma envelope ``(batch, channels, times)``. The conv
blocks filter over channels x time (``Conv1d`` with the electrodes as input
channels, so the first layer is a spatio-temporal filter that a low-rank adapter
can re-map for a new participant); the LSTM-CNN then runs a two-layer LSTM over
the pooled time axis (Bafana's TimeDistributed(Flatten) -> LSTM -> LSTM ->
Dense -> Dense), the CNN flattens instead. Training: Adam, class-balanced cross
entropy, minibatches, early stopping on a validation split of the TRAINING trials.
"""

from __future__ import annotations

import copy

import numpy as np
import torch
from torch import nn

from domains.ecog.lengths import conv_pool_length


class ConvBlocks(nn.Module):
    """Two blocks Conv1d -> ReLU -> pool(2) (max as in the paper, or average).

    ``(B, C, T) -> (B, f2, T')`` with ``T' = lengths.conv_pool_length(T, kernel)`` (``T // 4`` for an odd kernel).
    """

    def __init__(self, n_channels: int, filters: tuple[int, int], kernel: int, pool: str = "max"):
        super().__init__()
        f1, f2 = filters
        self.conv1 = nn.Conv1d(n_channels, f1, kernel, padding=kernel // 2)
        self.conv2 = nn.Conv1d(f1, f2, kernel, padding=kernel // 2)
        self.pool = nn.AvgPool1d(2) if pool == "avg" else nn.MaxPool1d(2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool(torch.relu(self.conv1(x)))
        return self.pool(torch.relu(self.conv2(x)))


class Head(nn.Module):
    """Dense -> ReLU -> Dropout -> Dense -> ReLU -> Dropout -> Dense (logits)."""

    def __init__(self, n_in: int, dense: tuple[int, int], n_classes: int, dropout: float):
        super().__init__()
        self.fc1 = nn.Linear(n_in, dense[0])
        self.fc2 = nn.Linear(dense[0], dense[1])
        self.out = nn.Linear(dense[1], n_classes)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.drop(torch.relu(self.fc1(x)))
        return self.out(self.drop(torch.relu(self.fc2(x))))


class LSTMCNN(nn.Module):
    """Conv blocks over channels x time, a 2-layer LSTM over time, dense layers.

    Input ``(B, C, T)``; output logits ``(B, n_classes)``.
    """

    def __init__(self, n_channels: int, n_times: int, n_classes: int = 2, filters=(32, 16), kernel: int = 5,
                 hidden: int = 32, dense=(32, 16), dropout: float = 0.3, readout: str = "last",
                 pool: str = "max"):
        super().__init__()
        self.readout = readout
        self.conv = ConvBlocks(n_channels, tuple(filters), kernel, pool)
        self.lstm = nn.LSTM(filters[1], hidden, num_layers=2, batch_first=True, dropout=dropout)
        self.drop = nn.Dropout(dropout)
        self.head = Head(hidden, tuple(dense), n_classes, dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv(x).transpose(1, 2)  # (B, T', f2): time becomes the sequence
        seq, _ = self.lstm(h)
        return self.head(self.drop(seq.mean(dim=1) if self.readout == "mean" else seq[:, -1]))


class CNN(nn.Module):
    """The same conv blocks, flattened into the dense layers (no recurrence)."""

    def __init__(self, n_channels: int, n_times: int, n_classes: int = 2, filters=(32, 16), kernel: int = 5,
                 hidden: int = 32, dense=(32, 16), dropout: float = 0.3, readout: str = "last",
                 pool: str = "max"):
        super().__init__()
        self.conv = ConvBlocks(n_channels, tuple(filters), kernel, pool)
        self.drop = nn.Dropout(dropout)
        self.head = Head(filters[1] * conv_pool_length(n_times, kernel), tuple(dense), n_classes, dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.drop(self.conv(x).flatten(1)))


MODELS = {"lstm_cnn": LSTMCNN, "cnn": CNN}


def build(kind: str, n_channels: int, n_times: int, cfg, n_classes: int = 2) -> nn.Module:
    """A fresh model of ``kind`` sized by the model config section."""
    return MODELS[kind](n_channels, n_times, n_classes, filters=tuple(cfg.conv_filters), kernel=cfg.kernel,
                        hidden=cfg.lstm_hidden, dense=tuple(cfg.dense), dropout=cfg.dropout,
                        readout=cfg.readout, pool=cfg.pool)


def _class_weights(y: torch.Tensor, n_classes: int) -> torch.Tensor:
    # 'balanced': n / (n_classes * count), as Keras' class_weight='balanced'
    counts = torch.bincount(y, minlength=n_classes).clamp(min=1).to(torch.float32)
    return (len(y) / (n_classes * counts)).to(y.device)


def fit(model: nn.Module, X: torch.Tensor, y: torch.Tensor, fit_idx: np.ndarray, val_idx: np.ndarray | None, *,
        epochs: int, patience: int, lr: float, weight_decay: float, batch_size: int, seed: int,
        min_epochs: int = 0) -> dict:
    """Train ``model`` in place on ``X[fit_idx]``, early-stopping on ``X[val_idx]``'s loss.

    Parameters
    ----------
    X : torch.Tensor
        ``(n_trials, C, T)`` normalised inputs on the model's device.
    y : torch.Tensor
        ``(n_trials,)`` int64 labels on the same device.
    fit_idx, val_idx : np.ndarray
        Trial indices to train on and to stop on (None or empty: train ``epochs`` epochs).

    Returns
    -------
    dict
        ``best_epoch``, ``epochs_run``, ``val_loss`` (best, or nan), ``fit_index`` (the trials
        whose gradients trained the model) and ``val_index`` (the trials whose loss stopped it),
        recorded where they are used so that the CV audit sees what training really touched.
    """
    n_classes = int(model.head.out.out_features) if hasattr(model, "head") else int(y.max()) + 1
    gen = torch.Generator().manual_seed(int(seed))
    fit_t = torch.as_tensor(np.asarray(fit_idx), device=X.device)
    has_val = val_idx is not None and len(val_idx) > 0
    val_t = torch.as_tensor(np.asarray(val_idx), device=X.device) if has_val else None
    loss_fn = nn.CrossEntropyLoss(weight=_class_weights(y[fit_t], n_classes))
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)
    best, best_state, best_epoch, bad, ep = float("inf"), None, -1, 0, 0
    fit_seen = torch.zeros(len(X), dtype=torch.bool, device=X.device)
    val_seen = torch.zeros(len(X), dtype=torch.bool, device=X.device)
    fit_seen[fit_t] = True  # the class weights
    for ep in range(epochs):
        model.train()
        order = fit_t[torch.randperm(len(fit_t), generator=gen).to(X.device)]
        for s in range(0, len(order), batch_size):
            b = order[s:s + batch_size]
            fit_seen[b] = True
            opt.zero_grad(set_to_none=True)
            loss_fn(model(X[b]), y[b]).backward()
            opt.step()
        if not has_val or ep + 1 < min_epochs:
            continue
        model.eval()
        val_seen[val_t] = True
        with torch.no_grad():
            v = float(loss_fn(model(X[val_t]), y[val_t]))
        if v < best - 1e-4:
            best, best_epoch, bad = v, ep, 0
            best_state = copy.deepcopy(model.state_dict())
        else:
            bad += 1
            if bad >= patience:
                break
    if best_state is not None:
        model.load_state_dict(best_state)
    model.eval()
    return {"best_epoch": best_epoch, "epochs_run": ep + 1, "val_loss": best if has_val else float("nan"),
            "fit_index": torch.nonzero(fit_seen).ravel().cpu().numpy(),
            "val_index": torch.nonzero(val_seen).ravel().cpu().numpy()}


@torch.no_grad()
def predict_proba(model: nn.Module, X: torch.Tensor) -> torch.Tensor:
    """Class probabilities ``(n, n_classes)`` (eval mode)."""
    model.eval()
    return torch.softmax(model(X), dim=1)


def log_input(env: np.ndarray | torch.Tensor, device) -> torch.Tensor:
    """The decoders' input: log power envelope as float32 on ``device``."""
    x = torch.as_tensor(np.asarray(env), dtype=torch.float32, device=device)
    return torch.log(x.clamp(min=1e-30))
