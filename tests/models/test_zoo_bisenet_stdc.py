"""BiSeNetV1, BiSeNetV2 and STDC against MMSegmentation 1.2.2 (records in tests/records/zoo/bisenet_stdc_*).

Shrunk BiSeNetV1 (on ResNet and ResNetV1c), BiSeNetV2, STDCNet and STDCContextPathNet (STDC1 'cat', STDC2 'add',
nearest and bilinear context path) give MMSegmentation's outputs for the same weights and odd-sized images;
STDCHead builds MMSegmentation's boundary targets from a fixed batch of labels (with padding) and gives its
loss_ce, loss_dice and acc_seg; tiny models of each family learn; a shipped config of each family trains from
the command line with its widths shrunk.

Every config's key/shape list and the fresh-initialisation statistics of one config per family are checked in
test_zoo_keys.py.
"""

from __future__ import annotations

import pytest
import torch

from seglab.cli import main
from seglab.errors import ConfigError
from seglab.models.builder import build_on_meta
from seglab.registry import MODELS

from .zoo_parity import (
    HEAD,
    NORM,
    RECORDS,
    assert_tiny_model_learns,
    cli_train_options,
    config_path,
    read_record,
    recorded_state,
)

FIXTURES = read_record("bisenet_stdc_fixtures.json.gz")
del FIXTURES["recorder"]  # the script that re-makes the record, not a case
NOT_BUILT: dict[str, str] = {}  # every bisenetv1/, bisenetv2/ and stdc/ config of MMSegmentation 1.2.2 ships


# ------------------------------------------------------------------------------------------ numeric fixtures
@pytest.fixture(scope="module")
def fixture_tensors() -> dict:
    return torch.load(RECORDS / "bisenet_stdc_fixtures.pt", weights_only=True)


def run_case(module: torch.nn.Module, case: dict, name: str, tensors: dict) -> list[torch.Tensor]:
    """A backbone on the image; STDCHead: logits, boundary targets and losses for the recorded labels."""
    inputs = [tensors[f"{name}/in/{i}"] for i in range(len(case["input_shapes"]))]
    if case["call"] == "backbone":
        return list(module(inputs[0]))
    labels = tensors[f"{name}/labels"].long()
    logits = module(inputs)
    losses = module.loss_by_feat(logits, [{"gt_sem_seg": label} for label in labels])
    targets = module.boundary_targets(labels[:, 0])[:, None].float()
    return [logits, targets, *(losses[k].reshape(1) for k in ("loss_ce", "loss_dice", "acc_seg"))]


@pytest.mark.parametrize("name", sorted(FIXTURES))
def test_outputs_match_mmsegmentation_for_the_same_weights(name, fixture_tensors, one_thread):
    case = FIXTURES[name]
    module = MODELS.build(dict(type=case["type"], **case["kwargs"])).eval()
    state = module.state_dict()
    assert [[k, list(v.shape)] for k, v in state.items()] == case["keys"]
    module.load_state_dict(recorded_state(case, fixture_tensors[f"{name}/state"], state), strict=True)
    with torch.no_grad():
        outs = run_case(module, case, name, fixture_tensors)
    assert [list(o.shape) for o in outs] == case["output_shapes"]
    for i, o in enumerate(outs):
        ref = fixture_tensors[f"{name}/out/{i}"]
        err, scale = (o - ref).abs().max().item(), ref.abs().max().item()
        assert err <= 1e-4 * scale, f"output {i}: max error {err:.3g}, max |reference| {scale:.3g}"


# ------------------------------------------------------------------------------------------ options and mistakes
R18 = dict(type="ResNet", depth=18, stem_channels=8, base_channels=8)
STDC = dict(type="STDCNet", stdc_type="STDCNet1", in_channels=3, channels=(4, 8, 16, 32, 64), norm_cfg=None)


