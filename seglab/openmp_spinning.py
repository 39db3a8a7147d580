"""Shorter spinning for OpenMP's idle threads in the commands that predict, set before torch loads OpenMP.

On CPU, seglab's Winograd convolutions run in NNPACK, whose threads are not OpenMP's. When a parallel region
ends, GNU OpenMP (libgomp, the runtime of PyTorch's Linux wheels) keeps its idle threads spinning for 300,000
rounds by default, waiting for the next region; with Winograd layers between oneDNN's, those spinning threads
take cores from NNPACK's. On 2 cores that cost DeepLabV3+ R18-D8 a fifth of its forward time at 360x480
(0.27-0.30 s against 0.21-0.22 s with 10,000 rounds) and R50-D8 3-5% (``docs/benchmarks.md``). Fewer rounds
than that slow the plain oneDNN model a little, so the commands that predict with Winograd (``seglab test``,
``infer``, ``benchmark``) set ``GOMP_SPINCOUNT=10000``, and only when the user has set neither it nor
``OMP_WAIT_POLICY``.

libgomp reads its environment once, when torch is first imported, so this must run before that; a process
that has already imported torch (the Python API, a notebook) keeps what it has. Other OpenMP runtimes (Intel's
``libiomp5``) ignore the variable.
"""

from __future__ import annotations

import os
import sys

SPIN_COUNT = "10000"
VARIABLE = "GOMP_SPINCOUNT"
USER_SETTINGS = ("OMP_WAIT_POLICY", VARIABLE)  # either one means the user chose how idle threads wait


def shorten_openmp_spinning() -> bool:
    """Set ``GOMP_SPINCOUNT`` for this process and its children unless torch is loaded or the user chose a
    wait policy; whether it was set."""
    if "torch" in sys.modules or any(name in os.environ for name in USER_SETTINGS):
        return False
    os.environ[VARIABLE] = SPIN_COUNT
    return True


def openmp_spinning() -> str:
    """How OpenMP's idle threads wait in this process, in words for a log line."""
    chosen = [f"{name}={os.environ[name]}" for name in USER_SETTINGS if name in os.environ]
    return ", ".join(chosen) or f"OpenMP's default ({VARIABLE} unset)"
