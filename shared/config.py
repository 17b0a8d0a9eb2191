"""Configuration: profile presets plus ``--set key=value`` overrides.

Every domain has one pydantic model with ``extra="forbid"``, sectioned by step
for the newer domains. Overrides use dotted keys for sections (``--set
model.epochs=5``) and YAML values (``--set ranks=[8,8,8]``), so lists, numbers
and booleans need no special syntax. A NaN is never a setting: ``--set
energy=.nan`` is rejected by name. :func:`describe` lists every key with its
type, default, profile value and description (``lowdim config DOMAIN``);
:func:`scope_sets` splits ``--set lowrank.energy=0.9`` for ``lowdim run all``.
"""

from __future__ import annotations

from typing import Any, TypeVar

import math

import yaml
from pydantic import BaseModel, Field, ValidationError

from shared.errors import BadInput

M = TypeVar("M", bound=BaseModel)


def threads_field(why: str = "") -> Any:
    """The top-level ``threads`` setting of a domain's config: CPU threads per step, default 1.

    flowkit runs each step under :func:`shared.threads.cpu_threads` with it
    (the calling thread only, restored after the step). ``why`` adds the
    domain's reason for its default to the description.
    """
    desc = ("CPU threads per step, this thread only, applied by flowkit through shared.threads.cpu_threads "
            "(0: torch's own setting)")
    return Field(default=1, ge=0, description=f"{desc}; {why}" if why else desc)


def parse_sets(sets: list[str] | tuple[str, ...] | None) -> dict[str, Any]:
    """Parse ``["a.b=1", "c=[1,2]"]`` into a nested dict ``{"a": {"b": 1}, "c": [1, 2]}``."""
    out: dict[str, Any] = {}
    for item in sets or ():
        if "=" not in item:
            raise BadInput(f"--set {item}", "expected key=value")
        key, raw = item.split("=", 1)
        key = key.strip()
        if not key:
            raise BadInput(f"--set {item}", "empty key")
        try:
            value = yaml.safe_load(raw) if raw.strip() else None
        except yaml.YAMLError:
            value = raw
        node = out
        parts = key.split(".")
        for p in parts[:-1]:
            node = node.setdefault(p, {})
            if not isinstance(node, dict):
                raise BadInput(f"--set {key}", f"'{p}' is not a group of settings")
        node[parts[-1]] = value
    return out


def _not_finite(v: Any) -> bool:
    """True for a NaN or infinite number, or a string pydantic would read as one ("nan", "inf", "1e999")."""
    if isinstance(v, bool):
        return False
    if isinstance(v, (int, float)):
        return not math.isfinite(v)
    if isinstance(v, str):
        try:
            return not math.isfinite(float(v))
        except ValueError:
            return False
    return False


def _reject_nan(overrides: dict[str, Any], where: str, prefix: str = "") -> None:
    for k, v in overrides.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            _reject_nan(v, where, key + ".")
        elif _not_finite(v) or (isinstance(v, list) and any(_not_finite(x) for x in v)):
            raise BadInput(f"{where} {key}", "is NaN or infinite; give a finite number")


