"""Checkpoints: weights plus the architecture they belong to, loaded without pickle code.

A checkpoint is ``{"arch": str, "kwargs": dict, "state_dict": dict, "meta": dict}``
saved by ``torch.save``; :func:`read` uses ``torch.load(..., weights_only=True)``,
which refuses anything but tensors and plain containers, so a checkpoint file
cannot run code. :func:`load_model` rebuilds the model from ``kwargs`` and loads
the weights strictly; a checkpoint of another architecture (or a plain
state dict) is a :class:`BadInput`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import torch
from torch import nn

from shared.errors import BadInput


def save(path: str | Path, model: nn.Module, arch: str, kwargs: dict, meta: dict | None = None) -> Path:
    """Write ``model``'s weights with its architecture tag and constructor arguments."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    torch.save({"arch": arch, "kwargs": kwargs, "state_dict": state, "meta": meta or {}}, path)
    return path


def read(path: str | Path, where: str = "model.checkpoint") -> dict:
    """The checkpoint dict (tensors on CPU); BadInput for a missing or unreadable file."""
    p = Path(path)
    if not p.is_file():
        raise BadInput(f"{where}={p}", "checkpoint file not found")
    try:
        ck = torch.load(p, map_location="cpu", weights_only=True)
    except Exception as err:  # pickle refusing code, truncated file, not a torch file
        raise BadInput(f"{where}={p}", f"not a loadable weights-only checkpoint ({type(err).__name__})") from None
    if not isinstance(ck, dict) or "arch" not in ck or "state_dict" not in ck:
        raise BadInput(f"{where}={p}", "not a lowdim mri checkpoint (no 'arch'/'state_dict' entries)")
    if not isinstance(ck["state_dict"], dict) or not isinstance(ck["arch"], str):
        raise BadInput(f"{where}={p}", "not a lowdim mri checkpoint ('state_dict' must map names to tensors, "
                                       "'arch' must be a string)")
    return ck


def check_arch(path: str | Path, arch: str, where: str = "model.checkpoint") -> dict:
    """Read a checkpoint and require its architecture tag to be ``arch``."""
    ck = read(path, where)
    if ck["arch"] != arch:
        raise BadInput(f"{where}={path}", f"checkpoint of architecture {ck['arch']!r}, expected {arch!r}")
    return ck


def load_model(path: str | Path, arch: str, build: Callable[..., nn.Module], where: str = "model.checkpoint") -> tuple[nn.Module, dict]:
    """Rebuild and load a model; BadInput when the weights do not fit the architecture."""
    ck = check_arch(path, arch, where)
    kwargs = ck.get("kwargs")
    if not isinstance(kwargs, dict):
        raise BadInput(f"{where}={path}", "checkpoint has no constructor arguments ('kwargs' is not a dict)")
    try:
        model = build(**kwargs)
    except (TypeError, ValueError) as err:  # an unknown or ill-typed constructor argument
        raise BadInput(f"{where}={path}", f"constructor arguments do not fit {arch} ({err})") from None
    try:
        model.load_state_dict(ck["state_dict"], strict=True)
    except RuntimeError as err:
        # torch's first line is only "Error(s) in loading state_dict for X:"; the next names the keys
        lines = [ln.strip() for ln in str(err).splitlines() if ln.strip()]
        detail = lines[1] if len(lines) > 1 else lines[0] if lines else type(err).__name__
        raise BadInput(f"{where}={path}", f"weights do not match {arch} ({detail[:240]})") from None
    return model, ck
