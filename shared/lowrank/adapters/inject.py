"""Put adapters into a model, merge them, count what trains."""

from __future__ import annotations

import re

from torch import nn

from shared.errors import BadInput
from shared.lowrank.adapters.base import SUPPORTED, AdapterLayer
from shared.lowrank.adapters.flora import FLoRA
from shared.lowrank.adapters.lora import LoRA
from shared.lowrank.adapters.svfit import SVFit

KINDS: dict[str, type[AdapterLayer]] = {"lora": LoRA, "flora": FLoRA, "svfit": SVFit}

def matches(name: str, module: nn.Module, target) -> bool:
    """Whether the submodule ``name`` is selected by ``target``.

    ``None`` selects every supported layer; a string is a regular expression
    matched against the whole qualified name, or a name suffix (``"proj"``
    selects ``"block.0.proj"``); a list selects the union of its strings; a
    callable gets ``(name, module)``.
    """
    if target is None:
        return True
    if callable(target):
        return bool(target(name, module))
    if isinstance(target, str):
        target = [target]
    for t in target:
        if name == t or name.endswith("." + t) or re.fullmatch(t, name):
            return True
    return False


def apply_adapters(
    model: nn.Module,
    kind: str,
    rank,
    target=None,
    freeze_others: bool = True,
    **kwargs,
) -> nn.Module:
    """Replace selected ``nn.Linear``/``nn.Conv1d/2d/3d`` layers by adapters, in place.

    Parameters
    ----------
    model : nn.Module
        The model; modified in place.
    kind : {"lora", "flora", "svfit"}
        Adapter type (:class:`LoRA`, :class:`FLoRA`, :class:`SVFit`).
    rank : int or sequence of int
        Passed to the adapter (FLoRA also takes one rank per weight mode).
    target : None, str, list of str or callable
        Which layers (see :func:`matches`); layers of other types are skipped.
    freeze_others : bool
        Freeze every parameter that is not an adapter's (the usual
        parameter-efficient setting).
    **kwargs
        Adapter options: ``alpha`` (LoRA), ``scale`` (FLoRA), ``dropout``.

    Returns
    -------
    nn.Module
        ``model`` (or the adapter itself when ``model`` is a single layer).

    Raises
    ------
    BadInput
        Unknown ``kind``, or ``target`` selects no supported layer.
    """
    key = str(kind).lower()
    if key not in KINDS:
        raise BadInput("kind", f"unknown adapter kind {kind!r}; expected one of {', '.join(KINDS)}")
    cls = KINDS[key]
    if isinstance(model, SUPPORTED) and matches("", model, target):
        model = cls(model, rank, **kwargs)
        return model
    # Collect first, replace after: no mutation while iterating; skip layers
    # already wrapped (the `.base` inside an adapter).
    inside = {id(m.base) for m in model.modules() if isinstance(m, AdapterLayer)}
    chosen = [
        (name, mod)
        for name, mod in model.named_modules()
        if name and isinstance(mod, SUPPORTED) and id(mod) not in inside and matches(name, mod, target)
    ]
    if not chosen:
        raise BadInput("target", f"{target!r} selects no nn.Linear/nn.Conv1d/2d/3d layer of the model")
    for name, mod in chosen:
        parent_name, _, child = name.rpartition(".")
        parent = model.get_submodule(parent_name) if parent_name else model
        setattr(parent, child, cls(mod, rank, **kwargs))
    if freeze_others:
        # Adapters added by earlier calls stay trainable.
        keep = {id(p) for p in adapter_parameters(model)}
        for p in model.parameters():
            if id(p) not in keep:
                p.requires_grad_(False)
    return model


def adapter_parameters(model: nn.Module) -> list[nn.Parameter]:
    """The adapters' own parameters (not their frozen base layers')."""
    out = []
    for m in model.modules():
        if isinstance(m, AdapterLayer):
            out += [p for name, p in m.named_parameters() if not name.startswith("base.")]
    return out


def adapter_layers(model: nn.Module) -> list[AdapterLayer]:
    """Every adapter in ``model``."""
    return [m for m in model.modules() if isinstance(m, AdapterLayer)]


def merge(model: nn.Module) -> nn.Module:
    """Fold every adapter's ``dW`` into its base weight (forward skips the branches)."""
    for m in adapter_layers(model):
        m.merge()
    return model


def unmerge(model: nn.Module) -> nn.Module:
    """Undo :func:`merge` for every adapter."""
    for m in adapter_layers(model):
        m.unmerge()
    return model


def count_trainable(model: nn.Module) -> int:
    """Number of scalar parameters with ``requires_grad`` (a complex entry counts once)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def adapter_state_dict(model: nn.Module) -> dict:
    """Only the adapters' trainable tensors (and SVFit's frozen bases), for saving."""
    state = {}
    for name, mod in model.named_modules():
        if isinstance(mod, AdapterLayer):
            for key, value in mod.state_dict().items():
                if not key.startswith("base."):
                    state[f"{name}.{key}" if name else key] = value
    return state
