"""Inference speed on a real-size test set: ``seglab test``, the Python API and, where installed, MMSegmentation.

    python benchmarks/infer_speed.py [--case r18 r50] [--images 233] [--repeats 2] [--amp]
                                     [--mmseg-python ~/mmref/bin/python [--mmseg-spincount]]

``--case`` takes one or more models, each run on its own freshly written set: ``r18`` (DeepLabV3+ R18-D8) and
``r50`` (the tutorial's DeepLabV3+ R50-D8, at 12 classes). The checkpoint has random BatchNorm statistics, so
BatchNorm folding (``seglab test``'s default) really changes the weights; seglab runs as it comes (folded, with
Winograd 3x3 convolutions on CPU) and, for the comparison, with Winograd off (``test_cfg.winograd=False``) and
with both off (``test_cfg.fold_bn=False``). Both toolboxes write their predicted label maps (``--out``), and
the share of pixels where each agrees with ``seglab test`` is printed beside the mIoU of each. ``--amp`` adds
``seglab test --amp force`` (bfloat16 on CPU) and prints its mIoU difference from float32. ``--ceiling``
times the folded model's convolutions one by one on this CPU (``benchmarks/conv_ceiling.py``) and prints
MMSegmentation's test loop over that: the most any change that keeps oneDNN's direct float32 convolutions
could gain over MMSegmentation here. ``--mmseg-spincount`` also runs MMSegmentation with the OpenMP setting
seglab's commands choose for themselves (``GOMP_SPINCOUNT``, ``seglab/openmp_spinning.py``), and compares.

A CamVid-sized set (233 images of 360x480, 12 classes; synthetic, since speed does not depend on content) and
one config per case in MMSegmentation's format, read unchanged by both toolboxes; one checkpoint with random
weights (MMSegmentation's key names) loaded by both. Each command runs in its own process; the table shows
wall-clock images/s of the whole command (start-up included) and seconds per image of the test loop alone
(from the log's per-iteration times), and images/s of ``inference_model`` on a list of paths. Every command
runs ``--repeats`` times in rounds, interleaved with the others and the order reversed every other round, so
load from other jobs falls on all of them; the best run counts, and the per-round ratio range is printed.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
from fold_speed import cpu_name, eval_model, load_average  # benchmarks/ is the script's folder

from seglab.openmp_spinning import SPIN_COUNT, VARIABLE

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

    model = eval_model(config)  # random weights, trained-like BatchNorm statistics: folding changes them for real
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


def interleaved(commands: dict[str, tuple[list[str], dict | None]], work: Path, repeats: int) -> dict[str, list]:
    """Per command, (seconds, log) of ``repeats`` runs made in rounds, one run of each command per round and the
    order reversed every other round, so load from other jobs falls on all of them; the first round writes each
    command's label maps to ``work/KEY/out0``."""
    runs: dict[str, list] = {key: [] for key in commands}
    for r in range(repeats):
        for key in list(commands) if r % 2 == 0 else list(commands)[::-1]:
            cmd, env = commands[key]
            extra = ["--out", str(work / key / "out0")] if r == 0 else []
            runs[key].append(timed([*cmd, "--work-dir", str(work / key / f"w{r}"), *extra], env))
    return runs


def ratio_range(first: list[float | None], second: list[float | None]) -> str:
    """min-max over rounds of first / second (the same round's runs)."""
    ratios = [a / b for a, b in zip(first, second) if a and b]
    return f"{min(ratios):.3f}-{max(ratios):.3f}" if ratios else "n/a"


