"""Freed CPU memory kept for reuse (``seglab.freed_memory``): with it, repeated forwards stop page-faulting on
their tensors; ``SEGLAB_KEEP_FREED_MEMORY=0`` leaves the allocator as it is; a misspelt value is named with the
values it takes. The forwards run in fresh processes: the setting is process-wide and cannot be undone."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from seglab.freed_memory import _glibc

pytestmark = pytest.mark.skipif(_glibc() is None, reason="glibc's malloc only")

FORWARDS = """
import json, resource, sys, torch
from torch import nn
from seglab.freed_memory import keep_freed_memory
kept = keep_freed_memory() if sys.argv[1] == "keep" else None
torch.set_num_threads(1)
net = nn.Sequential(nn.Conv2d(3, 32, 3, padding=1), nn.ReLU(), nn.Conv2d(32, 32, 3, padding=1, groups=32),
                    nn.Conv2d(32, 64, 1), nn.ReLU()).eval()
x, faults = torch.randn(1, 3, 256, 256), []
with torch.inference_mode():
    for _ in range(5):
        before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        net(x)
        faults.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
print(json.dumps({"kept": kept, "faults": faults}))
"""


def forwards(mode: str, **env: str) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", FORWARDS, mode], capture_output=True, text=True, env={**os.environ, **env}, check=True
    )
    return json.loads(done.stdout)


def test_kept_memory_spares_the_page_faults_of_every_later_forward():
    usual, kept = forwards("usual"), forwards("keep")
    assert kept["kept"] is True
    # 64-channel maps of 256x256 are 16 MiB: the usual allocator hands them back and faults them in again, every
    # forward; kept, the heap settles within a forward or two (the second may still grow it a little)
    assert min(usual["faults"][1:]) > 1000
    assert sum(kept["faults"][1:]) < 0.25 * sum(usual["faults"][1:])
    assert sum(kept["faults"][2:]) < 0.05 * sum(usual["faults"][2:])


def test_the_switch_leaves_the_allocator_alone():
    off = forwards("keep", SEGLAB_KEEP_FREED_MEMORY="0")
    assert off["kept"] is False and min(off["faults"][1:]) > 1000


def test_a_misspelt_switch_is_named_with_the_values_it_takes(monkeypatch):
    from seglab.errors import ConfigError
    from seglab.freed_memory import keep_freed_memory

    monkeypatch.setenv("SEGLAB_KEEP_FREED_MEMORY", "O")  # the letter, not zero
    keep_freed_memory.cache_clear()
    try:
        with pytest.raises(ConfigError, match="SEGLAB_KEEP_FREED_MEMORY='o': use 1 .* or 0"):
            keep_freed_memory()
    finally:
        keep_freed_memory.cache_clear()
