"""The simulator's known answers and the MNE preprocessing (notch, CAR without bads, envelope)."""

from __future__ import annotations

import mne
import numpy as np
import pytest
from sklearn.model_selection import StratifiedKFold, cross_val_score
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis

from domains.ecog.preprocess import common_average, notch, preprocess, task_arrays
from domains.ecog.simulate import HAND, simulate_block, somatotopy
from domains.ecog.decode import hg_power
from shared.errors import BadInput


def _lda_cv(part):
    blocks = {k: preprocess(r, epoch_s=1.5) for k, r in part.raws.items()}
    a = task_arrays(blocks, "hand_vs_tongue")
    cv = StratifiedKFold(5, shuffle=True, random_state=0)
    return cross_val_score(LinearDiscriminantAnalysis(), hg_power(a["env"]), a["y"], cv=cv).mean(), a, blocks


def test_high_gain_decoded_and_zero_gain_at_chance(strong, null):
    acc_hi, a, _ = _lda_cv(strong)
    acc_0, _, _ = _lda_cv(null)
    assert acc_hi > 0.9
    # 40 trials: the 95 % binomial band of chance is about 0.5 +- 0.16
    assert abs(acc_0 - 0.5) < 0.2
    assert a["env"].shape[:2] == (40, 9)  # the bad electrode never reaches the features


def test_ground_truth_channels_rank_top_by_hg_t_statistic(strong):
    _, a, blocks = _lda_cv(strong)
    p = hg_power(a["env"])
    hand, tongue = p[a["y"] == 1], p[a["y"] == 0]
    t = (hand.mean(0) - tongue.mean(0)) / np.sqrt(hand.var(0) / len(hand) + tongue.var(0) / len(tongue))
    names = blocks["movement"].channels
    top_hand = {names[i] for i in np.argsort(t)[-3:]}
    top_tongue = {names[i] for i in np.argsort(t)[:3]}
    assert top_hand == {f"E{c:02d}" for c in strong.info["hand"]}
    assert top_tongue == {f"E{c:02d}" for c in strong.info["tongue"]}


def test_car_leaves_bad_channels_out_of_the_average():
    raw = simulate_block(0.1, n_channels=8, n_trials_per_class=3, cue_s=1.0, rest_s=0.5, bad_channels=[7], seed=1)
    x = raw.get_data(picks="ecog")
    ref = common_average(raw.copy().load_data()).get_data(picks="ecog")
    expected = x - x[:7].mean(0, keepdims=True)
    np.testing.assert_allclose(ref[:7], expected[:7], atol=1e-12)
    # with the bad channel in the average the result would differ by its 500 uV noise / 8
    wrong = x - x.mean(0, keepdims=True)
    assert np.abs(ref[:7] - wrong[:7]).mean() > 10 * 1e-6


def test_notch_removes_line_noise():
    raw = simulate_block(0.0, n_channels=6, n_trials_per_class=5, cue_s=1.0, rest_s=1.0, seed=2)
    picks = mne.pick_types(raw.info, ecog=True)

    def ratio_db(r):
        psd, f = mne.time_frequency.psd_array_welch(r.get_data(picks=picks), r.info["sfreq"], fmin=40, fmax=80,
                                                    n_fft=1000, verbose="error")
        p = psd.mean(0)
        return 10 * np.log10(p[np.argmin(abs(f - 60))] / p[np.argmin(abs(f - 55))])

    before = ratio_db(raw)
    after = ratio_db(notch(raw.copy().load_data(), 60.0, 3))
    assert before > 20 and before - after >= 20


def test_paper_envelope_has_unit_mean_per_channel(strong):
    ep = preprocess(strong.raws["movement"], epoch_s=1.5, envelope="paper")
    assert ep.env.shape[:2] == (40, 9) and np.isfinite(ep.env).all()
    # power divided by its mean over the recording: epochs average close to 1
    assert 0.5 < float(ep.env.mean()) < 2.0


def test_preprocess_refuses_low_rate_and_all_bad():
    raw = simulate_block(0.0, n_channels=6, n_trials_per_class=2, cue_s=1.0, rest_s=0.5, sfreq=250.0, seed=3)
    with pytest.raises(BadInput, match="too low"):
        preprocess(raw, epoch_s=1.0)
    raw = simulate_block(0.0, n_channels=6, n_trials_per_class=2, cue_s=1.0, rest_s=0.5, seed=3)
    raw.info["bads"] = list(raw.ch_names[:6])
    with pytest.raises(BadInput, match="all ECoG channels are bad"):
        preprocess(raw, epoch_s=1.0)


def test_somatotopy_shifts_and_avoids_bads():
    h0, t0 = somatotopy(12, [11], 0)
    h1, t1 = somatotopy(12, [11], 2)
    assert not set(h0) & set(t0) and 11 not in h0 + t0 + h1 + t1
    assert h0 != h1
    assert HAND == 12


