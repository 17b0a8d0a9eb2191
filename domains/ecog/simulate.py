"""A physiological ECoG simulator with a known answer (the embedded default dataset).

Per electrode (Miller et al. 2009/2010; brief section 10):

- background: Gaussian noise with a knee spectrum ``P(f) = 1 / ((1 + f^2) (1 + (f / f0)^2))``,
  slope ~ -2 below the knee ``f0 = 70 Hz`` and ~ -4 above;
- a broadband component above 50 Hz whose amplitude rises by ``1 + gain`` on the
  somatotopic electrodes during their cue (hand electrodes for hand cues, tongue
  electrodes for tongue cues): the high-gamma (70-150 Hz) effect;
- a 20 Hz beta rhythm desynchronised on the same electrodes (depth ``min(0.5, 5 gain)``);
- noise common to all electrodes (removed by the common average reference);
- 60 Hz line noise of 20 uV, and bad electrodes carrying 500 uV white noise.

Imagery blocks carry ``imagery_fraction`` (default 1/4) of the movement effect.
Each participant has its own gain, so separability is graded and known: gain 0
is chance for every decoder.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import mne
import numpy as np
from scipy.signal import windows

TONGUE, HAND = 11, 12
EVENT_ID = {"tongue": TONGUE, "hand": HAND}
BLOCKS = ("movement", "imagery")

# component levels, uV (standard deviation of each unit-variance component)
_BACKGROUND_UV, _BROADBAND_UV, _BETA_UV, _COMMON_UV = 10.0, 3.0, 2.0, 5.0
_LINE_UV, _BAD_UV = 20.0, 500.0


@dataclass
class Participant:
    """One participant's recordings: a raw per block (``movement``, ``imagery``).

    Attributes
    ----------
    pid : str
        Identifier (``S00``, ``bp``, file stem, ...).
    raws : dict of str to mne.io.BaseRaw
        ECoG channels (type ``ecog``, volts) and a stim channel ``STI`` or annotations.
    gain : float or None
        The simulated high-gamma gain (the known answer), None for recordings.
    info : dict
        Extra truth (somatotopic electrodes) or provenance.
    """

    pid: str
    raws: dict[str, mne.io.BaseRaw]
    gain: float | None = None
    info: dict = field(default_factory=dict)


def graded_gains(n: int, max_gain: float) -> list[float]:
    """``n`` gains evenly spaced from 0 to ``max_gain`` (participant 0 is at chance)."""
    return [float(g) for g in np.linspace(0.0, max_gain, n)] if n > 1 else [float(max_gain)]


def _knee_noise(rng: np.random.Generator, n_ch: int, n: int, sfreq: float, knee: float) -> np.ndarray:
    """Unit-variance noise ``(n_ch, n)`` with the knee spectrum (FFT shaping of white noise)."""
    f = np.fft.rfftfreq(n, 1.0 / sfreq)
    amp = 1.0 / np.sqrt((1.0 + f**2) * (1.0 + (f / knee) ** 2))
    x = np.fft.irfft(np.fft.rfft(rng.standard_normal((n_ch, n)), axis=1) * amp, n=n, axis=1)
    return x / x.std(axis=1, keepdims=True)


def _broadband_above(rng: np.random.Generator, n_ch: int, n: int, sfreq: float, fmin: float) -> np.ndarray:
    """Unit-variance 1/f^2-shaped noise restricted to ``f > fmin`` (the broadband HG source)."""
    f = np.fft.rfftfreq(n, 1.0 / sfreq)
    amp = np.where(f > fmin, 1.0 / np.maximum(f, 1.0), 0.0)
    x = np.fft.irfft(np.fft.rfft(rng.standard_normal((n_ch, n)), axis=1) * amp, n=n, axis=1)
    return x / x.std(axis=1, keepdims=True)


def somatotopy(n_channels: int, bad: list[int], shift: int) -> tuple[list[int], list[int]]:
    """Hand and tongue electrodes (three each, disjoint, never bad), rotated by ``shift``."""
    good = [c for c in range(n_channels) if c not in set(bad)]
    g = len(good)
    if g < 6:
        raise ValueError("the simulator needs at least 6 good electrodes")
    h0, t0 = 1, g // 2 + 1
    hand = [good[(h0 + i + shift) % g] for i in range(3)]
    tongue = [good[(t0 + i + shift) % g] for i in range(3)]
    return hand, tongue


def simulate_block(gain: float, *, n_channels: int = 16, n_trials_per_class: int = 30, cue_s: float = 3.0,
                   rest_s: float = 3.0, sfreq: float = 1000.0, bad_channels: list[int] | None = None,
                   hand: list[int] | None = None, tongue: list[int] | None = None,
                   line_freq: float = 60.0, seed: int = 0) -> mne.io.RawArray:
    """One block of cued hand/tongue trials as an ``mne.io.RawArray``.

    Parameters
    ----------
    gain : float
        Fractional amplitude rise of the broadband (> 50 Hz) component on the
        somatotopic electrodes during their cue (the effective gain: movement
        gain, or movement gain times the imagery fraction).
    n_channels, n_trials_per_class, cue_s, rest_s, sfreq
        Layout: cues in random order, each ``cue_s`` s followed by ``rest_s`` s
        of rest, after 1 s of initial rest.
    bad_channels : list of int
        Electrodes replaced by 500 uV white noise and listed in ``info['bads']``.
    hand, tongue : list of int
        Somatotopic electrodes (default: :func:`somatotopy` with no shift).

    Returns
    -------
    mne.io.RawArray
        ``n_channels`` ``ecog`` channels ``E00..`` in volts plus ``STI`` holding
        the sample-wise cue code (0 rest, 11 tongue, 12 hand), Miller style.
    """
    bad = list(bad_channels if bad_channels is not None else [])
    if hand is None or tongue is None:
        hand, tongue = somatotopy(n_channels, bad, 0)
    rng = np.random.default_rng(seed)
    codes = rng.permutation([TONGUE] * n_trials_per_class + [HAND] * n_trials_per_class)
    n_cue, n_rest, lead = int(round(cue_s * sfreq)), int(round(rest_s * sfreq)), int(sfreq)
    n = lead + len(codes) * (n_cue + n_rest)
    stim = np.zeros(n)
    for i, c in enumerate(codes):
        s = lead + i * (n_cue + n_rest)
        stim[s:s + n_cue] = c

    # smooth on/off of the effects (200 ms Hann, as in the recipe), per electrode
    hann = windows.hann(int(0.2 * sfreq))
    hann /= hann.sum()
    mod = np.zeros((n_channels, n))
    mod[hand] = stim == HAND
    mod[tongue] = stim == TONGUE
    mod = np.apply_along_axis(lambda m: np.convolve(m, hann, mode="same"), 1, mod)

    t = np.arange(n) / sfreq
    x = _BACKGROUND_UV * _knee_noise(rng, n_channels, n, sfreq, knee=70.0)
    x += _BROADBAND_UV * _broadband_above(rng, n_channels, n, sfreq, 50.0) * (1.0 + gain * mod)
    phase = rng.uniform(0, 2 * np.pi, (n_channels, 1))
    x += _BETA_UV * np.sqrt(2) * np.sin(2 * np.pi * 20.0 * t + phase) * (1.0 - min(0.5, 5.0 * gain) * mod)
    x += _COMMON_UV * _knee_noise(rng, 1, n, sfreq, knee=70.0)
    x += _LINE_UV * np.sqrt(2) * np.sin(2 * np.pi * line_freq * t + rng.uniform(0, 2 * np.pi))
    for b in bad:
        x[b] = _BAD_UV * rng.standard_normal(n)

    names = [f"E{c:02d}" for c in range(n_channels)]
    info = mne.create_info(names + ["STI"], sfreq, ["ecog"] * n_channels + ["stim"])
    raw = mne.io.RawArray(np.vstack([x * 1e-6, stim[None]]), info, verbose="error")
    raw.info["bads"] = [names[b] for b in bad]
    return raw


def simulate_participant(index: int, gain: float, *, n_channels: int = 16, n_trials_per_class: int = 30,
                         cue_s: float = 3.0, rest_s: float = 3.0, sfreq: float = 1000.0,
                         bad_channels: list[int] | None = None, imagery_fraction: float = 0.25,
                         shift_somatotopy: bool = True, line_freq: float = 60.0,
                         seed: int = 0) -> Participant:
    """A movement and an imagery block of one simulated participant (seeded by ``seed`` and ``index``)."""
    bad = list(bad_channels or [])
    hand, tongue = somatotopy(n_channels, bad, 2 * index if shift_somatotopy else 0)
    common = dict(n_channels=n_channels, n_trials_per_class=n_trials_per_class, cue_s=cue_s, rest_s=rest_s,
                  sfreq=sfreq, bad_channels=bad, hand=hand, tongue=tongue, line_freq=line_freq)
    raws = {"movement": simulate_block(gain, seed=seed * 1000 + 2 * index, **common),
            "imagery": simulate_block(gain * imagery_fraction, seed=seed * 1000 + 2 * index + 1, **common)}
    return Participant(f"S{index:02d}", raws, gain=float(gain),
                       info={"hand": hand, "tongue": tongue, "bad": bad})


def generate(n_participants: int = 7, gains: list[float] | None = None, max_gain: float = 0.12,
             seed: int = 0, **kwargs) -> list[Participant]:
    """The embedded default dataset: ``n_participants`` simulated participants.

    ``gains`` defaults to :func:`graded_gains` ``(n_participants, max_gain)``;
    other keyword arguments go to :func:`simulate_participant`.
    """
    gains = list(gains) if gains is not None else graded_gains(n_participants, max_gain)
    return [simulate_participant(i, g, seed=seed, **kwargs) for i, g in enumerate(gains)]
