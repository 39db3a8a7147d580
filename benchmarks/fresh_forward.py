"""One model's forward timed in a fresh process, under the environment a caller gives: for settings that a
process takes once and cannot undo (the allocator's, OpenMP's), shared by ``freed_memory_speed.py`` and
``openmp_spin_speed.py``.

The process builds a config at random weights with random BatchNorm statistics, folded and with the CPU kernels
``seglab test`` uses (``r18``: DeepLabV3+ R18-D8, ``r50``: the tutorial's DeepLabV3+ R50-D8), keeps freed memory
as ``seglab test`` does (unless ``SEGLAB_KEEP_FREED_MEMORY=0``), and times ``encode_decode`` of one image: one
warm-up forward, then the median of ``forwards``, with the minor page faults per forward and the peak RSS.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from fold_speed import CONFIGS, REPO  # benchmarks/ is the script's folder

ONE_PROCESS = """
import json, resource, statistics, sys, time
sys.path.insert(0, {folder!r})
import torch
from seglab.freed_memory import keep_freed_memory
kept = keep_freed_memory()
from fold_speed import eval_model, folded_copy
from seglab.models.cpu_kernels import use_cpu_kernels
model = folded_copy(eval_model({config!r}))
use_cpu_kernels(model, winograd={winograd})
h, w = {size}
image = torch.randn(1, 3, h, w, generator=torch.Generator().manual_seed(1)) * 50
meta = [dict(img_shape=(h, w), ori_shape=(h, w), pad_shape=(h, w))]
times, faults = [], []
with torch.inference_mode():
    model.encode_decode(image, meta)
    for _ in range({forwards}):
        before, start = resource.getrusage(resource.RUSAGE_SELF).ru_minflt, time.perf_counter()
        model.encode_decode(image, meta)
        times.append(time.perf_counter() - start)
        faults.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps(dict(kept=kept, seconds=statistics.median(times), faults=statistics.median(faults), peak_mb=peak)))
"""


def parse_case(spec: str) -> tuple[str, tuple[int, int]]:
    """``r50:360x480`` -> ``("r50", (360, 480))``; the size defaults to 360x480."""
    case, _, size_text = spec.partition(":")
    return case, tuple(int(v) for v in (size_text or "360x480").split("x"))


def one_run(case: str, size: tuple[int, int], forwards: int, env: dict[str, str | None], winograd: bool = True) -> dict:
    """``seconds`` (median forward), ``faults`` (per forward), ``peak_mb`` and ``kept`` of one fresh process with
    ``env`` over this one's (a ``None`` value removes the variable)."""
    code = ONE_PROCESS.format(
        folder=str(Path(__file__).parent), config=str(REPO / "configs" / f"{CONFIGS[case]}.py"), size=size,
        forwards=forwards, winograd=winograd,
    )  # fmt: skip
    merged = {**os.environ, **env}
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True,
        env={k: v for k, v in merged.items() if v is not None},
    )  # fmt: skip
    if done.returncode:
        sys.exit(done.stderr[-3000:])
    return json.loads(done.stdout.strip().splitlines()[-1])
