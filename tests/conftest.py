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
