"""Readers of the ECoG layouts into :class:`~domains.ecog.simulate.Participant` s of ``mne.io.Raw``.

Layouts (manifests in ``data_manifests/ecog/``):

- **Neuromatch** ``motor_imagery.npz``: key ``dat``, a pickled object array
  ``[subject][block]`` (block 0 movement, 1 imagery) of dicts with ``V`` (time x
  channels, float16, z-scored), ``t_on``, ``t_off`` (sample indices), ``stim_id``
  (11 tongue, 12 hand), ``srate``, ``scale_uv``, ``locs``, ... A flat npz holding
  those keys at top level (one block, no pickles) is read too. Loading a pickle
  runs code from the file, so ``dat`` is read only with ``ingest.allow_pickle=true``.
- **Miller library** ``.mat`` (``{s}_mot_t_h.mat``, ``{s}_im_t_h.mat``): ``data`` (time x
  channels, amplifier units of 0.0298 uV), ``stim`` (time x 1, sample-wise cue code);
  no rate stored (1000 Hz for the whole library: ``ingest.sfreq_hz``).
- anything MNE reads (EDF/BDF, BrainVision ``.vhdr``, FIF) with cues as a stim
  channel or as ``tongue``/``hand`` annotations; data channels are typed ``ecog``.

:func:`check_input` is the header-level check that runs before Prefect:
it reads file headers, key lists and cue vectors, never the voltage arrays.
"""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

import mne
import numpy as np

from domains.ecog.preprocess import check_sfreq, find_cues
from domains.ecog.simulate import HAND, TONGUE, Participant
from shared.errors import BadInput

NPZ_KEYS = ("V", "t_on", "t_off", "stim_id", "srate", "scale_uv")
MAT_KEYS = ("data", "stim")
MILLER_UV_PER_UNIT = 0.0298
MNE_SUFFIXES = (".edf", ".bdf", ".vhdr", ".fif", ".fif.gz")
STIM_NAME = re.compile(r"^(sti|trig|status)", re.IGNORECASE)  # STI 014, STI, Stim, TRIGGER, Status
_BLOCKS = ("movement", "imagery")


def check_epoch_spacing(where: str, onsets: np.ndarray, sfreq: float, epoch_s: float) -> None:
    """Raise BadInput when an epoch ``[0, epoch_s)`` from a cue onset would reach the next cue.

    ``onsets`` are sample indices of the cues (11/12). One sample of slack: EDF
    rounds annotation onsets to its sample grid.
    """
    on = np.sort(np.asarray(onsets).ravel())
    if len(on) < 2:
        return
    gap = int(np.diff(on).min())
    if int(round(epoch_s * sfreq)) > gap + 1:
        raise BadInput(where, f"cues are {gap / sfreq:g} s apart at the closest, so an epoch of ingest.epoch_s="
                              f"{epoch_s:g} s would contain the next cue (set ingest.epoch_s <= {gap / sfreq:g})")


def _kind(path: str) -> str:
    name = path.lower()
    if name.endswith(".npz"):
        return "npz"
    if name.endswith(".mat"):
        return "mat"
    if name.endswith(MNE_SUFFIXES):
        return "mne"
    raise BadInput(path, f"unknown ECoG layout (expected .npz, .mat or one of {', '.join(MNE_SUFFIXES)})")


# ------------------------------------------------------------------- Neuromatch npz
_PICKLE_REFUSAL = ("stores pickled Python objects (key 'dat'); unpickling runs code from the file, so it is "
                   "refused unless you trust the file: pass --set ingest.allow_pickle=true")


