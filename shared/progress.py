"""Progress output that shows on a terminal and stays quiet otherwise."""

from __future__ import annotations

import sys
from typing import Iterable, Iterator, TypeVar

T = TypeVar("T")


def status(message: str) -> None:
    """One status line on stderr for a long step, only on a terminal."""
    if sys.stderr.isatty():
        print(f"  {message}", file=sys.stderr, flush=True)


def progress(items: Iterable[T], desc: str, total: int | None = None, unit: str = "it") -> Iterator[T]:
    """Iterate ``items`` with a tqdm bar on stderr when it is a terminal, silently otherwise.

    Use it for long windowed or per-unit passes (tiles, blocks, epochs, participants).
    """
    if not sys.stderr.isatty():
        yield from items
        return
    from tqdm import tqdm

    yield from tqdm(items, desc=desc, total=total, unit=unit, leave=False, file=sys.stderr)
