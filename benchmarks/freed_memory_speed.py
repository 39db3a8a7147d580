"""Keeping freed memory for reuse (``seglab.freed_memory``): forward time of a model with glibc's usual
allocator settings and with freed memory kept, each in fresh processes, alternated.

    python benchmarks/freed_memory_speed.py [--cases r18:360x480 r50:360x480] [--rounds 3] [--forwards 5]

Each case is one model and image size, timed as ``fresh_forward.py`` says (folded, the CPU kernels of
``seglab test``, one warm-up forward, then the median of ``--forwards``). Each round runs one
process per way (``SEGLAB_KEEP_FREED_MEMORY=0`` and ``1``), the order swapped every round, and prints both
medians, the ratio, the minor page faults per forward and the peak RSS. The decision it supports (freed memory
is kept by ``seglab test``, ``infer`` and ``benchmark`` on CPU): docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import os
import statistics

from fold_speed import cpu_name, load_average  # benchmarks/ is the script's folder
from fresh_forward import one_run, parse_case

from seglab.freed_memory import SWITCH


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
        case, size = parse_case(spec)
        ratios = []
        for index in range(args.rounds):
            order = (False, True) if index % 2 == 0 else (True, False)
            runs = {keep: one_run(case, size, args.forwards, {SWITCH: "1" if keep else "0"}) for keep in order}
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