def _npz_records(path: str, allow_pickle: bool) -> list[tuple[str, str, dict]]:
    """``[(pid, block, dict), ...]`` of a Neuromatch npz (both the pickled and the flat layout)."""
    with np.load(path, allow_pickle=False) as z:
        files = list(z.files)
        if "dat" not in files:
            missing = [k for k in NPZ_KEYS if k not in files]
            if missing:
                raise BadInput(path, f"missing keys {missing} (Neuromatch layout: 'dat' or {list(NPZ_KEYS)})")
            return [(Path(path).stem, "movement", {k: z[k] for k in files if k in NPZ_KEYS + ("locs",)})]
    if not allow_pickle:
        raise BadInput(f"{path}:dat", _PICKLE_REFUSAL)
    with np.load(path, allow_pickle=True) as z:
        dat = z["dat"]
    dat = np.asarray(dat, dtype=object)
    if dat.ndim == 1:
        dat = dat[:, None]
    out = []
    for s in range(dat.shape[0]):
        for b in range(dat.shape[1]):
            d = dat[s, b]
            if not isinstance(d, dict):
                raise BadInput(f"{path}:dat[{s}][{b}]", f"expected a dict, found {type(d).__name__}")
            out.append((f"S{s:02d}", _BLOCKS[b] if b < 2 else f"block{b}", d))
    return out


def _check_npz_record(where: str, d: dict, hg_band) -> None:
    missing = [k for k in NPZ_KEYS if k not in d]
    if missing:
        raise BadInput(where, f"missing keys {missing}")
    check_sfreq(f"{where}:srate", float(np.asarray(d["srate"]).ravel()[0]), hg_band)
    if np.asarray(d["t_on"]).size == 0 or not np.isin(np.asarray(d["stim_id"]).ravel(), [TONGUE, HAND]).any():
        raise BadInput(f"{where}:stim_id", "no cues (t_on empty or no stim_id 11/12)")


def _npz_raw(d: dict) -> mne.io.RawArray:
    V = np.asarray(d["V"], dtype=np.float32)
    sfreq = float(np.asarray(d["srate"]).ravel()[0])
    scale = np.asarray(d["scale_uv"], dtype=np.float64).ravel()
    x = V.astype(np.float64) * (scale if scale.size in (1, V.shape[1]) else scale[0]) * 1e-6
    stim = np.zeros(V.shape[0])
    t_on, t_off = np.asarray(d["t_on"]).ravel().astype(int), np.asarray(d["t_off"]).ravel().astype(int)
    for a, b, c in zip(t_on, t_off, np.asarray(d["stim_id"]).ravel()):
        stim[a:max(b, a + 1)] = c
    names = [f"E{c:02d}" for c in range(V.shape[1])]
    info = mne.create_info(names + ["STI"], sfreq, ["ecog"] * V.shape[1] + ["stim"])
    return mne.io.RawArray(np.vstack([x.T, stim[None]]), info, verbose="error")


# ------------------------------------------------------------------- Miller .mat
def _mat_block(path: str, default: str) -> str:
    stem = Path(path).stem.lower()
    return "imagery" if "_im_" in f"{stem}_" else ("movement" if "_mot_" in f"{stem}_" else default)


def _check_mat(path: str) -> None:
    from scipy.io import whosmat

    try:
        names = {n: shape for n, shape, _ in whosmat(path)}
    except Exception as exc:  # not a MATLAB file
        raise BadInput(path, f"not a readable MATLAB file ({type(exc).__name__})") from None
    missing = [k for k in MAT_KEYS if k not in names]
    if missing:
        raise BadInput(path, f"missing keys {missing} (Miller layout: 'data' time x channels, 'stim' time x 1)")
    if names["data"][0] != int(np.prod(names["stim"])):
        raise BadInput(f"{path}:stim", f"{int(np.prod(names['stim']))} samples but 'data' has {names['data'][0]}")


def _mat_raw(path: str, sfreq: float) -> mne.io.RawArray:
    from scipy.io import loadmat

    m = loadmat(path, variable_names=list(MAT_KEYS))
    data = np.asarray(m["data"], dtype=np.float64) * MILLER_UV_PER_UNIT * 1e-6
    stim = np.asarray(m["stim"], dtype=np.float64).ravel()
    names = [f"E{c:02d}" for c in range(data.shape[1])]
    info = mne.create_info(names + ["STI"], sfreq, ["ecog"] * data.shape[1] + ["stim"])
    return mne.io.RawArray(np.vstack([data.T, stim[None]]), info, verbose="error")


