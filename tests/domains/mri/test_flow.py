"""The mri flow end to end (quick profile), checkpoint reuse, user-file inference, bad input (issue 11)."""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch
from torch import nn

from domains.mri import checkpoint as ckpt
from domains.mri.io import write_fastmri
from domains.mri.steps import SPEC
from pipelines.cli import main as cli_main
from pipelines.flowkit import call_directly, execute

LIGHT = ["evaluate.cs=false", "evaluate.cs_wavelet=false", "ingest.twice_resolution=false", "ingest.adapt_contrast=false",
         "evaluate.extended_fov=false", "evaluate.upsampled_2x=false", "ingest.extra_train_sizes=[]"]


def test_quick_profile_beats_zero_filled_and_writes_outputs(quick_run, quick_thresholds):
    run_dir, ev = quick_run
    m = json.loads((Path(run_dir) / "metrics.json").read_text())
    met, base = m["metrics"], m["baselines"]
    quick_thresholds(met, base)
    run = Path(run_dir)
    assert {p.name for p in (run / "figures").glob("*.png")} == {"recon_grid.png", "psnr_vs_acceleration.png"}
    for f in ("operator.pt", "varnet.pt"):
        assert (run / "model" / f).is_file()
    with h5py.File(run / "results.h5") as h5:
        rec = h5["evaluate/poisson_2d_4x/operator/reconstruction"]
        assert rec.shape == (6, 64, 64) and rec.attrs["unit"].startswith("1")
    assert "| random | 4x |" in ev["report"] and "held out" in ev["report"]


def test_checkpoint_reuse_and_user_file_inference_reproduce_the_run(quick_run, tmp_path):
    """--set model.checkpoint reuses the weights (no training); --data FILE.h5 runs inference only."""
    run_dir, ev = quick_run
    op = str(Path(run_dir) / "model" / "operator.pt")
    rd, ev2 = execute(SPEC, call_directly, out=str(tmp_path), device="cpu", seed=0,
                      sets=[f"model.checkpoint={op}", *LIGHT, "evaluate.families=[gaussian_2d,radial]",
                            "evaluate.accelerations=[4]"])
    key = "psnr_db_gaussian_2d_4x"
    assert ev2["metrics"][key] == pytest.approx(ev["metrics"][key], abs=1e-4)
    assert ev2["seconds"]["model"] < 5 and not (Path(rd) / "model").exists()
    assert "loaded checkpoint" in ev2["report"]
    # the run's own test file, given as a user's fastMRI file: same slices, same masks, same numbers
    test_file = Path(run_dir) / "data" / "test.h5"
    rd3, ev3 = execute(SPEC, call_directly, out=str(tmp_path), device="cpu", seed=0, data=str(test_file),
                       sets=[f"model.checkpoint={op}", "evaluate.families=[gaussian_2d]", "evaluate.accelerations=[4]"])
    assert ev3["metrics"]["psnr_db"] == pytest.approx(ev["metrics"][key], abs=1e-4)
    m3 = json.loads((Path(rd3) / "metrics.json").read_text())
    assert m3["data"]["synthetic"] is False and len(m3["data"]["sha256"]) == 64


