"""Every bad input exits 2 with one line naming the file or field, before Prefect starts.

``pipelines.env.configure`` is the CLI's first step towards Prefect (it runs just
before a flow is loaded); here it raises, so a case that reached Prefect fails
with exit code 1 instead of 2. Nothing here needs a Prefect server.
"""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np
import pytest

from pipelines.cli import main, scope_sets
from shared.errors import BadInput


@pytest.fixture(autouse=True)
def no_prefect(monkeypatch):
    def boom(*a, **k):
        raise AssertionError("Prefect would start for this input")

    monkeypatch.setattr("pipelines.env.configure", boom)


@pytest.fixture(scope="module")
def h5file(tmp_path_factory):
    p = tmp_path_factory.mktemp("data") / "x.h5"
    rng = np.random.default_rng(0)
    with h5py.File(p, "w") as f:
        f["good"] = rng.standard_normal((12, 10, 8))
        f["labels"] = np.array([b"a", b"b"])
        f["empty"] = np.zeros((0, 5, 4))
        big = rng.standard_normal((40, 30, 20))
        big[37, 2, 3] = np.nan  # in the last block of a small-block scan
        f["nan"] = big
        f["vector"] = np.arange(5.0)
    (p.parent / "notes.txt").write_text("not hdf5")
    (p.parent / "afile").write_text("x")
    return p


def _cases(h5):
    d = h5.parent
    return {
        "zero-size dim": (["--data", f"{h5}:/empty"], [f"{h5}:/empty", "size 0"]),
        "directory as data": (["--data", str(d)], [str(d), "is a directory"]),
        "missing dataset": (["--data", f"{h5}:/csi"], [f"{h5}:/csi", "no such dataset", "/good"]),
        "missing file": (["--data", f"{d}/nope.h5:/good"], ["nope.h5", "file not found"]),
        "not hdf5": (["--data", str(d / "notes.txt")], ["notes.txt", "not a readable HDF5"]),
        "non-numeric": (["--data", f"{h5}:/labels"], ["labels", "not numeric"]),
        "one mode": (["--data", f"{h5}:/vector"], ["vector", "at least 2"]),
        "nans": (["--data", f"{h5}:/nan"], [f"{h5}:/nan", "NaN", "[37, 2, 3]"]),
        "rank > mode": (["--data", f"{h5}:/good", "--set", "ranks=[13,2,2]"], ["--set ranks", "13"]),
        "two ranks for a matrix": (["--set", "shape=[40,30]", "--set", "true_ranks=[3,3]", "--set", "ranks=[3,5]"],
                                   ["--set ranks", "one rank", "[3, 5]"]),
        "id_mode too large": (["--data", f"{h5}:/good", "--set", "id_mode=7"], ["--set id_mode", "3-way"]),
        "id_mode synthetic": (["--set", "id_mode=3"], ["--set id_mode"]),
        "zero shape": (["--set", "shape=[0,40,32]"], ["--set shape"]),
        "shape without its ranks": (["--set", "shape=[4,4]"], ["--set true_ranks", "2-way"]),
        "shape beyond memory": (["--set", "shape=[20000,20000,20000]", "--set", "true_ranks=[2,2,2]"],
                                ["--set shape", "GiB"]),
        "energy nan": (["--set", "energy=.nan"], ["--set energy", "NaN"]),
        "unknown key": (["--set", "rnaks=[2,2,2]"], ["--set rnaks"]),
        "huge seed": (["--seed", str(10**25)], ["--seed"]),
        "negative seed": (["--seed", "-1"], ["--seed", "-1"]),
        "out under a file": (["--out", str(d / "afile" / "runs")], ["--out", "afile"]),
        "out unwritable": (["--out", "/proc/lowdim-runs"], ["--out", "/proc"]),
        "bad profile": (["--profile", "fast"], ["--profile"]),
        "unknown device": (["--device", "tpu"], ["--device"]),
        "unknown runner": (["--runner", "ray"], ["--runner", "ray"]),
    }


