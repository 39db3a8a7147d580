"""The checks every zoo family runs against its records from MMSegmentation 1.2.2 (tests/records/zoo/).

Every config's key -> shape list and the init statistics are checked for all families at once in
test_zoo_keys.py; a family's test file parametrises the others over its records:

- ``assert_fixture_outputs``: a head/neck/backbone loaded with the recorded weights gives the recorded outputs;
- ``assert_init_statistics``: a fresh model's per-parameter mean/std match MMSegmentation's initialisation;
- ``assert_tiny_model_learns``: a tiny variant of the family raises mIoU on the learnable synthetic data;
- ``cli_train_options`` + ``data_options``: a shipped config trains two iterations from ``seglab train``.
"""

from __future__ import annotations

import gzip
import json
import math
from pathlib import Path

import torch

from seglab import Config, build_model
from seglab.cli import main
from seglab.data.loader import build_dataloader
from seglab.engine.runner import Runner
from seglab.registry import METRICS, MODELS

from ..conftest import REPO
from .test_init import Z, std_tolerance

RECORDS = REPO / "tests" / "records" / "zoo"


def read_record(name: str) -> dict:
    with gzip.open(RECORDS / name, "rt") as f:
        return json.load(f)


def shipped_configs(folders: tuple[str, ...]) -> list[str]:
    """``folder/stem`` of every config seglab ships in these folders."""
    return sorted(f"{p.parent.name}/{p.stem}" for folder in folders for p in (REPO / "configs" / folder).glob("*.py"))


def config_path(name: str) -> Path:
    return REPO / "configs" / f"{name}.py"


# ------------------------------------------------------------------------------------------ numeric fixtures
def recorded_state(case: dict, flat: torch.Tensor, state: dict) -> dict:
    """The recorded weights: floating entries in state_dict order from one flat tensor."""
    out, offset = {}, 0
    for key, shape in case["keys"]:
        if not state[key].is_floating_point():
            out[key] = state[key]  # num_batches_tracked: not recorded, unused in eval
            continue
        n = math.prod(shape)
        out[key] = flat[offset : offset + n].reshape(shape)
        offset += n
    assert offset == flat.numel()
    return out


def assert_fixture_outputs(name: str, case: dict, tensors: dict) -> None:
    """Build ``case['type']`` with ``case['kwargs']``, load the recorded weights, compare eval outputs.

    ``tensors`` holds ``<name>/state`` (floating weights, flat), ``<case['inputs']>/<i>`` and ``<name>/out/<i>``.
    """
    module = MODELS.build(dict(type=case["type"], **case["kwargs"])).eval()
    state = module.state_dict()
    assert [[k, list(v.shape)] for k, v in state.items()] == case["keys"]
    module.load_state_dict(recorded_state(case, tensors[f"{name}/state"], state), strict=True)
    inputs = [tensors[f"{case['inputs']}/{i}"] for i in range(len(case["input_shapes"]))]
    with torch.no_grad():
        out = module(inputs[0] if case.get("call") == "backbone" else inputs)  # a backbone takes the image
    outs = list(out) if isinstance(out, tuple | list) else [out]
    assert [list(o.shape) for o in outs] == case["output_shapes"]
    for i, o in enumerate(outs):
        ref = tensors[f"{name}/out/{i}"]
        err, scale = (o - ref).abs().max().item(), ref.abs().max().item()
        assert err <= 1e-4 * scale, f"output {i}: max error {err:.3g}, max |reference| {scale:.3g}"


# ------------------------------------------------------------------------------------------ initialisation
def assert_init_statistics(name: str, rows: list, seeds: int) -> None:
    """As tests/models/test_init.py: constants exactly, random layers by mean and std within sampling error.

    ``rows`` are ``[key, numel, mean, std]`` of MMSegmentation's fresh model over ``seeds`` seeds.
    """
    torch.manual_seed(0)
    params = dict(build_model(Config.fromfile(config_path(name)).model, load_pretrained=False).named_parameters())
    assert sorted(params) == sorted(row[0] for row in rows)
    failures = []
    for key, numel, ref_mean, ref_std in rows:
        value = params[key].detach().flatten()
        if ref_std == 0:
            if not bool((value == ref_mean).all()):
                failures.append(f"{key}: expected all {ref_mean}, got mean {value.mean():.4g} std {value.std():.4g}")
            continue
        if numel == 1:  # one value (a bias of a single channel): ref_std is its spread over the seeds
            if abs(value.item() - ref_mean) > Z * ref_std * math.sqrt(1 + 1 / seeds):
                failures.append(f"{key}: {value.item():.4g}, MMSeg {ref_mean:.4g} +- {ref_std:.3g} over seeds")
            continue
        std, mean = (x.item() for x in torch.std_mean(value))
        mean_tol = Z * ref_std * math.sqrt((1 + 1 / seeds) / numel)
        if abs(std / ref_std - 1) > std_tolerance(numel, seeds) or abs(mean - ref_mean) > mean_tol:
            failures.append(
                f"{key} ({numel}): mean {mean:.3g} std {std:.4g}, MMSeg mean {ref_mean:.3g} std {ref_std:.4g}"
            )
    assert not failures, "\n".join(failures)


