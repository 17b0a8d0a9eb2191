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


def test_a_failure_names_files_inside_the_run_where_they_end_up(tmp_path):
    """A BadInput about a file the run wrote (inputs/...) names the .failed path, not the vanished .partial."""
    from shared.errors import BadInput

    ctx = _start(tmp_path)
    inner = ctx.path("inputs") / "MTD_MSIL2A.xml"
    err = BadInput(str(inner), f"no offsets in {inner}")
    failed = fail_run(ctx, err)
    assert str(err) == f"{failed / 'inputs' / 'MTD_MSIL2A.xml'}: no offsets in {failed / 'inputs' / 'MTD_MSIL2A.xml'}"
    assert ".partial" not in str(err) and ".partial" not in (failed / "error.txt").read_text()


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


def _dead_pid() -> int:
    import subprocess
    import sys

    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


def test_partial_of_a_dead_process_is_interrupted_and_clean_removes_it(tmp_path):
    import socket

    from shared.runs import OWNER, clean_runs

    live = _start(tmp_path)
    owner = json.loads(live.path(OWNER).read_text())
    assert owner["pid"] == __import__("os").getpid() and owner["host"] == socket.gethostname()
    dead = _start(tmp_path)
    dead.path(OWNER).write_text(json.dumps({**owner, "pid": _dead_pid()}))
    elsewhere = _start(tmp_path)
    elsewhere.path(OWNER).write_text(json.dumps({**owner, "pid": _dead_pid(), "host": "other-host"}))
    failed = _start(tmp_path)
    fail_run(failed, RuntimeError("x"))
    done = complete_run(_start(tmp_path), _payload(), "r")
    assert not (done / OWNER).exists()
    status = {r.run_id: r.status for r in list_runs(tmp_path)}
    assert status == {live.run_id: "partial", dead.run_id: "interrupted", elsewhere.run_id: "partial",
                      failed.run_id: "failed", done.name: "completed"}
    assert clean_runs(tmp_path, older_than_s=3600) == []  # all started just now
    gone = clean_runs(tmp_path)
    assert sorted(r.run_id for r in gone) == sorted([dead.run_id, failed.run_id])
    assert {r.run_id for r in list_runs(tmp_path)} == {live.run_id, elsewhere.run_id, done.name}


def test_a_signal_during_execute_marks_the_run_failed(tmp_path):
    """Library mode (no CLI): SIGINT raises Interrupted after the run was marked failed."""
    import os
    import signal

    from domains.lowrank import SPEC
    from pipelines.flowkit import call_directly, execute
    from shared.interrupts import Interrupted

    def ingest(ctx, prev):
        os.kill(os.getpid(), signal.SIGINT)
        raise AssertionError("the signal did not stop the step")

    spec = __import__("dataclasses").replace(SPEC, ingest=ingest)
    before = signal.getsignal(signal.SIGINT)
    with pytest.raises(Interrupted) as e:
        execute(spec, call_directly, out=str(tmp_path), device="cpu")
    assert e.value.exit_code == 130
    assert signal.getsignal(signal.SIGINT) is before  # the previous handler is back
    (run,) = list_runs(tmp_path)
    assert run.status == "failed" and "interrupted by SIGINT" in (run.path / "error.txt").read_text()


@pytest.mark.parametrize("broken, needle", [('{"domain": "lowrank", "run', "not valid JSON"),
                                            ('{"domain": "lowrank"}', "missing key")])
def test_load_run_names_a_broken_metrics_file(tmp_path, broken, needle):
    from shared.errors import BadInput

    d = complete_run(_start(tmp_path), _payload(), "r")
    (d / "metrics.json").write_text(broken)
    with pytest.raises(BadInput) as e:
        load_run(find_run(tmp_path, d.name))
    assert str(e.value).startswith(str(d / "metrics.json")) and needle in str(e.value)
