"""Shared fixtures: generated datasets, tiny configs and the MMSegmentation reference files."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest
import torch
from hypothesis import Phase, settings

from seglab.data.synthetic import DummySpec, make_dummy_dataset
from tests.torchvision_stand_in import install_torchvision_stand_in

install_torchvision_stand_in()  # timm (a test-only install, see .ci/run) imports torchvision when it loads
REPO = Path(__file__).resolve().parents[1]
REFERENCE = REPO.parent / "shared" / "reference"

TINY_MODEL = dict(
    type="EncoderDecoder",
    data_preprocessor=dict(
        type="SegDataPreProcessor",
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True,
        pad_val=0,
        seg_pad_val=255,
        size=(64, 64),
    ),
    pretrained=None,
    backbone=dict(
        type="ResNetV1c",
        depth=18,
        stem_channels=16,
        base_channels=16,
        num_stages=4,
        out_indices=(0, 1, 2, 3),
        dilations=(1, 1, 2, 4),
        strides=(1, 2, 1, 1),
        norm_cfg=dict(type="BN", requires_grad=True),
        contract_dilation=True,
    ),
    decode_head=dict(
        type="DepthwiseSeparableASPPHead",
        in_channels=128,
        in_index=3,
        channels=32,
        dilations=(1, 12, 24, 36),
        c1_in_channels=16,
        c1_channels=8,
        dropout_ratio=0.1,
        num_classes=3,
        norm_cfg=dict(type="BN", requires_grad=True),
        align_corners=False,
        loss_decode=dict(type="CrossEntropyLoss", use_sigmoid=False, loss_weight=1.0),
    ),
    auxiliary_head=dict(
        type="FCNHead",
        in_channels=64,
        in_index=2,
        channels=16,
        num_convs=1,
        concat_input=False,
        dropout_ratio=0.1,
        num_classes=3,
        norm_cfg=dict(type="BN", requires_grad=True),
        align_corners=False,
        loss_decode=dict(type="CrossEntropyLoss", use_sigmoid=False, loss_weight=0.4),
    ),
    train_cfg=dict(),
    test_cfg=dict(mode="whole"),
)


# Property tests run a fixed, derandomised example count in the normal test command ("ci"); for a deeper local
# search: SEGLAB_HYPOTHESIS=thorough pytest ... ('explain' phase off: it imports libcst, seconds)
PHASES = (Phase.explicit, Phase.generate, Phase.shrink)
settings.register_profile("ci", max_examples=15, deadline=None, derandomize=True, database=None, phases=PHASES)
settings.register_profile("thorough", max_examples=400, deadline=None, phases=PHASES)
settings.load_profile(os.environ.get("SEGLAB_HYPOTHESIS", "ci"))


@pytest.fixture(scope="session")
def reference() -> Path:
    if not REFERENCE.is_dir():
        pytest.fail(f"reference files not found at {REFERENCE} (shared/ must sit next to the repository)")
    return REFERENCE


@pytest.fixture(scope="session")
def learnable_data(tmp_path_factory) -> Path:
    """A 3-class learnable dataset of 64x64 images (48 train, 12 val)."""
    root = tmp_path_factory.mktemp("learnable")
    make_dummy_dataset(DummySpec(root, "learnable", 3, train=48, val=12, size=64, seed=1))
    return root


@pytest.fixture(scope="session")
def tutorial_data(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("tutorial")
    make_dummy_dataset(DummySpec(root, "tutorial", 2, train=50, val=10, size=256, seed=0))
    return root


def write_tiny_config(
    folder: Path, data_root: Path, max_iters: int = 40, extra: str = "", name: str = "tiny.py"
) -> Path:
    """A tiny-model config inheriting the shipped runtime and schedule; ``extra`` lines go in a child
    config that inherits it, so they merge the way a user's overrides do."""
    base = folder / f"{Path(name).stem}_base.py"
    base.write_text(tiny_config_text(data_root, folder / "work", max_iters))
    path = folder / name
    path.write_text(f"_base_ = './{base.name}'\n{extra}\n")
    return path


