"""The contract between a domain's science and the Prefect layer.

A domain exposes one :class:`DomainSpec`: its config model, its profile
presets and four Prefect-free step functions. ``pipelines`` wraps each step
in a task; tests call the steps directly.

Every step has the signature ``step(ctx, prev) -> dict`` where ``ctx`` is the
:class:`shared.runs.RunContext` and ``prev`` maps earlier step names to their
records. Records are small JSON-able dicts (paths, shapes, scalars), never
large arrays: arrays go to ``results.h5`` in the run directory.

Before any run directory exists (and before Prefect starts), the CLI and
:func:`pipelines.flowkit.execute` call ``spec.check(data, dataset, cfg)``: a
cheap look at the input's headers, dtypes, shapes and attributes that raises
:class:`shared.errors.BadInput` naming the file and field. It must not read
whole arrays (NaN scans may read in blocks) and must not write anything.

Two records have required keys:

- ``ingest`` returns ``{"data": {"source", "sha256", "synthetic"}, ...}``;
- ``evaluate`` returns ``{"metrics", "baselines", "intrinsic_dimension",
  "report"}`` (the report is markdown), which become ``metrics.json`` and
  ``report.md``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from pydantic import BaseModel

from shared.config import build_config, parse_sets
from shared.errors import BadInput

Step = Callable[[Any, dict[str, dict[str, Any]]], dict[str, Any]]
Check = Callable[[str | None, str | None, BaseModel], None]


def no_model(ctx: Any, prev: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The model step of a domain that has none (it still gets a timing)."""
    return {}


def no_check(data: str | None, dataset: str | None, cfg: BaseModel) -> None:
    """The input check of a domain whose steps validate everything themselves."""
    return None


@dataclass(frozen=True)
class DomainSpec:
    name: str
    summary: str
    config: type[BaseModel]
    profiles: dict[str, dict[str, Any]]
    ingest: Step
    reduce: Step
    evaluate: Step
    model: Step = no_model
    #: ``check(data, dataset, cfg)``: cheap header-level validation of ``--data`` /
    #: ``--dataset`` against the resolved config; raises BadInput, writes nothing.
    check: Check = no_check

    def resolve_config(self, profile: str, sets: list[str] | None = None) -> BaseModel:
        """The profile's preset updated by ``--set`` overrides, validated."""
        return resolve_config(self.name, self.config, self.profiles, profile, sets)


def resolve_config(name: str, model: type[BaseModel], profiles: dict[str, dict[str, Any]], profile: str,
                   sets: list[str] | None = None) -> BaseModel:
    """Domain ``name``'s config: ``profiles[profile]`` updated by ``--set`` overrides, validated."""
    if profile not in profiles:
        raise BadInput("--profile", f"unknown profile '{profile}' for {name} "
                                    f"(known: {', '.join(profiles)})")
    return build_config(model, profiles[profile], parse_sets(sets))
