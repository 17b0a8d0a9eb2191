"""Process environment for Prefect, set before ``import prefect``.

Facts behind the defaults (Prefect 3.9 on 2 cores, see the core brief §7):
ephemeral mode starts a temporary API server in every process, which times
out under load at the default 20 s; telemetry logs errors with no internet;
INFO logs would bury the CLI's output. A user's own settings always win.
"""

from __future__ import annotations

import os

DEFAULTS = {
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "120",
    "PREFECT_LOGGING_TO_API_WHEN_MISSING_FLOW": "ignore",
    "PREFECT_LOGGING_LEVEL": "WARNING",
    "DASK_LOGGING__DISTRIBUTED": "error",
    "TENSORLY_BACKEND": "pytorch",
}


def configure(quiet: bool = True) -> None:
    """Apply :data:`DEFAULTS` where the user has not set a value.

    Parameters
    ----------
    quiet : bool
        When true, Prefect's own run logs go down to CRITICAL so the CLI prints
        only its one-line errors and the run directory; ``error.txt`` in the
        run keeps the traceback.
    """
    for k, v in DEFAULTS.items():
        os.environ.setdefault(k, v)
    if quiet:
        os.environ.setdefault("PREFECT_LOGGING_LOGGERS_PREFECT_FLOW_RUNS_LEVEL", "CRITICAL")
        os.environ.setdefault("PREFECT_LOGGING_LOGGERS_PREFECT_TASK_RUNS_LEVEL", "CRITICAL")
