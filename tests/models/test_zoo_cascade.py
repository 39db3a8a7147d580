"""OCRNet (ResNet configs), PointRend, ResNeSt and ResNeXt against MMSegmentation 1.2.2 (records in
tests/records/zoo/cascade_*).

Every shipped config builds MMSegmentation's key -> shape list; OCRHead (forward with the previous stage's
logits), PointHead (eval-mode subdivision inference), MMCV's point_sample, ResNeSt and ResNeXt give
MMSegmentation's outputs for the same weights and inputs; a fresh model of each family starts from
MMSegmentation's weight distributions; tiny OCRNet and PointRend models learn; a shipped config of each
family trains from the command line. PointRend's training points are random, so its training loss is only
checked for shape and finiteness.

Every config's key/shape list and the fresh-initialisation statistics are checked in test_zoo_keys.py.
"""

from __future__ import annotations

import pytest
import torch

from seglab.cli import main
from seglab.errors import ConfigError
from seglab.models.builder import build_on_meta
from seglab.models.layers.point_sample import point_sample
from seglab.registry import MODELS

from .zoo_parity import (
    DILATED,
    HEAD,
    NORM,
    PYRAMID,
    RECORDS,
    TRAIN_ITERS,
    assert_tiny_model_learns,
    cli_train_options,
    config_path,
    read_record,
    recorded_state,
)

FIXTURES = read_record("cascade_fixtures.json.gz")
del FIXTURES["recorder"]  # the script that re-makes the record, not a case
# MMSegmentation 1.2.2's ocrnet/ also holds HRNet configs (ocrnet_hr*): they ship with the HRNet family


# ------------------------------------------------------------------------------------------ key/shape lists
# ------------------------------------------------------------------------------------------ numeric fixtures
@pytest.fixture(scope="module")
def fixture_tensors() -> dict:
    return torch.load(RECORDS / "cascade_fixtures.pt", weights_only=True)


def run_case(module: torch.nn.Module, case: dict, inputs: list[torch.Tensor]):
    """Call the module as the recording did: a backbone on the image, a cascade head on features + logits."""
    if case["call"] == "backbone":
        return module(inputs[0])
    feats, prev = inputs[:-1], inputs[-1]
    if case["call"] == "cascade":
        return module(feats, prev)
    shape = tuple(case["extra"]["pad_shape"])
    return module.predict(feats, prev, [dict(pad_shape=shape, img_shape=shape)], case["extra"]["test_cfg"])


@pytest.mark.parametrize("name", sorted(k for k in FIXTURES if k != "point_sample"))
def test_outputs_match_mmsegmentation_for_the_same_weights(name, fixture_tensors, one_thread):
    case = FIXTURES[name]
    module = MODELS.build(dict(type=case["type"], **case["kwargs"])).eval()
    state = module.state_dict()
    assert [[k, list(v.shape)] for k, v in state.items()] == case["keys"]
    module.load_state_dict(recorded_state(case, fixture_tensors[f"{name}/state"], state), strict=True)
    inputs = [fixture_tensors[f"{name}/in/{i}"] for i in range(len(case["input_shapes"]))]
    with torch.no_grad():
        out = run_case(module, case, inputs)
    outs = list(out) if isinstance(out, tuple | list) else [out]
    assert [list(o.shape) for o in outs] == case["output_shapes"]
    for i, o in enumerate(outs):
        ref = fixture_tensors[f"{name}/out/{i}"]
        err, scale = (o - ref).abs().max().item(), ref.abs().max().item()
        assert err <= 1e-4 * scale, f"output {i}: max error {err:.3g}, max |reference| {scale:.3g}"


@pytest.mark.parametrize("variant", sorted(FIXTURES["point_sample"]["variants"]))
def test_point_sample_matches_mmcv(variant, fixture_tensors):
    kwargs = FIXTURES["point_sample"]["variants"][variant]
    out = point_sample(fixture_tensors["point_sample/input"], fixture_tensors["point_sample/points"], **kwargs)
    torch.testing.assert_close(out, fixture_tensors[f"point_sample/{variant}"], rtol=0, atol=1e-6)


