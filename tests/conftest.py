"""Test-wide setup: a private PREFECT_HOME and one Prefect harness per session.

The environment is set at import time, before any test imports Prefect, so no
test touches ~/.prefect or needs a server.
"""

from __future__ import annotations

import os
import tempfile

os.environ["PREFECT_HOME"] = tempfile.mkdtemp(prefix="lowdim-prefect-home-")
os.environ.setdefault("MPLBACKEND", "Agg")

from pipelines import env  # noqa: E402  (must follow PREFECT_HOME)

env.configure(quiet=True)

import pytest  # noqa: E402


@pytest.fixture(scope="session")
def prefect_harness():
    """A temporary Prefect API server with a fresh database, shared by the session.

    Starting one costs ~15 s on 2 cores; flow runs inside it then take ~1 s.
    """
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


@pytest.fixture
def run_artifacts(prefect_harness):
    """``find(key, run_dir)``: the Prefect artifacts under ``key`` that this run published.

    Other tests in the session publish under the same keys, so an artifact
    is this run's when its description names the run directory. Each comes
    back as ``(artifact, rows)``: a table's rows as a list of dicts, else None.
    """
    import asyncio
    import json

    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    async def read(key):
        async with get_client() as client:
            return await client.read_artifacts(artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[key])))

    def find(key, run_dir):
        arts = [a for a in asyncio.run(read(key)) if str(run_dir) in (a.description or "")]
        return [(a, (json.loads(a.data) if isinstance(a.data, str) else a.data) if a.type == "table" else None)
                for a in arts]

    return find


@pytest.fixture
def one_thread():
    """Torch on one thread for the test, restored after.

    Many tiny ops (an optimiser loop) on 2 threads of a loaded 2-core machine
    spend most of their time in OpenMP barriers (measured 25x slower); a test
    may set this for its own process, library code never does.
    """
    import torch

    n = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(n)
