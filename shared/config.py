"""Configuration: profile presets plus ``--set key=value`` overrides.

Every domain has one pydantic model with ``extra="forbid"``. Overrides use
dotted keys (``--set svd.oversample=12``) and YAML values (``--set
ranks=[8,8,8]``), so lists, numbers and booleans need no special syntax.
"""

from __future__ import annotations

from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from shared.errors import BadInput

M = TypeVar("M", bound=BaseModel)


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
    try:
        return model.model_validate(_merge(preset, overrides))
    except ValidationError as err:
        e = err.errors()[0]
        key = ".".join(str(p) for p in e["loc"]) or "<root>"
        if e["type"] == "extra_forbidden":
            known = ", ".join(sorted(model.model_fields))
            raise BadInput(f"{where} {key}", f"unknown key for {model.__name__} (known: {known})") from None
        raise BadInput(f"{where} {key}", e["msg"]) from None
