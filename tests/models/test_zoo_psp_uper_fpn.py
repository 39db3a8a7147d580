"""PSPNet, UPerNet and Semantic FPN against MMSegmentation 1.2.2 (records in tests/records/zoo/).

Every shipped config builds MMSegmentation's key -> shape list; PSPHead, UPerHead, FPN and FPNHead give
MMSegmentation's outputs for the same weights and inputs; a fresh R50 model of each family starts from
MMSegmentation's weight distributions; a tiny model of each family learns; a shipped config of each family
trains from the command line.
"""

from __future__ import annotations

import gzip
import json
import math
from pathlib import Path

import pytest
import torch

from seglab import Config, build_model
from seglab.cli import main
from seglab.data.loader import build_dataloader
from seglab.engine.runner import Runner
from seglab.errors import ConfigError
from seglab.models.builder import build_on_meta
from seglab.registry import METRICS, MODELS

from ..conftest import REPO
from .test_init import Z, std_tolerance

RECORDS = REPO / "tests" / "records" / "zoo"
FOLDERS = ("pspnet", "upernet", "sem_fpn")


def read_gz(name: str) -> dict:
    with gzip.open(RECORDS / name, "rt") as f:
        return json.load(f)


KEYS = read_gz("psp_uper_fpn_keys.json.gz")
FIXTURES = read_gz("psp_uper_fpn_fixtures.json.gz")
INIT = read_gz("psp_uper_fpn_init_stats.json.gz")
SHIPPED = sorted(f"{p.parent.name}/{p.stem}" for folder in FOLDERS for p in (REPO / "configs" / folder).glob("*.py"))


# ------------------------------------------------------------------------------------------ key/shape lists
def test_every_shipped_config_has_a_record():
    assert [name for name in SHIPPED if name not in KEYS["configs"]] == []


@pytest.mark.parametrize("name", SHIPPED)
def test_config_builds_mmsegmentations_keys_and_shapes(name):
    model = build_on_meta(Config.fromfile(REPO / "configs" / f"{name}.py").model)
    ours = {k: list(v.shape) for k, v in model.state_dict().items()}
    theirs = dict(KEYS["lists"][KEYS["configs"][name]])
    missing, extra = sorted(set(theirs) - set(ours)), sorted(set(ours) - set(theirs))
    assert not missing and not extra, f"missing {missing[:5]}, unexpected {extra[:5]}"
    assert {k: v for k, v in ours.items() if theirs[k] != v} == {}


# ------------------------------------------------------------------------------------------ numeric fixtures
@pytest.fixture(scope="module")
def fixture_tensors() -> dict:
    return torch.load(RECORDS / "psp_uper_fpn_fixtures.pt", weights_only=True)


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


@pytest.mark.parametrize("name", sorted(FIXTURES))
def test_outputs_match_mmsegmentation_for_the_same_weights(name, fixture_tensors):
    case = FIXTURES[name]
    module = MODELS.build(dict(type=case["type"], **case["kwargs"])).eval()
    state = module.state_dict()
    assert [[k, list(v.shape)] for k, v in state.items()] == case["keys"]
    module.load_state_dict(recorded_state(case, fixture_tensors[f"{name}/state"], state), strict=True)
    inputs = [fixture_tensors[f"{case['inputs']}/{i}"] for i in range(len(case["input_shapes"]))]
    with torch.no_grad():
        out = module(inputs)
    outs = list(out) if isinstance(out, tuple | list) else [out]
    assert [list(o.shape) for o in outs] == case["output_shapes"]
    for i, o in enumerate(outs):
        ref = fixture_tensors[f"{name}/out/{i}"]
        err, scale = (o - ref).abs().max().item(), ref.abs().max().item()
        assert err <= 1e-4 * scale, f"output {i}: max error {err:.3g}, max |reference| {scale:.3g}"


