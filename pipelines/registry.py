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
    config: str  # "module:Model" of the config; the module also holds PROFILES
    check: str = ""  # "module:function" of the spec's check in a light module ("": the spec's own)

    def load_spec(self):
        return _load(self.spec)

    def resolve_config(self, profile: str, sets: list[str] | None = None):
        """The validated config, from the light config module only.

        A typo in ``--set`` then fails before the domain's science (torch, MNE,
        scikit-learn: seconds of imports) is loaded.
        """
        from shared.domain import resolve_config

        model = _load(self.config)
        profiles = _load(self.config.split(":")[0] + ":PROFILES")
        return resolve_config(self.name, model, profiles, profile, sets)

    def load_check(self):
        """The domain's ``check(data, dataset, cfg)``, from its light module when it names one.

        The check of ``--data`` runs before Prefect; importing the whole
        domain (torch, scikit-learn, MNE: 3-6 s on a loaded 2-core machine)
        just to read a file's header would make a user's mistake slow.
        ``DomainSpec.check`` is the same function (tested).
        """
        return _load(self.check) if self.check else self.load_spec().check

    def load_flow(self):
        return _load(self.flow)


REGISTRY: dict[str, Entry] = {
    "lowrank": Entry("lowrank", "domains.lowrank:SPEC", "pipelines.lowrank:lowrank_flow",
                     "domains.lowrank.config:LowrankConfig"),
    "isac": Entry("isac", "domains.isac.steps:SPEC", "pipelines.isac:isac_flow",
                  "domains.isac.config:IsacConfig", check="domains.isac.checks:check"),
    "mri": Entry("mri", "domains.mri.steps:SPEC", "pipelines.mri:mri_flow", "domains.mri.config:MriConfig",
                 check="domains.mri.checks:check"),
    "ecog": Entry("ecog", "domains.ecog.steps:SPEC", "pipelines.ecog:ecog_flow",
                  "domains.ecog.config:EcogConfig", check="domains.ecog.io:check_input"),
    "geo": Entry("geo", "domains.geo.steps:SPEC", "pipelines.geo:geo_flow", "domains.geo.config:GeoConfig",
                 check="domains.geo.checks:check"),
}


def get(name: str) -> Entry:
    """The registry entry for ``name``; a BadInput naming it when unknown."""
    if name not in REGISTRY:
        raise BadInput(f"domain '{name}'", f"unknown domain (known: {', '.join(REGISTRY)}, all)")
    return REGISTRY[name]


def _load(ref: str) -> Any:
    mod, attr = ref.split(":")
    return getattr(importlib.import_module(mod), attr)
