"""One command that exercises seglab's CUDA paths and prints a table: training, --amp, DDP + SyncBatchNorm,
resume and evaluation, for the tutorial config and three representative families.

    python benchmarks/gpu_check.py                       # on a CUDA machine (about 10 minutes on one H100)
    python benchmarks/gpu_check.py --mmseg-python ~/mmref/bin/python   # MMSegmentation's numbers beside
    python benchmarks/gpu_check.py --device cpu --iters 2 --crop 64 --models tutorial   # CI smoke run

Per model (tutorial DeepLabV3+ R50-D8, PSPNet R50-D8, SegFormer-B0, Mask2Former-R50; 2 classes, the
tutorial-style dummy data, batch 2): ``seglab train`` for ``--iters`` iterations in float32 and with ``--amp``
(float16 + GradScaler on CUDA, bfloat16 on CPU), then the float32 run resumed once for 2 more iterations, a
DDP run over the visible GPUs through ``torch.distributed.run`` (SyncBatchNorm is what the runner converts
BatchNorm to under DDP on CUDA; on CPU only with ``--ddp``: two gloo processes), and ``seglab test`` on the
final checkpoint. Each row: s/iter (median after the first two iterations), images/s, peak CUDA memory (MB)
and the last logged loss. Every run is a real command in its own process; a failing one fails the script.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CONFIGS = REPO / "configs"
MODELS = {
    "tutorial": "deeplabv3plus/deeplabv3plus_r50-d8_dummy-test.py",
    "pspnet_r50-d8": "pspnet/pspnet_r50-d8_4xb2-40k_cityscapes-512x1024.py",
    "segformer_b0": "segformer/segformer_mit-b0_8xb2-160k_ade20k-512x512.py",
    "mask2former_r50": "mask2former/mask2former_r50_8xb2-90k_cityscapes-512x1024.py",
}
DATA = """
crop_size = ({crop}, {crop})
train_pipeline = [dict(type='LoadImageFromFile'), dict(type='LoadAnnotations'),
    dict(type='RandomCrop', crop_size=crop_size), dict(type='RandomFlip', prob=0.5), dict(type='PackSegInputs')]
test_pipeline = [dict(type='LoadImageFromFile'), dict(type='LoadAnnotations'), dict(type='PackSegInputs')]
_dataset = dict(type='BaseSegDataset', data_root={root!r}, metainfo=dict(classes=('background', 'foreground')))
train_dataloader = dict(batch_size={batch}, num_workers={workers}, persistent_workers=False,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(_dataset, data_prefix=dict(img_path='img_dir/train', seg_map_path='ann_dir/train'),
                 pipeline=train_pipeline))
