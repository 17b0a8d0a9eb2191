"""A watchdog that stops the CLI's child processes when the CLI dies, however it dies.

Prefect's ephemeral mode starts a temporary API server (uvicorn) as a child
process. If the CLI is killed (SIGKILL, a crash, ``os._exit`` after an
interrupt) nothing in it can stop that child, which then lives on as an
orphan. The watchdog is a small separate process in its own session (so a
terminal's Ctrl-C does not reach it) that

1. holds the read end of a pipe whose write end only the CLI holds: end of
   file means the CLI is gone, at once and whatever killed it;
2. meanwhile records the CLI's descendants every half second (with their
   start times, so a recycled process id is never signalled);
3. on end of file terminates the recorded descendants that still run
   (SIGTERM, then SIGKILL after 3 s) and exits.

A parent-death signal (``PR_SET_PDEATHSIG``) would have to be set inside
Prefect's own ``Popen`` and fires when the *thread* that started the child
exits, so it is not used.
"""

from __future__ import annotations

import os
import select
import subprocess
import sys

POLL_S = 0.5
_started: subprocess.Popen | None = None


def start() -> subprocess.Popen | None:
    """Start the watchdog for this process (once; later calls return the same one)."""
    global _started
    if _started is not None and _started.poll() is None:
        return _started
    try:
        _started = subprocess.Popen(
            [sys.executable, "-m", "pipelines.watchdog", str(os.getpid())],
            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True, close_fds=True)
    except OSError:  # no watchdog is better than no run
        _started = None
    return _started


def watch(pid: int) -> None:
    """The watchdog's loop (runs in the watchdog process)."""
    import psutil

    try:
        parent = psutil.Process(pid)
    except psutil.NoSuchProcess:
        return
    me = os.getpid()
    known: dict[int, psutil.Process] = {}
    while True:
        ready, _, _ = select.select([0], [], [], POLL_S)
        if ready and not os.read(0, 4096):
            break  # end of file: the CLI is gone
        try:
            for c in parent.children(recursive=True):
                if c.pid != me:
                    known.setdefault(c.pid, c)
        except psutil.NoSuchProcess:
            break
    # is_running() compares start times: a recycled pid is not ours
    left = [p for p in known.values() if p.is_running()]
    for p in left:
        try:
            p.terminate()
        except psutil.Error:
            pass
    _, alive = psutil.wait_procs(left, timeout=3)
    for p in alive:
        try:
            p.kill()
        except psutil.Error:
            pass


if __name__ == "__main__":
    watch(int(sys.argv[1]))
