"""Training-step or inference speed of one config per shipped family: seglab beside MMSegmentation 1.2.2.

    python benchmarks/zoo_speed.py --mmseg-python $HOME/mmref/bin/python --families all --quick
    python benchmarks/zoo_speed.py --mmseg-python $HOME/mmref/bin/python --families fcn,upernet --rounds 3
    python benchmarks/zoo_speed.py --mode infer --families bisenetv1,stdc --batch 1

``--mode infer`` times eval-mode ``inference`` (no gradients) on a random image at the config's test
size (the test pipeline's ``Resize`` scale, read as (w, h): 1024 x 2048 for a Cityscapes config, or
``--size HxW``) and reports images/s — the figure people compare real-time networks by.

The families are the folders under ``seglab/configs/`` (so a new family is timed as soon as it ships);
each is represented by one shipped config (published, R-50 and Cityscapes/ADE20K preferred, or
``--config family/stem``); with ``--mmseg-python`` only configs MMSegmentation ships too, and families with
none are skipped. Each toolbox runs in one long-lived worker process (seglab with this Python,
MMSegmentation with ``--mmseg-python``) that builds each model with random weights (SyncBN -> BN, no
pre-training) and times ``loss`` + ``backward`` on one fixed random batch at ``--crop``: the median of
``--iters`` iterations after ``--warmup``, in CPU time by default (``--clock wall`` for elapsed time: with one
thread the two agree on an idle machine, and CPU time barely moves when other processes share the cores).
The two toolboxes alternate per family, and ``--rounds N`` repeats everything (interleaved, the first
toolbox swapped each round): the table shows each side's fastest median and the range of the per-round
ratios, which is the noise band. A config MMSegmentation cannot run here (compiled mmcv ops) shows "n/a"
with the reason. ``--quick`` (the whole zoo in minutes) uses 64x64 crops, 1 timed iteration, 2 rounds and a
fresh pair of workers per family (``--fresh-workers``: a long-lived worker was seen to time a model up to 1.3x
slower after it had trained others, which the table would read as a family's gap).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import queue
import subprocess
import sys
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PREFERRED_DATA = ("cityscapes-512x1024", "ade20k-512x512")
RESULT = "RESULT "  # prefix of a worker's answer line (the toolboxes may print other lines)


# ----------------------------------------------------------------------------- worker side
def _plain(node, img_size: int | None = None):
    """Config dict copy with SyncBN -> BN, no pre-trained weights and, given ``img_size``, backbones that only
    take their built size (relative position tables) built for it; both sides get the same edits."""
    if isinstance(node, dict):
        out = {k: _plain(v, img_size) for k, v in node.items()}
        if img_size and out.get("type") in ("BEiT", "MAE") and "img_size" in out:
            out["img_size"] = (img_size, img_size)
        if out.get("type") in ("SyncBN", "MMSyncBN"):
            out["type"] = "BN"
        if isinstance(out.get("pretrained"), str):
            out["pretrained"] = None
        init_cfg = out.get("init_cfg")
        if isinstance(init_cfg, dict) and init_cfg.get("type") == "Pretrained":
            out["init_cfg"] = None
        return out
    if isinstance(node, list | tuple):
        return type(node)(_plain(v, img_size) for v in node)
    return node


def _build(impl: str, name: str, img_size: int | None = None):
    """(model, make_samples) for ``impl`` in this process."""
    if impl == "seglab":
        from seglab import Config
        from seglab.models.builder import build_model

        cfg = Config.fromfile(REPO / "seglab" / "configs" / f"{name}.py")
        model = build_model(_plain(cfg.model.to_dict(), img_size), load_pretrained=False)

        def samples(labels):
            shape = tuple(labels.shape[-2:])
            return [
                {"gt_sem_seg": lab[None], "img_shape": shape, "ori_shape": shape, "pad_shape": shape} for lab in labels
            ]

        return model, samples
    import mmseg
    from mmengine.config import Config as MMConfig
    from mmengine.config import ConfigDict
    from mmengine.structures import PixelData
    from mmseg.registry import MODELS
    from mmseg.structures import SegDataSample
    from mmseg.utils import register_all_modules

    register_all_modules()
    cfg = MMConfig.fromfile(Path(mmseg.__file__).parent / ".mim" / "configs" / f"{name}.py")
    model = MODELS.build(ConfigDict(_plain(cfg.model.to_dict(), img_size)))  # attribute access to test_cfg
    model.init_weights()

    def samples(labels):
        out = []
        for lab in labels:
            shape = tuple(lab.shape)
            sample = SegDataSample(metainfo={"img_shape": shape, "ori_shape": shape, "pad_shape": shape})
            sample.gt_sem_seg = PixelData(data=lab[None])
            out.append(sample)
        return out

    return model, samples


def worker(args: argparse.Namespace, config: str, cache: dict) -> dict:
    """Time ``loss`` + ``backward`` (or eval-mode ``inference``) of one config in this process; the last
    built model is kept in ``cache`` so that interleaved repeats of one config do not rebuild it."""
    import torch

    torch.set_num_threads(args.threads)
    if cache.get("config") != config:
        cache.clear()
        torch.manual_seed(0)
        cache.update(config=config, built=_build(args.worker, config, args.crop if args.mode == "train" else None))
    model, make_samples = cache["built"]
    if args.mode == "infer":
        return _time_inference(model, args, config)
    model.train()
    torch.manual_seed(0)
    num_classes = model.num_classes
    inputs = torch.randn(args.batch, 3, args.crop, args.crop)
    labels = torch.randint(0, num_classes, (args.batch, args.crop, args.crop))
    wall, cpu = [], []
    for step in range(args.warmup + args.iters):
        samples = make_samples(labels)
        start, start_cpu = time.perf_counter(), time.process_time()
        losses = model.loss(inputs, samples)
        total = sum(_flatten(v) for k, v in losses.items() if "loss" in k)
        total.backward()
        model.zero_grad(set_to_none=True)
        if step >= args.warmup:
            wall.append((time.perf_counter() - start) * 1000)
            cpu.append((time.process_time() - start_cpu) * 1000)
    ms = _median(cpu) if args.clock == "cpu" else _median(wall)
    return {"ms": ms, "wall_ms": _median(wall), "cpu_ms": _median(cpu)}


def serve(args: argparse.Namespace) -> None:
    """Worker loop: one config name per stdin line, one ``RESULT {json}`` line back (errors included), so
    that each toolbox is imported once per run instead of once per measurement."""
    import traceback

    cache: dict = {}
    for line in sys.stdin:
        config = line.strip()
        try:
            got = worker(args, config, cache)
        except Exception as exc:  # noqa: BLE001 - reported in the table as n/a with its reason
            traceback.print_exc()
            cache.clear()
            got = {"error": f"{type(exc).__name__}: {exc}".splitlines()[0][:100]}
        print(RESULT + json.dumps(got), flush=True)


def _median(values: list[float]) -> float:
    return sorted(values)[len(values) // 2]


def _time_inference(model, args: argparse.Namespace, config: str) -> dict:
    """Median time of ``model.inference`` on one fixed random batch at ``--size`` or the config's test size."""
    import torch

    height, width = (int(v) for v in (args.size or test_size(config)).split("x"))
    model.eval()
    inputs = torch.randn(args.batch, 3, height, width)
    shape = (height, width)
    metas = [{"img_shape": shape, "ori_shape": shape, "pad_shape": shape} for _ in range(args.batch)]
    wall, cpu = [], []
    with torch.no_grad():
        for step in range(args.warmup + args.iters):
            start, start_cpu = time.perf_counter(), time.process_time()
            model.inference(inputs, metas)
            if step >= args.warmup:
                wall.append((time.perf_counter() - start) * 1000)
                cpu.append((time.process_time() - start_cpu) * 1000)
    ms = _median(cpu) if args.clock == "cpu" else _median(wall)
    return {"ms": ms, "wall_ms": _median(wall), "cpu_ms": _median(cpu), "images_per_s": args.batch * 1000 / ms}


