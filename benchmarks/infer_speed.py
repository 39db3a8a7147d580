"""Inference speed on a real-size test set: ``seglab test``, the Python API and, where installed, MMSegmentation.

    python benchmarks/infer_speed.py [--case r18|r50] [--images 233] [--mmseg-python ~/mmref/bin/python] [--amp]

``--case r50`` swaps in the tutorial's DeepLabV3+ R50-D8 (same images). The checkpoint has random BatchNorm
statistics, so folding (``seglab test``'s default) is really exercised; seglab runs folded and, for the
comparison, unfolded (``test_cfg.fold_bn=False``). Both toolboxes write their predicted label maps (``--out``),
and the share of pixels where they agree is printed beside the mIoU of each. ``--amp`` adds ``seglab test
--amp force`` (bfloat16 on CPU) and prints its mIoU difference from float32.

A CamVid-sized set (233 images of 360x480, 12 classes; synthetic, since speed does not depend on content) and
one DeepLabV3+ R18-D8 config in MMSegmentation's format, read unchanged by both toolboxes; one checkpoint with
random weights (MMSegmentation's key names) loaded by both. Each command runs in its own process; the table
shows wall-clock seconds per image of the whole command (start-up included) and of the test loop alone (from
the log's per-iteration times), and images/s of ``inference_model`` on a list of paths. The best of
``--repeats`` runs counts, so a busy moment on the machine does not decide the result.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
CONFIG = """
_base_ = ['{base}/models/deeplabv3plus_r50-d8.py', '{base}/default_runtime.py']
norm_cfg = dict(type='BN', requires_grad=True)
model = dict(
    pretrained=None,
    data_preprocessor=dict(size=None),
    {model}
    test_cfg=dict(mode='whole'))
test_pipeline = [dict(type='LoadImageFromFile'), dict(type='LoadAnnotations'), dict(type='PackSegInputs')]
test_dataloader = dict(
    batch_size=1, num_workers={workers}, persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type='BaseSegDataset', data_root={root!r}, data_prefix=dict(img_path='img', seg_map_path='ann'),
                 metainfo=dict(classes=tuple(f'class{{i}}' for i in range(12))), pipeline=test_pipeline))
test_evaluator = dict(type='IoUMetric', iou_metrics=['mIoU'])
test_cfg = dict(type='TestLoop')
default_hooks = dict(logger=dict(type='LoggerHook', interval=10))
"""


MODELS = {
    "r18": "backbone=dict(depth=18, norm_cfg=norm_cfg), decode_head=dict(c1_in_channels=64, c1_channels=12, "
    "in_channels=512, channels=128, num_classes=12, norm_cfg=norm_cfg), auxiliary_head=dict(in_channels=256, "
    "channels=64, num_classes=12, norm_cfg=norm_cfg),",
    "r50": "decode_head=dict(num_classes=12, norm_cfg=norm_cfg), auxiliary_head=dict(num_classes=12, "
    "norm_cfg=norm_cfg),",
}
NAMES = {"r18": "DeepLabV3+ R18-D8", "r50": "DeepLabV3+ R50-D8 (the tutorial's model)"}


def make_images(root: Path, count: int) -> list[Path]:
    """``count`` 360x480 JPEG images with PNG labels of random rectangles (12 classes)."""
    (root / "img").mkdir(parents=True)
    (root / "ann").mkdir()
    rng = np.random.default_rng(0)
    paths = []
    for i in range(count):
        label = np.zeros((360, 480), np.uint8)
        for _ in range(8):
            y, x = rng.integers(0, 300), rng.integers(0, 420)
            label[y : y + rng.integers(20, 120), x : x + rng.integers(20, 160)] = rng.integers(0, 12)
        image = (label[..., None] * 20 + rng.integers(0, 40, (360, 480, 3))).astype(np.uint8)
        cv2.imwrite(str(root / "img" / f"{i:04d}.jpg"), image)
        cv2.imwrite(str(root / "ann" / f"{i:04d}.png"), label)
        paths.append(root / "img" / f"{i:04d}.jpg")
    return paths


def make_checkpoint(config: Path, path: Path) -> None:
    import torch

    from seglab import Config, build_model

    torch.manual_seed(0)
    model = build_model(Config.fromfile(config).model, load_pretrained=False)
    for module in model.modules():  # trained-like statistics: folding changes the weights for real
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-0.2, 0.2)
            module.running_var.uniform_(0.5, 2.0)
            module.weight.data.uniform_(0.5, 1.5)
            module.bias.data.uniform_(-0.2, 0.2)
    torch.save({"state_dict": model.state_dict(), "meta": {}}, path)


def loop_seconds(log_text: str) -> float | None:
    """Mean seconds/image of the test loop: the last ``time:`` of MMSeg/seglab's summary line."""
    times = [float(t) for t in re.findall(r"Iter\(test\).*?\btime: ([0-9.]+)", log_text)]
    return times[-1] if times else None


def timed(cmd: list[str], env: dict | None = None) -> tuple[float, str]:
    start = time.perf_counter()
    out = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, **(env or {})})
    seconds = time.perf_counter() - start
    if out.returncode != 0:
        sys.exit(f"failed: {' '.join(cmd)}\n{out.stdout[-2000:]}\n{out.stderr[-3000:]}")
    return seconds, out.stdout + out.stderr


def mean_iou(log_text: str) -> float | None:
    found = re.findall(r"mIoU: ([0-9.]+)", log_text)
    return float(found[-1]) if found else None


def agreement(first: Path, second: Path) -> float:
    """Share of pixels with the same predicted class in two folders of label PNGs (palette or plain)."""
    from PIL import Image

    same = total = 0
    for path in sorted(first.rglob("*.png")):
        a = np.asarray(Image.open(path))
        b = np.asarray(Image.open(second / path.relative_to(first)))
        same, total = same + int((a == b).sum()), total + a.size
    return same / max(total, 1)


