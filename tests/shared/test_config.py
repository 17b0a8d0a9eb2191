from __future__ import annotations

import pytest
from pydantic import BaseModel, ConfigDict, Field

from shared.config import build_config, describe, parse_sets, scope_sets
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


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid")
    epochs: int = Field(default=10, description="training epochs")
    lr: float = Field(default=1e-3, description="learning rate")


class Sectioned(BaseModel):
    model_config = ConfigDict(extra="forbid")
    seed: int = Field(default=0, description="seed")
    model: Model = Model()
    ranks: list[int] | None = Field(default=None, description="ranks")


def test_describe_flattens_sections_with_defaults_and_profile_values():
    rows = {r["key"]: r for r in describe(Sectioned, {"model": {"epochs": 50}})}
    assert list(rows) == ["seed", "model.epochs", "model.lr", "ranks"]
    assert rows["model.epochs"] == {"key": "model.epochs", "type": "int", "default": 10, "profile": 50,
                                    "description": "training epochs"}
    assert rows["model.lr"]["profile"] == rows["model.lr"]["default"] == 1e-3
    assert "list[int]" in rows["ranks"]["type"] and rows["ranks"]["default"] is None


@pytest.mark.parametrize("sets", [["energy=.nan"], ["svd.oversample=.nan"], ["ranks=[1, .nan]"],
                                  # strings pydantic reads as floats: nan, inf, an overflow
                                  ["energy=nan"], ["energy=NaN"], ["energy=inf"], ["energy=1e999"],
                                  ["energy=.inf"], ["ranks=[1, -inf]"]])
def test_nan_is_named_not_a_range_error(sets):
    with pytest.raises(BadInput) as e:
        build_config(Cfg, {}, parse_sets(sets))
    key = sets[0].split("=")[0]
    assert str(e.value).startswith(f"--set {key}") and "NaN" in str(e.value)


def test_scope_sets():
    assert scope_sets(["a.x=1", "b.y.z=2"], ["a", "b"]) == {"a": ["x=1"], "b": ["y.z=2"]}
    for bad in (["x=1"], ["c.x=1"]):
        with pytest.raises(BadInput):
            scope_sets(bad, ["a", "b"])


def test_unknown_nested_key_lists_that_sections_keys():
    from pydantic import BaseModel, ConfigDict

    from shared.config import build_config, parse_sets
    from shared.errors import BadInput

    class Model(BaseModel):
        model_config = ConfigDict(extra="forbid")
        epochs: int = 1
        hidden: int = 8

    class Cfg(BaseModel):
        model_config = ConfigDict(extra="forbid")
        seed_offset: int = 0
        model: Model = Model()

    import pytest

    with pytest.raises(BadInput) as err:
        build_config(Cfg, {}, parse_sets(["model.epoch=3"]))
    msg = str(err.value)
    assert "model.epoch" in msg and "epochs" in msg and "hidden" in msg and "seed_offset" not in msg


def test_error_key_has_no_union_branch_tags():
    from typing import Annotated, Literal

    import pytest
    from pydantic import BaseModel, ConfigDict, Field

    from shared.config import build_config, parse_sets
    from shared.errors import BadInput

    class Model(BaseModel):
        model_config = ConfigDict(extra="forbid")
        k: Annotated[int, Field(ge=1)] | Literal["elbow"] = 3

    class Cfg(BaseModel):
        model_config = ConfigDict(extra="forbid")
        model: Model = Model()

    with pytest.raises(BadInput) as err:
        build_config(Cfg, {}, parse_sets(["model.k=0"]))
    assert str(err.value).startswith("--set model.k:") and "greater than or equal to 1" in str(err.value)


def test_a_set_in_a_section_keeps_that_sections_other_preset_keys():
    # the profile presets `model.epochs`; `--set model.lr=...` must merge into the
    # section, not replace it (which would drop epochs back to its default 10)
    cfg = build_config(Sectioned, {"model": {"epochs": 50, "lr": 0.5}, "seed": 3},
                       parse_sets(["model.lr=0.25"]))
    assert cfg.model.epochs == 50 and cfg.model.lr == 0.25 and cfg.seed == 3
