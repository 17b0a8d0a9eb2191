"""Progress bars that show on a terminal and stay quiet otherwise."""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")


def progress(items: Iterable[T], desc: str, total: int | None = None) -> Iterator[T]:
    """Iterate over ``items`` with a tqdm bar on stderr when it is a TTY."""
    from tqdm.auto import tqdm

    yield from tqdm(items, desc=desc, total=total, disable=not sys.stderr.isatty(), leave=False)


def status(message: str) -> None:
    """One status line on stderr for a long step, only on a terminal."""
    if sys.stderr.isatty():
        print(f"  {message}", file=sys.stderr, flush=True)
