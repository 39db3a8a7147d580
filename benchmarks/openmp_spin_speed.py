"""How long OpenMP's idle threads spin (``GOMP_SPINCOUNT``): forward time of a model under several spin counts,
with Winograd convolutions (NNPACK's threads beside OpenMP's) and without, each in fresh processes, alternated.

    python benchmarks/openmp_spin_speed.py [--cases r18:360x480 r50:360x480] [--spins default 10000 0]
                                           [--rounds 3] [--forwards 8]

``default`` leaves ``GOMP_SPINCOUNT`` and ``OMP_WAIT_POLICY`` unset (GNU OpenMP spins 300,000 rounds); a number
sets ``GOMP_SPINCOUNT``; ``passive`` sets ``OMP_WAIT_POLICY=PASSIVE``. Each case is one model and image size,
timed as ``fresh_forward.py`` says, once with ``test_cfg.winograd``'s kernels and once with oneDNN's direct
ones; each round runs one process per spin setting, the order reversed every other round. It prints the median
forward per setting and its speed relative to ``default``. The decision it supports (``seglab test``, ``infer``
and ``benchmark`` set ``GOMP_SPINCOUNT=10000``, ``seglab/openmp_spinning.py``): docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import os
import statistics

from fold_speed import cpu_name, load_average  # benchmarks/ is the script's folder
from fresh_forward import one_run, parse_case

from seglab.openmp_spinning import USER_SETTINGS, VARIABLE


def spin_env(setting: str) -> dict[str, str | None]:
    """The environment of one spin setting: ``default``, ``passive`` or a spin count (unset: ``None``)."""
    env: dict[str, str | None] = dict.fromkeys(USER_SETTINGS)
    if setting == "passive":
        env["OMP_WAIT_POLICY"] = "PASSIVE"
    elif setting != "default":
        env[VARIABLE] = str(int(setting))
    return env


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", nargs="+", default=["r18:360x480", "r50:360x480"], help="MODEL:HxW")
    parser.add_argument("--spins", nargs="+", default=["default", "10000", "0"], help="default, passive or N")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--forwards", type=int, default=8)
    args = parser.parse_args()
    settings = args.spins if "default" in args.spins else ["default", *args.spins]
    print(f"CPU: {cpu_name()}, {os.cpu_count()} CPUs; load {load_average()}")
    print("| case | kernels | " + " | ".join(f"{s} s (x default)" for s in settings) + " |")
    print("|---|---|" + "---|" * len(settings))
    for spec in args.cases:
        case, size = parse_case(spec)
        for winograd in (True, False):
            seconds: dict[str, list[float]] = {s: [] for s in settings}
            for index in range(args.rounds):
                for setting in settings if index % 2 == 0 else settings[::-1]:
                    run = one_run(case, size, args.forwards, spin_env(setting), winograd)
                    seconds[setting].append(run["seconds"])
            medians = {s: statistics.median(v) for s, v in seconds.items()}
            cells = " | ".join(f"{medians[s]:.3f} ({medians['default'] / medians[s]:.3f}x)" for s in settings)
            kernels = "Winograd (NNPACK)" if winograd else "direct (oneDNN)"
            print(f"| {case} {size[0]}x{size[1]} | {kernels} | {cells} |", flush=True)
    print(f"(load after: {load_average()})")


if __name__ == "__main__":
    main()
