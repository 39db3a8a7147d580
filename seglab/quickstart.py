"""``seglab quickstart``: the whole workflow on synthetic data, in about a minute on two CPU cores.

It writes a learnable dataset, a config that inherits the shipped ``_base_`` files (so it goes
through exactly the machinery a user's config does), trains a small DeepLabV3+, validates, and
says where the results are.
"""

from __future__ import annotations

from pathlib import Path

from seglab.config import Config
from seglab.data.synthetic import DummySpec, class_names, class_palette, make_dummy_dataset

NUM_CLASSES = 3
DEFAULT_ITERS = 600

CONFIG_TEMPLATE = """\
# Written by 'seglab quickstart': a small DeepLabV3+ (ResNetV1c-18 at 1/4 width) on synthetic data.
_base_ = [
    'mmseg::_base_/models/deeplabv3plus_r50-d8.py',
    'mmseg::_base_/default_runtime.py',
    'mmseg::_base_/schedules/schedule_20k.py',
]
crop_size = (64, 64)
data_root = {data_root!r}
max_iters = {max_iters}
norm_cfg = dict(type='BN', requires_grad=True)
metainfo = dict(classes={classes!r}, palette={palette!r})
model = dict(
    pretrained=None,
    data_preprocessor=dict(size=crop_size),
    backbone=dict(depth=18, stem_channels=16, base_channels=16, norm_cfg=norm_cfg),
    decode_head=dict(in_channels=128, channels=32, c1_in_channels=16, c1_channels=8,
                     num_classes={num_classes}, norm_cfg=norm_cfg),
    auxiliary_head=dict(in_channels=64, channels=16, num_classes={num_classes}, norm_cfg=norm_cfg))
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='RandomResize', scale=(64, 64), ratio_range=(0.75, 1.5), keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size, cat_max_ratio=0.75),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackSegInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(64, 64), keep_ratio=True),
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs'),
]
train_dataloader = dict(
    batch_size=8, num_workers=2, persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(type='BaseSegDataset', data_root=data_root, metainfo=metainfo,
                 data_prefix=dict(img_path='img_dir/train', seg_map_path='ann_dir/train'),
                 pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1, num_workers=0, persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type='BaseSegDataset', data_root=data_root, metainfo=metainfo,
                 data_prefix=dict(img_path='img_dir/val', seg_map_path='ann_dir/val'),
                 pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='IoUMetric', iou_metrics=['mIoU'])
test_evaluator = val_evaluator
optim_wrapper = dict(optimizer=dict(_delete_=True, type='AdamW', lr=0.003, weight_decay=0.0001))
param_scheduler = [dict(type='PolyLR', eta_min=1e-5, power=0.9, begin=0, end=max_iters, by_epoch=False)]
train_cfg = dict(max_iters=max_iters, val_interval=max_iters // 2)
default_hooks = dict(
    logger=dict(interval=25),
    checkpoint=dict(interval=max_iters // 2, max_keep_ckpts=2, save_best='mIoU'))
randomness = dict(seed=0)
work_dir = {work_dir!r}
"""


def write_quickstart_config(work_dir: Path, data_root: Path, max_iters: int) -> Path:
    path = work_dir / "quickstart_config.py"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        CONFIG_TEMPLATE.format(
            data_root=str(data_root.resolve()),
            max_iters=max_iters,
            classes=class_names(NUM_CLASSES),
            palette=class_palette(NUM_CLASSES),
            num_classes=NUM_CLASSES,
            work_dir=str(work_dir.resolve()),
        )
    )
    return path


def run_quickstart(work_dir: Path, iters: int | None = None) -> dict[str, float]:
    from seglab.engine.runner import Runner

    data_root = work_dir / "data"
    if not (data_root / "img_dir").is_dir():
        make_dummy_dataset(DummySpec(data_root, "learnable", NUM_CLASSES, train=80, val=16, size=64, seed=0))
    config_path = write_quickstart_config(work_dir, data_root, iters or DEFAULT_ITERS)
    runner = Runner.from_cfg(Config.fromfile(config_path))
    metrics = runner.train()
    overlays, curves = show_results(runner, config_path, data_root)
    print()
    print(f"quickstart finished: mIoU {metrics.get('mIoU', float('nan')):.2f} on the synthetic val split")
    print(f"  config:      {config_path.resolve()}")
    print(f"  data:        {data_root.resolve()}")
    print(f"  log:         {runner.log_dir / (runner.timestamp + '.log')}")
    print(f"  scalars:     {runner.log_dir / 'vis_data' / 'scalars.json'}")
    print(f"  checkpoints: {runner.work_dir} (last_checkpoint points at the newest)")
    print(f"  curves:      {curves}")
    print(f"  overlays:    {overlays} (predictions on validation images)")
    return metrics


def show_results(runner, config_path: Path, data_root: Path, count: int = 4) -> tuple[Path, Path]:
    """Prediction overlays for a few validation images and the training-curve plot."""
    from seglab.inference import infer_files, init_model
    from seglab.visualize import plot_curves

    checkpoint = Path((runner.work_dir / "last_checkpoint").read_text().strip())
    model = init_model(config_path, checkpoint)
    images = sorted((data_root / "img_dir" / "val").glob("*.jpg"))[:count]
    out = runner.work_dir / "predictions"
    infer_files(model, [str(p) for p in images], out)
    curves, _ = plot_curves(runner.work_dir, runner.work_dir / "curves.png")
    return out, curves
