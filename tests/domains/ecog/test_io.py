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


def test_epoch_spacing_is_judged_at_the_closest_cues():
    """Uneven cue spacing: the closest pair decides (one sample of slack for EDF's rounding)."""
    from domains.ecog.io import check_epoch_spacing

    on = np.array([0, 2000, 2500, 5000])  # 2 s, 0.5 s, 2.5 s apart at 1000 Hz
    check_epoch_spacing("x", on, 1000.0, 0.5)
    check_epoch_spacing("x", on, 1000.0, 0.501)  # 501 samples: the one sample of slack
    with pytest.raises(BadInput, match="0.5 s apart at the closest"):
        check_epoch_spacing("x", on, 1000.0, 0.6)


def test_movement_vs_imagery_needs_blocks_with_the_same_electrodes():
    from domains.ecog.io import _check_tasks

    _check_tasks("x.npz:S00", {"movement": 8, "imagery": 8}, ["movement_vs_imagery"])
    with pytest.raises(BadInput, match="x.npz:S00.*same channels"):
        _check_tasks("x.npz:S00", {"movement": 8, "imagery": 6}, ["movement_vs_imagery"])
    _check_tasks("x.npz:S00", {"movement": 8, "imagery": 6}, ["hand_vs_tongue", "movement_vs_imagery"])


def test_a_cue_onset_at_the_sample_count_is_outside_V():
    """t_on are 0-based sample indices: t_on == len(V) is one past the last sample."""
    from domains.ecog.io import _check_npz_record

    d = layouts.nma_dict(0)
    n = len(d["V"])
    d["t_on"] = d["t_on"].copy()
    d["t_on"][-1] = n - 1
    assert _check_npz_record("b.npz:b/movement", d, (70.0, 150.0)) == 1000.0
    d["t_on"][-1] = n
    with pytest.raises(BadInput, match=rf"b\.npz:b/movement:t_on.*outside V's {n} samples"):
        _check_npz_record("b.npz:b/movement", d, (70.0, 150.0))



def test_miller_cue_onsets_are_the_first_samples_of_each_cue(tmp_path):
    """The header check's cues of a Miller ``stim`` vector: onset = first sample of each cue, with its code."""
    from domains.ecog.io import _mat_cues

    f = layouts.write_miller_mat(tmp_path / "bp_mot_t_h.mat")
    on, codes = _mat_cues(str(f))
    cue = np.isin(codes, [11, 12])
    ref_on, _, ref_codes = layouts._cues(layouts._block(1))
    np.testing.assert_array_equal(on[cue], ref_on)
    np.testing.assert_array_equal(codes[cue], ref_codes)
