"""Keep freed CPU memory in the process for reuse, so a prediction loop stops paying page faults on every large
tensor it allocates.

By default glibc's malloc serves a large allocation with a fresh ``mmap`` and gives it back to the system when
it is freed, and it trims the top of its heap: the next forward then touches brand-new pages, and the kernel
zeroes each one on its first use. For a model on CPU that is most of the cost of the memory-bound layers (a
depthwise convolution over a 22 MB map took 23-30 ms fresh against 4.5 ms on reused memory, and a whole
DeepLabV3+ R50-D8 forward at 360x480 7% less time; ``docs/benchmarks.md``). ``keep_freed_memory`` turns both
off for the rest of the process (``mallopt``: no ``mmap`` for allocations, no trimming), which is what the
memory allocators recommended for CPU inference (jemalloc, tcmalloc) do as well. The cost: the process keeps
its peak memory until it exits instead of shrinking between forwards.

``seglab test``, ``seglab infer`` and ``seglab benchmark`` call it, because they run one pass and exit; the
Python API does not change a process-wide setting on its own. ``SEGLAB_KEEP_FREED_MEMORY=0`` turns it off. On a
system without glibc (macOS, Windows, musl) it does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import logging
import os

from seglab.errors import ConfigError

logger = logging.getLogger("seglab")

M_TRIM_THRESHOLD = -1  # <malloc.h>: free memory at the top of the heap above this size goes back to the system
M_MMAP_MAX = -4  # <malloc.h>: how many allocations may be served by mmap at once (0: none)
TRIM_ABOVE = 2**31 - 1  # the largest value mallopt takes: keep up to 2 GiB of free heap
SWITCH = "SEGLAB_KEEP_FREED_MEMORY"
ON, OFF = ("1", "true", "yes", "on", ""), ("0", "false", "no", "off")


@functools.cache
def keep_freed_memory() -> bool:
    """Make glibc's malloc keep freed memory for reuse in this process (once); whether it now does."""
    value = os.environ.get(SWITCH, "1").strip().lower()
    if value not in ON + OFF:
        raise ConfigError(f"{SWITCH}={value!r}: use 1 (keep freed memory, the default) or 0 (the usual allocator)")
    if value in OFF:
        return False
    libc = _glibc()
    if libc is None:
        return False
    mallopt = libc.mallopt
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    ok = mallopt(M_MMAP_MAX, 0) == 1 and mallopt(M_TRIM_THRESHOLD, TRIM_ABOVE) == 1
    if not ok:
        logger.debug("mallopt refused; freed memory goes back to the system as usual")
    return ok


def keep_freed_memory_for(model) -> bool:
    """``keep_freed_memory`` for a command about to predict with ``model``, when the model is on CPU."""
    parameter = next(model.parameters(), None)
    return (parameter is None or parameter.device.type == "cpu") and keep_freed_memory()


def _glibc() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("c")
    if not name:
        return None
    try:
        libc = ctypes.CDLL(name)
    except OSError:
        return None
    return libc if hasattr(libc, "gnu_get_libc_version") else None  # glibc's, which has these mallopt options
