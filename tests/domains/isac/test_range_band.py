"""The whole non-negative range interval under compression (issue 7, item 1).

A grid at 26 GHz / 60 kHz compressed by averaging (1, 4, 14) keeps 1/4 of
the raw range interval: [0, 625) m monostatic, [0, 1249) m one-way (the
issue's 16 x 180 x 560; the tests use 8 x 180 x 140, which has the same
intervals, for time). Targets near its far edge must come back at their ranges, not
aliased into a symmetric interval, through the flow's own estimators.
"""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import pytest
import torch

from domains.isac.io import write_csi
from domains.isac.physics import OFDMRadar
from domains.isac.simulate import simulate_tensor
from domains.isac.steps import SPEC
from pipelines.cli import main as cli_main
from pipelines.flowkit import call_directly, execute

FACTORS = "factors=[1,4,14]"


def _radar(geometry: str) -> OFDMRadar:
    return OFDMRadar(26e9, 60e3, 8, 180, 140, geometry=geometry)


@pytest.mark.parametrize("geometry, ranges", [("monostatic", [330.0, 400.0, 590.0]),
                                              ("one-way", [700.0, 1180.0, 1210.0])])
def test_far_ranges_come_back_unaliased(tmp_path, geometry, ranges):
    radar = _radar(geometry)
    lim = radar.limits((1, 4, 14))
    assert lim["unambiguous"]["range_m"][0] == 0.0
    assert max(ranges) < lim["unambiguous"]["range_m"][1]
    vmax = lim["unambiguous"]["velocity_mps"][1]
    mu = radar.to_mu(torch.tensor([-20.0, 10.0, 35.0], dtype=torch.float64),
                     torch.tensor(ranges, dtype=torch.float64),
                     torch.tensor([0.3 * vmax, -0.5 * vmax, 0.1 * vmax], dtype=torch.float64))
    gains = torch.tensor([1.0, 0.9j, -0.8], dtype=torch.complex128)
    y = simulate_tensor(mu, gains, radar.shape, 20.0, seed=3)[0]
    f = write_csi(tmp_path / "far.h5", y, radar=radar)
    run_dir, ev = execute(SPEC, call_directly, out=str(tmp_path / "runs"), device="cpu",
                          data=str(f), sets=["n_targets=3", FACTORS, "baselines=[]", "timing_repeats=1"])
    with h5py.File(Path(run_dir) / "results.h5") as h5:
        for name in ("plain", "plain_refined"):
            got = sorted(h5[f"estimates/{name}/physical"][()][:, 1].tolist())
            res = lim["resolution"]["range_m"]
            assert got == pytest.approx(ranges, abs=0.1 * res), name
    m = json.loads((Path(run_dir) / "metrics.json").read_text())
    # the interval the estimator reached is what the report states
    assert m["metrics"]["unambiguous_range_max_m"] == pytest.approx(lim["unambiguous"]["range_m"][1])


def test_an_estimate_next_to_the_band_edge_is_flagged(tmp_path):
    radar = _radar("monostatic")
    hi = radar.limits((1, 4, 14))["unambiguous"]["range_m"][1]
    cell = radar.limits()["resolution"]["range_m"]
    mu = radar.to_mu(torch.tensor([0.0, 30.0], dtype=torch.float64),
                     torch.tensor([200.0, hi - 0.4 * cell], dtype=torch.float64),
                     torch.tensor([0.0, 1.0], dtype=torch.float64))
    y = simulate_tensor(mu, torch.tensor([1.0, 1.0], dtype=torch.complex128), radar.shape, 20.0,
                        seed=1)[0]
    f = write_csi(tmp_path / "edge.h5", y, radar=radar)
    _, ev = execute(SPEC, call_directly, out=str(tmp_path / "runs"), device="cpu", data=str(f),
                    sets=["n_targets=2", FACTORS, "baselines=[]", "refine=false", "timing_repeats=1"])
    assert ev["metrics"]["n_estimates_at_band_edge"] == 1
    assert "edge" in ev["report"] and "range" in ev["report"]


@pytest.mark.parametrize("sets, needle", [
    (["max_range_m=1000"], "factors[1]"),   # default factors (1, 2, 2): 624 m of 1249 m
    (["max_speed_mps=200"], "factors[2]"),  # +-150 m/s after the factor 2
])
def test_a_band_too_short_for_the_setting_is_exit_2_naming_the_factor(tmp_path, capsys, sets, needle):
    args = ["run", "isac", "--out", str(tmp_path / "runs")]
    for s in sets:
        args += ["--set", s]
    assert cli_main(args) == 2
    err = capsys.readouterr().err
    assert needle in err and "lower" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "runs").exists()


def test_a_range_beyond_the_raw_interval_says_no_factor_fits(tmp_path, capsys):
    """1249 m is the raw interval (factor 1): asking for more must not advise a factor of 0."""
    assert cli_main(["run", "isac", "--out", str(tmp_path / "runs"), "--set", "max_range_m=5000"]) == 2
    err = capsys.readouterr().err
    assert "no factor fits" in err and "to 0 or less" not in err and len(err.strip().splitlines()) == 1
