"""MobileNetV2, MobileNetV3 (+ LR-ASPP) and Fast-SCNN against MMSegmentation 1.2.2 (records in
tests/records/zoo/mobile_*).

The backbones and LRASPPHead give MMSegmentation's outputs for the same weights and inputs; the full-size
backbones (MobileNetV3 large too big to store weights for) have MMSegmentation's conv geometry and activations;
a tiny model of each family learns; a shipped config of each family trains from the command line.

Every config's key/shape list and the fresh-initialisation statistics are checked in test_zoo_keys.py.
"""

from __future__ import annotations

import pytest
import torch

from seglab.cli import main
from seglab.errors import ConfigError
from seglab.models.builder import build_on_meta
from seglab.models.layers.conv_module import ACT_LAYERS
from seglab.registry import MODELS

from .zoo_parity import (
    HEAD,
    NORM,
    RECORDS,
    TRAIN_ITERS,
    TRAINING,
    assert_fixture_outputs,
    assert_tiny_model_learns,
    config_path,
    data_options,
    read_record,
)

RECORD = read_record("mobile_fixtures.json.gz")
FIXTURES, STRUCTURES = RECORD["cases"], RECORD["structures"]


# ------------------------------------------------------------------------------------------ numeric fixtures
@pytest.fixture(scope="module")
def fixture_tensors() -> dict:
    """Weights and inputs are stored as float16 (the reference ran on exactly those values), outputs as float32;
    a case may reuse another's weights (``state``: options that change no parameter)."""
    loaded = torch.load(RECORDS / "mobile_fixtures.pt", weights_only=True)
    tensors = {k: v.float() for k, v in loaded.items() if k != "recorder"}  # "recorder": the script's path
    tensors.update({f"{name}/state": tensors[f"{case['state']}/state"] for name, case in FIXTURES.items()})
    return tensors


@pytest.mark.parametrize("name", sorted(FIXTURES))
def test_outputs_match_mmsegmentation_for_the_same_weights(name, fixture_tensors, one_thread):
    assert_fixture_outputs(name, FIXTURES[name], fixture_tensors)


def structure(model: torch.nn.Module) -> list[list]:
    """[name, class, kernel, stride, padding, dilation, groups] per conv; [name, class] per activation."""
    acts = tuple(ACT_LAYERS.values())
    rows: list[list] = []
    for name, m in model.named_modules():
        if isinstance(m, torch.nn.Conv2d):
            geometry = [list(getattr(m, a)) for a in ("kernel_size", "stride", "padding", "dilation")]
            rows.append([name, type(m).__name__, *geometry, m.groups])
        elif isinstance(m, acts):
            rows.append([name, type(m).__name__])
    return rows


@pytest.mark.parametrize("name", sorted(STRUCTURES))
def test_backbone_layout_is_mmsegmentations(name):
    """Output stride 8 (which stride-2 convs become dilated, TF 'SAME' padding), activations per block."""
    assert structure(build_on_meta(STRUCTURES[name]["cfg"])) == STRUCTURES[name]["rows"]


# ------------------------------------------------------------------------------------------ options and mistakes
def test_frozen_stages_and_norm_eval_as_mmsegmentation():
    v2 = MODELS.build(dict(type="MobileNetV2", widen_factor=0.25, frozen_stages=1, norm_eval=True)).train()
    assert not any(p.requires_grad for p in [*v2.conv1.parameters(), *v2.layer1.parameters()])
    assert all(p.requires_grad for p in v2.layer2.parameters())
    assert not any(m.training for m in v2.modules() if isinstance(m, torch.nn.BatchNorm2d))
    v3 = MODELS.build(dict(type="MobileNetV3", frozen_stages=0)).train()
    assert not v3.layer0.training and v3.layer1.training
    assert not any(p.requires_grad for p in v3.layer0.parameters())


@pytest.mark.parametrize(
    "cfg", [dict(type="MobileNetV2", widen_factor=0.125), dict(type="MobileNetV3", reduction_factor=8)]
)
def test_with_cp_recomputes_blocks_with_the_same_result_and_gradients(cfg, one_thread):
    torch.manual_seed(0)
    plain = MODELS.build(cfg).train()
    checkpointed = MODELS.build(dict(cfg, with_cp=True)).train()
    checkpointed.load_state_dict(plain.state_dict())
    x = torch.randn(2, 3, 32, 32)
    grads = []
    for model in (plain, checkpointed):
        sum(o.sum() for o in model(x.clone().requires_grad_())).backward()
        grads.append(torch.cat([p.grad.flatten() for p in model.parameters()]))
    torch.testing.assert_close(grads[0], grads[1])


