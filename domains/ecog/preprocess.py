"""MNE preprocessing: notch, common average reference without bad channels,
high-gamma envelope (two variants), epochs by cue.

The feature arrays are what every decoder sees:

- ``env``: high-gamma power envelope, ``(trials, channels, times)`` at
  ``envelope_sfreq_hz`` (power, arbitrary units; decoders take its log);
- ``band``: the band-passed high-gamma signal, ``(trials, channels, times)`` at
  ``band_sfreq_hz`` in volts, whose covariance the CSP and tangent-space
  baselines use (as MOABB band-passes before CSP).

Only good channels (``info['bads']`` excluded) reach the features: note that
``picks="ecog"`` would keep bads (brief section 7), so picks are explicit.
"""

from __future__ import annotations

from dataclasses import dataclass

import mne
import numpy as np

from domains.ecog.lengths import decimated_rate, decimation, epoch_samples
from domains.ecog.simulate import EVENT_ID, HAND, TONGUE
from shared.errors import BadInput

_LABEL_CODES = {"tongue": TONGUE, "11": TONGUE, "hand": HAND, "12": HAND}
HG_MARGIN_HZ = 2.0  # MNE's narrowest automatic transition band above a low-pass edge


def min_sfreq(hg_band) -> float:
    """Lowest sampling rate the high-gamma band-pass can run at, Hz.

    MNE needs the band's top edge strictly below Nyquist, with room for the
    transition band: ``2 * (hg_band[1] + 2 Hz)`` (304 Hz for 70-150 Hz).
    """
    return 2.0 * (float(hg_band[1]) + HG_MARGIN_HZ)


def check_sfreq(where: str, sfreq: float, hg_band) -> None:
    """Raise BadInput naming ``where`` when ``sfreq`` is not finite or too low for the high-gamma band."""
    if not np.isfinite(sfreq):  # nan < x is False: a NaN rate would pass the comparison below
        raise BadInput(where, f"sampling rate {sfreq} is not a finite number of Hz")
    if sfreq < min_sfreq(hg_band):
        raise BadInput(where, f"sampling rate {sfreq:g} Hz is too low for the {hg_band[0]:g}-{hg_band[1]:g} Hz "
                              f"high-gamma band (needs >= {min_sfreq(hg_band):g} Hz: Nyquist above the band's top "
                              f"by {HG_MARGIN_HZ:g} Hz; or lower ingest.hg_band_hz)")


@dataclass
class Epoched:
    """Epoched features of one block.

    Attributes
    ----------
    env : np.ndarray
        ``(n_trials, n_good, n_env)`` float32 high-gamma power envelope.
    band : np.ndarray
        ``(n_trials, n_good, n_band)`` float32 band-passed signal, V.
    codes : np.ndarray
        ``(n_trials,)`` cue codes (11 tongue, 12 hand).
    channels : list of str
        The good channels, in order.
    env_sfreq, band_sfreq : float
        Rates of ``env`` and ``band``, Hz.
    psd : np.ndarray
        ``(2, n_good, n_freqs)`` mean PSD of tongue and hand epochs after CAR, V^2/Hz.
    psd_freqs : np.ndarray
        ``(n_freqs,)`` Hz.
    """

    env: np.ndarray
    band: np.ndarray
    codes: np.ndarray
    channels: list[str]
    env_sfreq: float
    band_sfreq: float
    psd: np.ndarray
    psd_freqs: np.ndarray


def good_ecog_picks(info: mne.Info) -> np.ndarray:
    """Indices of ECoG channels not in ``info['bads']``."""
    return mne.pick_types(info, ecog=True, exclude="bads")


def _label(description: str) -> str:
    """``'hand'`` from ``'Comment/hand'``, ``'12'`` from BrainVision's ``'Stimulus/S 12'``."""
    d = description.split("/")[-1].strip().lower()
    return d[1:].strip() if d[:1] == "s" and d[1:].strip().isdigit() else d


