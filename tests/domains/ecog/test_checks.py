"""The audit's bad inputs (each failed late or passed silently before): exit 2 before Prefect, one line
naming the file or field, no run directory; the stim channel of an EDF; the class-blind spectrum."""

from __future__ import annotations

import mne
import numpy as np
import pytest

from domains.ecog.config import PROFILES, EcogConfig
from domains.ecog.figures import spectrum_contrast
from domains.ecog.io import check_input, load_participants
from domains.ecog.preprocess import find_cues, preprocess
from shared.config import build_config

from . import layouts


CASES = {  # case: (file writer or None, --set values, substrings of the one error line)
    # 300 Hz passed the old 300 Hz floor, then MNE failed: lowpass 150 Hz must be below Nyquist
    "fif_at_300_hz": (lambda t: layouts.write_fif(t / "x_raw.fif", sfreq=300.0), [],
                      ["x_raw.fif", "300 Hz is too low", "70-150 Hz"]),
    "sim_bad_channel_too_high": (None, ["ingest.bad_channels=[20]"],
                                 ["--set ingest.bad_channels", "[20] outside the 12"]),
    "sim_bad_channel_negative": (None, ["ingest.bad_channels=[-1]"],
                                 ["--set ingest.bad_channels", "[-1] outside"]),
    "edf_one_block_imagery_task": (lambda t: layouts.write_edf(t / "ok.edf"), ["evaluate.tasks=[movement_vs_imagery]"],
                                   ["ok.edf", "none of evaluate.tasks"]),
    "mat_one_block_imagery_task": (lambda t: layouts.write_miller_mat(t / "bp_mot_t_h.mat"),
                                   ["evaluate.tasks=[movement_vs_imagery]"], ["bp_mot_t_h.mat", "evaluate.tasks"]),
    "sim_no_gains": (None, ["ingest.gains=[]"], ["--set ingest.gains", "at least 1"]),
    "headline_not_trained": (None, ["model.models=[cnn]"], ["--set evaluate", "headline_model 'lstm_cnn'", "['cnn']"]),
    "sim_epoch_longer_than_cue_and_rest": (None, ["ingest.epoch_s=5"], ["--set ingest.epoch_s", "3 s"]),
    # the layouts' cues are 1.5 s apart: a 2 s epoch holds the next cue
    "fif_epoch_reaches_next_cue": (lambda t: layouts.write_fif(t / "x_raw.fif"), ["ingest.epoch_s=2"],
                                   ["x_raw.fif", "1.5 s apart", "ingest.epoch_s"]),
    "npz_epoch_reaches_next_cue": (lambda t: layouts.write_flat_npz(t / "b.npz"), ["ingest.epoch_s=1.6"],
                                   ["b.npz", "t_on", "1.5 s apart"]),
    "band_reversed": (None, ["ingest.hg_band_hz=[150,70]"], ["--set ingest.hg_band_hz", "low < high"]),
}


@pytest.mark.parametrize("case", list(CASES))
def test_audited_bad_input_exits_2_with_one_line(tmp_path, capsys, case):
    writer, sets, expect = CASES[case]
    path = writer(tmp_path) if writer else None
    capsys.readouterr()
    assert layouts.run_bad(tmp_path, path, *sets) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: "), err
    for e in expect:
        assert e in err[0], err[0]


def _quick(**ingest):
    return build_config(EcogConfig, PROFILES["quick"], {"ingest": ingest} if ingest else {})


def test_rate_just_above_the_band_passes_the_check_and_preprocesses(tmp_path):
    f = layouts.write_fif(tmp_path / "x_raw.fif", sfreq=304.0)
    check_input(str(f), None, _quick())
    (p,) = load_participants(str(f), _quick().ingest)
    ep = preprocess(p.raws["movement"], epoch_s=1.5)  # the MNE filters accept 304 Hz
    assert ep.band.shape[:2] == (12, 8) and np.isfinite(ep.env).all()


def test_edf_stim_channel_named_sti_is_the_cue_channel_not_an_electrode(tmp_path):
    raw = layouts._block(3)  # 8 electrodes + STI holding the sample-wise cue code
    raw.set_channel_types({"STI": "eeg"})  # EDF stores no channel types: it comes back as a signal
    f = tmp_path / "stim.edf"
    mne.export.export_raw(str(f), raw, fmt="edf", overwrite=True, verbose="error")
    check_input(str(f), None, _quick())  # before: "no cues" (STI was typed ecog)
    (p,) = load_participants(str(f), _quick().ingest)
    r = p.raws["movement"]
    assert r.get_channel_types(picks=["STI"]) == ["stim"]
    assert len(mne.pick_types(r.info, ecog=True)) == 8  # not in the electrodes (nor the average reference)
    ev = find_cues(r)
    on, _, codes = layouts._cues(raw)
    np.testing.assert_array_equal(ev[:, 2], codes)
    assert np.abs(ev[:, 0] - r.first_samp - on).max() <= 1


def test_spectrum_contrast_shows_no_effect_for_the_zero_gain_participant(strong, null):
    def db_in_band(part):
        ep = preprocess(part.raws["movement"], epoch_s=1.5)
        band = (ep.psd_freqs >= 70) & (ep.psd_freqs <= 150)
        db, _ = spectrum_contrast(ep.psd, ep.psd_freqs)
        best_per_freq = 10 * np.log10(ep.psd[1] / ep.psd[0]).max(0)  # the old panel: max over channels
        return abs(db[band].mean()), best_per_freq[band].mean()

    null_db, null_old = db_in_band(null)
    strong_db, _ = db_in_band(strong)
    assert null_old > 1.0  # the old per-frequency best channel: a "gain" from noise alone
    assert null_db < 0.5 < 1.0 < strong_db
