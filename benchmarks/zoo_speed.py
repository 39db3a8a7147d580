"""Training-step or inference speed of one config per shipped family: seglab beside MMSegmentation 1.2.2.

    python benchmarks/zoo_speed.py --mmseg-python /root/mmref/bin/python
    python benchmarks/zoo_speed.py --families pspnet,upernet --crop 128 --batch 2 --iters 5 --threads 1
    python benchmarks/zoo_speed.py --mode infer --families bisenetv1,stdc --batch 1 --threads 2

``--mode infer`` times eval-mode ``inference`` (no gradients) on a random image at the config's test
size (the test pipeline's ``Resize`` scale, read as (w, h): 1024 x 2048 for a Cityscapes config, or
``--size HxW``) and reports images/s — the figure people compare real-time networks by.

The families are the folders under ``seglab/configs/`` (so a new family is timed as soon as it ships);
each is represented by one shipped config (published, R-50 and Cityscapes/ADE20K preferred, or
``--config family/stem``). Every measurement runs in its own process — seglab with this Python,
MMSegmentation with ``--mmseg-python`` — builds the model with random weights (SyncBN -> BN, no
pre-training), and times ``loss`` + ``backward`` on one fixed random batch at ``--crop``: the median of
``--iters`` iterations after ``--warmup``, in CPU time by default (``--clock wall`` for elapsed time:
with one thread the two agree on an idle machine, and CPU time barely moves when other processes share
the cores). The two implementations alternate per family, and
``--rounds N`` repeats everything and keeps each side's fastest median, which is the number least
disturbed by other processes on a shared machine. A family MMSegmentation cannot run here (compiled
mmcv ops) shows "n/a" with the reason.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PREFERRED_DATA = ("cityscapes-512x1024", "ade20k-512x512")


# ----------------------------------------------------------------------------- worker side
def _plain(node):
    """Config dict copy with SyncBN -> BN, no pre-trained weights (both sides get the same edits)."""
    if isinstance(node, dict):
        out = {k: _plain(v) for k, v in node.items()}
        if out.get("type") in ("SyncBN", "MMSyncBN"):
            out["type"] = "BN"
        if isinstance(out.get("pretrained"), str):
            out["pretrained"] = None
        init_cfg = out.get("init_cfg")
        if isinstance(init_cfg, dict) and init_cfg.get("type") == "Pretrained":
            out["init_cfg"] = None
        return out
    if isinstance(node, list | tuple):
        return type(node)(_plain(v) for v in node)
    return node


def _build(impl: str, name: str):
    """(model, make_samples) for ``impl`` in this process."""
    if impl == "seglab":
        from seglab import Config
        from seglab.models.builder import build_model

        cfg = Config.fromfile(REPO / "seglab" / "configs" / f"{name}.py")
        model = build_model(_plain(cfg.model.to_dict()), load_pretrained=False)

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
    model = MODELS.build(ConfigDict(_plain(cfg.model.to_dict())))  # attribute access to test_cfg
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


def worker(args: argparse.Namespace) -> dict:
    """Time ``loss`` + ``backward`` (or eval-mode ``inference``) of one config in this process."""
    import torch

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model, make_samples = _build(args.worker, args.worker_config)
    if args.mode == "infer":
        return _time_inference(model, args)
    model.train()
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
    median = lambda xs: sorted(xs)[len(xs) // 2]  # noqa: E731
    ms = median(cpu) if args.clock == "cpu" else median(wall)
    return {
        "ms": ms,
        "wall_ms": median(wall),
        "cpu_ms": median(cpu),
        "params": sum(p.numel() for p in model.parameters()),
    }


def _time_inference(model, args: argparse.Namespace) -> dict:
    """Median time of ``model.inference`` on one fixed random batch at ``--size``."""
    import torch

    height, width = (int(v) for v in args.size.split("x"))
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
    median = lambda xs: sorted(xs)[len(xs) // 2]  # noqa: E731
    ms = median(cpu) if args.clock == "cpu" else median(wall)
    return {"ms": ms, "wall_ms": median(wall), "cpu_ms": median(cpu), "images_per_s": args.batch * 1000 / ms}


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
def representative_configs(families: list[str] | None, overrides: dict[str, str]) -> dict[str, str]:
    """family -> the shipped config timed for it."""
    from seglab import zoo

    by_family: dict[str, list] = {}
    for entry in zoo.entries():
        by_family.setdefault(entry.family, []).append(entry)
    chosen = {}
    for family in sorted(families or by_family):
        if family in overrides:
            chosen[family] = overrides[family]
            continue
        if family not in by_family:
            raise SystemExit(f"no shipped config in family '{family}' (shipped: {', '.join(sorted(by_family))})")

        def rank(e):
            stem = e.name.split("/")[-1]
            data = next((i for i, d in enumerate(PREFERRED_DATA) if stem.endswith(d)), len(PREFERRED_DATA))
            return (not e.published, "r50" not in stem, data, len(stem), stem)

        chosen[family] = min(by_family[family], key=rank).name
    return chosen


def measure(python: str, impl: str, config: str, args: argparse.Namespace) -> dict:
    cmd = [python, str(Path(__file__).resolve()), "--worker", impl, "--worker-config", config]
    for key in ("crop", "batch", "iters", "warmup", "threads", "clock", "mode"):
        cmd += [f"--{key}", str(getattr(args, key))]
    if args.mode == "infer":
        cmd += ["--size", args.size or test_size(config)]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=args.timeout)
    except subprocess.TimeoutExpired:
        return {"error": f"timeout after {args.timeout} s"}
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode or not lines:
        tail = [line for line in done.stderr.strip().splitlines() if line.strip()] or ["no output"]
        return {"error": tail[-1][:100]}
    return json.loads(lines[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mmseg-python", help="a Python with MMSegmentation 1.2.2, e.g. /root/mmref/bin/python")
    parser.add_argument("--families", help="comma-separated subset (default: every shipped family)")
    parser.add_argument("--config", action="append", default=[], metavar="FAMILY/STEM", help="time this config")
    parser.add_argument("--mode", choices=["train", "infer"], default="train")
    parser.add_argument("--size", help="infer: image size HxW (default: the config's test size)")
    parser.add_argument("--crop", type=int, default=128, help="train: square crop size")
    parser.add_argument("--batch", type=int, help="images per step (default: 2 to train, 1 to infer)")
    parser.add_argument("--iters", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1, help="torch threads per process (1: least contention)")
    parser.add_argument(
        "--clock",
        choices=["cpu", "wall"],
        default="cpu",
        help="cpu: the process's CPU time (with 1 thread, what an idle machine's wall clock shows; barely "
        "moved by other processes), wall: elapsed time",
    )
    parser.add_argument("--rounds", type=int, default=1, help="repeat and keep each side's fastest median")
    parser.add_argument("--timeout", type=int, default=600)
    parser.add_argument("--json", help="also write the results here")
    parser.add_argument("--worker", choices=["seglab", "mmseg"], help=argparse.SUPPRESS)
    parser.add_argument("--worker-config", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.batch is None:
        args.batch = 1 if args.mode == "infer" else 2
    if args.worker:
        print(json.dumps(worker(args)))
        return

    overrides = {c.split("/")[0]: c for c in args.config}
    families = args.families.split(",") if args.families else (sorted(overrides) if overrides else None)
    configs = representative_configs(families, overrides)
    impls = [("seglab", sys.executable)] + ([("mmseg", args.mmseg_python)] if args.mmseg_python else [])
    results: dict[str, dict[str, dict]] = {f: {} for f in configs}
    for _ in range(args.rounds):
        for family, config in configs.items():
            for impl, python in impls:
                got = measure(python, impl, config, args)
                best = results[family].get(impl)
                if best is None or ("ms" in got and ("ms" not in best or got["ms"] < best["ms"])):
                    results[family][impl] = got
                print(f"{family:<14} {impl:<6} {got.get('ms', got.get('error'))}", file=sys.stderr, flush=True)

    timed = (
        f"eval-mode inference, batch {args.batch} at the config's test size"
        if args.mode == "infer"
        else f"forward+backward, batch {args.batch} x 3 x {args.crop} x {args.crop}"
    )
    print(
        f"{timed}, {args.threads} thread(s), {args.clock} time, median of {args.iters} after {args.warmup} "
        f"warm-up, best of {args.rounds} round(s)"
    )
    infer = args.mode == "infer"
    header = (
        ("family", "config")
        + (("size", "seglab img/s", "MMSeg img/s") if infer else ("seglab ms/iter", "MMSeg ms/iter"))
        + ("time ratio",)
    )
    rows = [header]
    for family, config in configs.items():
        ours, theirs = results[family].get("seglab", {}), results[family].get("mmseg", {})
        cell = lambda r: f"{r['ms']:.0f}" if "ms" in r else ("n/a" if r else "-")  # noqa: E731
        ratio = f"{ours['ms'] / theirs['ms']:.2f}" if "ms" in ours and "ms" in theirs else "n/a"
        if infer:
            rate = lambda r: f"{r['images_per_s']:.2f}" if "ms" in r else ("n/a" if r else "-")  # noqa: E731
            size = args.size or test_size(config)
            rows.append((family, config.split("/")[-1], size, rate(ours), rate(theirs), ratio))
        else:
            rows.append((family, config.split("/")[-1], cell(ours), cell(theirs), ratio))
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    for row in rows:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip())
    notes = [(f, i, r["error"]) for f in configs for i, r in results[f].items() if "error" in r]
    for family, impl, error in notes:
        print(f"n/a {family} ({impl}): {error}")
    if args.json:
        Path(args.json).write_text(json.dumps({"configs": configs, "results": results}, indent=1))


if __name__ == "__main__":
    main()
