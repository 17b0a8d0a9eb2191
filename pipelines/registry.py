"""The explicit registry: domain name -> science spec and Prefect flow.

Entries are import strings, so listing domains or validating a config never
imports Prefect or a domain's heavy libraries.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any

from shared.errors import BadInput


@dataclass(frozen=True)
class Entry:
    name: str
    spec: str  # "module:attribute" of the DomainSpec
    flow: str  # "module:attribute" of the Prefect flow

    def load_spec(self):
        return _load(self.spec)

    def load_flow(self):
        return _load(self.flow)


REGISTRY: dict[str, Entry] = {
    "lowrank": Entry("lowrank", "domains.lowrank:SPEC", "pipelines.lowrank:lowrank_flow"),
    "isac": Entry("isac", "domains.isac.steps:SPEC", "pipelines.isac:isac_flow"),
    "mri": Entry("mri", "domains.mri.steps:SPEC", "pipelines.mri:mri_flow"),
    "ecog": Entry("ecog", "domains.ecog.steps:SPEC", "pipelines.ecog:ecog_flow"),
    "geo": Entry("geo", "domains.geo.steps:SPEC", "pipelines.geo:geo_flow"),
}


def get(name: str) -> Entry:
    """The registry entry for ``name``; a BadInput naming it when unknown."""
    if name not in REGISTRY:
        raise BadInput(f"domain '{name}'", f"unknown domain (known: {', '.join(REGISTRY)}, all)")
    return REGISTRY[name]


def _load(ref: str) -> Any:
    mod, attr = ref.split(":")
    return getattr(importlib.import_module(mod), attr)
