"""HDF5 CSI layout: round trip and one BadInput per user mistake."""

import h5py
import numpy as np
import pytest
import torch

from domains.isac.io import REQUIRED_ATTRS, load_csi, write_csi
from domains.isac.physics import OFDMRadar
from shared.errors import BadInput
from shared.manifests import load_manifest

RADAR = OFDMRadar(28e9, 120e3, 4, 6, 5)


def _csi(dtype=np.complex128):
    rng = np.random.default_rng(0)
    return (rng.standard_normal((4, 6, 5)) + 1j * rng.standard_normal((4, 6, 5))).astype(dtype)


def test_round_trip(tmp_path):
    y = _csi()
    p = write_csi(tmp_path / "a.h5", y, RADAR)
    d = load_csi(p)
    assert d.csi.dtype == torch.complex128 and d.csi.shape == (4, 6, 5)
    np.testing.assert_array_equal(d.csi.numpy(), y)
    assert d.radar == RADAR
    assert d.source == str(p)


def test_attrs_on_the_file_root_and_complex64(tmp_path):
    p = tmp_path / "root.h5"
    with h5py.File(p, "w") as fh:
        fh.create_dataset("csi", data=_csi(np.complex64))
        for k in REQUIRED_ATTRS:
            fh.attrs[k] = {"carrier_frequency_hz": 26e9, "subcarrier_spacing_hz": 60e3,
                           "symbol_duration_s": 17.857e-6, "antenna_spacing_wavelengths": 0.5}[k]
        fh.attrs["geometry"] = "one-way"
    d = load_csi(p)
    assert d.radar.geometry == "one-way" and d.radar.carrier_hz == 26e9
    assert d.radar.shape == (4, 6, 5)


def _bad(tmp_path, **kw):
    data = kw.pop("data", _csi())
    return write_csi(tmp_path / "bad.h5", data, RADAR, **kw)


@pytest.mark.parametrize("case, field", [
    ("missing file", "file not found"),
    ("not hdf5", "HDF5"),
    ("missing dataset", "/csi"),
    ("real", "/csi"),
    ("rank", "/csi"),
    ("nan", "/csi"),
] + [(f"attr {a}", f"attrs.{a}") for a in REQUIRED_ATTRS])
def test_bad_input_names_file_and_field(tmp_path, case, field):
    path = tmp_path / "bad.h5"
    if case == "missing file":
        path = tmp_path / "nope.h5"
    elif case == "not hdf5":
        path.write_text("not hdf5")
    elif case == "missing dataset":
        _bad(tmp_path, dataset="other")
    elif case == "real":
        _bad(tmp_path, data=np.ones((4, 6, 5)))
    elif case == "rank":
        _bad(tmp_path, data=_csi()[0])
    elif case == "nan":
        y = _csi()
        y[1, 2, 3] = np.nan
        _bad(tmp_path, data=y)
    else:
        _bad(tmp_path, attrs={case.split()[1]: None})
    with pytest.raises(BadInput) as err:
        load_csi(path)
    msg = str(err.value)
    assert str(path) in msg and field in msg
    assert "\n" not in msg


def test_message_details(tmp_path):
    _bad(tmp_path, data=np.ones((4, 6, 5)))
    with pytest.raises(BadInput, match="complex"):
        load_csi(tmp_path / "bad.h5")
    _bad(tmp_path, data=_csi()[0])
    with pytest.raises(BadInput, match="rank 3"):
        load_csi(tmp_path / "bad.h5")
    _bad(tmp_path, attrs={"subcarrier_spacing_hz": -1.0})
    with pytest.raises(BadInput, match="positive"):
        load_csi(tmp_path / "bad.h5")


@pytest.mark.parametrize("name", ["csi-hdf5", "simulated-default"])
def test_manifests_validate_and_resolve(name):
    from pathlib import Path
    import importlib

    root = Path(__file__).resolve().parents[3] / "data_manifests" / "isac"
    m = load_manifest(root / f"{name}.yaml")
    assert m.domain == "isac"
    entry = m.loader or m.generator
    module, func = entry.split(":")
    assert callable(getattr(importlib.import_module(module), func))
