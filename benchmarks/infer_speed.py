"""Inference speed on a real-size test set: ``seglab test``, the Python API and, where installed, MMSegmentation.

    python benchmarks/infer_speed.py [--images 233] [--mmseg-python /root/mmref/bin/python] [--repeats 2]

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
    backbone=dict(depth=18, norm_cfg=norm_cfg),
    decode_head=dict(c1_in_channels=64, c1_channels=12, in_channels=512, channels=128, num_classes=12,
                     norm_cfg=norm_cfg),
    auxiliary_head=dict(in_channels=256, channels=64, num_classes=12, norm_cfg=norm_cfg),
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


def api_images_per_second(config: Path, checkpoint: Path, paths: list[Path]) -> float:
    """``inference_model`` over the list in a fresh process (batched by size, as the API does)."""
    code = f"""
import time, json
from seglab import init_model, inference_model
model = init_model({str(config)!r}, {str(checkpoint)!r}, device='cpu')
paths = {[str(p) for p in paths]!r}
inference_model(model, paths[:2])
start = time.perf_counter()
inference_model(model, paths)
print(json.dumps(len(paths) / (time.perf_counter() - start)))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(out.stderr[-3000:])
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=233)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--mmseg-python", help="a Python with MMSegmentation 1.2.2 installed, timed in the same run")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        paths = make_images(tmp_path / "data", args.images)
        config = tmp_path / "dlv3p_r18_camvid_size.py"
        base = REPO / "seglab" / "configs" / "_base_"
        config.write_text(CONFIG.format(base=base, root=str(tmp_path / "data"), workers=args.workers))
        checkpoint = tmp_path / "random.pth"
        make_checkpoint(config, checkpoint)

        rows = []
        seglab_cmd = [sys.executable, "-m", "seglab", "test", str(config), str(checkpoint)]
        runs = [timed([*seglab_cmd, "--work-dir", str(tmp_path / f"s{i}")]) for i in range(args.repeats)]
        rows.append(
            (
                "seglab test",
                min(s for s, _ in runs),
                min(filter(None, (loop_seconds(t) for _, t in runs)), default=None),
            )
        )
        if args.mmseg_python:
            tools = subprocess.run(
                [args.mmseg_python, "-c", "import mmseg, os; print(os.path.dirname(mmseg.__file__))"],
                capture_output=True,
                text=True,
                check=True,
            ).stdout.strip()
            mm_cmd = [args.mmseg_python, f"{tools}/.mim/tools/test.py", str(config), str(checkpoint)]
            env = {"TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD": "1"}
            runs = [timed([*mm_cmd, "--work-dir", str(tmp_path / f"m{i}")], env) for i in range(args.repeats)]
            rows.append(
                (
                    "MMSegmentation 1.2.2 tools/test.py",
                    min(s for s, _ in runs),
                    min(filter(None, (loop_seconds(t) for _, t in runs)), default=None),
                )
            )
        api = max(api_images_per_second(config, checkpoint, paths) for _ in range(args.repeats))

    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    print(
        f"{args.images} images of 360x480, DeepLabV3+ R18-D8, batch 1, {args.workers} workers; {cpu}, {os.cpu_count()} CPUs"
    )
    print(f"{'command':38s} {'s/image (whole command)':>24s} {'s/image (test loop)':>20s}")
    for name, wall, loop in rows:
        loop_text = f"{loop:.4f}" if loop is not None else "n/a"
        print(f"{name:38s} {wall / args.images:24.4f} {loop_text:>20s}")
    if len(rows) == 2:
        print(f"ratio seglab / MMSegmentation (whole command): {rows[0][1] / rows[1][1]:.3f}")
        if rows[0][2] and rows[1][2]:
            print(f"ratio seglab / MMSegmentation (test loop):     {rows[0][2] / rows[1][2]:.3f}")
    print(f"inference_model on a list of {args.images} paths: {api:.2f} images/s ({1 / api:.4f} s/image)")


if __name__ == "__main__":
    main()
