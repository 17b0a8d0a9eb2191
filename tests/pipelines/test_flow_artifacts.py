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
    report = found["lowrank-report"]
    table = found["lowrank-metrics"]
    assert report and report[-1].type == "markdown" and "relative error" in report[-1].data
    assert table and table[-1].type == "table"
    rows = json.loads(table[-1].data) if isinstance(table[-1].data, str) else table[-1].data
    ours = {r["metric"]: r["value"] for r in rows if r["method"] == "lowdim"}
    assert ours["rel_error"] == pytest.approx(metrics["metrics"]["rel_error"])
    assert {r["method"] for r in rows} >= {"lowdim", "tensorly_hosvd"}