# ------------------------------------------------------------------------------------------ learning
NORM = "norm_cfg=dict(type='BN', requires_grad=True)"
# background is ~70% of the learnable data's pixels: halving its weight keeps a tiny model from settling on
# all-background in its first few dozen iterations (without it some seeds of each family stay at mIoU 23.4)
LOSS = "loss_decode=dict(type='CrossEntropyLoss', class_weight=[0.5, 1.0, 1.0])"
HEAD = f"channels=16, num_classes=3, {NORM}, {LOSS}"
# the tiny config's ResNet at base width 8: levels of 8, 16, 32, 64 channels ...
DILATED = "backbone=dict(stem_channels=8, base_channels=8)"  # ... at strides 4, 8, 8, 8
PYRAMID = "backbone=dict(stem_channels=8, base_channels=8, dilations=(1, 1, 1, 1), strides=(1, 2, 2, 2))"  # 4 ... 32
LEVELS = "in_channels=[8, 16, 32, 64], in_index=[0, 1, 2, 3]"
# a constant, higher learning rate than the tiny config's (AdamW 0.003 decaying to 0): measured over seeds 0-3,
# PSPNet, UPerNet and FPN then reach mIoU 70-85 in 60 iterations
TRAINING = """
optim_wrapper = dict(optimizer=dict(lr=0.006))
param_scheduler = []
"""
TRAIN_ITERS = 60


def tiny_head(
    head_type: str, args: str = "", backbone: str = DILATED, in_channels: str = "in_channels=64, in_index=3"
) -> str:
    """A config fragment replacing the tiny config's head with ``head_type`` on the tiny ResNet."""
    return (
        f"model = dict({backbone}, auxiliary_head=None, decode_head=dict(_delete_=True, type='{head_type}', "
        f"{in_channels}, {HEAD}{', ' + args if args else ''}))"
    )


def assert_tiny_model_learns(
    tiny_config, fragment: str, head_type: str, iters: int = TRAIN_ITERS, training: str = TRAINING
) -> None:
    """Train the tiny config with ``fragment`` and ``training`` (optimiser and schedule) appended; mIoU must
    end above 60 and 30 above the untrained model."""
    cfg = Config.fromfile(tiny_config(max_iters=iters, extra=fragment + training))
    runner = Runner.from_cfg(cfg)
    after = runner.train()["mIoU"]
    heads = runner.model.decode_head
    last = heads[-1] if isinstance(heads, torch.nn.ModuleList) else heads
    assert type(last).__name__ == head_type
    torch.manual_seed(0)
    runner.model = build_model(cfg.model, load_pretrained=False)  # the same model, untrained
    loader = build_dataloader(cfg.val_dataloader, 0, training=False, name="val_dataloader")
    before = runner.validate(loader, METRICS.build(cfg.val_evaluator))["mIoU"]
    # a constant prediction scores at most 33.3 (one class's IoU at most 100, the others 0)
    assert after > 60 and after > before + 30, (before, after)


# ------------------------------------------------------------------------------------------ the command line
def data_options(data_root: Path) -> list[str]:
    """A shipped ADE20K/Cityscapes-style config on the 64 px learnable data: its folders, 64 px scales, no workers.

    Assumes the usual pipelines (train: load, annotations, RandomResize, RandomCrop ...; test: load, Resize ...).
    """
    options = []
    for loader, split in (("train_dataloader", "train"), ("val_dataloader", "val"), ("test_dataloader", "val")):
        dataset = f"{loader}.dataset"
        options += [
            f"{dataset}.data_root={data_root}",
            f"{dataset}.data_prefix.img_path=img_dir/{split}",
            f"{dataset}.data_prefix.seg_map_path=ann_dir/{split}",
            f"{loader}.num_workers=0",
            f"{loader}.persistent_workers=False",
        ]
    return options + [
        "train_dataloader.batch_size=2",
        "train_dataloader.dataset.pipeline.2.scale=(64,64)",
        "train_dataloader.dataset.pipeline.3.crop_size=(64,64)",
        "val_dataloader.dataset.pipeline.1.scale=(64,64)",
        "val_dataloader.dataset.indices=2",
        "model.data_preprocessor.size=(64,64)",
    ]


TWO_ITERATIONS = [
    "train_cfg.max_iters=2",
    "train_cfg.val_interval=2",
    "default_hooks.logger.interval=1",
    "default_hooks.checkpoint.interval=2",
]


def assert_trains_two_iterations(config: str, model_options: list[str], data_root: Path, work: Path) -> None:
    """``seglab train`` runs a shipped config (shrunk by ``model_options``) for two iterations on the learnable
    data and saves ``iter_2.pth`` in ``work``."""
    options = [*model_options, *TWO_ITERATIONS, *data_options(data_root)]
    assert main(["train", str(config_path(config)), "--work-dir", str(work), "--cfg-options", *options]) == 0
    assert (work / "iter_2.pth").is_file()


def cli_train_options(data_root: Path, model_options: list[str]) -> list[str]:
    """``--cfg-options`` for two iterations of a shipped config with a ResNet-18 at width 16."""
    return [
        "model.pretrained=None",
        "model.backbone.depth=18",
        "model.backbone.stem_channels=16",
        "model.backbone.base_channels=16",
        *model_options,
        *TWO_ITERATIONS,
        *data_options(data_root),
    ]