val_dataloader = dict(batch_size=1, num_workers={workers}, persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(_dataset, data_prefix=dict(img_path='img_dir/val', seg_map_path='ann_dir/val'),
                 pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='IoUMetric', iou_metrics=['mIoU'])
test_evaluator = val_evaluator
optim_wrapper = dict(_delete_=True, type='OptimWrapper', optimizer=dict(type='SGD', lr=0.001, momentum=0.9,
    weight_decay=0.0005), clip_grad=None)
param_scheduler = []
train_cfg = dict(_delete_=True, type='IterBasedTrainLoop', max_iters={iters}, val_interval={iters} * 10)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
default_hooks = dict(logger=dict(type='LoggerHook', interval=1), checkpoint=dict(type='CheckpointHook',
    by_epoch=False, interval={iters}), visualization=dict(type='SegVisualizationHook', draw=False))
env_cfg = dict(cudnn_benchmark=True)
randomness = dict(seed=0)
load_from = None
resume = False
"""


TINY = dict(  # the tutorial model at ResNet-18 width 16: the CI smoke run (--tiny) measures plumbing, not speed
    backbone=dict(depth=18, stem_channels=16, base_channels=16),
    decode_head=dict(in_channels=128, c1_in_channels=16, channels=16, c1_channels=8),
    auxiliary_head=dict(in_channels=64, channels=16),
)


def model_config(name: str, crop: int, tiny: bool = False) -> str:
    """The shipped config's model for 2 classes at ``crop`` (read by seglab, written back as a literal)."""
    from seglab import Config

    model = Config.fromfile(CONFIGS / MODELS[name]).model.to_dict()
    model["pretrained"] = None
    model["data_preprocessor"]["size"] = (crop, crop)
    if "backbone" in model:
        model["backbone"]["init_cfg"] = None
        if "img_size" in model["backbone"]:
            model["backbone"]["img_size"] = (crop, crop)
    for key in ("decode_head", "auxiliary_head"):
        heads = model.get(key)
        for head in heads if isinstance(heads, list) else [heads] if heads else []:
            head["num_classes"] = 2
            loss_cls = head.get("loss_cls") or {}
            if isinstance(loss_cls, dict) and isinstance(loss_cls.get("class_weight"), list):
                loss_cls["class_weight"] = [1.0, 1.0, 0.1]  # two classes and "no object"
    model["test_cfg"] = dict(mode="whole")
    for key, values in (TINY if tiny and name == "tutorial" else {}).items():
        model[key].update(values)
    model["_delete_"] = True
    return f"model = {model!r}\n"


def write_config(tmp: Path, name: str, args: argparse.Namespace) -> Path:
    path = tmp / f"{name}.py"
    data = DATA.format(crop=args.crop, root=str(tmp / "data"), batch=args.batch, workers=args.workers, iters=args.iters)
    path.write_text(f"_base_ = [{str(CONFIGS / MODELS[name])!r}]\n" + model_config(name, args.crop, args.tiny) + data)
    return path


def run(cmd: list[str], env: dict | None = None) -> str:
    out = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, **(env or {})}, cwd=REPO)
    if out.returncode != 0:
        sys.exit(f"failed: {' '.join(cmd)}\n{out.stdout[-3000:]}\n{out.stderr[-5000:]}")
    return out.stdout + out.stderr


def scalars(work_dir: Path) -> list[dict]:
    """Training records of the newest run in ``work_dir`` (MMEngine's and seglab's vis_data/scalars.json)."""
    files = sorted(work_dir.glob("*/vis_data/scalars.json"))
    rows = [json.loads(line) for line in files[-1].read_text().splitlines() if line.strip()] if files else []
    return [r for r in rows if "loss" in r and "time" in r]


def summary(rows: list[dict], batch: int, world: int = 1) -> dict:
    times = [r["time"] for r in rows[2:]] or [r["time"] for r in rows]
    s_iter = statistics.median(times) if times else float("nan")
    return {
        "s/iter": s_iter,
        "img/s": batch * world / s_iter if times else float("nan"),
        "memory MB": max((r.get("memory", 0) for r in rows), default=0) or None,
        "loss": rows[-1]["loss"] if rows else float("nan"),
    }


def seglab_runs(config: Path, work: Path, args: argparse.Namespace, gpus: int) -> dict[str, dict]:
    python, results = sys.executable, {}
    run([python, "-m", "seglab", "train", str(config), "--work-dir", str(work / "fp32")])
    results["float32"] = summary(scalars(work / "fp32"), args.batch)
    run([python, "-m", "seglab", "train", str(config), "--work-dir", str(work / "amp"), "--amp"])
    results["--amp"] = summary(scalars(work / "amp"), args.batch)
    more = f"train_cfg.max_iters={args.iters + 2}"
    run([python, "-m", "seglab", "train", str(config), "--work-dir", str(work / "fp32"), "--resume",
         "--cfg-options", more])  # fmt: skip
    resumed = scalars(work / "fp32")
    if not resumed or resumed[0].get("iter", args.iters + 1) <= args.iters:
        sys.exit(f"resume did not continue after iteration {args.iters}: {resumed[:1]}")
    results["resumed"] = summary(resumed, args.batch)
    if gpus > 1 or args.ddp:
        procs = max(gpus, 2 if args.device == "cpu" else 1)
        run([python, "-m", "torch.distributed.run", f"--nproc_per_node={procs}", "--master_port=29533",
             "-m", "seglab", "train", str(config), "--work-dir", str(work / "ddp"), "--launcher", "pytorch"])  # fmt: skip
        results[f"DDP x{procs}"] = summary(scalars(work / "ddp"), args.batch, procs)
    start = time.perf_counter()
    text = run([python, "-m", "seglab", "test", str(config), str(work / "fp32" / f"iter_{args.iters + 2}.pth"),
                "--work-dir", str(work / "test")])  # fmt: skip
    results["test"] = {"seconds": time.perf_counter() - start, "mIoU": mean_iou(text)}
    return results