def test_size(config: str) -> str:
    """'HxW' of a config's test images: its test pipeline's Resize scale (w, h), or the slide crop."""
    from seglab import Config

    cfg = Config.fromfile(REPO / "seglab" / "configs" / f"{config}.py")
    pipeline = cfg.get("test_pipeline") or cfg.test_dataloader.dataset.get("pipeline", [])
    for step in pipeline:
        if step.get("type") == "Resize" and step.get("scale"):
            width, height = step["scale"]
            return f"{height}x{width}"
    crop = cfg.model.get("test_cfg", {}).get("crop_size")
    if crop:
        return f"{crop[0]}x{crop[1]}"
    raise SystemExit(f"{config}: no Resize scale in its test pipeline; pass --size HxW")


def _flatten(value):
    return sum(value) if isinstance(value, list | tuple) else value


# ----------------------------------------------------------------------------- driver side
def mmseg_configs(python: str) -> set[str]:
    """'family/stem' of every config MMSegmentation ships (in the environment of ``python``)."""
    code = "import json, pathlib, mmseg; root = pathlib.Path(mmseg.__file__).parent / '.mim' / 'configs'; "
    code += "print(json.dumps(sorted(str(p.relative_to(root))[:-3] for p in root.glob('*/*.py'))))"
    done = subprocess.run([python, "-c", code], capture_output=True, text=True, check=True)
    return set(json.loads(done.stdout.strip().splitlines()[-1]))


