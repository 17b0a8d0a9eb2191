"""The paper's per-pixel autoencoders in PyTorch (Nagar, Farahbakhsh et al. 2024).

Every hidden layer is Dense + SELU, every output layer sigmoid, every layer
carries an L1 activity penalty (Keras ``activity_regularizer=l1(1e-4)``: the
penalty is ``l1 * sum |a|`` over a layer's units, averaged over the batch),
loss MSE, optimiser Adam.

- Canonical AE: ``D -> 6 -> 4 -> 2 -> 4 -> 6 -> D``; the 2-D code is clustered.
- Stacked AE, three cascaded AEs trained in sequence, each fed the previous
  stage's output joined with its own input:

  1. the canonical AE on ``x``; its reconstruction ``x1`` (D);
  2. input ``z2 = [x1, x]`` (2D): ``2D -> 10 -> 5 -> 2 -> 5 -> 10 -> 2D``; the
     encoder is cut at the 5-unit layer, ``h2`` (5);
  3. input ``z3 = [h2, z2]`` (5 + 2D): ``-> 15 -> 10 -> 5 -> 2 -> 5 -> 10 -> 15 ->``;
     its 2-D code is clustered.

Models follow the device and dtype of the data they are trained on. CPU
threads are the caller's (the flow's top-level ``threads`` setting; one
thread is much faster for these tiny kernels on a loaded 2-core machine).
"""

from __future__ import annotations

from typing import Callable, Sequence

import torch
from torch import nn

from shared.progress import progress


class DenseAE(nn.Module):
    """A symmetric dense autoencoder ``dims[0] -> ... -> dims[-1] -> ... -> dims[0]``.

    Parameters
    ----------
    dims : sequence of int
        Encoder widths, input first, code last (e.g. ``[7, 6, 4, 2]``).
    seed : int, optional
        Seed of the weight initialisation (a private generator, so the
        initial weights do not depend on what ran before); None: torch's
        global generator.
    """

    def __init__(self, dims: Sequence[int], seed: int | None = None):
        super().__init__()
        dims = list(dims)
        self.dims = dims
        self.enc = nn.ModuleList(nn.Linear(a, b) for a, b in zip(dims[:-1], dims[1:]))
        rev = dims[::-1]
        self.dec = nn.ModuleList(nn.Linear(a, b) for a, b in zip(rev[:-1], rev[1:]))
        gen = None if seed is None else torch.Generator().manual_seed(int(seed))
        for m in self.modules():  # Keras defaults: Glorot-uniform weights, zero bias
            if isinstance(m, nn.Linear):
                nn.init.xavier_uniform_(m.weight, generator=gen)
                nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Reconstruction ``(n, D)`` and every layer's activations (for the L1 penalty)."""
        acts = []
        h = x
        for lin in self.enc:
            h = torch.selu(lin(h))
            acts.append(h)
        for i, lin in enumerate(self.dec):
            h = lin(h)
            h = torch.sigmoid(h) if i == len(self.dec) - 1 else torch.selu(h)
            acts.append(h)
        return h, acts

    def encode(self, x: torch.Tensor, depth: int | None = None) -> torch.Tensor:
        """The output of the first ``depth`` encoder layers (all of them by default)."""
        h = x
        for lin in self.enc[: depth or len(self.enc)]:
            h = torch.selu(lin(h))
        return h