LRASPP = dict(type="LRASPPHead", channels=4, num_classes=3, input_transform="multiple_select")


@pytest.mark.parametrize(
    "cfg,message",
    [
        (dict(type="MobileNetV2", strides=(1, 2)), r"strides \(1, 2\) and dilations .* need 7 values each"),
        (dict(type="MobileNetV2", out_indices=(7,)), r"out_indices \(7,\) must lie in 0..6"),
        (dict(type="MobileNetV3", arch="medium"), "arch must be one of"),
        (dict(type="MobileNetV3", out_indices=(13,)), r"must be ints in 0..12 \(small\)"),
        (dict(type="MobileNetV3", pretrained="a.pth", init_cfg=dict(type="Pretrained")), "not both"),
        (dict(type="FastSCNN", higher_in_channels=32), "must equal higher_in_channels=32"),
        (dict(type="FastSCNN", fusion_out_channels=96), "must divide lower_in_channels=128"),
        (dict(LRASPP, in_channels=(4, 4, 8), in_index=(0, 1, 2), input_transform=None), "multiple_select"),
        (dict(LRASPP, in_channels=(4, 4, 8), in_index=(0, 1, 2), branch_channels=(4,)), "one int per input"),
    ],
)
def test_user_mistakes_raise_config_error(cfg, message):
    with pytest.raises(ConfigError, match=message):
        build_on_meta(cfg)


def test_lraspp_names_a_too_small_input():
    head = MODELS.build(dict(LRASPP, in_channels=(4, 4, 8), in_index=(0, 1, 2), branch_channels=(2, 2)))
    feats = [torch.zeros(1, 4, 16, 16), torch.zeros(1, 4, 8, 8), torch.zeros(1, 8, 8, 8)]
    with pytest.raises(ConfigError, match=r"49x49 window, but they are \(8, 8\).*392 px"):
        head(feats)


# ------------------------------------------------------------------------------------------ learning
FCN = "num_convs=1, concat_input=False"
# deep narrow MobileNets learn slowly from their last stage alone (mIoU ~40 after 200 iterations at width 1/8):
# the tiny variants classify a stride-4 level concatenated with the last one, so every stage gets gradients
LEVELS = "input_transform='resize_concat', in_index=[0, 1]"
TINY_FAMILIES = {
    "mobilenet_v2": (
        "FCNHead",
        f"""model = dict(backbone=dict(_delete_=True, type='MobileNetV2', widen_factor=0.125, out_indices=(1, 6), {NORM}),
    auxiliary_head=None,
    decode_head=dict(_delete_=True, type='FCNHead', in_channels=[8, 40], {LEVELS}, {FCN}, {HEAD}))""",
    ),
    # MobileNetV3 has no width option: 'small' with its last stage at 1/8 width. LR-ASPP's fixed 49x49 pool needs
    # 392 px inputs on it (too slow here), so an FCN head reads it and LR-ASPP learns on a tiny UNet's levels
    "mobilenet_v3": (
        "FCNHead",
        f"""model = dict(backbone=dict(_delete_=True, type='MobileNetV3', arch='small', out_indices=(1, 12),
        reduction_factor=8, {NORM}),
    auxiliary_head=None,
    decode_head=dict(_delete_=True, type='FCNHead', in_channels=[16, 576], {LEVELS}, {FCN}, {HEAD}))""",
    ),
    "lraspp": (
        "LRASPPHead",
        f"""model = dict(backbone=dict(_delete_=True, type='UNet', base_channels=4, num_stages=3, strides=(1, 1, 1),
        enc_num_convs=(1, 1, 1), dec_num_convs=(1, 1), downsamples=(True, True), enc_dilations=(1, 1, 1),
        dec_dilations=(1, 1), {NORM}),
    auxiliary_head=None, decode_head=dict(_delete_=True, type='LRASPPHead', in_channels=(8, 16, 4),
        in_index=(1, 0, 2), input_transform='multiple_select', branch_channels=(8, 8), {HEAD}))""",
    ),
    "fastscnn": (
        "DepthwiseSeparableFCNHead",
        f"""model = dict(backbone=dict(_delete_=True, type='FastSCNN', downsample_dw_channels=(8, 12),
        global_in_channels=16, global_block_channels=(16, 24, 32), global_out_channels=32, higher_in_channels=16,
        lower_in_channels=32, fusion_out_channels=32, {NORM}),
    auxiliary_head=None,
    decode_head=dict(_delete_=True, type='DepthwiseSeparableFCNHead', in_channels=32, in_index=-1, {FCN}, {HEAD}))""",
    ),
}
# batches of 4 halve the time; measured at seed 0 (seed 1): mIoU 81 (82), 84 (87), 93 (92), 78 (79)
ITERS = {"mobilenet_v3": 40}