# ------------------------------------------------------------------------------------------ initialisation
# ------------------------------------------------------------------------------------------ options and mistakes
POINT = dict(type="PointHead", in_channels=[4], in_index=[0], channels=4, num_classes=3)


def test_point_head_training_loss_has_its_names_shapes_and_finite_values():
    head = MODELS.build(POINT).train()
    labels = torch.randint(0, 3, (2, 1, 32, 32))
    labels[:, :, :4] = 255
    samples = [dict(gt_sem_seg=label) for label in labels]
    train_cfg = dict(num_points=50, oversample_ratio=3, importance_sample_ratio=0.75)
    points = head.get_points_train(torch.randn(2, 3, 8, 8), train_cfg)
    assert points.shape == (2, 50, 2) and bool(((points >= 0) & (points <= 1)).all())
    prev = torch.randn(2, 3, 8, 8, requires_grad=True)
    losses = head.loss([torch.randn(2, 4, 8, 8)], prev, samples, train_cfg)
    assert sorted(losses) == ["acc_point", "pointloss_ce"]
    assert losses["pointloss_ce"].shape == () and bool(torch.isfinite(losses["pointloss_ce"]))
    losses["pointloss_ce"].backward()
    assert head.fc_seg.weight.grad is not None and prev.grad is not None  # coarse logits get gradients too


def test_resnest_depth_200_and_split_attention_widths():
    model = build_on_meta(dict(type="ResNeSt", depth=200, stem_channels=8, base_channels=2))
    assert [len(getattr(model, f"layer{i}")) for i in (1, 2, 3, 4)] == [3, 24, 36, 3]
    conv2 = model.layer1[0].conv2
    assert (conv2.conv.out_channels, conv2.fc1.out_channels) == (4, 32)  # radix x width; fc1 at least 32
    assert model.layer1[0].bn3.weight.shape == (8,) and not hasattr(model.layer1[0], "bn2")


@pytest.mark.parametrize(
    "cfg,message",
    [
        (dict(type="ResNeSt", depth=18), r"ResNeSt depth 18 is not one of \[50, 101, 152, 200\]"),
        (dict(type="ResNeXt", depth=34), r"ResNeXt depth 34 is not one of \[50, 101, 152\]"),
        (dict(type="OCRHead", in_channels=4, channels=4, ocr_channels=2, num_classes=3, scale=2), "OCRHead scale=2"),
        (dict(POINT, conv_cfg=None), "PointHead conv_cfg must be dict"),
        (dict(POINT, norm_cfg=dict(type="BN")), "PointHead norm_cfg must be None"),
        (dict(POINT, input_transform="resize_concat"), "PointHead sets input_transform itself"),
    ],
)
def test_user_mistakes_raise_config_error(cfg, message):
    with pytest.raises(ConfigError, match=message):
        build_on_meta(cfg)


def test_point_head_names_missing_test_settings():
    head = MODELS.build(POINT).eval()
    with pytest.raises(ConfigError, match="PointHead needs model.test_cfg to set subdivision_steps"):
        head.predict([torch.zeros(1, 4, 4, 4)], torch.zeros(1, 3, 4, 4), [dict(pad_shape=(8, 8))], dict(mode="whole"))