def schedule_epochs(epochs: int, batch_size: int, n: int, min_steps: int = 0) -> int:
    """Epochs to run: ``epochs``, raised so that training makes at least ``min_steps`` Adam updates.

    The paper's epochs are over every pixel of a scene (L8: 762 k pixels, so
    10 epochs at batch 64 are about 119 k updates); on a small training sample
    the same epoch count is a few hundred updates and leaves the net far from
    converged. Keeping a floor on the number of updates keeps the paper's
    optimiser, batch size and loss while matching its training length better.

    Parameters
    ----------
    epochs, batch_size : int
        The paper's schedule for the stage.
    n : int
        Training pixels.
    min_steps : int
        Floor on the number of mini-batch updates (0: the epochs as given).
    """
    per_epoch = -(-int(n) // int(batch_size))
    return max(int(epochs), -(-int(min_steps) // max(per_epoch, 1)))


def train_ae(model: DenseAE, X: torch.Tensor, epochs: int, batch_size: int, *, lr: float = 1e-3,
             l1: float = 1e-4, seed: int = 0, desc: str = "AE", min_steps: int = 0) -> list[float]:
    """Train ``model`` to reconstruct ``X`` (MSE + L1 activity); return the loss per epoch.

    Mini-batches are reshuffled every epoch with a private generator. The
    number of epochs is ``schedule_epochs(epochs, batch_size, len(X), min_steps)``.
    """
    epochs = schedule_epochs(epochs, batch_size, X.shape[0], min_steps)
    model.to(device=X.device, dtype=X.dtype).train()
    opt = torch.optim.Adam(model.parameters(), lr=lr, fused=True)  # one kernel per step: tiny nets
    gen = torch.Generator(device="cpu").manual_seed(int(seed))
    history = []
    for _ in progress(range(int(epochs)), desc=desc, unit="epoch"):
        history.append(_epoch(model, opt, X, batch_size, l1, gen))
    model.eval()
    return history


def _loss(model: DenseAE, xb: torch.Tensor, l1: float) -> torch.Tensor:
    """The paper's objective on a batch ``(b, D)``: reconstruction MSE + ``l1`` x the activity penalty."""
    out, acts = model(xb)
    loss = torch.mean((out - xb) ** 2)
    if l1:
        loss = loss + l1 * sum(a.abs().sum(1).mean() for a in acts)
    return loss


def _epoch(model: DenseAE, opt, X: torch.Tensor, batch_size: int, l1: float, gen) -> float:
    n = X.shape[0]
    perm = torch.randperm(n, generator=gen).to(X.device)
    # summed on the device in float64 (what a Python float sums in): no host sync per mini-batch
    total = torch.zeros((), dtype=torch.float64, device=X.device)
    for s in range(0, n, batch_size):
        xb = X[perm[s:s + batch_size]]
        loss = _loss(model, xb, l1)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        total += loss.detach().double() * xb.shape[0]
    return float(total) / n


class _Lockstep(nn.Module):
    """``R`` :class:`DenseAE` of equal widths as one module of ``(R, in, out)`` weights.

    Training the ``R`` nets in lockstep on the same mini-batches (each on its
    own input rows) is, up to floating-point summation order, training each
    alone: the summed loss gives every net the gradient of its own loss, and
    Adam's update is elementwise. On a CPU these tiny nets cost about the
    same per step whatever ``R`` (one ``baddbmm`` per layer instead of one
    ``addmm``), so restarts come nearly free.
    """

    def __init__(self, models: Sequence[DenseAE]):
        super().__init__()
        self.models = list(models)
        layers = [list(m.enc) + list(m.dec) for m in self.models]
        self.W = nn.ParameterList(nn.Parameter(torch.stack([ls[i].weight.detach().T for ls in layers]).contiguous())
                                  for i in range(len(layers[0])))
        self.b = nn.ParameterList(nn.Parameter(torch.stack([ls[i].bias.detach()[None] for ls in layers]).contiguous())
                                  for i in range(len(layers[0])))

    def loss(self, xb: torch.Tensor, l1: float) -> torch.Tensor:
        """Each net's objective (as :func:`_loss`) on its batch ``xb`` ``(R, b, D)``: ``(R,)``."""
        h, pen, last = xb, 0.0, len(self.W) - 1
        for i, (W, b) in enumerate(zip(self.W, self.b)):
            h = torch.baddbmm(b, h, W)
            h = torch.sigmoid(h) if i == last else torch.selu(h)
            if l1:
                pen = pen + h.abs().sum(2).mean(1)
        return torch.mean((h - xb) ** 2, dim=(1, 2)) + l1 * pen

    @torch.no_grad()
    def write_back(self) -> None:
        """Copy the trained weights into the ``R`` nets."""
        for r, m in enumerate(self.models):
            for i, lin in enumerate(list(m.enc) + list(m.dec)):
                lin.weight.copy_(self.W[i][r].T)
                lin.bias.copy_(self.b[i][r, 0])


def train_lockstep(models: Sequence[DenseAE], X: torch.Tensor, epochs: int, batch_size: int, *, lr: float = 1e-3,
                   l1: float = 1e-4, seed: int = 0, desc: str = "AE", min_steps: int = 0) -> list[list[float]]:
    """Train ``R`` nets of equal widths as :func:`train_ae` would each, in lockstep; per-net loss histories.

    Parameters
    ----------
    models : sequence of DenseAE
        ``R`` nets with the same ``dims`` (trained in place).
    X : torch.Tensor
        ``(n, D)`` rows shared by every net, or ``(R, n, D)``: net ``r`` trains on ``X[r]``.
        Every net sees the same shuffles (one private generator, as :func:`train_ae`).
    """
    R = len(models)
    Xr = X.expand(R, *X.shape) if X.ndim == 2 else X
    n = Xr.shape[1]
    epochs = schedule_epochs(epochs, batch_size, n, min_steps)
    for m in models:
        m.to(device=X.device, dtype=X.dtype)
    net = _Lockstep(models).to(device=X.device, dtype=X.dtype)
    opt = torch.optim.Adam(net.parameters(), lr=lr, fused=True)
    gen = torch.Generator(device="cpu").manual_seed(int(seed))
    history = []
    for _ in progress(range(int(epochs)), desc=desc, unit="epoch"):
        perm = torch.randperm(n, generator=gen).to(X.device)
        total = torch.zeros(R, dtype=torch.float64, device=X.device)  # on the device: no sync per batch
        for s in range(0, n, batch_size):
            xb = Xr[:, perm[s:s + batch_size]]
            losses = net.loss(xb, l1)
            opt.zero_grad(set_to_none=True)
            losses.sum().backward()
            opt.step()
            total += losses.detach().double() * xb.shape[1]
        history.append((total / n).tolist())
    net.write_back()
    for m in models:
        m.eval()
    return [list(h) for h in zip(*history)]


@torch.no_grad()
def objective(model: DenseAE, X: torch.Tensor, l1: float = 1e-4, chunk: int = 1 << 16) -> float:
    """The training objective (MSE + L1 activity penalty) of ``model`` over all rows of ``X``, one pass."""
    total = 0.0
    for s in range(0, X.shape[0], chunk):
        xb = X[s:s + chunk]
        total += float(_loss(model, xb, l1)) * xb.shape[0]
    return total / X.shape[0]


def train_restarts(make: Callable[[int], DenseAE], X: torch.Tensor, epochs: int, batch_size: int,
                   restarts: int = 1, *, lr: float = 1e-3, l1: float = 1e-4, seed: int = 0, desc: str = "AE",
                   min_steps: int = 0) -> tuple[DenseAE, list[float], list[float]]:
    """Train ``restarts`` initialisations ``make(r)`` on ``X``; keep the one with the lowest objective.

    Model selection by the training objective itself uses no labels: it is
    the usual remedy for the local minima a small net lands in from a random
    start. Used for the canonical AE; the stacked AE restarts as a whole
    (:meth:`StackedAE.fit`).

    Returns
    -------
    model : DenseAE
        The kept model (``make(0)`` when ``restarts`` is 1).
    history : list of float
        Its per-epoch training loss.
    objectives : list of float
        The final objective of every restart, in order.
    """
    best, objs = None, []
    for r in range(max(1, int(restarts))):
        m = make(r)
        h = train_ae(m, X, epochs, batch_size, lr=lr, l1=l1, seed=seed, desc=desc if restarts <= 1 else f"{desc} (start {r + 1})",
                     min_steps=min_steps)
        objs.append(objective(m, X, l1))
        if best is None or objs[-1] < best[2]:
            best = (m, h, objs[-1])
    return best[0], best[1], objs


def restart_seed(seed: int | None, r: int) -> int | None:
    """Initialisation seed of restart ``r`` (``r = 0``: ``seed`` itself)."""
    return seed if seed is None or r == 0 else int(seed) + 1_000_003 * r


class StackedAE(nn.Module):
    """The paper's three-stage stacked autoencoder (see the module docstring)."""

    def __init__(self, n_features: int, code_dim: int = 2, seed: int | None = None):
        super().__init__()
        d = n_features
        s = (lambda i: None) if seed is None else (lambda i: 3 * int(seed) + i)  # one init stream per stage
        self.init_seed = seed
        self.stage1 = DenseAE([d, 6, 4, code_dim], seed=s(0))
        self.stage2 = DenseAE([2 * d, 10, 5, code_dim], seed=s(1))
        self.stage3 = DenseAE([5 + 2 * d, 15, 10, 5, code_dim], seed=s(2))

    def _z2(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.stage1(x)[0], x], 1)

    def _z3_from(self, z2: torch.Tensor) -> torch.Tensor:
        """Stage 3's input ``[h2, z2]`` from stage 2's input ``z2``."""
        return torch.cat([self.stage2.encode(z2, depth=2), z2], 1)

    def _z3(self, x: torch.Tensor) -> torch.Tensor:
        return self._z3_from(self._z2(x))

    def fit(self, X: torch.Tensor, epochs: Sequence[int], batch_sizes: Sequence[int], *, lr: float = 1e-3,
            l1: float = 1e-4, seed: int = 0, min_steps: int = 0, restarts: int = 1,
            select: str = "recon") -> dict[str, list[float]]:
        """Train the stages in sequence on ``X`` ``(n, D)``; return each stage's loss history.

        With ``restarts`` > 1 the WHOLE stack is trained from ``restarts``
        initialisations (this one, then ``StackedAE(D, seed=restart_seed(init_seed, r))``;
        same schedule and shuffles, in lockstep: :meth:`fit_starts`, about the
        cost of one start) and the one with the lowest label-free
        figure ``select`` of :meth:`objectives` is kept, in place: the usual
        remedy for the local minima a small net lands in from a random start,
        as k-means' ``n_init``. The default ``"recon"`` (the stack's
        reconstruction of ``X``) is comparable across stacks; a stage-3
        objective is over each stack's own ``z2``/``h2``. Every start's
        figure is returned as ``"restart_objectives"``.
        """
        if restarts <= 1:
            return self._fit_once(X, epochs, batch_sizes, lr=lr, l1=l1, seed=seed, min_steps=min_steps)
        starts = self.fit_starts(X, epochs, batch_sizes, restarts, lr=lr, l1=l1, seed=seed, min_steps=min_steps)
        objs = [st.objectives(X, l1)[select] for st, _ in starts]
        best, best_hist = starts[objs.index(min(objs))]
        if best is not self:
            self.stage1, self.stage2, self.stage3 = best.stage1, best.stage2, best.stage3
        return {**best_hist, "restart_objectives": objs}

    def fit_starts(self, X: torch.Tensor, epochs: Sequence[int], batch_sizes: Sequence[int], restarts: int, *,
                   lr: float = 1e-3, l1: float = 1e-4, seed: int = 0,
                   min_steps: int = 0) -> list[tuple["StackedAE", dict[str, list[float]]]]:
        """Train ``restarts`` whole stacks in lockstep (:func:`train_lockstep`); every stack and its history.

        Stack 0 is ``self``, stack ``r`` is ``StackedAE(D, seed=restart_seed(init_seed, r))``;
        all see the schedule and shuffles of :meth:`fit` (stage ``s`` shuffles with
        ``seed + s - 1``), so each equals that stack trained alone up to
        floating-point summation order, at about the cost of one.
        """
        D, code = self.stage1.dims[0], self.stage1.dims[-1]
        stacks = [self] + [StackedAE(D, code, seed=restart_seed(self.init_seed, r)) for r in range(1, int(restarts))]
        kw = dict(lr=lr, l1=l1, min_steps=min_steps)
        h1 = train_lockstep([s.stage1 for s in stacks], X, epochs[0], batch_sizes[0], seed=seed,
                            desc=f"stacked AE stage 1 ({len(stacks)} starts)", **kw)
        with torch.no_grad():
            z2 = torch.stack([s._z2(X) for s in stacks])
        h2 = train_lockstep([s.stage2 for s in stacks], z2, epochs[1], batch_sizes[1], seed=seed + 1,
                            desc=f"stacked AE stage 2 ({len(stacks)} starts)", **kw)
        with torch.no_grad():
            z3 = torch.stack([s._z3_from(z) for s, z in zip(stacks, z2)])
        h3 = train_lockstep([s.stage3 for s in stacks], z3, epochs[2], batch_sizes[2], seed=seed + 2,
                            desc=f"stacked AE stage 3 ({len(stacks)} starts)", **kw)
        return [(s, {"stage1": a, "stage2": b, "stage3": c}) for s, a, b, c in zip(stacks, h1, h2, h3)]

    def _fit_once(self, X: torch.Tensor, epochs: Sequence[int], batch_sizes: Sequence[int], *, lr: float,
                  l1: float, seed: int, min_steps: int) -> dict[str, list[float]]:
        hist = {"stage1": train_ae(self.stage1, X, epochs[0], batch_sizes[0], lr=lr, l1=l1, seed=seed,
                                   desc="stacked AE stage 1", min_steps=min_steps)}
        with torch.no_grad():
            z2 = self._z2(X)
        hist["stage2"] = train_ae(self.stage2, z2, epochs[1], batch_sizes[1], lr=lr, l1=l1, seed=seed + 1,
                                  desc="stacked AE stage 2", min_steps=min_steps)
        with torch.no_grad():
            z3 = self._z3_from(z2)
        hist["stage3"] = train_ae(self.stage3, z3, epochs[2], batch_sizes[2], lr=lr, l1=l1, seed=seed + 2,
                                  desc="stacked AE stage 3", min_steps=min_steps)
        return hist

    @torch.no_grad()
    def objectives(self, X: torch.Tensor, l1: float = 1e-4, chunk: int = 1 << 16) -> dict[str, float]:
        """Label-free fit figures of the trained stack on ``X`` ``(n, D)``, one pass.

        ``stage1`` / ``stage2`` / ``stage3``: each stage's training objective
        (MSE + L1) on its own input; ``recon``: MSE of ``X`` against the
        stage-3 output's copy of ``X`` (the last ``D`` columns of ``z3``),
        the one reconstruction error comparable across stacks (each stage-3
        objective is over that stack's own ``z2`` and ``h2``).
        """
        D = X.shape[1]
        out = {"stage1": 0.0, "stage2": 0.0, "stage3": 0.0, "recon": 0.0}
        for s in range(0, X.shape[0], chunk):
            xb = X[s:s + chunk]
            z2 = self._z2(xb)
            z3 = self._z3_from(z2)
            n = xb.shape[0]
            out["stage1"] += objective(self.stage1, xb, l1) * n
            out["stage2"] += objective(self.stage2, z2, l1) * n
            out["stage3"] += objective(self.stage3, z3, l1) * n
            out["recon"] += float(torch.mean((self.stage3(z3)[0][:, -D:] - xb) ** 2)) * n
        return {k: v / X.shape[0] for k, v in out.items()}

    @torch.no_grad()
    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """The stage-3 code ``(n, code_dim)``."""
        return self.stage3.encode(self._z3(x))