CASES = list(_cases(Path("x.h5")))


@pytest.mark.parametrize("name", CASES)
def test_run_bad_input_exits_2_one_line_no_run_dir(h5file, tmp_path, capsys, name):
    args, needles = _cases(h5file)[name]
    out = ["--out", str(tmp_path / "runs")] if "--out" not in args else []
    rc = main(["run", "lowrank", *out, *args])
    err = capsys.readouterr().err.strip()
    assert rc == 2, (name, err)
    assert len(err.splitlines()) == 1, err
    for n in needles:
        assert n in err, (name, n, err)
    assert "less than or equal" not in err  # energy=.nan used to say so
    if name == "zero shape":
        assert "true_ranks" not in err
    assert not (tmp_path / "runs").exists()  # input never accepted: no run directory


def test_run_all_sets_are_scoped_by_domain(capsys, tmp_path):
    names = ["lowrank", "isac"]
    assert scope_sets(["lowrank.energy=0.5", "isac.n_trials=5", "lowrank.ranks=[2,2]"], names) == {
        "lowrank": ["energy=0.5", "ranks=[2,2]"], "isac": ["n_trials=5"]}
    for sets, needle in [(["energy=0.5"], "--set energy"), (["geo.x=1"], "--set geo.x"),
                         (["isac.n_trails=5"], "--set isac.n_trails")]:
        rc = main(["run", "all", "--out", str(tmp_path), *sum((["--set", s] for s in sets), [])])
        err = capsys.readouterr().err.strip()
        assert rc == 2 and len(err.splitlines()) == 1 and needle in err, (sets, err)
    with pytest.raises(BadInput):
        scope_sets(["noscope=1"], names)


@pytest.mark.parametrize("args, needle", [
    (["--interval", "nan"], "--interval"),
    (["--interval", "-5"], "--interval"),
    (["--interval", "0"], "--interval"),
    (["--cron", "not a cron"], "--cron"),
    ([], "--interval/--cron"),
])
def test_serve_bad_schedule_exits_2(capsys, monkeypatch, args, needle):
    monkeypatch.setattr("pipelines.env.configure", lambda **k: None)  # serve may load Prefect's cron parser
    rc = main(["serve", "lowrank", *args])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and len(err.splitlines()) == 1 and needle in err, err


def test_older_than_units_and_bad_ages():
    from pipelines.cli import parse_age

    assert [parse_age(t) for t in ("90s", "30m", "12h", "7d", "2w", "15", " 1.5H ")] == [
        90, 1800, 43200, 604800, 1209600, 15, 5400]
    for bad in ("", "h", "-1d", "12x", "nan", "infh"):
        with pytest.raises(BadInput, match="--older-than"):
            parse_age(bad)


def test_a_multi_line_message_still_prints_one_line(capsys, monkeypatch):
    err = BadInput("x.h5:/csi", "first line\nsecond line")
    assert str(err) == "x.h5:/csi: first line second line"

    def raise_it(args):
        raise err

    monkeypatch.setattr("pipelines.cli._dispatch", raise_it)
    assert main(["runs", "ls"]) == 2
    assert capsys.readouterr().err == "error: x.h5:/csi: first line second line\n"