def tiny_config_text(data_root: Path, work_dir: Path, max_iters: int = 40) -> str:
    """A complete tiny-model config file that inherits the shipped runtime and schedule."""
    return f"""
_base_ = ['mmseg::_base_/default_runtime.py', 'mmseg::_base_/schedules/schedule_20k.py']
model = {TINY_MODEL!r}
crop_size = (64, 64)
data_root = {str(data_root)!r}
metainfo = dict(classes=('background', 'class1', 'class2'))
train_pipeline = [
    dict(type='LoadImageFromFile'), dict(type='LoadAnnotations'),
    dict(type='RandomResize', scale=(64, 64), ratio_range=(0.75, 1.5), keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size, cat_max_ratio=0.75),
    dict(type='RandomFlip', prob=0.5), dict(type='PackSegInputs')]
test_pipeline = [dict(type='LoadImageFromFile'), dict(type='Resize', scale=(64, 64), keep_ratio=True),
                 dict(type='LoadAnnotations'), dict(type='PackSegInputs')]
train_dataloader = dict(batch_size=8, num_workers=0, persistent_workers=False,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(type='BaseSegDataset', data_root=data_root, metainfo=metainfo,
                 data_prefix=dict(img_path='img_dir/train', seg_map_path='ann_dir/train'), pipeline=train_pipeline))
val_dataloader = dict(batch_size=1, num_workers=0, persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type='BaseSegDataset', data_root=data_root, metainfo=metainfo,
                 data_prefix=dict(img_path='img_dir/val', seg_map_path='ann_dir/val'), pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='IoUMetric', iou_metrics=['mIoU'])
test_evaluator = val_evaluator
optim_wrapper = dict(optimizer=dict(_delete_=True, type='AdamW', lr=0.003, weight_decay=0.0001))
param_scheduler = [dict(type='PolyLR', eta_min=1e-5, power=0.9, begin=0, end={max_iters}, by_epoch=False)]
train_cfg = dict(max_iters={max_iters}, val_interval={max_iters})
default_hooks = dict(logger=dict(interval=10), checkpoint=dict(interval={max_iters}))
randomness = dict(seed=0)
work_dir = {str(work_dir)!r}
"""


@pytest.fixture
def tiny_config(tmp_path, learnable_data):
    """Factory: write a tiny config file and return its path."""

    def make(max_iters: int = 40, extra: str = "", name: str = "tiny.py") -> Path:
        return write_tiny_config(tmp_path, learnable_data, max_iters, extra, name)

    return make


@pytest.fixture
def one_thread():
    """Tiny models spend their time in per-op overhead, not arithmetic: one thread is as fast on an idle
    machine and several times faster on a busy one (threads of other processes no longer contend)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(autouse=True)
def _quiet_seglab_logger():
    yield
    logger = logging.getLogger("seglab")
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
        handler.close()
    # setup_logging stops propagation; restore it so the next test's caplog sees seglab's records.
    logger.propagate = True
    logger.setLevel(logging.NOTSET)


@pytest.fixture
def seglab_log(caplog):
    """caplog on the 'seglab' logger itself: a run earlier in the session may have stopped its propagation."""
    logger = logging.getLogger("seglab")
    propagate, logger.propagate = logger.propagate, True
    with caplog.at_level(logging.INFO, logger="seglab"):
        yield caplog
    logger.propagate = propagate


@pytest.fixture(scope="session")
def trained(tmp_path_factory, learnable_data):
    """One 300-iteration run of the tiny model (checkpoints at 150 and 300), shared by several tests."""
    root = tmp_path_factory.mktemp("trained")
    path = write_tiny_config(
        root,
        learnable_data,
        max_iters=300,
        # seed 1: under MMSegmentation's initialisation, seed 0 of this tiny model falls into a minimum
        # where one class is never predicted (mIoU 46.5); seeds 1-3 reach 88-92
        extra="train_cfg = dict(val_interval=150)\n"
        "default_hooks = dict(checkpoint=dict(interval=150, save_best='mIoU'))\n"
        "randomness = dict(seed=1)",
    )
    from seglab import Config
    from seglab.engine.runner import Runner

    runner = Runner.from_cfg(Config.fromfile(path))
    metrics = runner.train()
    return runner, metrics