def _bad_cases(tmp_path: Path, run_dir: str) -> dict:
    k = (np.random.default_rng(0).standard_normal((2, 3, 16, 16)) * (1 + 1j)).astype(np.complex64)
    t = np.abs(k).sum(1)
    good = write_fastmri(tmp_path / "good.h5", k, t)
    nok = tmp_path / "nokspace.h5"
    with h5py.File(nok, "w") as fh:
        fh.create_dataset("reconstruction_rss", data=t)
    real = write_fastmri(tmp_path / "real.h5", np.abs(k), t)
    badmask = write_fastmri(tmp_path / "mask.h5", k, t, mask=np.ones(15, bool))
    lowacc = write_fastmri(tmp_path / "acc.h5", k, t, mask=np.ones(16, bool), acceleration=0.5)
    other = ckpt.save(tmp_path / "other.pt", nn.Linear(2, 2), "monai-varnet-v1", {})
    plain = tmp_path / "plain.pt"
    torch.save(nn.Linear(2, 2).state_dict(), plain)
    acc_text = write_fastmri(tmp_path / "acctext.h5", k, t, mask=np.ones(16, bool), acceleration=2.0)
    with h5py.File(acc_text, "a") as fh:
        fh["mask"].attrs["acceleration"] = "abc"
    no_slices = tmp_path / "noslices.h5"
    with h5py.File(no_slices, "w") as fh:
        fh.create_dataset("kspace", shape=(0, 3, 16, 16), dtype=np.complex64)
    zero_mask = write_fastmri(tmp_path / "zeromask.h5", k, t, mask=np.zeros(16, bool))
    op = str(Path(run_dir) / "model" / "operator.pt")
    ck = torch.load(op, map_location="cpu", weights_only=True)
    listed = tmp_path / "listed.pt"
    torch.save({**ck, "state_dict": list(ck["state_dict"].values())}, listed)
    extra_kw = ckpt.save(tmp_path / "extra_kwarg.pt", nn.Linear(2, 2), ck["arch"], {**ck["kwargs"], "foo": 1})
    wider = tmp_path / "wider.pt"  # the right tag and arguments that do not fit its weights
    torch.save({**ck, "kwargs": {**ck["kwargs"], "chans": 2 * ck["kwargs"]["chans"]}}, wider)
    return {
        "checkpoint argument unknown": (["--set", f"model.checkpoint={extra_kw}"], "constructor arguments"),
        "acceleration not a number": (["--data", str(acc_text), "--set", f"model.checkpoint={op}"],
                                      "acceleration"),
        "no slices": (["--data", str(no_slices), "--set", f"model.checkpoint={op}"], "noslices.h5:/kspace"),
        "mask samples nothing": (["--data", str(zero_mask), "--set", f"model.checkpoint={op}"], "zeromask.h5:/mask"),
        "state dict not a mapping": (["--set", f"model.checkpoint={listed}"], "state_dict"),
        "varnet checkpoint alone": (["--set", f"model.varnet_checkpoint={op}"], "model.varnet_checkpoint"),
        "unknown wavelet": (["--set", "evaluate.cs_wavelet_name=foo"], "evaluate.cs_wavelet_name"),
        "too many pooling levels": (["--set", "model.pools=8"], "model.pools"),
        "checkpoint at another size": (["--set", f"model.checkpoint={op}", "--set", "ingest.size=96"],
                                       "ingest.size"),
        "checkpoint weights do not fit": (["--set", f"model.checkpoint={wider}"], "size mismatch"),
        "no kspace": (["--data", str(nok), "--set", f"model.checkpoint={op}"], "nokspace.h5:/kspace"),
        "real kspace": (["--data", str(real), "--set", f"model.checkpoint={op}"], "complex"),
        "mask shape": (["--data", str(badmask), "--set", f"model.checkpoint={op}"], "mask.h5:/mask"),
        "mask acceleration": (["--data", str(lowacc), "--set", f"model.checkpoint={op}"], "acceleration"),
        "acceleration < 1": (["--set", "evaluate.accelerations=[0.5]"], "evaluate.accelerations"),
        "other architecture": (["--set", f"model.checkpoint={other}"], "architecture 'monai-varnet-v1'"),
        "plain state dict": (["--set", f"model.checkpoint={plain}"], "not a lowdim mri checkpoint"),
        "varnet as operator": (["--set", f"model.checkpoint={Path(run_dir) / 'model' / 'varnet.pt'}"],
                               "architecture"),
        "data without checkpoint": (["--data", str(good)], "model.checkpoint"),
        "extra training size at the 2x test": (["--set", "ingest.extra_train_sizes=[128]"],
                                               "ingest.extra_train_sizes"),
    }


@pytest.mark.parametrize("case", ["no kspace", "real kspace", "mask shape", "mask acceleration", "acceleration < 1",
                                  "other architecture", "plain state dict", "varnet as operator",
                                  "data without checkpoint", "extra training size at the 2x test",
                                  "checkpoint argument unknown", "checkpoint weights do not fit",
                                  "checkpoint at another size", "acceleration not a number", "no slices",
                                  "mask samples nothing", "state dict not a mapping", "varnet checkpoint alone",
                                  "unknown wavelet", "too many pooling levels"])
