"""Training speed of a config: median seconds/iteration after warm-up, data time, images/s, peak RSS.

    python benchmarks/train_speed.py configs/deeplabv3plus/deeplabv3plus_r50-d8_dummy-test.py --iters 8 --amp

Each precision runs in its own process (so peak RSS is its own) through the real ``seglab train`` path
with validation and checkpoint saving switched off and weights left random (speed does not depend on
them). With ``--amp`` it also runs bfloat16 autocast (forced, so the start-up probe cannot switch it
off), prints the ratio, the CPU and its bfloat16 instructions, and what plain ``--amp`` chooses here (the
probe of ``seglab/engine/amp.py``). With ``--compile`` it also runs ``compile=True`` (torch.compile's
default backend, inductor; ``--compile-backend`` picks another) and prints the ratio against eager float32
from the same invocation and the CPU; its median leaves out the first iterations, which compile. When the
config's ``data_root`` does not exist, the tutorial's dummy dataset is generated in a temporary folder.

Reference on a 2-core CPU machine (MMSegmentation 1.2.2, tutorial config): 6.1 s/iteration, 2.97 GB peak RSS.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

MMSEG_SECONDS_PER_ITER = 6.1
MMSEG_PEAK_RSS_GB = 2.97
COMPILE_WARMUP = 3  # iterations left out of a compiled run's median: the first ones compile


def run_one(
    config: str, iters: int, amp: bool, data_root: str | None, work_dir: str, extra: list[str], compiled: str = ""
) -> dict:
    """Train ``iters`` iterations in this process and return the timing summary (``compiled``: the backend)."""
    from seglab import Config, Runner
    from seglab.config import parse_cfg_options

    cfg = Config.fromfile(config)
    options = {
        "train_cfg.max_iters": iters,
        "train_cfg.val_interval": iters + 1,
        "default_hooks.logger.interval": 1,
        "log_processor.window_size": 1,  # per-iteration times, not window means (which would hold the warm-up)
        "default_hooks.checkpoint.interval": -1,
        "default_hooks.checkpoint.save_last": False,
        "load_from": None,
        "model.pretrained": None,
        "val_dataloader": None,
        "work_dir": work_dir,
    }
    if data_root:
        options["train_dataloader.dataset.data_root"] = data_root
    options.update(parse_cfg_options(extra))
    cfg.merge_from_dict(options)
    if amp:  # dtype given: bfloat16 whatever the probe would say
        cfg.optim_wrapper = {**cfg.optim_wrapper, "type": "AmpOptimWrapper", "dtype": "bfloat16"}
    if compiled:
        cfg.compile = True if compiled == "inductor" else {"backend": compiled}
    runner = Runner.from_cfg(cfg)
    runner.train()
    records = [json.loads(line) for line in (runner.log_dir / "vis_data" / "scalars.json").read_text().splitlines()]
    skip = COMPILE_WARMUP if compiled and len(records) > COMPILE_WARMUP + 1 else 2 if len(records) > 3 else 1
    warm = records[skip:]
    seconds = statistics.median(r["time"] for r in warm)
    batch = cfg.train_dataloader.batch_size
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {
        "mode": f"compiled ({compiled})" if compiled else "bfloat16 autocast" if amp else "float32",
        "s_per_iter": seconds,
        "data_time": statistics.median(r["data_time"] for r in warm),
        "images_per_s": batch / seconds,
        "peak_rss_gb": peak_kb / 1024**2,
        "iters_timed": len(warm),
        "compile_s": sum(r["time"] for r in records[:skip]),
    }


def measure(config: str, iters: int, amp: bool, data_root: str | None, extra: list[str], compiled: str = "") -> dict:
    with tempfile.TemporaryDirectory() as work:
        cmd = [sys.executable, __file__, config, "--iters", str(iters), "--child", "--work-dir", work]
        cmd += ["--cfg-options", *extra] if extra else []
        cmd += ["--amp"] if amp else []
        cmd += ["--compile", "--compile-backend", compiled] if compiled else []
        cmd += ["--data-root", data_root] if data_root else []
        out = subprocess.run(cmd, capture_output=True, text=True)
        if out.returncode != 0:
            sys.exit(f"benchmark run failed:\n{out.stderr[-4000:]}")
        return json.loads(out.stdout.strip().splitlines()[-1])


def ensure_data(config: str) -> str | None:
    """The config's data_root if it exists, else a generated tutorial-style dataset."""
    from seglab import Config
    from seglab.data.synthetic import DummySpec, make_dummy_dataset

    cfg = Config.fromfile(config)
    root = Path(cfg.train_dataloader.dataset.get("data_root") or "")
    if root.is_dir():
        return None
    target = Path(tempfile.mkdtemp(prefix="seglab_bench_")) / "dummy_dataset"
    make_dummy_dataset(DummySpec(target, "tutorial", 2, train=50, val=10, size=256))
    return str(target)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("config")
    parser.add_argument("--iters", type=int, default=8)
    parser.add_argument("--amp", action="store_true", help="also measure bfloat16 autocast and print the ratio")
    parser.add_argument("--compile", action="store_true", help="also measure compile=True and print the ratio")
    parser.add_argument("--compile-backend", default="inductor", help="torch.compile backend for --compile")
    parser.add_argument("--cfg-options", nargs="+", default=[], metavar="KEY=VALUE", help="config overrides")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--work-dir", help=argparse.SUPPRESS)
    parser.add_argument("--data-root", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        backend = args.compile_backend if args.compile else ""
        result = run_one(args.config, args.iters, args.amp, args.data_root, args.work_dir, args.cfg_options, backend)
        print(json.dumps(result))
        return
    data_root = ensure_data(args.config)
    results = [measure(args.config, args.iters, False, data_root, args.cfg_options)]
    if args.amp:
        results.append(measure(args.config, args.iters, True, data_root, args.cfg_options))
    if args.compile:
        results.append(measure(args.config, args.iters, False, data_root, args.cfg_options, args.compile_backend))
    print(f"config: {args.config}  ({args.iters} iterations per mode, median after warm-up)")
    print(f"{'mode':<20} {'s/iter':>8} {'data_time':>10} {'images/s':>9} {'peak RSS GB':>12}")
    for r in results:
        print(
            f"{r['mode']:<20} {r['s_per_iter']:>8.3f} {r['data_time']:>10.4f} {r['images_per_s']:>9.2f} "
            f"{r['peak_rss_gb']:>12.2f}"
        )
    base = results[0]
    if "dummy-test" in args.config:
        print(
            f"vs MMSegmentation 1.2.2 on this machine kind ({MMSEG_SECONDS_PER_ITER} s/iter, "
            f"{MMSEG_PEAK_RSS_GB} GB): speed x{MMSEG_SECONDS_PER_ITER / base['s_per_iter']:.2f}, "
            f"memory x{base['peak_rss_gb'] / MMSEG_PEAK_RSS_GB:.2f}"
        )
    if args.amp:
        print(f"bfloat16 autocast vs float32: x{base['s_per_iter'] / results[1]['s_per_iter']:.2f} faster")
        print_amp_choice()
    if args.compile:
        compiled = results[-1]
        print(
            f"{compiled['mode']} vs eager float32: x{base['s_per_iter'] / compiled['s_per_iter']:.2f} faster "
            f"(after {compiled['compile_s']:.0f} s in the first {COMPILE_WARMUP} iterations); CPU: {cpu_model()}"
        )


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            return next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), "unknown")
    except OSError:
        return "unknown"


def print_amp_choice() -> None:
    """The CPU, its bfloat16 instructions and the start-up probe's verdict for plain ``--amp``."""
    from seglab.engine.amp import SLOWER, cpu_bfloat16_support, probe_bfloat16_speed

    probe = probe_bfloat16_speed()
    choice = "bfloat16 autocast" if probe.ratio <= SLOWER else "float32"
    print(f"CPU: {cpu_model()}; bfloat16 instructions: {cpu_bfloat16_support() or 'unknown'}")
    print(
        f"--amp start-up probe: float32 {probe.float32_s * 1000:.1f} ms, bfloat16 {probe.bfloat16_s * 1000:.1f} ms "
        f"(ratio {probe.ratio:.2f}) -> --amp trains in {choice} here"
    )


if __name__ == "__main__":
    main()
