"""The isac steps end to end without Prefect, and the CLI's bad-input contract."""

from __future__ import annotations

import json
import math
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch

from domains.isac.io import write_csi
from domains.isac.metrics import match
from domains.isac.scenarios import get_scenario
from domains.isac.simulate import simulate_tensor
from domains.isac.steps import SPEC
from pipelines.flowkit import call_directly, execute
from shared.errors import BadInput
from shared.runs import list_runs

SMALL = ["snr_db=[-5,20]", "n_trials=3", "esprit_trials=1", "scaling_sizes=[32]", "esprit_max_size=16",
         "timing_repeats=1", "baselines=[fft3d,sequential]"]
CELLS = torch.tensor([2 * math.pi / n for n in (16, 128, 64)], dtype=torch.float64)


def test_simulated_run_meets_crb_and_writes_outputs(tmp_path):
    run_dir, ev = execute(SPEC, call_directly, out=str(tmp_path), device="cpu", seed=1, sets=SMALL)
    m = json.loads((Path(run_dir) / "metrics.json").read_text())
    met = m["metrics"]
    assert met["p_success"] == 1.0 and met["mean_false_targets"] == 0.0
    assert met["n_failed_trials"] == 0 and met["n_batch_fallbacks"] == 0  # PLAIN's batch form ran clean
    assert "Estimator failures" not in ev["report"]
    for d in ("angle", "range", "velocity"):
        assert met[f"rmse_over_crb_{d}"] < 2.0, d
        # both bounds are reported; the tied one (the model PLAIN fits) is the lower
        assert met[f"crb_tied_{d}_{'mps' if d == 'velocity' else 'deg' if d == 'angle' else 'm'}"] < \
            met[f"crb_{d}_{'mps' if d == 'velocity' else 'deg' if d == 'angle' else 'm'}"]
    # the FFT periodogram sits on its grid/resolution floor, far above the CRB at 20 dB
    assert m["baselines"]["fft3d"]["rmse_over_crb_range"] > 3.0
    # 4 targets, though no mode has more than 3 distinct frequencies
    assert m["intrinsic_dimension"]["value"] == 4
    assert max(met[f"model_order_mode_{i}"] for i in range(3)) == 3
    assert met["snr_threshold_db_plain"] <= 20.0
    assert "threshold" in ev["report"] and "tied" in ev["report"]
    with h5py.File(Path(run_dir) / "results.h5") as h5:
        assert h5["truth/physical"].shape == (4, 3)
        assert h5["estimates/plain/physical"].attrs["unit"] == "deg,m,m/s"
        assert h5["reduce/compressed_csi"].shape == (16, 64, 32)
    figs = {p.name for p in (Path(run_dir) / "figures").glob("*.png")}
    assert figs == {"rmse_vs_snr.png", "runtime_vs_size.png", "range_doppler.png"}
    assert "| plain |" in ev["report"] and "CRB" in ev["report"]


def _csi_file(tmp_path, **attrs):
    sc = get_scenario("default")
    y = simulate_tensor(sc.mu, sc.targets.gains, sc.radar.shape, 20.0, seed=0)[0]
    return write_csi(tmp_path / "csi.h5", y, radar=sc.radar, attrs=attrs or None), sc


def test_measured_csi_run_detects_the_targets(tmp_path):
    f, sc = _csi_file(tmp_path)
    run_dir, ev = execute(SPEC, call_directly, out=str(tmp_path / "runs"), device="cpu", data=str(f),
                          sets=["n_targets=4", "baselines=[fft3d]"])
    m = json.loads((Path(run_dir) / "metrics.json").read_text())
    assert m["data"]["synthetic"] is False and len(m["data"]["sha256"]) == 64
    assert m["metrics"]["n_targets_detected"] == 4
    with h5py.File(Path(run_dir) / "results.h5") as h5:
        est = torch.from_numpy(h5["estimates/plain_refined/mu"][()])
        std = h5["estimates/plain_refined/std_physical"][()]
    # one-to-one, wrapped, per parameter: every target within a tenth of a cell
    mt = match(est, sc.mu, scale=CELLS, gate=0.5)
    assert mt.n_misses == 0 and mt.n_false == 0
    assert bool(((mt.errors.abs() / CELLS) < 0.1).all())
    # measured CSI gets standard errors, in the report too
    assert std.shape == (4, 3) and (std > 0).all()
    assert "+-" in m_report(run_dir)


@pytest.mark.parametrize("make, sets, needle", [
    (lambda y: y.real, [], "complex"),
    (lambda y: y[0], [], "rank 3"),
    (lambda y: np.where(np.arange(y.size).reshape(y.shape) == 5, np.nan, y), [], "NaN"),
    (lambda y: y, ["n_targets=16"], "n_targets"),
    (lambda y: y, ["n_targets=4", "factors=[1,64,2]"], "factor"),
])
def test_bad_csi_is_rejected_before_a_run_starts(tmp_path, make, sets, needle):
    f, sc = _csi_file(tmp_path)
    with h5py.File(f, "a") as h5:
        y = h5["csi"][()]
        attrs = dict(h5["csi"].attrs)
        del h5["csi"]
        h5["csi"] = make(y)
        h5["csi"].attrs.update(attrs)
    with pytest.raises(BadInput) as e:
        execute(SPEC, call_directly, out=str(tmp_path / "runs"), device="cpu", data=str(f), sets=sets)
    assert needle.lower() in str(e.value).lower() and "\n" not in str(e.value)
    assert str(f) in str(e.value) or needle in ("n_targets", "factor")
    # SPEC.check rejects it before any run directory exists
    assert list_runs(tmp_path / "runs") == []


def test_missing_attribute_names_the_field(tmp_path):
    f, _ = _csi_file(tmp_path, carrier_frequency_hz=None)
    with pytest.raises(BadInput) as e:
        execute(SPEC, call_directly, out=str(tmp_path / "runs"), device="cpu", data=str(f))
    assert "carrier_frequency_hz" in str(e.value) and str(f) in str(e.value)


def m_report(run_dir) -> str:
    return (Path(run_dir) / "report.md").read_text()
