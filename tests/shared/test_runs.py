from __future__ import annotations

import json

import h5py
import numpy as np
import pytest

from shared.runs import (STEPS, complete_run, fail_run, find_run, list_runs, load_run, start_run,
                         write_array)


def _payload(**over):
    p = {"seconds": {s: 0.1 for s in STEPS},
         "data": {"source": "synthetic", "sha256": None, "synthetic": True},
         "metrics": {"rel_error": 1e-9}, "baselines": {"b": {"rel_error": 2e-9}},
         "intrinsic_dimension": {"estimator": "twonn", "value": 5.0}}
    p.update(over)
    return p


def _start(tmp_path):
    return start_run(tmp_path, "lowrank", profile="quick", device="cpu", seed=3, config={"a": 1})


def test_complete_run_renames_partial_and_writes_schema(tmp_path):
    ctx = _start(tmp_path)
    assert ctx.run_dir.endswith(".partial")
    assert json.loads(ctx.path("config.json").read_text())["config"] == {"a": 1}
    final = complete_run(ctx, _payload(), "# report")
    assert final.name == ctx.run_id and not (tmp_path / "lowrank" / f"{ctx.run_id}.partial").exists()
    m = json.loads((final / "metrics.json").read_text())
    assert m["status"] == "completed" and m["seed"] == 3 and m["metrics"]["rel_error"] == 1e-9
    assert (final / "report.md").read_text() == "# report"


def test_failed_run_is_marked_and_never_complete(tmp_path):
    ctx = _start(tmp_path)
    ctx.path("metrics.json").write_text("{}")  # a half-written result must not survive
    try:
        raise RuntimeError("boom")
    except RuntimeError as e:
        failed = fail_run(ctx, e)
    assert failed.name == f"{ctx.run_id}.failed"
    assert "RuntimeError: boom" in (failed / "error.txt").read_text()
    assert not (failed / "metrics.json").exists()
    assert [r.status for r in list_runs(tmp_path)] == ["failed"]


@pytest.mark.parametrize("bad", [
    {"seconds": {"ingest": 1.0}},                       # a step timing missing
    {"metrics": {"Rel Error": 1.0}},                     # not snake_case
    {"metrics": {"rel_error": float("nan")}},            # not finite
    {"data": {"source": "x", "synthetic": True, "extra": 1}},
])
def test_invalid_metrics_leave_run_partial(tmp_path, bad):
    ctx = _start(tmp_path)
    with pytest.raises(ValueError):
        complete_run(ctx, _payload(**bad), "r")
    assert [r.status for r in list_runs(tmp_path)] == ["partial"]


def test_reader_lists_and_loads(tmp_path):
    a = complete_run(_start(tmp_path), _payload(), "r")
    b = _start(tmp_path)
    runs = list_runs(tmp_path)
    assert {r.status for r in runs} == {"completed", "partial"}
    info = find_run(tmp_path, a.name[:20])
    assert info is not None and info.status == "completed"
    rec = load_run(info)
    assert rec["metrics"]["domain"] == "lowrank" and rec["report"] == "r"
    assert find_run(tmp_path, "nonexistent") is None
    assert list_runs(tmp_path, "other") == [] and b.run_id in {r.run_id for r in runs}


def test_write_array_keeps_unit(tmp_path):
    with h5py.File(tmp_path / "r.h5", "w") as h5:
        write_array(h5, "g/x", np.arange(3.0), unit="m", note="n")
    with h5py.File(tmp_path / "r.h5") as h5:
        assert h5["g/x"].attrs["unit"] == "m" and list(h5["g/x"][()]) == [0, 1, 2]
