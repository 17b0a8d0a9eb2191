"""Progress output that shows on a terminal and stays quiet otherwise."""

from __future__ import annotations

import sys


def status(message: str) -> None:
    """One status line on stderr for a long step, only on a terminal."""
    if sys.stderr.isatty():
        print(f"  {message}", file=sys.stderr, flush=True)