def _mat_cues(path: str) -> tuple[np.ndarray, np.ndarray]:
    """``(onsets, codes)`` of every change of the Miller ``stim`` vector (codes include 0: rest)."""
    from scipy.io import loadmat

    stim = np.asarray(loadmat(path, variable_names=["stim"])["stim"]).ravel()
    onsets = np.flatnonzero(np.diff(np.r_[0, stim]) != 0)
    return onsets, stim[onsets]


# ------------------------------------------------------------------- MNE-readable
def _mne_raw(path: str) -> mne.io.BaseRaw:
    try:
        raw = mne.io.read_raw(path, preload=False, verbose="error")
    except Exception as exc:
        raise BadInput(path, f"MNE cannot read it ({type(exc).__name__}: {exc})".split("\n")[0]) from None
    # a cue channel named STI*/Stim*/Trig*/Status that the reader typed as a signal (EDF stores no
    # types; MNE's EDF reader only recognises TRIGGER/STATUS) is the stim channel, not an electrode:
    # typed ecog it would enter the average reference and hide the cues
    types = {n: "stim" for n, t in zip(raw.ch_names, raw.get_channel_types())
             if t in ("eeg", "seeg", "misc", "bio", "dbs") and STIM_NAME.match(n.strip())}
    types.update({n: "ecog" for n, t in zip(raw.ch_names, raw.get_channel_types())
                  if t in ("eeg", "seeg", "misc", "bio", "dbs") and n not in types})
    if types:
        raw.set_channel_types(types, verbose="error")
    return raw


# ------------------------------------------------------------------- public
def load_participants(path: str, icfg) -> list[Participant]:
    """Read ``path`` into participants (one per Neuromatch subject, one for any other file)."""
    kind = _kind(path)
    if kind == "npz":
        parts: dict[str, dict] = {}
        for pid, block, d in _npz_records(path, icfg.allow_pickle):
            _check_npz_record(f"{path}:{pid}/{block}", d, icfg.hg_band_hz)
            parts.setdefault(pid, {})[block] = _npz_raw(d)
        return [Participant(pid, raws, info={"source": path}) for pid, raws in parts.items()]
    if kind == "mat":
        _check_mat(path)
        raw = _mat_raw(path, icfg.sfreq_hz)
        return [Participant(Path(path).stem.split("_")[0], {_mat_block(path, icfg.block): raw},
                            info={"source": path})]
    raw = _mne_raw(path)
    return [Participant(Path(path).stem, {icfg.block: raw}, info={"source": path})]


def _class_counts(where: str, codes: np.ndarray, n_folds: int) -> None:
    counts = {name: int((np.asarray(codes) == c).sum()) for name, c in (("tongue", TONGUE), ("hand", HAND))}
    if sum(counts.values()) == 0:
        raise BadInput(where, "no cues (no codes 11 tongue / 12 hand)")
    low = {k: v for k, v in counts.items() if v < n_folds}
    if low:
        raise BadInput(where, f"class trials {counts}: fewer than the {n_folds} CV folds")


def _check_tasks(where: str, blocks: dict[str, int], tasks: list[str]) -> None:
    """Raise BadInput unless the blocks (name -> channel count) give at least one requested task.

    ``hand_vs_tongue`` comes from any block; ``movement_vs_imagery`` needs a
    movement and an imagery block with the same electrodes.
    """
    can = {"hand_vs_tongue"} if blocks else set()
    if {"movement", "imagery"} <= set(blocks) and blocks["movement"] == blocks["imagery"]:
        can.add("movement_vs_imagery")
    if not can & set(tasks):
        raise BadInput(where, f"none of evaluate.tasks {list(tasks)} can be decoded from blocks {sorted(blocks)} "
                              "(movement_vs_imagery needs a movement and an imagery block with the same channels; "
                              "add hand_vs_tongue to evaluate.tasks)")


