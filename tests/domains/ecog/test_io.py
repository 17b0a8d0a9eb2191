"""Each loader on small files written in its exact layout; the pickle trust flag."""

from __future__ import annotations

import numpy as np
import pytest

from domains.ecog.config import IngestConfig
from domains.ecog.io import load_participants
from domains.ecog.preprocess import find_cues
from shared.errors import BadInput

from . import layouts


def _events(raw):
    return find_cues(raw)


def test_neuromatch_npz_needs_the_trust_flag(tmp_path):
    f = layouts.write_nma_npz(tmp_path / "motor_imagery.npz", n_subjects=2)
    with pytest.raises(BadInput, match="pickled.*allow_pickle=true"):
        load_participants(str(f), IngestConfig())
    parts = load_participants(str(f), IngestConfig(allow_pickle=True))
    assert [p.pid for p in parts] == ["S00", "S01"]
    assert set(parts[0].raws) == {"movement", "imagery"}
    raw = parts[1].raws["imagery"]
    assert raw.get_channel_types(picks="ecog") == ["ecog"] * 8 and raw.info["sfreq"] == 1000.0
    ev = _events(raw)
    d = layouts.nma_dict(11)
    np.testing.assert_array_equal(ev[:, 0], d["t_on"])
    np.testing.assert_array_equal(ev[:, 2], d["stim_id"])
    # V * scale_uv, in volts
    x = raw.get_data(picks="ecog")[:, :100]
    np.testing.assert_allclose(x, (d["V"][:100].astype(np.float64) * d["scale_uv"]).T * 1e-6, rtol=1e-5)


def test_flat_npz_needs_no_pickle(tmp_path):
    f = layouts.write_flat_npz(tmp_path / "block.npz")
    (p,) = load_participants(str(f), IngestConfig())
    assert len(_events(p.raws["movement"])) == 12


def test_miller_mat(tmp_path):
    f = layouts.write_miller_mat(tmp_path / "bp_im_t_h.mat")
    (p,) = load_participants(str(f), IngestConfig())
    assert p.pid == "bp" and list(p.raws) == ["imagery"]
    raw = p.raws["imagery"]
    ev = _events(raw)
    assert len(ev) == 12 and set(ev[:, 2]) == {11, 12}
    ref = layouts._block(1).get_data(picks="ecog")
    np.testing.assert_allclose(raw.get_data(picks="ecog"), ref, rtol=1e-5, atol=1e-9)  # 0.0298 uV per unit


@pytest.mark.parametrize("writer,name", [(layouts.write_edf, "rec.edf"), (layouts.write_brainvision, "rec.vhdr"),
                                         (layouts.write_fif, "rec_raw.fif")])
def test_mne_readable_formats(tmp_path, writer, name):
    f = writer(tmp_path / name)
    (p,) = load_participants(str(f), IngestConfig())
    raw = p.raws["movement"]
    assert len(raw.copy().pick("ecog").ch_names) == 8
    ev = _events(raw)
    assert len(ev) == 12 and sorted(np.bincount(ev[:, 2])[[11, 12]]) == [6, 6]
    # onsets survive the format (EDF rounds annotation times to its record grid)
    ref = layouts._cues(layouts._block({"rec.edf": 2, "rec.vhdr": 2, "rec_raw.fif": 3}[name]))[0]
    assert np.abs(ev[:, 0] - raw.first_samp - ref).max() <= 1
