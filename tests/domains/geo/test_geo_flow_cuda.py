"""The geo quick flow end to end on the GPU (skipped without CUDA): the CPU flow test's margins."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import rasterio
import torch

from domains.geo.steps import SPEC
from pipelines.flowkit import call_directly, execute

pytestmark = [pytest.mark.cuda, pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")]


def test_quick_flow_on_cuda_scores_every_method_on_both_sensors(tmp_path):
    run_dir, ev = execute(SPEC, call_directly, out=str(tmp_path), device="cuda", seed=0)
    run_dir = Path(run_dir)
    m = json.loads((run_dir / "metrics.json").read_text())
    assert m["device"].startswith("cuda") and m["status"] == "completed"
    # test_quick_flow_scores_every_method_on_both_sensors's thresholds
    for s in ("landsat8", "sentinel2"):
        ours = m["metrics"][f"matching_accuracy_{s}"]
        assert 0 < m["metrics"][f"coverage_{s}"] < 1
        for b in ("raw", "pca", "ae", "sae"):
            assert m["baselines"][b][f"coverage_{s}"] == 1.0
            assert ours > m["baselines"][b][f"matching_accuracy_{s}"] + 0.08, (s, b)
        assert m["metrics"][f"ari_{s}"] > 0.5
    # the unit maps are written as on the CPU (COG, nodata 255)
    with rasterio.open(run_dir / "unitmap_sentinel2_improved.tif") as src:
        assert src.tags(ns="IMAGE_STRUCTURE").get("LAYOUT") == "COG" and src.nodata == 255
    assert len(list(run_dir.glob("unitmap_*.tif"))) == 10