# ------------------------------------------------------------------------------------------ learning
FCN = "dict(type='FCNHead', in_channels=32, in_index=2, num_convs=1, concat_input=False, " + HEAD + ")"
TINY_FAMILIES = {
    "ocrnet": (
        "OCRHead",
        f"""model = dict({DILATED}, type='CascadeEncoderDecoder', num_stages=2, auxiliary_head=None,
    decode_head=[{FCN}, dict(type='OCRHead', in_channels=64, in_index=3, ocr_channels=8, {HEAD})])""",
    ),
    # ResNeSt's smallest depth is 50: split attention (radix 2) at width 8, D8 strides, FCNHead on its last stage;
    # 150 iterations, since 50 layers learn more slowly than the others' 18 (mIoU 40 after 60 iterations)
    "resnest": (
        "FCNHead",
        f"""model = dict(backbone=dict(_delete_=True, type='ResNeSt', depth=50, stem_channels=16, base_channels=8,
        dilations=(1, 1, 2, 4), strides=(1, 2, 1, 1), contract_dilation=True, {NORM}),
    auxiliary_head=None,
    decode_head=dict(_delete_=True, type='FCNHead', in_channels=256, in_index=3, num_convs=1, {HEAD}))""",
    ),
    "point_rend": (
        "PointHead",
        f"""model = dict({PYRAMID}, type='CascadeEncoderDecoder', num_stages=2, auxiliary_head=None,
    neck=dict(type='FPN', in_channels=[8, 16, 32, 64], out_channels=16, num_outs=4),
    decode_head=[dict(type='FPNHead', in_channels=[16] * 4, in_index=[0, 1, 2, 3], feature_strides=[4, 8, 16, 32],
        {HEAD}),
        dict(type='PointHead', in_channels=[16], in_index=[0], channels=16, num_classes=3,
            loss_decode=dict(type='CrossEntropyLoss', class_weight=[0.5, 1.0, 1.0]))],
    train_cfg=dict(num_points=256, oversample_ratio=3, importance_sample_ratio=0.75),
    test_cfg=dict(mode='whole', subdivision_steps=2, subdivision_num_points=512, scale_factor=2))""",
    ),
}


@pytest.mark.parametrize("family", sorted(TINY_FAMILIES))
def test_tiny_model_of_each_family_learns(family, tiny_config, one_thread):
    head_type, fragment = TINY_FAMILIES[family]
    assert_tiny_model_learns(tiny_config, fragment, head_type, iters=150 if family == "resnest" else TRAIN_ITERS)


# ------------------------------------------------------------------------------------------ the command line
CLI_CONFIGS = {
    "ocrnet": "ocrnet/ocrnet_r101-d8_4xb2-40k_cityscapes-512x1024",
    "point_rend": "point_rend/pointrend_r50_4xb4-160k_ade20k-512x512",
    "resnest": "resnest/resnest_s101-d8_fcn_4xb4-160k_ade20k-512x512",
}
CLI_MODELS = {
    "ocrnet": [
        "model.decode_head.0.in_channels=64",
        "model.decode_head.0.channels=16",
        "model.decode_head.1.in_channels=128",
        "model.decode_head.1.channels=16",
        "model.decode_head.1.ocr_channels=8",
        # a Cityscapes config: its dataset looks for *_leftImg8bit.png / *_gtFine_labelTrainIds.png
        *[f"{loader}.dataset.img_suffix=.jpg" for loader in ("train_dataloader", "val_dataloader", "test_dataloader")],
        *[
            f"{loader}.dataset.seg_map_suffix=.png"
            for loader in ("train_dataloader", "val_dataloader", "test_dataloader")
        ],
    ],
    "point_rend": [
        "model.neck.in_channels=[16,32,64,128]",
        "model.neck.out_channels=16",
        "model.decode_head.0.in_channels=[16,16,16,16]",
        "model.decode_head.0.channels=16",
        "model.decode_head.1.in_channels=[16]",
        "model.decode_head.1.channels=16",
        "model.train_cfg.num_points=64",
        "model.test_cfg.subdivision_num_points=256",
    ],
    # ResNeSt has no depth 18: a depth-50 split-attention backbone at width 4 (stem 8)
    "resnest": [
        "model.backbone.stem_channels=8",
        "model.backbone.base_channels=4",
        "model.decode_head.in_channels=128",
        "model.decode_head.channels=16",
        "model.auxiliary_head.in_channels=64",
        "model.auxiliary_head.channels=16",
    ],
}


@pytest.mark.parametrize("family", sorted(CLI_CONFIGS))
def test_shipped_config_trains_from_the_command_line(family, learnable_data, tmp_path, one_thread):
    work = tmp_path / "work"
    options = cli_train_options(learnable_data, CLI_MODELS[family])
    if family == "resnest":  # cli_train_options' ResNet-18 becomes a ResNeSt-50 (CLI_MODELS sets width 4)
        options = [o.replace("depth=18", "depth=50") for o in options]
    assert (
        main(["train", str(config_path(CLI_CONFIGS[family])), "--work-dir", str(work), "--cfg-options", *options]) == 0
    )
    assert (work / "iter_2.pth").is_file()