def find_cues(raw: mne.io.BaseRaw, where: str = "recording") -> np.ndarray:
    """Cue onsets as an MNE events array ``(n, 3)`` with codes 11 (tongue) / 12 (hand).

    From a stim channel (rising edges of the sample-wise code, Miller style) when
    one is present, else from annotations named ``tongue``/``hand`` (or ``11``/``12``;
    BrainVision's ``Comment/hand`` and ``Stimulus/S 12`` count too).
    """
    stim = mne.pick_types(raw.info, stim=True)
    if len(stim):
        ev = mne.find_events(raw, stim_channel=raw.ch_names[stim[0]], shortest_event=1,
                             consecutive=True, verbose="error")
        ev = ev[np.isin(ev[:, 2], [TONGUE, HAND])]
    else:
        mapping = {d: _LABEL_CODES[_label(d)] for d in set(raw.annotations.description)
                   if _label(d) in _LABEL_CODES}
        ev = (mne.events_from_annotations(raw, event_id=mapping, verbose="error")[0]
              if mapping else np.zeros((0, 3), int))
    if len(ev) == 0:
        raise BadInput(where, "no cues: no stim channel with codes 11/12 and no "
                              "'tongue'/'hand' annotations")
    return ev


def notch(raw: mne.io.BaseRaw, line_freq: float, n_harmonics: int) -> mne.io.BaseRaw:
    """Notch the line frequency and its harmonics below Nyquist (in place, ECoG only)."""
    freqs = [line_freq * k for k in range(1, n_harmonics + 1) if line_freq * k < raw.info["sfreq"] / 2 - 1]
    if freqs:
        raw.notch_filter(freqs, picks="ecog", verbose="error")
    return raw


def common_average(raw: mne.io.BaseRaw) -> mne.io.BaseRaw:
    """Subtract the mean of the good ECoG channels from every ECoG channel (in place).

    MNE's average reference leaves ``info['bads']`` out of the average.
    """
    raw.set_eeg_reference("average", ch_type="ecog", projection=False, verbose="error")
    return raw


def paper_envelope(raw: mne.io.BaseRaw) -> mne.io.BaseRaw:
    """Bafana/NMA broadband power: Butterworth(3) high-pass 50 Hz, square, low-pass 10 Hz, / mean.

    Zero-phase (forward-backward) IIR filters, as ``scipy.signal.filtfilt``.
    """
    iir = dict(order=3, ftype="butter")
    raw.filter(50.0, None, method="iir", iir_params=iir, phase="zero", picks="ecog", verbose="error")
    raw.apply_function(np.square, picks="ecog")
    raw.filter(None, 10.0, method="iir", iir_params=iir, phase="zero", picks="ecog", verbose="error")
    raw.apply_function(lambda x: x / max(float(np.mean(x)), np.finfo(float).tiny), picks="ecog")
    return raw