def test_argparse_errors_are_one_line_exit_2(capsys):
    assert main(["run"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "domain" in err
    assert main(["frobnicate"]) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1


def _completed(root: Path, run_id: str, metrics: dict | str) -> Path:
    d = root / "lowrank" / run_id
    d.mkdir(parents=True)
    (d / "metrics.json").write_text(metrics if isinstance(metrics, str) else json.dumps(metrics))
    return d


def test_runs_ls_and_show_name_a_broken_metrics_file(tmp_path, capsys):
    from shared.runs import STEPS

    good = {"domain": "lowrank", "run_id": "20261201-000000-aaaaaa", "profile": "quick",
            "device": "cpu", "seed": 0, "status": "completed", "seconds": {s: 0.1 for s in STEPS},
            "data": {"source": "s", "sha256": None, "synthetic": True}, "metrics": {"rel_error": 0.5},
            "baselines": {}, "intrinsic_dimension": {"estimator": "twonn", "value": 2.0}}
    _completed(tmp_path, "20261201-000000-aaaaaa", good)
    trunc = _completed(tmp_path, "20261201-000001-bbbbbb", json.dumps(good)[:40])
    nokeys = _completed(tmp_path, "20261201-000002-cccccc", {"domain": "lowrank"})
    rc = main(["runs", "ls", "--out", str(tmp_path)])
    cap = capsys.readouterr()
    assert rc == 2
    assert "20261201-000000-aaaaaa" in cap.out and "rel_error=0.5" in cap.out  # the others still listed
    assert "20261201-000002-cccccc" in cap.out
    assert str(trunc / "metrics.json") in cap.err and str(nokeys / "metrics.json") in cap.err
    for run_id, path in [("20261201-000001", trunc), ("20261201-000002", nokeys)]:
        assert main(["runs", "show", run_id, "--out", str(tmp_path)]) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and str(path / "metrics.json") in err, err
    assert main(["runs", "show", "20261201-000000", "--out", str(tmp_path)]) == 0


def test_runs_ls_unknown_domain_exits_2(tmp_path, capsys):
    assert main(["runs", "ls", "geology", "--out", str(tmp_path)]) == 2
    assert "geology" in capsys.readouterr().err


def test_data_verify_lists_missing_files_and_exits_2(tmp_path, capsys, monkeypatch):
    from shared.manifests import Manifest

    m = Manifest.model_validate({
        "id": "t-open", "domain": "lowrank", "title": "t", "description": "d", "license": "x",
        "citation": "c", "homepage": None, "access": "open", "format": "hdf5",
        "loader": "domains.lowrank.data:load_h5_tensor",
        "files": [{"name": "a.h5", "url": "https://example.org/a.h5", "sha256": "0" * 64, "bytes": 1},
                  {"name": "b.h5", "url": "https://example.org/b.h5", "sha256": "0" * 64, "bytes": 1}]})
    monkeypatch.setattr("shared.manifests.get_manifest", lambda i, **kw: m)
    (tmp_path / "t-open").mkdir()
    rc = main(["data", "verify", "t-open", "--dir", str(tmp_path)])
    cap = capsys.readouterr()
    assert rc == 2
    assert "a.h5" in cap.err and "b.h5" in cap.err and "missing" in cap.err
    assert len(cap.err.strip().splitlines()) == 1


def test_data_verify_all_skips_datasets_never_downloaded(tmp_path, capsys, monkeypatch):
    from shared.manifests import Manifest

    m = Manifest.model_validate({
        "id": "t-open", "domain": "lowrank", "title": "t", "description": "d", "license": "x",
        "citation": "c", "homepage": None, "access": "open", "format": "hdf5",
        "loader": "domains.lowrank.data:load_h5_tensor",
        "files": [{"name": "a.h5", "url": "https://example.org/a.h5", "sha256": None, "bytes": 1},
                  {"name": "b.h5", "url": "https://example.org/b.h5", "sha256": None, "bytes": 1}]})
    monkeypatch.setattr("shared.manifests.all_manifests", lambda: {"t-open": m})
    assert main(["data", "verify", "--dir", str(tmp_path)]) == 0
    assert "not downloaded" in capsys.readouterr().out
    (tmp_path / "t-open").mkdir()
    (tmp_path / "t-open" / "a.h5").write_bytes(b"x")  # a download that stopped half-way
    assert main(["data", "verify", "--dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "t-open/b.h5" in err and "t-open/a.h5" not in err


def test_bad_lowrank_input_is_rejected_before_torch_is_imported(h5file, tmp_path):
    """Fast rejection: neither Prefect nor torch (seconds to import under load) is loaded."""
    import subprocess
    import sys

    code = ("import sys; from pipelines.cli import main; "
            f"rc = main(['run', 'lowrank', '--data', {str(h5file) + ':/nan'!r}, '--out', {str(tmp_path)!r}]); "
            "print(rc, sorted(m for m in ('torch', 'prefect') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.stdout.strip() == "2 []", out.stdout + out.stderr
    assert "NaN" in out.stderr


def test_registry_config_is_the_specs_and_a_typo_needs_no_science_imports(tmp_path):
    """The CLI validates --set from each domain's light config module (no torch/MNE imports)."""
    import subprocess
    import sys

    from pipelines.registry import REGISTRY

    for name, entry in REGISTRY.items():
        spec = entry.load_spec()
        assert entry.load_check() is spec.check, name  # the CLI's light check is the spec's own
        assert entry.resolve_config("quick").model_dump() == spec.resolve_config("quick").model_dump(), name
        assert type(entry.resolve_config("full")) is spec.config, name
    for name in REGISTRY:  # every domain: a typo costs no torch, MNE, rasterio or Prefect import
        code = ("import sys\nfrom pipelines.cli import main\n"
                f"rc = main(['run', {name!r}, '--set', 'model.bogus=1'])\n"
                "heavy = sorted(m for m in ('torch', 'mne', 'rasterio', 'prefect', 'tensorly') if m in sys.modules)\n"
                "print(rc, heavy)\n")
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
        assert out.stdout.strip() == "2 []", (name, out.stdout, out.stderr)
    import h5py
    import numpy as np

    bad_npz = tmp_path / "bad.npz"  # header-level data errors: the light checks alone, no torch
    bad_npz.write_text("not a zip archive")
    real_csi = tmp_path / "real.h5"
    with h5py.File(real_csi, "w") as fh:
        fh["csi"] = np.ones((4, 8, 8), np.float32)
    real_kspace = tmp_path / "real_kspace.h5"  # fastMRI k-space must be complex
    with h5py.File(real_kspace, "w") as fh:
        fh["kspace"] = np.ones((2, 4, 16, 16), np.float32)
    from domains.isac.io import write_csi
    from domains.isac.scenarios import get_scenario
    from domains.isac.simulate import simulate_tensor

    sc = get_scenario("default")  # a sound CSI file: its radar, not the file, is what the settings miss
    good_csi = write_csi(tmp_path / "good.h5", simulate_tensor(sc.mu, sc.targets.gains, sc.radar.shape, 20.0,
                                                               seed=0)[0], radar=sc.radar)
    cases = [("ecog", ["--data", str(bad_npz)], "bad.npz"), ("isac", ["--data", str(real_csi)], "complex"),
             ("mri", ["--data", str(real_kspace)], "complex"),
             # errors that need the radar model: checked on the torch-free geometry (isac.radar, isac.layouts)
             ("isac", ["--set", "factors=[1,4,99]"], "compression.factors[2]"),
             ("isac", ["--set", "max_range_m=100000"], "compression.factors[1]"),
             ("isac", ["--set", "scenario=plain-demo", "--set", "n_targets=200"], "n_targets"),
             ("isac", ["--dataset", "simulated-default", "--set", "factors=[1,64,1]"], "compression.factors[1]"),
             ("isac", ["--data", str(good_csi), "--set", "factors=[1,200,1]"], "compression.factors[1]")]
    for name, args, needle in cases:
        code = ("import sys\nfrom pipelines.cli import main\n"
                f"rc = main(['run', {name!r}, *{args!r}, '--out', {str(tmp_path)!r}])\n"
                "print(rc, sorted(m for m in ('torch', 'prefect') if m in sys.modules))\n")
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
        assert out.stdout.strip() == "2 []", (name, args, out.stdout + out.stderr)
        assert needle in out.stderr and len(out.stderr.strip().splitlines()) == 1, (args, out.stderr)