def _merge(base: dict[str, Any], upd: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in upd.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = _merge(out[k], v)
        else:
            out[k] = v
    return out


def build_config(model: type[M], preset: dict[str, Any], overrides: dict[str, Any],
                 where: str = "--set") -> M:
    """Validate ``preset`` updated by ``overrides`` against ``model``.

    Raises
    ------
    BadInput
        Naming the first offending key, e.g. ``--set foo: unknown key for lowrank``.
    """
    _reject_nan(overrides, where)
    try:
        return model.model_validate(_merge(preset, overrides))
    except ValidationError as err:
        e = err.errors()[0]
        key = _user_key(model, e["loc"]) or "<root>"
        if e["type"] == "extra_forbidden":
            owner = _section_model(model, [str(p) for p in e["loc"][:-1]])
            known = ", ".join(sorted(owner.model_fields))
            raise BadInput(f"{where} {key}", f"unknown key for {owner.__name__} (known: {known})") from None
        msg = e["msg"].removeprefix("Value error, ")
        raise BadInput(f"{where} {key}", msg) from None


def _user_key(model: type[BaseModel], loc: tuple) -> str:
    """The dotted ``--set`` key of an error location, without pydantic's union-branch tags.

    ``("model", "k", "constrained-int")`` -> ``"model.k"``; list indices are kept.
    """
    parts: list[str] = []
    current: type[BaseModel] | None = model  # None once we are inside a leaf field
    for part in loc:
        if isinstance(part, int):  # a list index
            parts.append(str(part))
        elif current is not None and part in current.model_fields:
            parts.append(part)
            ann = current.model_fields[part].annotation
            current = ann if isinstance(ann, type) and issubclass(ann, BaseModel) else None
        else:  # an unknown key of a (sub-)model is named; a union-branch tag of a leaf is not
            if current is not None:
                parts.append(str(part))
            break
    return ".".join(parts)


def _section_model(model: type[BaseModel], path: list[str]) -> type[BaseModel]:
    """The (sub-)model that owns the key at ``path`` (``["model"]`` -> the model section)."""
    for name in path:
        field = model.model_fields.get(name)
        ann = getattr(field, "annotation", None)
        if not (isinstance(ann, type) and issubclass(ann, BaseModel)):
            break
        model = ann
    return model


def scope_sets(sets: list[str] | tuple[str, ...] | None, domains: list[str]) -> dict[str, list[str]]:
    """Split domain-scoped overrides ``["isac.n_trials=5"]`` into ``{"isac": ["n_trials=5"]}``.

    For ``lowdim run all``, where one key could mean different things in
    different domains, every key must start with its domain's name.

    Raises
    ------
    BadInput
        An unscoped key, or a scope that is not one of ``domains``.
    """
    out: dict[str, list[str]] = {d: [] for d in domains}
    for item in sets or ():
        key = item.split("=", 1)[0].strip()
        scope, _, rest = key.partition(".")
        if not rest:
            raise BadInput(f"--set {key}", "with `run all`, scope each key by its domain, "
                                           f"e.g. --set {domains[0]}.{key}=... (domains: {', '.join(domains)})")
        if scope not in out:
            raise BadInput(f"--set {key}", f"unknown domain '{scope}' (domains: {', '.join(domains)})")
        out[scope].append(item.split(".", 1)[1])
    return out


def _type_name(ann: Any) -> str:
    """``int``, ``list[int] | None``, ``hosvd|hooi`` (a Literal lists its choices)."""
    import typing

    if typing.get_origin(ann) is typing.Literal:
        return "|".join(str(a) for a in typing.get_args(ann))
    name = getattr(ann, "__name__", None)
    text = str(ann).replace("typing.", "")
    return name if name and "[" not in text else text


def describe(model: type[BaseModel], preset: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """Every ``--set`` key of ``model``: sections flattened into dotted keys.

    Parameters
    ----------
    model : pydantic model class
        A domain's config model (sub-models are sections).
    preset : dict, optional
        A profile's preset; its values appear as ``profile``.

    Returns
    -------
    list of dict
        ``{"key", "type", "default", "profile", "description"}`` in field
        order; ``profile`` is the resolved value under the preset.
    """
    resolved = model.model_validate(preset or {}).model_dump(mode="json")
    defaults = _defaults(model)
    rows: list[dict[str, Any]] = []

    def walk(m: type[BaseModel], prefix: str, res: dict[str, Any], dfl: dict[str, Any]) -> None:
        for name, f in m.model_fields.items():
            ann = f.annotation
            if isinstance(ann, type) and issubclass(ann, BaseModel):
                walk(ann, f"{prefix}{name}.", res.get(name) or {}, dfl.get(name) or {})
                continue
            rows.append({"key": prefix + name, "type": _type_name(ann), "default": dfl.get(name),
                         "profile": res.get(name), "description": f.description or ""})

    walk(model, "", resolved, defaults)
    return rows


def _defaults(model: type[BaseModel]) -> dict[str, Any]:
    """The model's own defaults (no preset), as JSON; fields without one are absent."""
    out: dict[str, Any] = {}
    for name, f in model.model_fields.items():
        ann = f.annotation
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            out[name] = _defaults(ann)
        elif not f.is_required():
            v = f.get_default(call_default_factory=True)
            out[name] = v.model_dump(mode="json") if isinstance(v, BaseModel) else v
    return out
