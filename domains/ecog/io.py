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
it reads file headers, key lists and cue vectors; the voltage arrays only where
they are read anyway (a Neuromatch npz's records) or cheaply (a floating-point
Miller ``data``, for NaN), never an MNE recording's samples (those are checked
for NaN when ingest loads them).
"""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

import mne
import numpy as np

from domains.ecog.lengths import conv_pool_length, decimated_rate, decimated_samples
from domains.ecog.preprocess import check_sfreq, find_cues
from domains.ecog.simulate import HAND, TONGUE, Participant
from shared.errors import BadInput
from shared.manifests import get_manifest

NPZ_KEYS = ("V", "t_on", "t_off", "stim_id", "srate", "scale_uv")
MAT_KEYS = ("data", "stim")
MAT_NUMERIC = {"double", "single", "int8", "uint8", "int16", "uint16", "int32", "uint32", "int64", "uint64"}
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


def _numeric(where: str, v) -> np.ndarray:
    """``v`` as a non-empty integer or float array, else BadInput naming ``where``."""
    a = np.asarray(v)
    if a.dtype.kind not in "iuf" or a.size == 0:
        raise BadInput(where, f"expected a non-empty numeric array, found {a.dtype} of shape {a.shape}")
    return a


def _srate(where: str, d: dict) -> float:
    """The record's ``srate`` as one finite positive number of Hz, else BadInput naming it."""
    a = _numeric(f"{where}:srate", d["srate"]).ravel()
    if a.size != 1 or not np.isfinite(a[0]) or a[0] <= 0:
        raise BadInput(f"{where}:srate", f"expected one finite positive rate in Hz, found {a[:3].tolist()}")
    return float(a[0])


def _check_npz_record(where: str, d: dict, hg_band) -> float:
    """Keys, rate, a 2-D finite numeric ``V``, cues inside ``V`` (raises BadInput naming the key); the rate, Hz."""
    missing = [k for k in NPZ_KEYS if k not in d]
    if missing:
        raise BadInput(where, f"missing keys {missing}")
    sfreq = _srate(where, d)
    check_sfreq(f"{where}:srate", sfreq, hg_band)
    V = _numeric(f"{where}:V", d["V"])
    if V.ndim != 2:
        raise BadInput(f"{where}:V", f"expected time x channels (2-D), found shape {V.shape}")
    if not np.isfinite(V).all():  # NaN spreads through every filter (MNE's Welch then divides by zero)
        raise BadInput(f"{where}:V", f"{int((~np.isfinite(V)).sum())} non-finite samples (NaN or inf)")
    scale = _numeric(f"{where}:scale_uv", d["scale_uv"])
    if not np.isfinite(scale).all():
        raise BadInput(f"{where}:scale_uv", "non-finite scale (NaN or inf)")
    cues = {k: np.asarray(d[k]).ravel() for k in ("t_on", "t_off", "stim_id")}
    if cues["t_on"].size == 0 or not np.isin(cues["stim_id"], [TONGUE, HAND]).any():
        raise BadInput(f"{where}:stim_id", "no cues (t_on empty or no stim_id 11/12)")
    if len({len(c) for c in cues.values()}) != 1:  # zipped per cue: unequal lengths would mislabel cues
        raise BadInput(f"{where}:t_on", "t_on, t_off and stim_id have different lengths "
                                        f"{[len(c) for c in cues.values()]} (one entry per cue)")
    on = _numeric(f"{where}:t_on", cues["t_on"])
    if not (np.isfinite(on).all() and on.min() >= 0 and on.max() < V.shape[0]):
        raise BadInput(f"{where}:t_on", f"cue onsets {on.min():g}..{on.max():g} outside V's {V.shape[0]} samples "
                                        "(t_on are sample indices)")
    return sfreq


def _npz_raw(d: dict) -> mne.io.RawArray:
    V = np.asarray(d["V"], dtype=np.float32)
    sfreq = _srate("npz", d)
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