def representative_configs(
    families: list[str] | None, overrides: dict[str, str], available: set[str] | None = None
) -> dict[str, str]:
    """family -> the shipped config timed for it; with ``available`` (MMSegmentation's configs) only
    configs both toolboxes ship, and families with none are left out."""
    from seglab import zoo

    by_family: dict[str, list] = {}
    for entry in zoo.entries():
        if available is None or entry.name in available:
            by_family.setdefault(entry.family, []).append(entry)
    chosen = {}
    for family in sorted(families or by_family):
        if family in overrides:
            chosen[family] = overrides[family]
            continue
        if family not in by_family:
            if families and available is None:
                raise SystemExit(f"no shipped config in family '{family}' (shipped: {', '.join(sorted(by_family))})")
            print(f"skipped {family}: no config that MMSegmentation ships too", file=sys.stderr)
            continue

        def rank(e):
            stem = e.name.split("/")[-1]
            data = next((i for i, d in enumerate(PREFERRED_DATA) if stem.endswith(d)), len(PREFERRED_DATA))
            return (not e.published, "r50" not in stem, data, len(stem), stem)

        chosen[family] = min(by_family[family], key=rank).name
    return chosen


def _pump(stream, lines: queue.Queue) -> None:
    """Copy a worker's stdout lines into ``lines``, then None when it closes."""
    for line in stream:
        lines.put(line)
    lines.put(None)


class Worker:
    """A long-lived measuring process of one toolbox, restarted if it dies or overruns ``timeout``."""

    def __init__(self, impl: str, python: str, args: argparse.Namespace) -> None:
        self.cmd = [python, str(Path(__file__).resolve()), "--worker", impl]
        for key in ("crop", "batch", "iters", "warmup", "threads", "clock", "mode", "size"):
            if getattr(args, key) is not None:
                self.cmd += [f"--{key}", str(getattr(args, key))]
        self.timeout, self.proc = args.timeout, None

    def _start(self) -> None:
        self.proc = subprocess.Popen(
            self.cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
        )
        self.lines: queue.Queue = queue.Queue()
        threading.Thread(target=_pump, args=(self.proc.stdout, self.lines), daemon=True).start()

    def measure(self, config: str) -> dict:
        if self.proc is None or self.proc.poll() is not None:
            self._start()
        self.proc.stdin.write(config + "\n")
        self.proc.stdin.flush()
        deadline = time.monotonic() + self.timeout
        while True:
            try:
                line = self.lines.get(timeout=max(deadline - time.monotonic(), 0.01))
            except queue.Empty:
                self.close()
                return {"error": f"timeout after {self.timeout} s"}
            if line is None:
                self.close()
                return {"error": "worker died (out of memory?)"}
            if line.startswith(RESULT):
                return json.loads(line[len(RESULT) :])

    def close(self) -> None:  # noqa: D102
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc = None


def cpu_name() -> str:
    """The CPU's model name and the cores this process may use."""
    name = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        found = [line.split(":", 1)[1].strip() for line in cpuinfo.read_text().splitlines() if "model name" in line]
        name = found[0] if found else name
    return f"{name}, {len(os.sched_getaffinity(0)) if hasattr(os, 'sched_getaffinity') else os.cpu_count()} cores"


def _cell(ms: float | None, runs: list[dict], args: argparse.Namespace) -> str:
    if not ms:
        return "n/a" if runs else "-"
    return f"{args.batch * 1000 / ms:.2f}" if args.mode == "infer" else f"{ms / 1000:.3f}"


def markdown_table(configs: dict[str, str], runs: dict[str, dict[str, list[dict]]], args: argparse.Namespace) -> str:
    """family | config | seglab | MMSegmentation (best of the rounds) | time ratio | its range over the rounds."""
    unit = "img/s" if args.mode == "infer" else "s/iter"
    lines = [
        f"| family | config | seglab {unit} | MMSegmentation {unit} | time ratio | ratio per round (min-max) |",
        "|---|---|---|---|---|---|",
    ]
    for family, config in configs.items():
        ours, theirs = runs[family].get("seglab", []), runs[family].get("mmseg", [])
        best = {k: min((r["ms"] for r in v if "ms" in r), default=None) for k, v in (("s", ours), ("m", theirs))}
        pairs = [a["ms"] / b["ms"] for a, b in zip(ours, theirs) if "ms" in a and "ms" in b]
        ratio = f"{best['s'] / best['m']:.2f}" if best["s"] and best["m"] else "n/a"
        band = f"{min(pairs):.2f}-{max(pairs):.2f}" if pairs else "n/a"
        cells = (family, config.split("/")[-1], _cell(best["s"], ours, args), _cell(best["m"], theirs, args))
        lines.append(f"| {' | '.join(cells)} | {ratio} | {band} |")
    return "\n".join(lines)


