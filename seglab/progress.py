"""Progress for long loops: a tqdm bar on a terminal, a few percentage lines anywhere else.

In CI logs, under ``nohup`` or with output sent to a file, a bar's carriage-return updates become
thousands of lines; there, progress is printed as ``desc: 25% (50/200)`` at each quarter instead."""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from typing import TypeVar

from tqdm import tqdm

T = TypeVar("T")
STEPS = (25, 50, 75, 100)


class QuarterLines:
    """A counter with tqdm's ``update``/``close`` that prints a line as each quarter of ``total`` is passed."""

    def __init__(self, total: int | None, desc: str, initial: int = 0) -> None:
        self.total, self.desc, self.done = total, desc, initial
        self.next_step = 0
        self._passed()  # work done before (a resumed run) counts silently

    def _passed(self) -> int | None:
        """Advance past every quarter already reached; the last one passed, if any."""
        passed = None
        while self.total and self.next_step < len(STEPS) and self.done * 100 >= STEPS[self.next_step] * self.total:
            passed = STEPS[self.next_step]
            self.next_step += 1
        return passed

    def update(self, n: int = 1) -> None:
        self.done += n
        step = self._passed()
        if step is not None:
            print(f"{self.desc}: {step}% ({self.done}/{self.total})", file=sys.stderr, flush=True)

    def close(self) -> None:
        pass


def progress_counter(total: int | None, desc: str, initial: int = 0, unit: str = "it") -> tqdm | QuarterLines:
    """A tqdm bar on a terminal, quarter lines elsewhere; call ``update()`` per item and ``close()`` at the end."""
    if sys.stderr.isatty():
        return tqdm(total=total, initial=initial, desc=desc, unit=unit, dynamic_ncols=True, leave=True)
    return QuarterLines(total, desc, initial)


def progress(iterable: Iterable[T], desc: str, total: int | None = None, min_items: int = 2) -> Iterator[T]:
    """Iterate ``iterable`` showing progress when it has at least ``min_items`` items."""
    total = total if total is not None else (len(iterable) if hasattr(iterable, "__len__") else None)
    if total is not None and total < min_items:
        yield from iterable
        return
    if sys.stderr.isatty():
        yield from tqdm(iterable, desc=desc, total=total, leave=False)
        return
    counter = QuarterLines(total, desc)
    for item in iterable:
        yield item
        counter.update()
