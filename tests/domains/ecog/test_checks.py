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
from shared.errors import BadInput

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


def _flat(override):
    return lambda t: layouts.write_flat_npz(t / "b.npz", override=override)


_N = len(layouts.nma_dict(0)["V"])  # samples of the layouts' block
_NAN_V = layouts.nma_dict(0)["V"].copy()
_NAN_V[100, 3] = np.nan

# the second audit's bad inputs: each failed with exit 1, or with exit 2 only after Prefect (13-15 s, a .failed run)
CASES_2 = {  # case: (file writer or None, --set values, --dataset, substrings of the one error line)
    "dataset_of_another_domain": (None, [], "geo-synthetic", ["--dataset geo-synthetic", "geo dataset, not ecog"]),
    "dataset_to_download": (None, [], "ecog-miller-imagery-basic",
                            ["--dataset ecog-miller-imagery-basic", "open data", "--data"]),
    "dataset_unknown": (None, [], "nonexistent", ["--dataset nonexistent", "unknown dataset"]),
    "npz_srate_text": (_flat({"srate": "abc"}), [], None, ["b.npz", ":srate", "numeric"]),
    "npz_srate_empty": (_flat({"srate": np.zeros(0)}), [], None, ["b.npz", ":srate", "non-empty"]),
    "npz_srate_nan": (_flat({"srate": np.nan}), [], None, ["b.npz", ":srate", "finite"]),
    "npz_V_one_dimensional": (_flat({"V": np.zeros(_N, np.float16)}), [], None, ["b.npz", ":V", "2-D"]),
    "npz_V_strings": (_flat({"V": np.full((_N, 8), "x")}), [], None, ["b.npz", ":V", "numeric"]),
    "npz_t_on_past_the_end": (_flat({"t_on": layouts.nma_dict(0)["t_on"] + _N}), [], None,
                              ["b.npz", ":t_on", f"outside V's {_N} samples"]),
    "npz_V_nan": (_flat({"V": _NAN_V}), [], None, ["b.npz", ":V", "1 non-finite"]),
    "mat_data_nan": (lambda t: layouts.write_miller_mat(t / "bp_mot_t_h.mat", nan_at=(50, 2)), [], None,
                     ["bp_mot_t_h.mat:data", "1 non-finite"]),
    # 10 samples decimate to one envelope sample: "max_pool1d ... output size: 0" in the model step
    "sim_epoch_too_short_for_the_decoders": (None, ["ingest.epoch_s=0.01"], None,
                                             ["--set ingest.epoch_s", "1 envelope samples", "0 after"]),
    # its low-pass (a quarter of it) at the simulator's Nyquist: MNE failed in ingest
    "sim_envelope_rate_above_nyquist": (None, ["ingest.envelope_sfreq_hz=2000"], None,
                                        ["--set ingest.envelope_sfreq_hz", "below half", "1000 Hz"]),
    "fif_envelope_rate_above_nyquist": (lambda t: layouts.write_fif(t / "x_raw.fif"),
                                        ["ingest.envelope_sfreq_hz=600"], None,
                                        ["x_raw.fif", "ingest.envelope_sfreq_hz=600", "below half"]),
    "band_rate_under_twice_the_band": (None, ["ingest.band_sfreq_hz=250"], None,
                                       ["--set ingest.band_sfreq_hz", "not above 2 x", "150 Hz"]),
    # 2048 / round(2048 / 301) = 292.6 Hz: the integer decimation lands under 300
    "fif_rate_decimates_band_under_twice_the_band": (lambda t: layouts.write_fif(t / "x_raw.fif", sfreq=2048.0),
                                                     ["ingest.band_sfreq_hz=301"], None,
                                                     ["x_raw.fif", "292.6 Hz", "ingest.band_sfreq_hz"]),
}


def _assert_one_line(capsys, expect):
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: "), err
    for e in expect:
        assert e in err[0], err[0]


@pytest.mark.parametrize("case", list(CASES))
def test_audited_bad_input_exits_2_with_one_line(tmp_path, capsys, case):
    writer, sets, expect = CASES[case]
    path = writer(tmp_path) if writer else None
    capsys.readouterr()
    assert layouts.run_bad(tmp_path, path, *sets) == 2
    _assert_one_line(capsys, expect)


@pytest.mark.parametrize("case", list(CASES_2))
def test_second_audit_bad_input_exits_2_before_prefect(tmp_path, capsys, case):
    writer, sets, dataset, expect = CASES_2[case]
    path = writer(tmp_path) if writer else None
    capsys.readouterr()
    assert layouts.run_bad(tmp_path, path, *sets, dataset=dataset) == 2
    _assert_one_line(capsys, expect)


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


def test_conv_pool_length_is_the_decoders_time_axis_and_an_even_kernel_builds_the_cnn():
    import torch

    from domains.ecog.lengths import conv_pool_length
    from domains.ecog.models import CNN, ConvBlocks

    for t in (1, 3, 4, 7, 30, 31):
        for k in (1, 2, 5, 6, 100):
            n = conv_pool_length(t, k)
            if n == 0:
                with pytest.raises(RuntimeError):
                    ConvBlocks(4, (3, 2), k)(torch.zeros(1, 4, t))
            else:
                assert ConvBlocks(4, (3, 2), k)(torch.zeros(1, 4, t)).shape == (1, 2, n), (t, k)
    # model.kernel=100 on the quick profile's 30 envelope samples: 31 -> 15 -> 16 -> 8, not 30 // 4 = 7
    # (the CNN's first dense layer was sized for 7: a shape mismatch in the model step)
    net = CNN(8, 30, filters=(4, 3), kernel=100, dense=(5, 4))
    assert net(torch.zeros(2, 8, 30)).shape == (2, 2)
    check_input(None, None, build_config(EcogConfig, PROFILES["quick"], {"model": {"kernel": 100}}))


def test_nan_in_a_good_fif_channel_is_a_bad_input_naming_the_file_before_preprocessing(tmp_path):
    from domains.ecog.steps import prepare_participant

    cfg = _quick()
    raw = layouts._block(3)
    raw._data[2] = np.nan  # all-NaN electrode E02 (not marked bad)
    f = tmp_path / "nan_raw.fif"
    raw.save(str(f), verbose="error")
    (p,) = load_participants(str(f), cfg.ingest)
    with pytest.raises(BadInput, match=r"nan_raw\.fif.*non-finite samples.*E02"):
        prepare_participant(p, cfg.ingest, ["hand_vs_tongue"], str(f))  # was: ZeroDivisionError in MNE's Welch
    p.raws["movement"].info["bads"] = ["E02"]  # marked bad, it reaches no feature: that recording runs
    ep = preprocess(p.raws["movement"], epoch_s=1.5)
    assert "E02" not in ep.channels and np.isfinite(ep.env).all() and np.isfinite(ep.psd).all()