def _check_simulator(ic, n_folds: int) -> None:
    out = sorted(c for c in ic.bad_channels if not 0 <= c < ic.n_channels)
    if out:
        raise BadInput("--set ingest.bad_channels", f"{out} outside the {ic.n_channels} simulated channels "
                                                     f"(0..{ic.n_channels - 1}, ingest.n_channels)")
    good = ic.n_channels - len(set(ic.bad_channels))
    if good < 6:
        raise BadInput("--set ingest.bad_channels", f"{good} good simulated channels: all (or nearly all) "
                                                    "channels are bad (the simulator needs 6 good)")
    check_sfreq("--set ingest.sim_sfreq_hz", ic.sim_sfreq_hz, ic.hg_band_hz)
    if ic.n_trials_per_class < n_folds:
        raise BadInput("--set ingest.n_trials_per_class",
                       f"{ic.n_trials_per_class} trials per class: fewer than the {n_folds} CV folds")
    if ic.epoch_s > ic.cue_s + ic.rest_s:
        raise BadInput("--set ingest.epoch_s", f"{ic.epoch_s:g} s is longer than a simulated cue and its rest "
                                               f"(ingest.cue_s + ingest.rest_s = {ic.cue_s + ic.rest_s:g} s): "
                                               "each epoch would contain the next cue")


def check_input(data: str | None, dataset: str | None, cfg) -> None:
    """Header-level validation before any run directory exists (raises BadInput).

    Checks: the layout's keys, cues present, a sampling rate the high-gamma band
    fits under (:func:`~domains.ecog.preprocess.min_sfreq`), not all channels bad, every class with at
    least ``reduce.n_folds`` trials, epochs that do not reach the next cue, at
    least one of ``evaluate.tasks`` the blocks can give; for the simulator, bad
    channels among its channels and ``epoch_s <= cue_s + rest_s``.
    """
    ic, n_folds, tasks = cfg.ingest, cfg.reduce.n_folds, list(cfg.evaluate.tasks)
    if data is None:
        _check_simulator(ic, n_folds)
        return
    kind = _kind(data)
    if kind == "npz":
        try:
            zipfile.ZipFile(data).close()
        except zipfile.BadZipFile:
            raise BadInput(data, "not an npz (zip) archive") from None
        parts: dict[str, dict[str, int]] = {}
        for pid, block, d in _npz_records(data, ic.allow_pickle):
            where = f"{data}:{pid}/{block}"
            _check_npz_record(where, d, ic.hg_band_hz)
            codes, on = np.asarray(d["stim_id"]).ravel(), np.asarray(d["t_on"]).ravel()
            _class_counts(where, codes, n_folds)
            check_epoch_spacing(f"{where}:t_on", on[np.isin(codes, [TONGUE, HAND])] if len(on) == len(codes) else on,
                                float(np.asarray(d["srate"]).ravel()[0]), ic.epoch_s)
            shape = np.shape(d["V"])  # the records hold the arrays already
            parts.setdefault(pid, {})[block] = int(shape[1]) if len(shape) == 2 else -1
        for pid, blocks in parts.items():
            _check_tasks(f"{data}:{pid}", blocks, tasks)
        return
    if kind == "mat":
        _check_mat(data)
        check_sfreq("--set ingest.sfreq_hz", ic.sfreq_hz, ic.hg_band_hz)
        on, codes = _mat_cues(data)
        _class_counts(f"{data}:stim", codes, n_folds)
        check_epoch_spacing(f"{data}:stim", on[np.isin(codes, [TONGUE, HAND])], ic.sfreq_hz, ic.epoch_s)
        _check_tasks(data, {_mat_block(data, ic.block): 0}, tasks)
        return
    raw = _mne_raw(data)
    check_sfreq(data, raw.info["sfreq"], ic.hg_band_hz)
    if len(mne.pick_types(raw.info, ecog=True, exclude="bads")) == 0:
        raise BadInput(f"{data}:bads", "all ECoG channels are marked bad")
    ev = find_cues(raw, data)
    _class_counts(data, ev[:, 2], n_folds)
    check_epoch_spacing(data, ev[:, 0], raw.info["sfreq"], ic.epoch_s)
    _check_tasks(data, {ic.block: 0}, tasks)
