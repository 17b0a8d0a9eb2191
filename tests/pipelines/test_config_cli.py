"""`lowdim config DOMAIN`: every --set key with type, default, profile value and description."""

from __future__ import annotations

import json

import pytest

from pipelines.cli import main
from pipelines.registry import REGISTRY
from shared.config import describe


@pytest.mark.parametrize("domain", list(REGISTRY))
def test_every_field_of_every_domain_has_a_description(domain):
    spec = REGISTRY[domain].load_spec()
    for profile, preset in spec.profiles.items():
        rows = describe(spec.config, preset)
        assert rows and [r["key"] for r in rows if not r["description"].strip()] == [], (domain, profile)


def test_config_lists_every_key_with_profile_values(capsys):
    assert main(["config", "lowrank", "--profile", "full"]) == 0
    out = capsys.readouterr().out
    from domains.lowrank.config import LowrankConfig

    for key in LowrankConfig.model_fields:
        assert any(line.startswith(key + " ") for line in out.splitlines()), key
    line = next(ln for ln in out.splitlines() if ln.startswith("shape "))
    assert "[48, 40, 32]" in line and "[256, 256, 256]" in line and "synthetic tensor shape" in line
    assert main(["config", "lowrank", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert {r["key"]: r["profile"] for r in rows}["energy"] == pytest.approx(1 - 1e-12)


def test_config_sections_are_dotted_keys(capsys):
    """A sectioned domain (every new domain is) lists `section.field` keys that --set accepts."""
    sectioned = [n for n in REGISTRY if any("." in r["key"] for r in describe(REGISTRY[n].load_spec().config))]
    if not sectioned:
        pytest.skip("no sectioned domain registered yet")
    n = sectioned[0]
    spec = REGISTRY[n].load_spec()
    row = next(r for r in describe(spec.config, spec.profiles["quick"]) if "." in r["key"])
    assert main(["config", n]) == 0
    assert row["key"] in capsys.readouterr().out
    value = json.dumps(row["profile"])
    cfg = spec.resolve_config("quick", [f"{row['key']}={value}"])  # the listed key is a valid --set key
    node = cfg
    for part in row["key"].split("."):
        node = getattr(node, part)
    assert node == row["profile"]


def test_config_unknown_domain_exits_2(capsys):
    assert main(["config", "geology"]) == 2
    assert "geology" in capsys.readouterr().err


def test_a_set_keeps_the_other_preset_keys_of_its_section():
    """ecog quick presets several `model.*` keys; `--set model.patience=...` changes only that one."""
    spec = REGISTRY["ecog"].load_spec()
    preset = spec.profiles["quick"]["model"]
    assert len(preset) > 2 and preset["max_epochs"] != 7
    cfg = spec.resolve_config("quick", ["model.max_epochs=7"])
    assert cfg.model.max_epochs == 7
    for key, value in preset.items():
        if key != "max_epochs":
            assert getattr(cfg.model, key) == value, key
