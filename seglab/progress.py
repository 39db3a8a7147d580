"""Progress for long loops: a tqdm bar on a terminal, a few percentage lines anywhere else.

In CI logs, under ``nohup`` or with output sent to a file, a bar's carriage-return updates become
thousands of lines; there, ``progress`` prints ``desc: 25% (50/200)`` at each quarter instead."""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from typing import TypeVar

from tqdm import tqdm

T = TypeVar("T")
STEPS = (25, 50, 75, 100)


def progress(iterable: Iterable[T], desc: str, total: int | None = None, min_items: int = 2) -> Iterator[T]:
    """Iterate ``iterable`` showing progress when it has at least ``min_items`` items."""
    total = total if total is not None else (len(iterable) if hasattr(iterable, "__len__") else None)
    if total is not None and total < min_items:
        yield from iterable
        return
    if sys.stderr.isatty():
        yield from tqdm(iterable, desc=desc, total=total, leave=False)
        return
    next_step = 0
    for done, item in enumerate(iterable, start=1):
        yield item
        if total and next_step < len(STEPS) and done * 100 >= STEPS[next_step] * total:
            while next_step < len(STEPS) and done * 100 >= STEPS[next_step] * total:
                next_step += 1
            print(f"{desc}: {STEPS[next_step - 1]}% ({done}/{total})", file=sys.stderr, flush=True)