@pytest.mark.parametrize(
    "cfg,message",
    [
        (dict(type="BiSeNetV1", backbone_cfg=R18, context_channels=(16, 32)), "context_channels needs 3 values"),
        (
            dict(type="BiSeNetV1", backbone_cfg=R18, context_channels=(16, 32, 64), spatial_channels=(8, 8, 8, 8)),
            r"8 \+ 16 must equal context_channels\[1\] = 32",
        ),
        (dict(type="BiSeNetV1", backbone_cfg=R18, out_indices=(3,)), r"out_indices \(3,\) must name outputs 0 .. 2"),
        (dict(type="BiSeNetV2", bga_channels=64), r"bga_channels \(64\) must be equal"),
        (dict(STDC, type="STDCNet", stdc_type="STDCNet3", bottleneck_type="cat", act_cfg=None), "stdc_type must be"),
        (dict(STDC, bottleneck_type="sum", act_cfg=None), "bottleneck_type must be 'add' or 'cat'"),
        (dict(STDC, bottleneck_type="cat", act_cfg=None, num_convs=1), "num_convs must be at least 2"),
        (
            dict(
                type="STDCContextPathNet",
                backbone_cfg=dict(STDC, bottleneck_type="cat", act_cfg=None),
                align_corners=False,
            ),
            "align_corners must be None with upsample_mode='nearest'",
        ),
        (
            dict(
                type="STDCContextPathNet",
                backbone_cfg=dict(STDC, bottleneck_type="cat", act_cfg=None),
                ffm_cfg=dict(k=1),
            ),
            "ffm_cfg",
        ),
    ],
)
def test_user_mistakes_raise_config_error(cfg, message):
    with pytest.raises(ConfigError, match=message):
        build_on_meta(cfg)


def test_stdc_head_is_an_auxiliary_head_with_its_own_two_classes():
    """num_classes=2 (boundary or not) beside a 19-class decode head builds, as in the stdc configs."""
    backbone = dict(
        type="STDCContextPathNet",
        backbone_cfg=dict(STDC, bottleneck_type="cat", act_cfg=None),
        last_in_channels=(64, 32),
        out_channels=8,
        ffm_cfg=dict(in_channels=24, out_channels=8),
    )
    model = dict(
        type="EncoderDecoder",
        backbone=backbone,
        decode_head=dict(type="FCNHead", in_channels=8, channels=4, num_classes=19, in_index=3),
        auxiliary_head=dict(type="STDCHead", in_channels=16, channels=4, num_classes=2, in_index=0),
    )
    assert build_on_meta(model).num_classes == 19


# ------------------------------------------------------------------------------------------ learning
FCN = f"decode_head=dict(_delete_=True, type='FCNHead', num_convs=1, concat_input=False, {HEAD}"
# measured over seeds 0-3 (60 iterations): BiSeNetV1 reaches mIoU 84-85; BiSeNetV2 70-80 at seeds 0, 2, 3 and 46 at
# seed 1 (72-74 for seeds 1 and 3 after 80 iterations; half these widths: 51-82); STDC see below
TINY_FAMILIES = {
    "bisenetv1": (
        "FCNHead",
        f"""model = dict(auxiliary_head=None, backbone=dict(_delete_=True, type='BiSeNetV1', out_indices=(0,),
        backbone_cfg=dict(type='ResNet', depth=18, stem_channels=16, base_channels=16, {NORM}),
        spatial_channels=(16, 16, 16, 32), context_channels=(32, 64, 128), out_channels=32),
    {FCN}, in_channels=32, in_index=0))""",
    ),
    "bisenetv2": (
        "FCNHead",
        f"""model = dict(auxiliary_head=None, backbone=dict(_delete_=True, type='BiSeNetV2', out_indices=(0,),
        detail_channels=(16, 16, 32), semantic_channels=(16, 16, 24, 32), semantic_expansion_ratio=2, bga_channels=32),
    {FCN}, in_channels=32, in_index=0))""",
    ),
    # with STDCHead's boundary loss as the auxiliary head, as in the stdc configs; at widths (8, 16, 16, 32, 64)
    # seeds 0 and 2 stayed near mIoU 44 after 60 iterations, at these seeds 0-3 reach 80-83
    "stdc": (
        "FCNHead",
        f"""model = dict(backbone=dict(_delete_=True, type='STDCContextPathNet', last_in_channels=(64, 32),
        backbone_cfg=dict(type='STDCNet', stdc_type='STDCNet1', in_channels=3, channels=(16, 16, 32, 32, 64),
            bottleneck_type='cat', {NORM}, act_cfg=dict(type='ReLU')),
        out_channels=16, ffm_cfg=dict(in_channels=48, out_channels=32)),
    {FCN}, in_channels=32, in_index=3),
    auxiliary_head=dict(_delete_=True, type='STDCHead', in_channels=32, in_index=0, channels=8, num_convs=1,
        num_classes=2, concat_input=False, {NORM}, loss_decode=[
            dict(type='CrossEntropyLoss', loss_name='loss_ce', use_sigmoid=True, loss_weight=1.0),
            dict(type='DiceLoss', loss_name='loss_dice', loss_weight=1.0)]))""",
    ),
}