def run_interleaved(configs: dict[str, str], workers: dict[str, Worker], rounds: int, fresh: bool = False) -> dict:
    """family -> toolbox -> one result per round; the rounds of a family run back to back (each worker
    keeps the model built), the toolboxes alternating and the first one swapped each round. ``fresh``
    restarts both workers for each family: a worker that has trained other models before can time the next
    one up to 1.3x slower (measured here: FCN 1.29x after ConvNeXt and DMNet, 1.01x in a fresh worker)."""
    runs: dict[str, dict[str, list[dict]]] = {f: {impl: [] for impl in workers} for f in configs}
    for family, config in configs.items():
        for round_index in range(rounds):
            for impl in list(workers)[:: 1 if round_index % 2 == 0 else -1]:
                done = runs[family][impl]  # a failure (error, timeout) is not retried in later rounds
                done.append(got := done[-1] if done and "error" in done[-1] else workers[impl].measure(config))
                print(f"{family:<14} {round_index + 1} {impl:<6} {got.get('ms', got.get('error'))}", file=sys.stderr)
        if fresh:
            for worker_ in workers.values():
                worker_.close()  # the next measure() starts a new process
    for worker_ in workers.values():
        worker_.close()
    return runs


QUICK = dict(crop=64, batch=2, iters=1, warmup=1, rounds=2, threads=1, timeout=60, fresh_workers=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mmseg-python", help="a Python with MMSegmentation 1.2.2, e.g. /root/mmref/bin/python")
    parser.add_argument("--families", help="comma-separated subset, or 'all' (default: every shipped family)")
    parser.add_argument("--config", action="append", default=[], metavar="FAMILY/STEM", help="time this config")
    parser.add_argument("--mode", choices=["train", "infer"], default="train")
    parser.add_argument("--quick", action="store_true", help=f"small settings for a whole-zoo run: {QUICK}")
    parser.add_argument("--size", help="infer: image size HxW (default: the config's test size)")
    parser.add_argument("--crop", type=int, default=128, help="train: square crop size")
    parser.add_argument("--batch", type=int, help="images per step (default: 2 to train, 1 to infer)")
    parser.add_argument("--iters", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1, help="torch threads per process (1: least contention)")
    clock_help = "cpu: the process's CPU time (least moved by other processes), wall: elapsed time"
    parser.add_argument("--clock", choices=["cpu", "wall"], default="cpu", help=clock_help)
    parser.add_argument("--rounds", type=int, default=1, help="interleaved repeats; the best of them is reported")
    parser.add_argument("--timeout", type=int, default=600, help="seconds one measurement may take")
    fresh_help = "a new worker process per family (a long-lived one times later models up to 1.3x slower)"
    parser.add_argument("--fresh-workers", action="store_true", help=fresh_help)
    parser.add_argument("--json", help="also write the results here")
    parser.add_argument("--worker", choices=["seglab", "mmseg"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.quick:
        for key, value in QUICK.items():
            if not any(arg.split("=")[0] == f"--{key}" for arg in sys.argv):  # flags given win
                setattr(args, key, value)
    if args.batch is None:
        args.batch = 1 if args.mode == "infer" else 2
    if args.worker:
        serve(args)
        return

    overrides = {c.split("/")[0]: c for c in args.config}
    wanted = args.families if args.families != "all" else None
    families = wanted.split(",") if wanted else (sorted(overrides) if overrides else None)
    available = mmseg_configs(args.mmseg_python) if args.mmseg_python else None
    configs = representative_configs(families, overrides, available)
    workers = {"seglab": Worker("seglab", sys.executable, args)}
    if args.mmseg_python:
        workers["mmseg"] = Worker("mmseg", args.mmseg_python, args)
    started = time.perf_counter()
    runs = run_interleaved(configs, workers, args.rounds, args.fresh_workers)
    timed = (
        f"eval-mode inference, batch {args.batch} at {args.size or 'the config test size'}"
        if args.mode == "infer"
        else f"loss + backward, batch {args.batch} x 3 x {args.crop} x {args.crop}, random weights"
    )
    print(f"CPU: {cpu_name()}; torch threads per process: {args.threads}")
    print(
        f"{timed}; {args.clock} time, median of {args.iters} after {args.warmup} warm-up; best of {args.rounds} "
        f"interleaved round(s); {time.perf_counter() - started:.0f} s in all\n"
    )
    print(markdown_table(configs, runs, args))
    errors = {(f, i): r["error"] for f in configs for i, rs in runs[f].items() for r in rs if "error" in r}
    print("".join(f"\nn/a {family} ({impl}): {error}" for (family, impl), error in errors.items()))
    if args.json:
        Path(args.json).write_text(json.dumps({"cpu": cpu_name(), "configs": configs, "runs": runs}, indent=1))


if __name__ == "__main__":
    main()