@pytest.mark.parametrize("family", sorted(TINY_FAMILIES))
def test_tiny_model_of_each_family_learns(family, tiny_config, one_thread):
    head_type, fragment = TINY_FAMILIES[family]
    training = TRAINING + "train_dataloader = dict(batch_size=4)\n"
    assert_tiny_model_learns(tiny_config, fragment, head_type, ITERS.get(family, TRAIN_ITERS), training)


# ------------------------------------------------------------------------------------------ the command line
CLI_CONFIGS = {
    "mobilenet_v2": "mobilenet_v2/mobilenet-v2-d8_deeplabv3plus_4xb4-160k_ade20k-512x512",
    "mobilenet_v3": "mobilenet_v3/mobilenet-v3-d8-scratch-s_lraspp_4xb4-320k_cityscapes-512x1024",
    "fastscnn": "fastscnn/fast_scnn_8xb4-160k_cityscapes-512x1024",
}
# Cityscapes configs look for *_leftImg8bit.png / *_gtFine_labelTrainIds.png; the learnable data is plain
CITYSCAPES_NAMES = [
    f"{loader}.dataset.{key}"
    for loader in ("train_dataloader", "val_dataloader", "test_dataloader")
    for key in ("img_suffix=.jpg", "seg_map_suffix=.png")
]
CLI_MODELS = {
    "mobilenet_v2": [
        "model.pretrained=None",
        "model.backbone.widen_factor=0.25",
        "model.decode_head.in_channels=80",
        "model.decode_head.c1_in_channels=8",
        "model.decode_head.c1_channels=8",
        "model.decode_head.channels=16",
        "model.auxiliary_head.in_channels=24",
        "model.auxiliary_head.channels=16",
    ],
    "fastscnn": [
        "model.backbone.downsample_dw_channels=(8,12)",
        "model.backbone.global_in_channels=16",
        "model.backbone.global_block_channels=(16,24,32)",
        "model.backbone.global_out_channels=32",
        "model.backbone.higher_in_channels=16",
        "model.backbone.lower_in_channels=32",
        "model.backbone.fusion_out_channels=32",
        "model.decode_head.in_channels=32",
        "model.decode_head.channels=16",
        "model.auxiliary_head.0.in_channels=32",
        "model.auxiliary_head.0.channels=16",
        "model.auxiliary_head.1.in_channels=16",
        "model.auxiliary_head.1.channels=16",
        *CITYSCAPES_NAMES,
    ],
    # MobileNetV3 as shipped; LR-ASPP's 49x49 pool at output stride 8 needs 392 px: one image per batch
    "mobilenet_v3": [
        "model.decode_head.channels=16",
        *CITYSCAPES_NAMES,
        "train_dataloader.batch_size=1",
        "train_dataloader.dataset.pipeline.2.scale=(392,392)",
        "train_dataloader.dataset.pipeline.3.crop_size=(392,392)",
        "val_dataloader.dataset.pipeline.1.scale=(392,392)",
        "model.data_preprocessor.size=(392,392)",
    ],
}
TWO_ITERATIONS = [
    "train_cfg.max_iters=2",
    "train_cfg.val_interval=2",
    "default_hooks.logger.interval=1",
    "default_hooks.checkpoint.interval=2",
]


@pytest.mark.parametrize("family", sorted(CLI_CONFIGS))
def test_shipped_config_trains_from_the_command_line(family, learnable_data, tmp_path, one_thread):
    work = tmp_path / "work"
    options = [*TWO_ITERATIONS, *data_options(learnable_data), *CLI_MODELS[family]]  # the family's options win
    assert (
        main(["train", str(config_path(CLI_CONFIGS[family])), "--work-dir", str(work), "--cfg-options", *options]) == 0
    )
    assert (work / "iter_2.pth").is_file()
