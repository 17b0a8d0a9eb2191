"""SIGINT and SIGTERM during a run: mark it failed, say so, stop.

A step runs in a worker thread under Prefect; Python delivers signals to the
main thread only, and a thread computing a tensor cannot be interrupted. So
the handler does the bookkeeping itself: every run in progress in this
process becomes ``<run_id>.failed/`` with ``error.txt`` saying
``Interrupted: interrupted by SIGINT``. Then

- in *exit* mode (the ``lowdim`` CLI, see :func:`set_exit_on_signal`) it
  writes one line to stderr and ends the process at once with ``128 +
  signum`` (130 for SIGINT, 143 for SIGTERM), without waiting for the worker
  thread or Prefect's shutdown (the CLI's watchdog stops the temporary
  Prefect server);
- otherwise (a library caller, a notebook) it raises :class:`Interrupted` in
  the main thread, which a caller may catch.

:func:`stop_on_signals` installs the handler for a block and restores the
previous handlers after it; outside the main thread it does nothing.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from contextlib import contextmanager
from typing import Callable, Iterator

SIGNALS = (signal.SIGINT, signal.SIGTERM)

_exit_on_signal = False
_before_exit: list[Callable[[int], None]] = []


class Interrupted(BaseException):
    """A run stopped by a signal (a BaseException, so ``except Exception`` does not swallow it)."""

    def __init__(self, signum: int):
        self.signum = int(signum)
        super().__init__(f"interrupted by {signal.Signals(self.signum).name}")

    @property
    def exit_code(self) -> int:
        return 128 + self.signum


def set_exit_on_signal(flag: bool = True) -> None:
    """Exit mode: the handler ends the process (for the CLI, which owns the process)."""
    global _exit_on_signal
    _exit_on_signal = bool(flag)


def _handler(signum: int, frame) -> None:
    from shared.runs import fail_active_runs

    exc = Interrupted(signum)
    failed = fail_active_runs(exc)
    if not _exit_on_signal:
        raise exc
    for fn in list(_before_exit):
        try:
            fn(signum)
        except BaseException:  # noqa: BLE001 - nothing may keep the process from exiting
            pass
    name = signal.Signals(signum).name
    where = f": {', '.join(str(p) for p in failed)} marked failed" if failed else ""
    # os.write, not print: the handler may run while the main thread is inside a print
    try:
        sys.stdout.flush()
    except BaseException:  # noqa: BLE001
        pass
    os.write(2, f"interrupted by {name}{where}\n".encode())
    os._exit(exc.exit_code)


@contextmanager
def stop_on_signals(before_exit: Callable[[int], None] | None = None) -> Iterator[None]:
    """Handle SIGINT and SIGTERM as described in the module docstring, within the block.

    Parameters
    ----------
    before_exit : callable, optional
        ``before_exit(signum)`` runs in exit mode just before the process ends
        (e.g. a bounded attempt to stop a Prefect runner).
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    old = {s: signal.signal(s, _handler) for s in SIGNALS}
    if before_exit is not None:
        _before_exit.append(before_exit)
    try:
        yield
    finally:
        if before_exit is not None:
            _before_exit.remove(before_exit)
        for s, h in old.items():
            signal.signal(s, h if h is not None else signal.SIG_DFL)