# ------------------------------------------------------------------------------------------ initialisation
@pytest.mark.parametrize("name", sorted(INIT["configs"]))
def test_fresh_model_matches_mmsegmentation_init_statistics(name):
    """As tests/models/test_init.py: constants exactly, random layers by mean and std within sampling error."""
    torch.manual_seed(0)
    rows, seeds = INIT["configs"][name], INIT["seeds"]
    params = dict(
        build_model(Config.fromfile(REPO / "configs" / f"{name}.py").model, load_pretrained=False).named_parameters()
    )
    assert sorted(params) == sorted(row[0] for row in rows)
    failures = []
    for key, numel, ref_mean, ref_std in rows:
        value = params[key].detach().flatten()
        if ref_std == 0:
            if not bool((value == ref_mean).all()):
                failures.append(f"{key}: expected all {ref_mean}, got mean {value.mean():.4g} std {value.std():.4g}")
            continue
        std, mean = (x.item() for x in torch.std_mean(value))
        mean_tol = Z * ref_std * math.sqrt((1 + 1 / seeds) / numel)
        if abs(std / ref_std - 1) > std_tolerance(numel, seeds) or abs(mean - ref_mean) > mean_tol:
            failures.append(
                f"{key} ({numel}): mean {mean:.3g} std {std:.4g}, MMSeg mean {ref_mean:.3g} std {ref_std:.4g}"
            )
    assert not failures, "\n".join(failures)


# ------------------------------------------------------------------------------------------ options and mistakes
def test_resnet_multi_grid_and_contract_dilation_as_mmsegmentation():
    def last_stage(**kwargs) -> list[int]:
        cfg = dict(type="ResNetV1c", depth=50, base_channels=4, stem_channels=4, dilations=(1, 1, 1, 4), **kwargs)
        return [block.conv2.dilation[0] for block in build_on_meta(cfg).layer4]

    assert last_stage() == [4, 4, 4]
    assert last_stage(contract_dilation=True) == [2, 4, 4]  # the first block of a dilated stage: half
    assert last_stage(contract_dilation=True, multi_grid=(1, 2, 4)) == [1, 2, 4]  # multi-grid wins, last stage only


HEAD_ARGS = dict(channels=4, num_classes=3)
LEVEL_ARGS = dict(HEAD_ARGS, in_channels=[4, 8], in_index=[0, 1])


@pytest.mark.parametrize(
    "cfg,message",
    [
        (dict(type="PSPHead", in_channels=8, pool_scales=6, **HEAD_ARGS), "PSPHead pool_scales must be a list"),
        (dict(type="UPerHead", input_transform="resize_concat", **LEVEL_ARGS), "UPerHead always uses input_transform"),
        (dict(type="FPNHead", feature_strides=[4], **LEVEL_ARGS), r"feature_strides \[4\] need one stride per"),
        (dict(type="FPNHead", feature_strides=[8, 4], **LEVEL_ARGS), "must start with the finest"),
        (dict(type="FPN", in_channels=[4, 8], out_channels=4, num_outs=1), "num_outs=1 is fewer than the input levels"),
        (dict(type="FPN", in_channels=[4, 8], out_channels=4, num_outs=2, add_extra_convs="on_top"), "add_extra_convs"),
        (dict(type="FPN", in_channels=[4, 8], out_channels=4, num_outs=3, end_level=2), "end_level=2 must be"),
        (
            dict(type="FPN", in_channels=[4], out_channels=4, num_outs=1, upsample_cfg=dict(size=3)),
            "upsample_cfg takes",
        ),
        (dict(type="ResNet", depth=50, multi_grid=(1, 2)), r"multi_grid \(1, 2\) needs one dilation per block"),
    ],
)
def test_user_mistakes_raise_config_error(cfg, message):
    with pytest.raises(ConfigError, match=message):
        build_on_meta(cfg)


def test_fpn_names_a_level_count_mismatch():
    fpn = MODELS.build(dict(type="FPN", in_channels=[4, 8], out_channels=4, num_outs=2))
    with pytest.raises(ConfigError, match="FPN got 3 feature levels but in_channels lists 2"):
        fpn([torch.zeros(1, 4, 8, 8), torch.zeros(1, 8, 4, 4), torch.zeros(1, 8, 2, 2)])