def test_cropped_fif_keeps_every_trial_that_fits(tmp_path):
    """A FIF cropped out of a longer recording (first_samp > 0): its cue samples are absolute, so the
    end-of-recording filter must subtract first_samp; a trial whose epoch runs past the end is dropped."""
    # cues every 1.5 s from 1 s (samples 1000 + 1500 i, i = 0..9), 1 s long
    raw = simulate_block(0.0, n_channels=6, n_trials_per_class=5, cue_s=1.0, rest_s=0.5, seed=4)
    raw.crop(tmin=5.25, tmax=14.9)  # keeps cues i = 3..9; the epoch of i = 9 (14.5-15.5 s) runs past the end
    raw.save(tmp_path / "cropped_raw.fif", verbose="error")
    cropped = mne.io.read_raw_fif(tmp_path / "cropped_raw.fif", verbose="error")
    assert cropped.first_samp == 5250
    ep = preprocess(cropped, epoch_s=1.0)
    assert len(ep.codes) == 6  # cues i = 3..8
    # and every sample count is exact: 1 s at 1000 Hz = 1000 samples, decimated to 500 Hz / 20 Hz
    assert ep.band.shape == (6, 6, 500) and ep.env.shape == (6, 6, 20)


def test_epochs_hold_exactly_epoch_s_of_samples(strong):
    ep = preprocess(strong.raws["movement"], epoch_s=1.5)  # [0, 1.5 s) at 1000 Hz: 1500 samples
    assert ep.band.shape[-1] == 750 and ep.env.shape[-1] == 30  # decimated by 2 (500 Hz) and 50 (20 Hz)


def test_hilbert_envelope_is_power():
    """A 100 Hz tone of amplitude A (inside 70-150 Hz) has Hilbert envelope A, so its power envelope is A^2."""
    sfreq, n = 1000.0, 12000
    t = np.arange(n) / sfreq
    A = np.array([50e-6, 100e-6])  # V
    x = A[:, None] * np.sin(2 * np.pi * 100.0 * t)
    raw = mne.io.RawArray(x, mne.create_info(["E00", "E01"], sfreq, "ecog"), verbose="error")
    raw.set_annotations(mne.Annotations([3.0, 4.5, 6.0, 7.5], 1.0, ["hand", "tongue", "hand", "tongue"]))
    ep = preprocess(raw, epoch_s=1.0, car=False)
    power = ep.env.mean((0, 2))
    np.testing.assert_allclose(power, A ** 2, rtol=0.05)


def test_background_spectrum_has_the_knee_slopes():
    """The background's PSD falls as f^-2 below the 70 Hz knee and f^-4 above it (brief section 10:
    chi_L ~ 2.0, chi = 4.0 for 80-500 Hz, knee f0 ~ 70 Hz)."""
    from domains.ecog.simulate import _knee_noise

    sfreq, n = 1000.0, 20000
    x = _knee_noise(np.random.default_rng(0), 8, n, sfreq, knee=70.0)
    f = np.fft.rfftfreq(n, 1 / sfreq)
    p = (np.abs(np.fft.rfft(x, axis=1)) ** 2).mean(0)

    def slope(lo, hi):
        m = (f >= lo) & (f <= hi)
        return np.polyfit(np.log(f[m]), np.log(p[m]), 1)[0]

    assert -2.5 < slope(5, 30) < -1.8
    assert -4.3 < slope(200, 450) < -3.6


def test_beta_power_drops_on_the_cued_electrodes():
    """Beta (20 Hz) desynchronises on the somatotopic electrodes during their cue (brief: beta_mod 0.5, ERD),
    and stays on the other electrodes."""
    sfreq, cue, rest = 1000.0, 2.0, 2.0
    raw = simulate_block(0.1, n_channels=8, n_trials_per_class=10, cue_s=cue, rest_s=rest, sfreq=sfreq,
                         bad_channels=[], seed=4)
    hand, _ = somatotopy(8, [], 0)
    x = raw.get_data(picks="ecog") * 1e6
    stim = raw.get_data(picks="STI")[0]
    on = np.flatnonzero(np.diff(np.r_[0, stim]) > 0)
    seg = int(sfreq)  # 1 s from 0.5 s into the cue, and 1 s from 0.5 s into the rest after it

    def beta(ch, starts):
        a = np.stack([x[ch, s:s + seg] for s in starts])
        spec = np.abs(np.fft.rfft(a, axis=1)) ** 2
        return spec[:, 20].mean()  # 1 Hz bins: bin 20 is 20 Hz

    hon = on[stim[on] == HAND]
    during, after = hon + int(0.5 * sfreq), hon + int((cue + 0.5) * sfreq)
    ratio = [beta(c, during) / beta(c, after) for c in hand]
    other = [c for c in range(8) if c not in hand]
    ratio_other = [beta(c, during) / beta(c, after) for c in other]
    assert max(ratio) < 0.5  # amplitude x (1 - 0.5): power x 0.25
    assert min(ratio_other) > 0.6