def preprocess(raw: mne.io.BaseRaw, *, epoch_s: float, line_freq: float = 60.0, notch_harmonics: int = 3,
               car: bool = True, envelope: str = "hilbert", hg_band: tuple[float, float] = (70.0, 150.0),
               envelope_sfreq: float = 20.0, band_sfreq: float = 500.0,
               where: str = "recording") -> Epoched:
    """Notch -> CAR (bads excluded) -> high-gamma envelope -> epochs ``[0, epoch_s)`` from each cue.

    Raises
    ------
    BadInput
        All channels bad, no cues, a rate too low for the high-gamma band, or a
        good channel holding NaN or infinite samples.
    """
    sfreq = float(raw.info["sfreq"])
    check_sfreq(where, sfreq, hg_band)
    picks = good_ecog_picks(raw.info)
    if len(picks) == 0:
        raise BadInput(where, "all ECoG channels are bad (info['bads']) or none is typed ecog")
    events = find_cues(raw, where)
    raw = raw.copy().load_data(verbose="error")
    # NaN/inf would spread through every filter and the CAR (MNE's Welch then divides by zero)
    bad = [raw.ch_names[i] for i in picks if not np.isfinite(raw.get_data(picks=[i])).all()]  # a channel at a time
    if bad:
        raise BadInput(where, f"non-finite samples (NaN or inf) in {len(bad)} good channel(s), e.g. {bad[:3]}: "
                              "mark them bad (info['bads']) or repair the recording")
    notch(raw, line_freq, notch_harmonics)
    if car:
        common_average(raw)
    n_ep = epoch_samples(epoch_s, sfreq)
    tmax = (n_ep - 1) / sfreq
    names = [raw.ch_names[i] for i in picks]
    events = events[events[:, 0] - raw.first_samp + n_ep <= raw.n_times]
    present = {k: v for k, v in EVENT_ID.items() if v in set(events[:, 2])}

    def _epochs(r: mne.io.BaseRaw, decim: int) -> np.ndarray:
        ep = mne.Epochs(r, events, event_id=present, tmin=0.0, tmax=tmax, baseline=None, picks=names,
                        preload=True, decim=decim, reject_by_annotation=False, verbose="error")
        return ep.get_data(copy=False).astype(np.float32)

    # spectra for the figure: the referenced broadband signal, per class
    from mne.time_frequency import psd_array_welch

    broad = _epochs(raw, 1)
    psd, freqs = psd_array_welch(broad, sfreq, fmin=1.0, fmax=min(250.0, sfreq / 2), n_fft=min(512, n_ep),
                                 verbose="error")
    codes = events[:, 2]
    psd_cls = np.stack([psd[codes == c].mean(0) if (codes == c).any() else np.zeros(psd.shape[1:])
                        for c in (TONGUE, HAND)]).astype(np.float32)

    band = raw.copy().pick(names)
    band.filter(hg_band[0], hg_band[1], picks="all", verbose="error")
    band_x = _epochs(band, decimation(sfreq, band_sfreq))
    if envelope == "hilbert":
        env = band
        env.apply_hilbert(picks="all", envelope=True, verbose="error")
        env.apply_function(np.square, picks="all")
        env.filter(None, envelope_sfreq / 4, picks="all", verbose="error")
    else:
        env = paper_envelope(raw.copy().pick(names))
    env.info["bads"] = []
    env_x = _epochs(env, decimation(sfreq, envelope_sfreq))
    env_x = np.maximum(env_x, np.float32(1e-30))  # filtering ripple must not make power negative
    return Epoched(env=env_x, band=band_x, codes=codes.astype(np.int64), channels=names,
                   env_sfreq=decimated_rate(sfreq, envelope_sfreq),
                   band_sfreq=decimated_rate(sfreq, band_sfreq), psd=psd_cls,
                   psd_freqs=freqs.astype(np.float32))


def task_arrays(blocks: dict[str, Epoched], task: str) -> dict[str, np.ndarray] | None:
    """The trials and labels of one task from a participant's epoched blocks.

    ``hand_vs_tongue``: the movement block (or the only block), label 1 = hand.
    ``movement_vs_imagery``: both blocks, label 1 = movement. None when the blocks
    needed are missing.
    """
    if task == "hand_vs_tongue":
        b = blocks.get("movement") or next(iter(blocks.values()))
        return {"env": b.env, "band": b.band, "y": (b.codes == HAND).astype(np.int64)}
    if task == "movement_vs_imagery":
        if "movement" not in blocks or "imagery" not in blocks:
            return None
        m, i = blocks["movement"], blocks["imagery"]
        n = min(m.env.shape[-1], i.env.shape[-1]), min(m.band.shape[-1], i.band.shape[-1])
        if m.env.shape[1] != i.env.shape[1]:
            return None
        return {"env": np.concatenate([m.env[..., :n[0]], i.env[..., :n[0]]]),
                "band": np.concatenate([m.band[..., :n[1]], i.band[..., :n[1]]]),
                "y": np.r_[np.ones(len(m.codes), np.int64), np.zeros(len(i.codes), np.int64)]}
    raise ValueError(f"unknown task {task}")