@pytest.mark.parametrize("family", sorted(TINY_FAMILIES))
def test_tiny_model_of_each_family_learns(family, tiny_config, one_thread):
    head_type, fragment = TINY_FAMILIES[family]
    assert_tiny_model_learns(tiny_config, fragment, head_type)


# ------------------------------------------------------------------------------------------ the command line
CLI_CONFIGS = {
    "bisenetv1": "bisenetv1/bisenetv1_r18-d32_4xb4-160k_cityscapes-1024x1024",
    "bisenetv2": "bisenetv2/bisenetv2_fcn_4xb4-160k_cityscapes-1024x1024",
    "stdc": "stdc/stdc1_4xb12-80k_cityscapes-512x1024",
}


def aux(index: int, in_channels: int) -> list[str]:
    return [f"model.auxiliary_head.{index}.in_channels={in_channels}", f"model.auxiliary_head.{index}.channels=8"]


CLI_MODELS = {
    "bisenetv1": [
        "model.backbone.backbone_cfg.stem_channels=8",
        "model.backbone.backbone_cfg.base_channels=8",
        "model.backbone.spatial_channels=(8,8,8,16)",
        "model.backbone.context_channels=(16,32,64)",
        "model.backbone.out_channels=16",
        "model.decode_head.in_channels=16",
        *aux(0, 16),
        *aux(1, 16),
    ],
    "bisenetv2": [
        "model.backbone.detail_channels=(8,8,16)",
        "model.backbone.semantic_channels=(8,8,12,16)",
        "model.backbone.bga_channels=16",
        "model.decode_head.in_channels=16",
        *(option for i, c in enumerate((8, 8, 12, 16)) for option in aux(i, c)),
    ],
    "stdc": [
        "model.backbone.backbone_cfg.channels=(8,16,16,32,64)",
        "model.backbone.last_in_channels=(64,32)",
        "model.backbone.out_channels=16",
        "model.backbone.ffm_cfg.in_channels=32",
        "model.backbone.ffm_cfg.out_channels=32",
        "model.decode_head.in_channels=32",
        *aux(0, 16),
        *aux(1, 16),
        *aux(2, 16),
    ],
}
# the shared options shrink a ResNet at model.backbone; these families nest theirs or have none
RESNET_OPTIONS = ("model.backbone.depth=", "model.backbone.stem_channels=", "model.backbone.base_channels=")
CITYSCAPES_NAMES = [
    f"{loader}.dataset.{key}"
    for loader in ("train_dataloader", "val_dataloader", "test_dataloader")
    for key in ("img_suffix=.jpg", "seg_map_suffix=.png")
]


@pytest.mark.parametrize("family", sorted(CLI_CONFIGS))
def test_shipped_config_trains_from_the_command_line(family, learnable_data, tmp_path, one_thread):
    work = tmp_path / "work"
    options = cli_train_options(learnable_data, ["model.decode_head.channels=16", *CLI_MODELS[family]])
    options = [o for o in options if not o.startswith(RESNET_OPTIONS)] + CITYSCAPES_NAMES
    assert (
        main(["train", str(config_path(CLI_CONFIGS[family])), "--work-dir", str(work), "--cfg-options", *options]) == 0
    )
    assert (work / "iter_2.pth").is_file()