def mean_iou(log: str) -> float | None:
    import re

    found = re.findall(r"mIoU: ([0-9.]+)", log)
    return float(found[-1]) if found else None


def mmseg_runs(config: Path, work: Path, args: argparse.Namespace) -> dict[str, dict]:
    tools = run([args.mmseg_python, "-c", "import mmseg, os; print(os.path.dirname(mmseg.__file__))"]).strip()
    train = [args.mmseg_python, f"{tools.splitlines()[-1]}/.mim/tools/train.py", str(config)]
    env = {"TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD": "1"}
    run([*train, "--work-dir", str(work / "mm_fp32")], env)
    results = {"float32": summary(scalars(work / "mm_fp32"), args.batch)}
    run([*train, "--work-dir", str(work / "mm_amp"), "--amp"], env)
    results["--amp"] = summary(scalars(work / "mm_amp"), args.batch)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", choices=["cuda", "cpu"], default="cuda")
    parser.add_argument("--models", default=",".join(MODELS), help=f"comma-separated, of {', '.join(MODELS)}")
    parser.add_argument("--iters", type=int, default=40)
    parser.add_argument("--crop", type=int, default=512)
    parser.add_argument("--batch", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--tiny", action="store_true", help="the tutorial model at ResNet-18 width 16 (CI)")
    parser.add_argument("--ddp", action="store_true", help="on CPU too: two gloo processes (slow)")
    parser.add_argument("--mmseg-python", help="a Python with MMSegmentation 1.2.2: its numbers beside seglab's")
    parser.add_argument("--json", help="also write the results here")
    args = parser.parse_args()

    import torch

    from seglab.data.synthetic import DummySpec, make_dummy_dataset

    if args.device == "cuda" and not torch.cuda.is_available():
        sys.exit("no CUDA device here; use --device cpu for the smoke run")
    if args.device == "cpu":
        os.environ["CUDA_VISIBLE_DEVICES"] = ""  # every child process runs on CPU
    gpus = torch.cuda.device_count() if args.device == "cuda" else 0
    device = torch.cuda.get_device_name(0) if gpus else "CPU"
    table: dict[str, dict] = {}
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        size = max(args.crop, 64)
        make_dummy_dataset(DummySpec(tmp_path / "data", "tutorial", 2, train=8, val=4, size=size))
        for name in args.models.split(","):
            config = write_config(tmp_path, name, args)
            table[name] = {"seglab": seglab_runs(config, tmp_path / name, args, gpus)}
            if args.mmseg_python:
                table[name]["MMSegmentation"] = mmseg_runs(config, tmp_path / name, args)
            print(f"done: {name}", flush=True)
    print(f"\n{device} x{max(gpus, 1)}, torch {torch.__version__}, crop {args.crop}, batch {args.batch}, "
          f"{args.iters} iterations")  # fmt: skip
    print(f"| model | toolbox | run | s/iter | img/s | peak memory MB | final loss |\n|{'---|' * 7}")
    for name, toolboxes in table.items():
        for toolbox, runs in toolboxes.items():
            for label, row in runs.items():
                if label == "test":
                    continue
                memory = row["memory MB"] if row["memory MB"] is not None else "n/a"
                print(f"| {name} | {toolbox} | {label} | {row['s/iter']:.3f} | {row['img/s']:.1f} | {memory} | "
                      f"{row['loss']:.4f} |")  # fmt: skip
        test = toolboxes["seglab"]["test"]
        print(f"| {name} | seglab | test (whole command) | {test['seconds']:.1f} s | | | mIoU {test['mIoU']} |")
    if args.json:
        Path(args.json).write_text(json.dumps({"device": device, "results": table}, indent=1))


if __name__ == "__main__":
    main()
