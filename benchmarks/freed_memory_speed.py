"""Keeping freed memory for reuse (``seglab.freed_memory``): forward time of a model with glibc's usual
allocator settings and with freed memory kept, each in fresh processes, alternated.

    python benchmarks/freed_memory_speed.py [--cases r18:360x480 r50:360x480] [--rounds 3] [--forwards 5]

Each case builds a config at random weights with random BatchNorm statistics, folded and with the CPU kernels
``seglab test`` uses (``r18``: DeepLabV3+ R18-D8, ``r50``: the tutorial's DeepLabV3+ R50-D8), and times
``encode_decode`` of one image: one warm-up forward, then the median of ``--forwards``. Each round runs one
process per way (``SEGLAB_KEEP_FREED_MEMORY=0`` and ``1``), the order swapped every round, and prints both
medians, the ratio, the minor page faults per forward and the peak RSS. The decision it supports (freed memory
is kept by ``seglab test``, ``infer`` and ``benchmark`` on CPU): docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

from fold_speed import CONFIGS, REPO, cpu_name, load_average  # benchmarks/ is the script's folder

ONE_PROCESS = """
import json, resource, statistics, sys, time
sys.path.insert(0, {folder!r})
import torch
from seglab.freed_memory import keep_freed_memory
kept = keep_freed_memory()
from fold_speed import eval_model, folded_copy
from seglab.models.cpu_kernels import use_cpu_kernels
model = folded_copy(eval_model({config!r}))
use_cpu_kernels(model, winograd=True)
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


def one_run(case: str, size: tuple[int, int], forwards: int, keep: bool) -> dict:
    code = ONE_PROCESS.format(
        folder=str(Path(__file__).parent), config=str(REPO / "configs" / f"{CONFIGS[case]}.py"), size=size,
        forwards=forwards,
    )  # fmt: skip
    env = {**os.environ, "SEGLAB_KEEP_FREED_MEMORY": "1" if keep else "0"}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    if done.returncode:
        sys.exit(done.stderr[-3000:])
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", nargs="+", default=["r18:360x480", "r50:360x480"], help="MODEL:HxW")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--forwards", type=int, default=5)
    args = parser.parse_args()
    print(f"CPU: {cpu_name()}, {os.cpu_count()} CPUs; load {load_average()}")
    print("| case | round | usual s | kept s | usual / kept | page faults per forward (usual / kept) | peak MB |")
    print("|---|---|---|---|---|---|---|")
    for spec in args.cases:
        case, _, size_text = spec.partition(":")
        size = tuple(int(v) for v in (size_text or "360x480").split("x"))
        ratios = []
        for index in range(args.rounds):
            order = (False, True) if index % 2 == 0 else (True, False)
            runs = {keep: one_run(case, size, args.forwards, keep) for keep in order}
            usual, kept = runs[False], runs[True]
            ratios.append(usual["seconds"] / kept["seconds"])
            print(
                f"| {case} {size[0]}x{size[1]} | {index + 1} | {usual['seconds']:.3f} | {kept['seconds']:.3f} | "
                f"{ratios[-1]:.3f} | {usual['faults']:.0f} / {kept['faults']:.0f} | "
                f"{usual['peak_mb']:.0f} / {kept['peak_mb']:.0f} |",
                flush=True,
            )
        print(
            f"{case}: median usual / kept {statistics.median(ratios):.3f} (rounds {min(ratios):.3f}-{max(ratios):.3f})"
        )
    print(f"(load after: {load_average()})")


if __name__ == "__main__":
    main()
