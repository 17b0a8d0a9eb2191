"""A flow run publishes its report and metrics-table artifacts."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

pytestmark = pytest.mark.prefect


async def _artifacts(keys):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    async with get_client() as client:
        found = {}
        for k in keys:
            arts = await client.read_artifacts(artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[k])))
            found[k] = arts
        return found


def test_lowrank_flow_publishes_artifacts(prefect_harness, tmp_path):
    from pipelines.lowrank import lowrank_flow

    run_dir = Path(lowrank_flow(out=str(tmp_path), seed=1))
    metrics = json.loads((run_dir / "metrics.json").read_text())
    found = asyncio.run(_artifacts(["lowrank-report", "lowrank-metrics"]))
    # other tests in the session publish under the same keys: pick this run's
    report = [a for a in found["lowrank-report"] if str(run_dir) in (a.description or "")]
    table = [a for a in found["lowrank-metrics"] if str(run_dir) in (a.description or "")]
    assert len(report) == 1 and report[0].type == "markdown" and "relative error" in report[0].data
    assert len(table) == 1 and table[0].type == "table"
    rows = json.loads(table[0].data) if isinstance(table[0].data, str) else table[0].data
    ours = {r["metric"]: r["value"] for r in rows if r["method"] == "lowdim"}
    assert ours["rel_error"] == pytest.approx(metrics["metrics"]["rel_error"])
    assert {r["method"] for r in rows} >= {"lowdim", "tensorly_hosvd"}