def _check_mat(path: str, scan: bool = False) -> None:
    """Keys, numeric classes and matching lengths from the header; with ``scan``, a float ``data`` is read for NaN."""
    from scipy.io import loadmat, whosmat

    try:
        names = {n: (shape, cls) for n, shape, cls in whosmat(path)}
    except Exception as exc:  # not a MATLAB file
        raise BadInput(path, f"not a readable MATLAB file ({type(exc).__name__})") from None
    missing = [k for k in MAT_KEYS if k not in names]
    if missing:
        raise BadInput(path, f"missing keys {missing} (Miller layout: 'data' time x channels, 'stim' time x 1)")
    for k in MAT_KEYS:
        if names[k][1] not in MAT_NUMERIC:
            raise BadInput(f"{path}:{k}", f"expected a numeric array, found MATLAB class '{names[k][1]}'")
    (data_shape, data_cls), n_stim = names["data"], int(np.prod(names["stim"][0]))
    if data_shape[0] != n_stim:
        raise BadInput(f"{path}:stim", f"{n_stim} samples but 'data' has {data_shape[0]}")
    if scan and data_cls in ("double", "single"):  # integer amplifier units cannot hold NaN
        data = loadmat(path, variable_names=["data"])["data"]
        if not np.isfinite(data).all():
            raise BadInput(f"{path}:data", f"{int((~np.isfinite(data)).sum())} non-finite samples (NaN or inf)")


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


def check_rates(where: str | None, sfreq: float, cfg, rate_key: str = "") -> None:
    """Raise BadInput when the config's rates or decoder cannot run on a recording at ``sfreq`` Hz.

    The envelope rate must be below half ``sfreq`` (its low-pass at a quarter of it
    must lie below Nyquist), the decimated band rate above 2 x the band's top (the
    decimation factor is an integer, so the rate reached can fall below
    ``band_sfreq_hz``), and an epoch's envelope must keep at least one sample through
    the decoders' two conv + pool(2) blocks (:func:`~domains.ecog.lengths.conv_pool_length`).
    ``where`` names the recording (None: the simulator, then the error names the
    ``--set`` key); ``rate_key`` the setting that gave ``sfreq`` (simulator, .mat), if any.
    """
    ic, kernel = cfg.ingest, cfg.model.kernel

    def at_(key: str) -> str:
        return where if where is not None else f"--set {key}"

    at = f"{sfreq:g} Hz" + (f" ({rate_key})" if rate_key else "")
    if not ic.envelope_sfreq_hz < sfreq / 2:
        raise BadInput(at_("ingest.envelope_sfreq_hz"), f"ingest.envelope_sfreq_hz={ic.envelope_sfreq_hz:g} Hz must be below half the "
                              f"recording's rate {at}: its low-pass at a quarter of it must be below Nyquist")
    band = decimated_rate(sfreq, ic.band_sfreq_hz)
    if not band > 2 * ic.hg_band_hz[1]:
        raise BadInput(at_("ingest.band_sfreq_hz"), f"ingest.band_sfreq_hz={ic.band_sfreq_hz:g} Hz decimates {at} by an integer to "
                              f"{band:.1f} Hz, not above 2 x the high-gamma top ({ic.hg_band_hz[1]:g} Hz): "
                              "raise ingest.band_sfreq_hz")
    n_env = decimated_samples(ic.epoch_s, sfreq, ic.envelope_sfreq_hz)
    n_out = conv_pool_length(n_env, kernel)
    if n_out < 1:
        env = decimated_rate(sfreq, ic.envelope_sfreq_hz)
        raise BadInput(at_("ingest.epoch_s"), f"an epoch of ingest.epoch_s={ic.epoch_s:g} s is {n_env} envelope samples at "
                              f"{env:g} Hz (ingest.envelope_sfreq_hz), {n_out} after the decoders' two conv "
                              f"(model.kernel={kernel}) + pool(2) blocks: lengthen ingest.epoch_s, raise "
                              "ingest.envelope_sfreq_hz or shorten model.kernel")


