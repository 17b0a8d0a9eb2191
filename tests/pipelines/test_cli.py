"""The CLI's contract: exit codes, one-line errors, nothing that looks complete."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest

from pipelines.cli import main

pytestmark = pytest.mark.prefect


@pytest.fixture(scope="module")
def h5file(tmp_path_factory):
    p = tmp_path_factory.mktemp("data") / "x.h5"
    rng = np.random.default_rng(0)
    with h5py.File(p, "w") as f:
        f["good"] = rng.standard_normal((12, 10, 8))
    return p


# Bad inputs (exit 2, one line, before Prefect, no run directory): test_bad_input.py.


def test_unknown_domain_exits_2(capsys, tmp_path):
    assert main(["run", "geology", "--out", str(tmp_path)]) == 2
    assert "domain 'geology'" in capsys.readouterr().err
    assert not tmp_path.joinpath("geology").exists()


def test_run_prints_dir_last_and_runs_show(prefect_harness, h5file, tmp_path, capsys):
    rc = main(["run", "lowrank", "--out", str(tmp_path), "--data", f"{h5file}:/good",
               "--set", "ranks=[4,4,4]"])
    out = capsys.readouterr().out.strip().splitlines()
    assert rc == 0
    run_dir = Path(out[-1])
    m = json.loads((run_dir / "metrics.json").read_text())
    assert m["status"] == "completed" and m["data"]["synthetic"] is False
    assert m["data"]["sha256"] and len(m["data"]["sha256"]) == 64
    # a random tensor is far from rank 4: the error is large but below 1
    assert 0.3 < m["metrics"]["rel_error"] < 1.0
    assert main(["runs", "show", run_dir.name, "--out", str(tmp_path)]) == 0
    shown = capsys.readouterr().out
    assert "rel_error" in shown and "spectrum.png" in shown
    assert main(["runs", "ls", "--out", str(tmp_path)]) == 0
    assert run_dir.name in capsys.readouterr().out


def test_ctrl_c_exits_130_with_one_line(capsys, monkeypatch):
    def interrupted(args):
        raise KeyboardInterrupt

    monkeypatch.setattr("pipelines.cli._dispatch", interrupted)
    assert main(["runs", "ls"]) == 130
    assert capsys.readouterr().err.strip() == "interrupted"


def test_data_commands(capsys):
    assert main(["data", "ls"]) == 0
    assert "synthetic-tucker" in capsys.readouterr().out
    assert main(["data", "info", "synthetic-tucker"]) == 0
    assert json.loads(capsys.readouterr().out)["generator"] == "domains.lowrank.data:synthetic_tensor"
    capsys.readouterr()
    assert main(["data", "info", "nope"]) == 2
    err = capsys.readouterr().err.strip()  # names what the user typed, not a --dataset they never gave
    assert err.startswith("error: dataset 'nope': unknown dataset") and "--dataset" not in err, err
    assert main(["data", "verify", "nope"]) == 2
    assert "dataset 'nope'" in capsys.readouterr().err
    assert main(["data", "verify"]) == 0


def test_console_script_end_to_end(tmp_path):
    """The installed `lowdim` prints the run directory as its last stdout line."""
    exe = Path(sys.executable).parent / "lowdim"
    res = subprocess.run([str(exe), "run", "lowrank", "--profile", "quick", "--out", str(tmp_path)],
                         capture_output=True, text=True, env=os.environ.copy(), timeout=600)
    assert res.returncode == 0, res.stderr[-2000:]
    last = Path(res.stdout.strip().splitlines()[-1])
    assert last.parent == tmp_path / "lowrank" and last.is_dir()
    m = json.loads((last / "metrics.json").read_text())
    assert m["status"] == "completed" and m["metrics"]["rel_error"] < 1e-5


def test_serve_builds_scheduled_deployments(prefect_harness):
    from pipelines.cli import build_deployments

    deps = build_deployments(["lowrank", "isac"], interval=3600, cron=None, profile="quick", out="runs")
    assert [d.name for d in deps] == ["lowrank-quick", "isac-quick"]
    assert all(d.parameters == {"profile": "quick", "out": "runs"} for d in deps)
    assert deps[0].schedules and deps[0].schedules[0].schedule.interval.total_seconds() == 3600
    with pytest.raises(Exception) as e:
        build_deployments(["lowrank"], interval=None, cron=None, profile="quick", out="runs")
    assert "--interval" in str(e.value)


@pytest.mark.skipif(__import__("torch").cuda.is_available(), reason="a GPU is present")
def test_cuda_without_a_gpu_exits_2_before_any_run(tmp_path, capsys):
    assert main(["run", "lowrank", "--device", "cuda", "--out", str(tmp_path)]) == 2
    assert "--device" in capsys.readouterr().err
    assert not any(tmp_path.iterdir())
