"""``SPEC.check``: bad ISAC input is exit 2 before Prefect, with no run directory (issue 8)."""

from __future__ import annotations

import h5py
import numpy as np
import pytest

from domains.isac.io import write_csi
from domains.isac.physics import OFDMRadar
from pipelines.cli import main as cli_main

RADAR = OFDMRadar(28e9, 120e3, 8, 16, 12)


def _write(path, data=None, **attrs):
    if data is None:
        rng = np.random.default_rng(0)
        data = rng.standard_normal((8, 16, 12)) + 1j * rng.standard_normal((8, 16, 12))
    return write_csi(path, data, RADAR, attrs=attrs or None)


def _run(tmp_path, data, *sets):
    args = ["run", "isac", "--data", data, "--out", str(tmp_path / "runs")]
    for s in sets:
        args += ["--set", s]
    return cli_main(args)


def _cases(tmp_path):
    f = tmp_path / "csi.h5"
    zero = tmp_path / "zero.h5"
    with h5py.File(zero, "w") as fh:
        ds = fh.create_dataset("csi", shape=(8, 0, 12), dtype=np.complex128)
        for k, v in {"carrier_frequency_hz": 28e9, "subcarrier_spacing_hz": 120e3,
                     "symbol_duration_s": 8.93e-6, "antenna_spacing_wavelengths": 0.5}.items():
            ds.attrs[k] = v
    nan = _write(tmp_path / "nan.h5", data=np.where(np.arange(8 * 16 * 12).reshape(8, 16, 12) == 77,
                                                     np.nan, 1.0 + 0j))
    return {
        "str attr": (_write(f, cp_duration_s="abc"), [], "csi.h5:/csi.attrs.cp_duration_s"),
        "bytes attr": (_write(tmp_path / "b.h5", carrier_frequency_hz=np.bytes_(b"28e9x")), [],
                       "b.h5:/csi.attrs.carrier_frequency_hz"),
        "negative cp": (_write(tmp_path / "c.h5", cp_duration_s=-1.0), [],
                        "c.h5:/csi.attrs.cp_duration_s"),
        "zero dim": (zero, [], "zero.h5:/csi"),
        "nan": (nan, [], "nan.h5:/csi"),
        "real": (_write(tmp_path / "r.h5", data=np.ones((8, 16, 12))), [], "r.h5:/csi"),
        "rank": (_write(tmp_path / "k.h5", data=np.ones((8, 16), complex)), [], "k.h5:/csi"),
        "no dataset": (f"{_write(tmp_path / 'd.h5')}:/other", [], "d.h5:/other"),
        "not hdf5": (tmp_path / "x.h5", [], "x.h5"),
        "band": (_write(tmp_path / "e.h5"), ["max_range_m=1000", "factors=[1,2,1]"], "factors[1]"),
    }


@pytest.mark.parametrize("case", ["str attr", "bytes attr", "negative cp", "zero dim", "nan", "real",
                                  "rank", "no dataset", "not hdf5", "band"])
def test_bad_data_is_exit_2_naming_file_and_field_with_no_run_dir(tmp_path, capsys, case):
    (tmp_path / "x.h5").write_text("not hdf5")
    data, sets, needle = _cases(tmp_path)[case]
    assert _run(tmp_path, str(data), *sets) == 2
    err = capsys.readouterr().err.strip()
    assert needle in err and len(err.splitlines()) == 1, err
    assert not (tmp_path / "runs").exists()


def test_the_dataset_suffix_is_understood(tmp_path):
    from domains.isac.io import check_csi

    f = _write(tmp_path / "ok.h5")
    info = check_csi(f"{f}:/csi")
    assert info["shape"] == (8, 16, 12) and info["radar"].shape == (8, 16, 12)


def test_a_dataset_that_is_not_an_isac_manifest_is_exit_2(tmp_path, capsys):
    assert cli_main(["run", "isac", "--dataset", "csi-hdf5", "--out", str(tmp_path / "runs")]) == 2
    assert "csi-hdf5" in capsys.readouterr().err
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize("sets, needle", [
    (["known_order=false", "n_targets=20"], "--set n_targets"),  # 16 antennas resolve at most 15
    (["scaling_sizes=[1]"], "scaling_sizes"),
    (["scaling_sizes=[-5]"], "scaling_sizes"),
])
def test_simulated_settings_are_checked_before_prefect(tmp_path, capsys, sets, needle):
    """These failed after Prefect (exit 2 with a .failed run, or exit 1 for a negative size)."""
    args = ["run", "isac", "--out", str(tmp_path / "runs")]
    for s in sets:
        args += ["--set", s]
    assert cli_main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and needle in err[0], err
    assert not (tmp_path / "runs").exists()
