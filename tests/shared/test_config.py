from __future__ import annotations

import pytest
from pydantic import BaseModel, ConfigDict

from shared.config import build_config, parse_sets
from shared.errors import BadInput


class Inner(BaseModel):
    model_config = ConfigDict(extra="forbid")
    oversample: int = 10


class Cfg(BaseModel):
    model_config = ConfigDict(extra="forbid")
    ranks: list[int] | None = None
    energy: float = 0.9
    svd: Inner = Inner()


def test_parse_sets_yaml_values_and_nesting():
    assert parse_sets(["ranks=[8, 4]", "svd.oversample=12", "energy=0.5"]) == {
        "ranks": [8, 4], "svd": {"oversample": 12}, "energy": 0.5}


def test_overrides_apply_over_preset():
    cfg = build_config(Cfg, {"energy": 0.99}, parse_sets(["svd.oversample=3"]))
    assert cfg.energy == 0.99 and cfg.svd.oversample == 3 and cfg.ranks is None


@pytest.mark.parametrize("sets, where", [
    (["rnaks=[1]"], "--set rnaks"),
    (["svd.power=2"], "--set svd.power"),
    (["energy=abc"], "--set energy"),
    (["novalue"], "--set novalue"),
])
def test_bad_overrides_name_the_key(sets, where):
    with pytest.raises(BadInput) as e:
        build_config(Cfg, {}, parse_sets(sets))
    assert str(e.value).startswith(where) and "\n" not in str(e.value)
