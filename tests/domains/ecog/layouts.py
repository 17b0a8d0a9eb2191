"""Writers of small files in each exact ECoG layout (used by the loader and bad-input tests)."""

from __future__ import annotations

from pathlib import Path

import mne
import numpy as np
import scipy.io

from domains.ecog.simulate import HAND, TONGUE, simulate_block

SFREQ = 1000.0


def _block(seed: int, n_trials: int = 6, n_channels: int = 8, sfreq: float = SFREQ):
    return simulate_block(0.2, n_channels=n_channels, n_trials_per_class=n_trials, cue_s=1.0, rest_s=0.5,
                          sfreq=sfreq, bad_channels=[], seed=seed)


def _cues(raw):
    stim = raw.get_data(picks="STI")[0]
    on = np.flatnonzero(np.diff(np.r_[0, stim]) > 0)
    off = np.flatnonzero(np.diff(np.r_[stim, 0]) < 0) + 1
    return on, off, stim[on].astype(int)


def nma_dict(seed: int, n_trials: int = 6, srate: float = SFREQ, drop: tuple[str, ...] = ()) -> dict:
    """One Neuromatch block: V (time x ch) float16 z-scored, t_on/t_off/stim_id, srate, scale_uv, locs, ..."""
    raw = _block(seed, n_trials)
    x = raw.get_data(picks="ecog").T * 1e6  # uV, (time, ch)
    scale = x.std(0)
    on, off, codes = _cues(raw)
    d = {"V": ((x - x.mean(0)) / scale).astype(np.float16), "t_on": on, "t_off": off, "stim_id": codes,
         "srate": srate, "scale_uv": scale.astype(np.float32), "locs": np.zeros((x.shape[1], 3)),
         "hemisphere": ["left"] * x.shape[1], "lobe": ["Frontal"] * x.shape[1],
         "gyrus": ["Precentral"] * x.shape[1], "Brodmann_Area": ["4"] * x.shape[1]}
    for k in drop:
        d.pop(k)
    return d


def write_nma_npz(path: Path, n_subjects: int = 2, **kw) -> Path:
    """``np.savez(path, dat=obj)`` with ``dat`` an object array [subject][block] of dicts (pickled)."""
    dat = np.empty((n_subjects, 2), dtype=object)
    for s in range(n_subjects):
        for b in range(2):
            dat[s, b] = nma_dict(10 * s + b, **kw)
    np.savez(path, dat=dat)
    return Path(path)


def write_flat_npz(path: Path, override: dict | None = None, **kw) -> Path:
    """One block's keys at the top level of the npz (numeric arrays only, no pickles); ``override`` replaces keys."""
    d = {**nma_dict(0, **kw), **(override or {})}
    np.savez(path, **{k: np.asarray(v) for k, v in d.items() if k in ("V", "t_on", "t_off", "stim_id", "srate",
                                                                      "scale_uv", "locs")})
    return Path(path)


def write_miller_mat(path: Path, n_trials: int = 6, drop: tuple[str, ...] = (), nan_at=None) -> Path:
    """Miller library .mat: ``data`` (time x ch, amplifier units) and ``stim`` (time x 1 cue code).

    ``nan_at``: a ``(sample, channel)`` of ``data`` set to NaN.
    """
    raw = _block(1, n_trials)
    data = raw.get_data(picks="ecog").T * 1e6 / 0.0298
    if nan_at is not None:
        data[nan_at] = np.nan
    stim = raw.get_data(picks="STI")[0][:, None]
    d = {"data": data.astype(np.float32), "stim": stim.astype(np.int16)}
    for k in drop:
        d.pop(k)
    scipy.io.savemat(path, d)
    return Path(path)


def annotated_raw(seed: int = 2, n_trials: int = 6, sfreq: float = SFREQ, bads=()):
    """ECoG channels with cues as 'hand'/'tongue' annotations (no stim channel)."""
    raw = _block(seed, n_trials, sfreq=sfreq)
    on, off, codes = _cues(raw)
    names = {TONGUE: "tongue", HAND: "hand"}
    raw.set_annotations(mne.Annotations(on / sfreq, (off - on) / sfreq, [names[c] for c in codes]))
    raw.drop_channels(["STI"])
    raw.info["bads"] = list(bads)
    return raw


def write_edf(path: Path, **kw) -> Path:
    """EDF+ through MNE's exporter (edfio); cues as EDF annotations."""
    mne.export.export_raw(str(path), annotated_raw(**kw), fmt="edf", overwrite=True, verbose="error")
    return Path(path)


def write_brainvision(path: Path, **kw) -> Path:
    """BrainVision (.vhdr/.vmrk/.eeg) through MNE's exporter (pybv); cues as markers."""
    mne.export.export_raw(str(path), annotated_raw(**kw), fmt="brainvision", overwrite=True, verbose="error")
    return Path(path)


def write_fif(path: Path, bads=(), n_trials: int = 6, sfreq: float = SFREQ) -> Path:
    """FIF with a stim channel (the simulator's own raw)."""
    raw = _block(3, n_trials, sfreq=sfreq)
    raw.info["bads"] = list(bads)
    raw.save(str(path), overwrite=True, verbose="error")
    return Path(path)


def run_bad(tmp_path: Path, path, *sets, dataset: str | None = None) -> int:
    """``lowdim run ecog`` on ``path`` (None: the simulator) with ``--set`` items (and ``--dataset``); its exit code.

    Asserts that nothing was written under the run store, not even a failed run.
    """
    from pipelines.cli import main

    out = tmp_path / "out"
    args = ["run", "ecog", "--out", str(out), "--device", "cpu"]
    args += ["--data", str(path)] if path is not None else []
    args += ["--dataset", dataset] if dataset is not None else []
    for s in sets:
        args += ["--set", s]
    rc = main(args)
    assert not (out / "ecog").exists()  # nothing written, not even a failed run
    return rc