# ------------------------------------------------------------------------------------------ learning
@pytest.fixture
def one_thread():
    """Tiny models spend their time in per-op overhead, not arithmetic: one thread is as fast on an idle
    machine and several times faster on a busy one (threads of other processes no longer contend)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


NORM = "norm_cfg=dict(type='BN', requires_grad=True)"
# background is ~70% of the learnable data's pixels: halving its weight keeps a tiny model from settling on
# all-background in its first few dozen iterations (without it some seeds of each family stay at mIoU 23.4)
LOSS = "loss_decode=dict(type='CrossEntropyLoss', class_weight=[0.5, 1.0, 1.0])"
HEAD = f"channels=16, num_classes=3, {NORM}, {LOSS}"
DILATED = "backbone=dict(stem_channels=8, base_channels=8)"  # levels of 8, 16, 32, 64 channels at strides 4, 8, 8, 8
PYRAMID = "backbone=dict(stem_channels=8, base_channels=8, dilations=(1, 1, 1, 1), strides=(1, 2, 2, 2))"  # 4 ... 32
LEVELS = "in_channels=[8, 16, 32, 64], in_index=[0, 1, 2, 3]"
TINY_FAMILIES = {
    "pspnet": f"model = dict({DILATED}, auxiliary_head=None, decode_head=dict(_delete_=True, type='PSPHead', in_channels=64, in_index=3, {HEAD}))",
    "upernet": f"model = dict({PYRAMID}, auxiliary_head=None, decode_head=dict(_delete_=True, type='UPerHead', {LEVELS}, {HEAD}))",
    "sem_fpn": f"""model = dict({PYRAMID}, auxiliary_head=None, neck=dict(type='FPN', in_channels=[8, 16, 32, 64], out_channels=16, num_outs=4),
    decode_head=dict(_delete_=True, type='FPNHead', in_channels=[16] * 4, in_index=[0, 1, 2, 3],
        feature_strides=[4, 8, 16, 32], {HEAD}))""",
}
# a constant, higher learning rate than the tiny config's (AdamW 0.003 decaying to 0): measured over seeds 0-3,
# every family then reaches mIoU 70-85 in 60 iterations
TRAINING = """
optim_wrapper = dict(optimizer=dict(lr=0.006))
param_scheduler = []
"""
TRAIN_ITERS = 60
FAMILY_HEADS = {"pspnet": "PSPHead", "upernet": "UPerHead", "sem_fpn": "FPNHead"}


@pytest.mark.parametrize("family", sorted(TINY_FAMILIES))
def test_tiny_model_of_each_family_learns(family, tiny_config, one_thread):
    cfg = Config.fromfile(tiny_config(max_iters=TRAIN_ITERS, extra=TINY_FAMILIES[family] + TRAINING))
    runner = Runner.from_cfg(cfg)
    after = runner.train()["mIoU"]
    assert type(runner.model.decode_head).__name__ == FAMILY_HEADS[family]
    torch.manual_seed(0)
    runner.model = build_model(cfg.model, load_pretrained=False)  # the same model, untrained
    loader = build_dataloader(cfg.val_dataloader, 0, training=False, name="val_dataloader")
    before = runner.validate(loader, METRICS.build(cfg.val_evaluator))["mIoU"]
    # a constant prediction scores at most 33.3 (one class's IoU at most 100, the others 0)
    assert after > 60 and after > before + 30, (before, after)


# ------------------------------------------------------------------------------------------ the command line
CLI_CONFIGS = {
    "pspnet": "pspnet/pspnet_r50-d8_4xb4-80k_ade20k-512x512",
    "upernet": "upernet/upernet_r18_4xb4-80k_ade20k-512x512",
    "sem_fpn": "sem_fpn/fpn_r50_4xb4-160k_ade20k-512x512",
}
CLI_MODELS = {
    "pspnet": ["model.decode_head.in_channels=128", "model.auxiliary_head.in_channels=64"],
    "upernet": ["model.decode_head.in_channels=[16,32,64,128]", "model.auxiliary_head.in_channels=64"],
    "sem_fpn": [
        "model.neck.in_channels=[16,32,64,128]",
        "model.neck.out_channels=16",
        "model.decode_head.in_channels=[16,16,16,16]",
    ],
}


def data_options(data_root: Path) -> list[str]:
    """The ADE20K configs on the 64 px learnable data: its folders, 64 px scales, no workers."""
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


@pytest.mark.parametrize("family", sorted(CLI_CONFIGS))
def test_shipped_config_trains_from_the_command_line(family, learnable_data, tmp_path, one_thread):
    work = tmp_path / "work"
    options = [
        "model.pretrained=None",
        "model.backbone.depth=18",
        "model.backbone.stem_channels=16",
        "model.backbone.base_channels=16",
        "model.decode_head.channels=16",
        *CLI_MODELS[family],
        *(["model.auxiliary_head.channels=16"] if family != "sem_fpn" else []),
        "train_cfg.max_iters=2",
        "train_cfg.val_interval=2",
        "default_hooks.logger.interval=1",
        "default_hooks.checkpoint.interval=2",
        *data_options(learnable_data),
    ]
    config = REPO / "configs" / f"{CLI_CONFIGS[family]}.py"
    assert main(["train", str(config), "--work-dir", str(work), "--cfg-options", *options]) == 0
    assert (work / "iter_2.pth").is_file()