def test_bad_input_is_exit_2_with_one_line_and_no_run_dir(quick_run, tmp_path, capsys, case):
    args, needle = _bad_cases(tmp_path, quick_run[0])[case]
    out = tmp_path / "runs"
    assert cli_main(["run", "mri", *args, "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and needle in err[0], err
    assert not (out / "mri").exists() or not any((out / "mri").iterdir())


def test_checkpoint_with_code_is_refused(tmp_path):
    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    p = tmp_path / "evil.pt"
    torch.save({"arch": "x", "state_dict": Evil()}, p)
    from shared.errors import BadInput

    with pytest.raises(BadInput, match="weights-only"):
        ckpt.read(p)


def test_prefect_flow_publishes_artifacts(prefect_harness, tmp_path):
    from pipelines.mri import mri_flow

    """The flow as Prefect tasks, with the adaptation and the 2x-resolution test at a few steps."""
    small = ["evaluate.cs=false", "evaluate.cs_wavelet=false", "model.steps=2", "model.adapt_steps=1", "model.varnet=false",
             "evaluate.families=[random]", "evaluate.accelerations=[4]", "ingest.max_test_slices=2",
             "ingest.slice_step=4", "ingest.adapt_train_slices=2", "evaluate.timing_repeats=1"]
    run_dir = mri_flow(profile="quick", out=str(tmp_path), device="cpu", seed=0, sets=small)
    m = json.loads((Path(run_dir) / "metrics.json").read_text())
    assert m["status"] == "completed" and m["domain"] == "mri" and set(m["baselines"]) == {"zero_filled"}
    met = m["metrics"]
    assert 0 < met["adapt_flora_trainable_fraction"] <= 0.05
    for k in ("psnr_2x_db", "psnr_cost_2x_db", "psnr_up2x_db", "psnr_cost_up2x_db", "psnr_fov2x_db", "psnr_cost_fov2x_db",
              "adapt_flora_minus_finetune_db", "adapt_pretrained_psnr_db"):
        assert np.isfinite(met[k]), k
    for f in ("operator_flora.pt", "operator_finetuned.pt"):
        assert (Path(run_dir) / "model" / f).is_file()


def test_undersampled_user_file_with_its_own_mask(quick_run, tmp_path):
    """A fastMRI test-style file (k-space already undersampled, `mask` (W,)): inference with that mask."""
    from domains.mri.io import read_fastmri
    from domains.mri.masks import make_mask

    run_dir, _ = quick_run
    vol = read_fastmri(Path(run_dir) / "data" / "test.h5")
    m = make_mask("random", tuple(vol.kspace.shape[-2:]), 4, seed=5)
    k = vol.kspace * m
    op = str(Path(run_dir) / "model" / "operator.pt")
    with_t = write_fastmri(tmp_path / "under.h5", k, vol.target, mask=m[0], acceleration=4.0)
    _, ev = execute(SPEC, call_directly, out=str(tmp_path / "a"), device="cpu", data=str(with_t),
                    sets=[f"model.checkpoint={op}", "evaluate.cs=false", "evaluate.cs_wavelet=false"])
    met, base = ev["metrics"], ev["baselines"]
    assert met["psnr_db"] > base["zero_filled"]["psnr_db"] + 1.0
    assert "psnr_db_file_mask_4x" in met
    no_t = write_fastmri(tmp_path / "under_nt.h5", k, None, mask=m[0], acceleration=4.0)
    rd, ev2 = execute(SPEC, call_directly, out=str(tmp_path / "b"), device="cpu", data=str(no_t),
                      sets=[f"model.checkpoint={op}", "evaluate.cs=false", "evaluate.cs_wavelet=false"])
    assert "psnr_db" not in ev2["metrics"] and ev2["metrics"]["seconds_per_slice"] > 0
    with h5py.File(Path(rd) / "results.h5") as h5:
        assert h5["evaluate/file_mask_4x/operator/reconstruction"].shape == tuple(vol.target.shape)
