"""Real signals to real ``lowdim`` processes: a run stops, says so, and leaves nothing behind.

One scenario per process, all started at once so that their Prefect start-ups
(10-40 s each in ephemeral mode) overlap:

- SIGINT to the process group (what Ctrl-C in a terminal sends, so the temporary
  Prefect server gets it too) and SIGTERM to the CLI alone, during a run: exit 130 / 143, ``<run_id>.failed/
  error.txt`` saying interrupted, one stderr line, no traceback or Prefect text,
  and the temporary Prefect server (a child process) gone;
- SIGKILL during a run: the server does not outlive the CLI, ``runs ls`` calls
  the run ``interrupted``, ``runs clean`` removes it and says so;
- ``lowdim serve`` stops on SIGINT.

The runs use a 300^3 tensor with HOOI, far more work than the few seconds the
test waits before signalling, so the signal always lands mid-run.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from pipelines.cli import main

pytestmark = pytest.mark.prefect

LOWDIM = str(Path(sys.executable).parent / "lowdim")
BIG = ["--device", "cpu", "--set", "shape=[300,300,300]", "--set", "true_ranks=[8,8,8]",
       "--set", "algorithm=hooi", "--set", "noise=0.01"]
START_TIMEOUT_S = 240  # Prefect's temporary server on a loaded 2-core machine
STOP_TIMEOUT_S = 30


class Proc:
    def __init__(self, tmp: Path, name: str, args: list[str]):
        self.dir = tmp / name
        self.dir.mkdir()
        self.out = self.dir / "runs"
        self.stdout, self.stderr = self.dir / "stdout", self.dir / "stderr"
        # its own Prefect home: four first-time servers migrating one database would race
        env = {**os.environ, "PREFECT_HOME": str(self.dir / "prefect-home")}
        with open(self.stdout, "w") as o, open(self.stderr, "w") as e:
            # own session and process group, like a shell job: pytest never gets the signals
            self.p = subprocess.Popen([LOWDIM, *args, "--out", str(self.out)], stdout=o, stderr=e,
                                      env=env, start_new_session=True)
        self.children: list[psutil.Process] = []

    def partial(self) -> Path | None:
        hits = list((self.out / "lowrank").glob("*.partial")) if (self.out / "lowrank").is_dir() else []
        return hits[0] if hits else None

    def err(self) -> str:
        return self.stderr.read_text()

    def snapshot_children(self) -> None:
        self.children = psutil.Process(self.p.pid).children(recursive=True)


def _wait(pred, timeout: float, what: str):
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        v = pred()
        if v:
            return v
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def _gone(procs: list[psutil.Process], timeout: float = 15.0) -> list[psutil.Process]:
    _, alive = psutil.wait_procs(procs, timeout=timeout)
    return alive


@pytest.fixture(scope="module")
def scenarios(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("signals")
    procs = {"int": Proc(tmp, "int", ["run", "lowrank", *BIG]),
             "term": Proc(tmp, "term", ["run", "lowrank", *BIG]),
             "kill": Proc(tmp, "kill", ["run", "lowrank", *BIG]),
             "serve": Proc(tmp, "serve", ["serve", "lowrank", "--interval", "3600"])}
    signals = {"int": signal.SIGINT, "term": signal.SIGTERM, "kill": signal.SIGKILL}
    sent: dict[str, float] = {}
    try:
        pending = set(signals)
        serve_pending = True
        t0 = time.monotonic()
        while (pending or serve_pending) and time.monotonic() - t0 < START_TIMEOUT_S:
            for k in list(pending):
                pr = procs[k]
                assert pr.p.poll() is None, (k, pr.err()[-2000:])
                part = pr.partial()
                # results.h5 exists once ingest wrote the tensor: the run is mid-way
                if part is not None and (part / "results.h5").exists():
                    pr.snapshot_children()
                    if k == "int":  # Ctrl-C in a terminal: the whole foreground process group
                        os.killpg(pr.p.pid, signals[k])
                    else:
                        os.kill(pr.p.pid, signals[k])
                    sent[k] = time.monotonic()
                    pending.discard(k)
            srv = procs["serve"]
            if serve_pending and "serving" in srv.err():
                _wait(lambda: psutil.Process(srv.p.pid).children(), 60, "serve's Prefect server")
                time.sleep(3)  # let the runner start polling
                srv.snapshot_children()
                os.kill(srv.p.pid, signal.SIGINT)
                sent["serve"] = time.monotonic()
                serve_pending = False
            time.sleep(0.2)
        assert not pending and not serve_pending, f"not started in time: {pending}, serve {serve_pending}"
        for k, pr in procs.items():
            pr.rc = pr.p.wait(timeout=STOP_TIMEOUT_S)
        yield procs
    finally:
        for pr in procs.values():
            if pr.p.poll() is None:
                pr.p.kill()
            for c in pr.children:
                try:
                    c.kill()
                except psutil.Error:
                    pass


@pytest.mark.parametrize("key, code, name", [("int", 130, "SIGINT"), ("term", 143, "SIGTERM")])
def test_signal_stops_run_marks_it_failed_and_exits_128_plus_n(scenarios, key, code, name):
    pr = scenarios[key]
    assert pr.rc == code, pr.err()[-2000:]
    failed = list((pr.out / "lowrank").glob("*.failed"))
    assert len(failed) == 1 and not list((pr.out / "lowrank").glob("*.partial"))
    assert f"interrupted by {name}" in (failed[0] / "error.txt").read_text()
    assert not (failed[0] / "metrics.json").exists()
    err = pr.err().strip()
    assert len(err.splitlines()) == 1 and f"interrupted by {name}" in err and str(failed[0]) in err, err
    assert "Traceback" not in err and "prefect" not in err.lower()
    assert pr.children, "the run had no Prefect server child to check"
    assert _gone(pr.children) == [], "a child (the temporary Prefect server) outlived the CLI"


def test_sigkill_leaves_no_server_and_an_interrupted_run_that_clean_removes(scenarios, capsys):
    pr = scenarios["kill"]
    assert pr.rc == -signal.SIGKILL
    assert pr.children and _gone(pr.children) == [], "the temporary Prefect server outlived the CLI"
    part = pr.partial()
    assert part is not None and (part / "owner.json").is_file()
    assert main(["runs", "ls", "--out", str(pr.out)]) == 0
    row = [ln for ln in capsys.readouterr().out.splitlines() if part.name[:-len(".partial")] in ln]
    assert row and "interrupted" in row[0]
    assert main(["runs", "clean", "--out", str(pr.out), "--older-than", "1d"]) == 0
    assert "nothing to clean" in capsys.readouterr().out and part.exists()
    assert main(["runs", "clean", "--out", str(pr.out)]) == 0
    out = capsys.readouterr().out
    assert str(part) in out and "interrupted" in out and not part.exists()


def test_serve_stops_on_sigint(scenarios):
    pr = scenarios["serve"]
    assert pr.rc == 130, pr.err()[-2000:]
    assert "Traceback" not in pr.err()
    assert _gone(pr.children) == []