def api_images_per_second(config: Path, checkpoint: Path, paths: list[Path], fold: bool = True) -> float:
    """``inference_model`` over the list in a fresh process (batched by size, as the API does)."""
    code = f"""
import time, json
from seglab import init_model, inference_model
model = init_model({str(config)!r}, {str(checkpoint)!r}, device='cpu')
paths = {[str(p) for p in paths]!r}
inference_model(model, paths[:2], fold_bn={fold})
start = time.perf_counter()
inference_model(model, paths, fold_bn={fold})
print(json.dumps(len(paths) / (time.perf_counter() - start)))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(out.stderr[-3000:])
    return json.loads(out.stdout.strip().splitlines()[-1])


def best_of(cmd: list[str], work: Path, repeats: int, env: dict | None = None) -> tuple[float, float | None, str]:
    """(whole-command seconds, test-loop s/image, log of the first run) over ``repeats`` runs; the first writes
    its label maps to ``work/out0``."""
    runs = []
    for i in range(repeats):
        extra = ["--out", str(work / "out0")] if i == 0 else []
        runs.append(timed([*cmd, "--work-dir", str(work / f"w{i}"), *extra], env))
    loop = min(filter(None, (loop_seconds(t) for _, t in runs)), default=None)
    return min(s for s, _ in runs), loop, runs[0][1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--case", choices=sorted(MODELS), default="r18")
    parser.add_argument("--images", type=int, default=233)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--amp", action="store_true", help="also seglab test --amp force: mIoU difference")
    parser.add_argument("--no-api", action="store_true", help="skip the inference_model timing")
    parser.add_argument("--mmseg-python", help="a Python with MMSegmentation 1.2.2 installed, timed in the same run")
    args = parser.parse_args()

    rows, mious = [], {}
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        paths = make_images(tmp_path / "data", args.images)
        config = tmp_path / f"dlv3p_{args.case}_camvid_size.py"
        base = REPO / "seglab" / "configs" / "_base_"
        config.write_text(
            CONFIG.format(base=base, root=str(tmp_path / "data"), workers=args.workers, model=MODELS[args.case])
        )
        checkpoint = tmp_path / "random.pth"
        make_checkpoint(config, checkpoint)
        seglab_cmd = [sys.executable, "-m", "seglab", "test", str(config), str(checkpoint)]
        variants = [("seglab test (BatchNorm folded)", seglab_cmd, "fold")]
        variants.append(("seglab test (unfolded)", [*seglab_cmd, "--cfg-options", "test_cfg.fold_bn=False"], "plain"))
        if args.amp:
            variants.append(("seglab test --amp force (bfloat16)", [*seglab_cmd, "--amp", "force"], "amp"))
        for name, cmd, key in variants:
            wall, loop, log = best_of(cmd, tmp_path / key, args.repeats if key != "amp" else 1)
            rows.append((name, wall, loop))
            mious[key] = mean_iou(log)
        if args.mmseg_python:
            tools = subprocess.run(
                [args.mmseg_python, "-c", "import mmseg, os; print(os.path.dirname(mmseg.__file__))"],
                capture_output=True,
                text=True,
                check=True,
            ).stdout.strip()
            mm_cmd = [args.mmseg_python, f"{tools}/.mim/tools/test.py", str(config), str(checkpoint)]
            env = {"TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD": "1"}
            wall, loop, log = best_of(mm_cmd, tmp_path / "mm", args.repeats, env)
            rows.append(("MMSegmentation 1.2.2 tools/test.py", wall, loop))
            mious["mm"] = mean_iou(log)
        same = {k: agreement(tmp_path / "plain" / "out0", tmp_path / k / "out0") for k in mious if k != "plain"}
        api = {}
        if not args.no_api:
            for fold in (True, False):
                api[fold] = max(api_images_per_second(config, checkpoint, paths, fold) for _ in range(args.repeats))

    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    print(f"{args.images} images of 360x480, {NAMES[args.case]}, batch 1, {args.workers} workers")
    print(f"CPU: {cpu}, {os.cpu_count()} CPUs")
    print(f"{'command':38s} {'images/s (whole)':>17s} {'s/image (test loop)':>20s} {'mIoU':>7s}")
    keys = [k for _, _, k in variants] + (["mm"] if args.mmseg_python else [])
    for (name, wall, loop), key in zip(rows, keys):
        loop_text = f"{loop:.4f}" if loop is not None else "n/a"
        print(f"{name:38s} {args.images / wall:17.3f} {loop_text:>20s} {mious[key] or float('nan'):7.2f}")
    for key, share in same.items():
        print(f"pixels predicted alike, unfolded seglab vs {key}: {100 * share:.4f}%")
    if args.mmseg_python:
        mm = rows[-1]
        print(f"speed ratio seglab (folded) / MMSegmentation, images/s of the whole command: {mm[1] / rows[0][1]:.3f}")
        if rows[0][2] and mm[2]:
            print(f"speed ratio seglab (folded) / MMSegmentation, test loop:                  {mm[2] / rows[0][2]:.3f}")
    print(f"folding: {rows[1][1] / rows[0][1]:.3f}x the images/s of the unfolded model (whole command)")
    if args.amp and mious.get("amp") is not None and mious.get("fold") is not None:
        print(f"--amp (bfloat16) mIoU - float32 mIoU: {mious['amp'] - mious['fold']:+.2f}")
    for fold, rate in api.items():
        print(f"inference_model on {args.images} paths, fold_bn={fold}: {rate:.2f} images/s")


if __name__ == "__main__":
    main()