def _check_dataset(data: str | None, dataset: str) -> None:
    """``--dataset``: an ecog manifest; without ``--data``, one the flow generates (the simulator)."""
    m = get_manifest(dataset)
    if m.domain != "ecog":
        raise BadInput(f"--dataset {dataset}", f"a {m.domain} dataset, not ecog (see `lowdim data ls`)")
    if data is None and m.access != "embedded":
        raise BadInput(f"--dataset {dataset}", f"{m.access} data, not generated by the flow: download it and "
                                               "pass the file with --data (see `lowdim data ls`)")


def _check_simulator(cfg) -> None:
    ic, n_folds = cfg.ingest, cfg.reduce.n_folds
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
    check_rates(None, ic.sim_sfreq_hz, cfg, "ingest.sim_sfreq_hz")


def check_input(data: str | None, dataset: str | None, cfg) -> None:
    """Header-level validation before any run directory exists (raises BadInput).

    Checks: ``--dataset`` an ecog manifest the flow can run without ``--data`` (the
    simulator); the layout's keys, cues present and inside the recording, a finite
    sampling rate the high-gamma band fits under
    (:func:`~domains.ecog.preprocess.min_sfreq`), finite npz / float .mat samples,
    not all channels bad, every class with at least ``reduce.n_folds`` trials,
    epochs that do not reach the next cue, at least one of ``evaluate.tasks`` the
    blocks can give, envelope / band rates and a decoder input the recording's
    rate allows (:func:`check_rates`); for the simulator, bad channels among its
    channels and ``epoch_s <= cue_s + rest_s``.
    """
    ic, n_folds, tasks = cfg.ingest, cfg.reduce.n_folds, list(cfg.evaluate.tasks)
    if dataset:
        _check_dataset(data, dataset)
    if data is None:
        _check_simulator(cfg)
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
            sfreq = _check_npz_record(where, d, ic.hg_band_hz)  # the records hold the arrays already
            codes, on = np.asarray(d["stim_id"]).ravel(), np.asarray(d["t_on"]).ravel()
            _class_counts(where, codes, n_folds)
            check_epoch_spacing(f"{where}:t_on", on[np.isin(codes, [TONGUE, HAND])], sfreq, ic.epoch_s)
            check_rates(f"{where}:srate", sfreq, cfg)
            parts.setdefault(pid, {})[block] = int(np.shape(d["V"])[1])
        for pid, blocks in parts.items():
            _check_tasks(f"{data}:{pid}", blocks, tasks)
        return
    if kind == "mat":
        _check_mat(data, scan=True)
        check_sfreq("--set ingest.sfreq_hz", ic.sfreq_hz, ic.hg_band_hz)
        on, codes = _mat_cues(data)
        _class_counts(f"{data}:stim", codes, n_folds)
        check_epoch_spacing(f"{data}:stim", on[np.isin(codes, [TONGUE, HAND])], ic.sfreq_hz, ic.epoch_s)
        check_rates(data, ic.sfreq_hz, cfg, "ingest.sfreq_hz")
        _check_tasks(data, {_mat_block(data, ic.block): 0}, tasks)
        return
    raw = _mne_raw(data)
    check_sfreq(data, raw.info["sfreq"], ic.hg_band_hz)
    if len(mne.pick_types(raw.info, ecog=True, exclude="bads")) == 0:
        raise BadInput(f"{data}:bads", "all ECoG channels are marked bad")
    ev = find_cues(raw, data)
    _class_counts(data, ev[:, 2], n_folds)
    check_epoch_spacing(data, ev[:, 0], raw.info["sfreq"], ic.epoch_s)
    check_rates(data, raw.info["sfreq"], cfg)
    _check_tasks(data, {ic.block: 0}, tasks)