def conv_seconds(config: Path, checkpoint: Path) -> float:
    """Seconds of the folded model's convolutions for one 360x480 image, timed one by one (conv_ceiling.py)."""
    script = Path(__file__).with_name("conv_ceiling.py")
    cmd = [sys.executable, str(script), "--config", str(config), "--checkpoint", str(checkpoint), "--json"]
    out = subprocess.run(cmd, capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(out.stderr[-3000:])
    return json.loads(out.stdout.strip().splitlines()[-1])["conv_s"]


def run_case(case: str, args: argparse.Namespace) -> None:
    """Time every variant of one model on one freshly written image set and print its table."""
    load_before = load_average()
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        paths = make_images(tmp_path / "data", args.images)
        config = tmp_path / f"dlv3p_{case}_camvid_size.py"
        base = REPO / "seglab" / "configs" / "_base_"
        config.write_text(
            CONFIG.format(base=base, root=str(tmp_path / "data"), workers=args.workers, model=MODELS[case])
        )
        checkpoint = tmp_path / "random.pth"
        make_checkpoint(config, checkpoint)
        seglab_cmd = [sys.executable, "-m", "seglab", "test", str(config), str(checkpoint)]
        names = {
            "fold": "seglab test (folded, Winograd)",
            "direct": "seglab test, test_cfg.winograd=False",
            "plain": "seglab test, both off",
        }
        commands = {
            "fold": (seglab_cmd, None),
            "direct": ([*seglab_cmd, "--cfg-options", "test_cfg.winograd=False"], None),
            "plain": ([*seglab_cmd, "--cfg-options", "test_cfg.fold_bn=False", "test_cfg.winograd=False"], None),
        }
        if args.amp:
            names["amp"] = "seglab test --amp force (bfloat16)"
            commands["amp"] = ([*seglab_cmd, "--amp", "force"], None)
        if args.mmseg_python:
            tools = subprocess.run(
                [args.mmseg_python, "-c", "import mmseg, os; print(os.path.dirname(mmseg.__file__))"],
                capture_output=True,
                text=True,
                check=True,
            ).stdout.strip()
            names["mm"] = "MMSegmentation 1.2.2 tools/test.py"
            mm_cmd = [args.mmseg_python, f"{tools}/.mim/tools/test.py", str(config), str(checkpoint)]
            commands["mm"] = (mm_cmd, {"TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD": "1"})
            if args.mmseg_spincount:  # the OpenMP setting seglab's commands choose, given to MMSegmentation too
                names["mm_spin"] = f"MMSegmentation, {VARIABLE}={SPIN_COUNT}"
                commands["mm_spin"] = (mm_cmd, {"TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD": "1", VARIABLE: SPIN_COUNT})
        runs = interleaved(commands, tmp_path, args.repeats)
        walls = {k: [seconds for seconds, _ in v] for k, v in runs.items()}
        loops = {k: [loop_seconds(log) for _, log in v] for k, v in runs.items()}
        mious = {k: mean_iou(v[0][1]) for k, v in runs.items()}
        same = {k: agreement(tmp_path / "fold" / "out0", tmp_path / k / "out0") for k in runs if k != "fold"}
        ceiling = conv_seconds(config, checkpoint) if args.ceiling else None
        api: dict[bool, list[float]] = {False: [], True: []}
        for r in range(0 if args.no_api else args.repeats):
            for fold in (False, True) if r % 2 == 0 else (True, False):
                api[fold].append(api_images_per_second(config, checkpoint, paths, fold))

    print(f"\n{args.images} images of 360x480, {NAMES[case]}, batch 1, {args.workers} workers")
    print(f"CPU: {cpu_name()}, {os.cpu_count()} CPUs; load average {load_before} before, {load_average()} after")
    print(f"best of {args.repeats} interleaved runs each")
    print(f"{'command':38s} {'images/s (whole)':>17s} {'s/image (test loop)':>20s} {'mIoU':>7s}")
    for key, name in names.items():
        loop = min(filter(None, loops[key]), default=None)
        loop_text = f"{loop:.4f}" if loop is not None else "n/a"
        print(f"{name:38s} {args.images / min(walls[key]):17.3f} {loop_text:>20s} {mious[key] or float('nan'):7.2f}")
    for key, share in same.items():
        print(f"pixels predicted alike, seglab test (folded) vs {key}: {100 * share:.4f}%")
    comparisons = (
        ("plain", "direct", "folding"),
        ("direct", "fold", "Winograd"),
        ("plain", "fold", "folding and Winograd"),
        ("mm", "fold", "seglab (as it comes) / MMSegmentation"),
        ("mm", "mm_spin", f"MMSegmentation with {VARIABLE}={SPIN_COUNT} / without"),
        ("mm_spin", "fold", f"seglab (as it comes) / MMSegmentation with {VARIABLE}={SPIN_COUNT}"),
    )
    for first, second, what in comparisons:
        if first not in runs:
            continue
        whole = min(walls[first]) / min(walls[second])
        print(
            f"{what}: {whole:.3f}x the images/s (whole command), per round {ratio_range(walls[first], walls[second])}"
        )
        if all(loops[first]) and all(loops[second]):
            loop = min(loops[first]) / min(loops[second])
            print(f"{what}: {loop:.3f}x the images/s (test loop), per round {ratio_range(loops[first], loops[second])}")
    if ceiling is not None and "mm" in runs and all(loops["mm"]):
        print(
            f"the folded model's convolutions alone (oneDNN, timed one by one): {ceiling:.4f} s/image; "
            f"MMSegmentation's test loop / that = {min(loops['mm']) / ceiling:.3f}x, the most any change keeping "
            "those kernels could reach"
        )
    if args.amp and mious.get("amp") is not None and mious.get("fold") is not None:
        print(f"--amp (bfloat16) mIoU - float32 mIoU: {mious['amp'] - mious['fold']:+.2f}")
    for fold, rates in api.items():
        if rates:
            print(f"inference_model on {args.images} paths, fold_bn={fold} (Winograd on): {max(rates):.2f} images/s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--case", nargs="+", choices=sorted(MODELS), default=["r18"], help="one or more models")
    parser.add_argument("--images", type=int, default=233)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--amp", action="store_true", help="also seglab test --amp force: mIoU difference")
    parser.add_argument("--no-api", action="store_true", help="skip the inference_model timing")
    parser.add_argument("--ceiling", action="store_true", help="also time the convolutions alone (conv_ceiling.py)")
    parser.add_argument("--mmseg-python", help="a Python with MMSegmentation 1.2.2 installed, timed in the same run")
    parser.add_argument(
        "--mmseg-spincount", action="store_true", help=f"also MMSegmentation with seglab's {VARIABLE}={SPIN_COUNT}"
    )
    args = parser.parse_args()
    for case in args.case:
        run_case(case, args)


if __name__ == "__main__":
    main()
