"""A flow run publishes its report and metrics-table artifacts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytestmark = pytest.mark.prefect


def test_lowrank_flow_publishes_artifacts(run_artifacts, tmp_path):
    from pipelines.lowrank import lowrank_flow

    run_dir = Path(lowrank_flow(out=str(tmp_path), seed=1))
    metrics = json.loads((run_dir / "metrics.json").read_text())
    report = run_artifacts("lowrank-report", run_dir)
    table = run_artifacts("lowrank-metrics", run_dir)
    assert len(report) == 1 and report[0][0].type == "markdown" and "relative error" in report[0][0].data
    assert len(table) == 1 and table[0][0].type == "table"
    rows = table[0][1]
    ours = {r["metric"]: r["value"] for r in rows if r["method"] == "lowdim"}
    assert ours["rel_error"] == pytest.approx(metrics["metrics"]["rel_error"])
    assert {r["method"] for r in rows} >= {"lowdim", "tensorly_hosvd"}
