"""BEiT and MAE against MMSegmentation 1.2.2 (records in tests/records/zoo/beit_mae_*).

BEiT, MAE and Feature2Pyramid give MMSegmentation's outputs for the same weights (non-square patch grids,
qv/qkv biases, layer scales, final norm, both rescale orders); checkpoints in the original BEiT/MAE layouts load
through ``init_cfg`` as beit2mmseg.py converts them, into models with a bigger patch grid than the pre-training
one (relative-position tables and MAE's position embedding resized as MMSegmentation resizes them); the
layer-decay constructors build MMSegmentation's parameter groups; a tiny BEiT/MAE UPerNet learns with the
published recipe (AdamW, layer decay, warm-up); a shipped config of each family trains from ``seglab train``.
Key/shape lists and init statistics are checked in test_zoo_keys.py.
"""

from __future__ import annotations

import copy

import pytest
import torch

from seglab import Config, build_model
from seglab.cli import main
from seglab.engine.layer_decay import CONSTRUCTORS
from seglab.engine.optim import build_optim_wrapper
from seglab.errors import ConfigError
from seglab.models.backbones.beit import BEiT, convert_original_beit, geometric_resize
from seglab.models.builder import build_on_meta
from seglab.registry import MODELS

from .zoo_parity import (
    HEAD,
    RECORDS,
    assert_fixture_outputs,
    assert_tiny_model_learns,
    config_path,
    data_options,
    read_record,
)

FIXTURES = read_record("beit_mae_fixtures.json.gz")
del FIXTURES["recorder"]  # the script that re-makes the record, not a case
DECAY = read_record("beit_mae_decay.json.gz")
CONFIGS = {
    "beit": "beit/beit-large_upernet_8xb1-amp-160k_ade20k-640x640",  # AmpOptimWrapper, accumulative_counts=2
    "mae": "mae/mae-base_upernet_8xb2-amp-160k_ade20k-512x512",  # OptimWrapper + MMEngine's unused fp16=...
}
NOT_BUILT: dict[str, str] = {}  # every beit/ and mae/ config builds in MMSegmentation and ships


@pytest.fixture(scope="module")
def tensors() -> dict:
    return torch.load(RECORDS / "beit_mae_fixtures.pt", weights_only=True)


@pytest.fixture(scope="module")
def layouts() -> dict:
    """Per family: the original layout (synthetic), beit2mmseg.py's output, MMSegmentation's loaded state; and
    relative-position tables before/after MMSegmentation's resizing."""
    return torch.load(RECORDS / "beit_mae_convert.pt", weights_only=True)


@pytest.mark.parametrize("name", sorted(FIXTURES))
def test_outputs_match_mmsegmentation_for_the_same_weights(name, tensors, one_thread):
    assert_fixture_outputs(name, FIXTURES[name], tensors)


# ------------------------------------------------------------------------------------------ original weights
@pytest.mark.parametrize("family", ["beit", "mae"])
def test_original_layout_converts_as_mmsegmentation_converter(family, layouts):
    """As beit2mmseg.py, without its second copy of ``patch_embed.proj.*`` under the original name."""
    expected = {k: v for k, v in layouts[f"{family}/converted"].items() if not k.startswith("patch_embed.proj.")}
    converted = convert_original_beit(layouts[f"{family}/original"])
    assert list(converted) == list(expected)
    assert all(torch.equal(converted[k], v) for k, v in expected.items())


def pretrained(family: str, path, img_size: int = 112) -> torch.nn.Module:
    backbone = dict(
        type=family.upper() if family == "mae" else "BEiT", img_size=img_size, embed_dims=8, num_layers=2,
        num_heads=2, norm_cfg=dict(type="LN", eps=1e-6), out_indices=[0, 1], init_values=1.0 if family == "mae" else 0.1,
        init_cfg=dict(type="Pretrained", checkpoint=str(path)),
    )  # fmt: skip
    neck = dict(type="Feature2Pyramid", embed_dim=8, rescales=[2, 1], norm_cfg=dict(type="BN"))
    head = dict(type="FCNHead", in_channels=8, channels=4, num_classes=3, num_convs=1)
    return build_model(dict(type="EncoderDecoder", backbone=backbone, neck=neck, decode_head=head)).backbone


@pytest.mark.parametrize("family", ["beit", "mae"])
@pytest.mark.parametrize("layout", ["original", "converted", "segmentor"])
def test_pretrained_file_in_any_layout_loads_and_resizes_as_mmsegmentation(
    family, layout, layouts, tmp_path, seglab_log
):
    """A 224-px-style checkpoint (5x5 tables / 4x4 position grid) loaded into a 7x7-patch model: every tensor
    as MMSegmentation's init_weights leaves it (tables by the geometric spline, pos_embed bicubic)."""
    state = layouts[f"{family}/{'original' if layout == 'original' else 'converted'}"]
    if layout == "segmentor":  # a whole MMSegmentation checkpoint given as the backbone's weights
        state = {"state_dict": {f"backbone.{k}": v for k, v in state.items()}}
    torch.save(state, tmp_path / "pretrained.pth")
    own = pretrained(family, tmp_path / "pretrained.pth").state_dict()
    expected = layouts[f"{family}/loaded_112"]
    assert list(own) == list(expected)
    for key, value in expected.items():
        torch.testing.assert_close(own[key], value, rtol=1e-5, atol=1e-6, msg=key)
    assert ("converted the original" in seglab_log.text) == (layout == "original")
    resized = (
        "layers.0.attn.relative_position_bias_table from 9x9 to 13x13"
        if family == "beit"
        else "pos_embed from 4x4 to 7x7"
    )
    assert f"resized {resized}" in seglab_log.text


@pytest.mark.parametrize("sizes", [(5, 9), (9, 5), (7, 27), (27, 79)])
def test_relative_tables_resize_as_mmsegmentation_at_other_sizes(sizes, layouts):
    """Up and down; 27 -> 79 is BEiT-B's 224 px pre-training into the configs' 640 px model."""
    src, dst = sizes
    table, expected = layouts[f"tables/{src}to{dst}/in"], layouts[f"tables/{src}to{dst}/out"]
    resized = torch.cat((geometric_resize(table[:-3], src, dst), table[-3:]))
    torch.testing.assert_close(resized, expected, rtol=1e-5, atol=1e-5)


# ------------------------------------------------------------------------------------------ layer-wise lr decay
def shrunk(family: str, backbone_extra: dict) -> torch.nn.Module:
    model = copy.deepcopy(Config.fromfile(config_path(DECAY["configs"][family])).model)
    model["pretrained"] = None
    model["backbone"].update(DECAY["backbone"], **backbone_extra)
    model["neck"]["embed_dim"] = 8
    model["decode_head"].update(in_channels=[8, 8, 8, 8], channels=8)
    model["auxiliary_head"].update(in_channels=8, channels=8)
    return build_on_meta(model)


@pytest.mark.parametrize("case", sorted(DECAY["cases"]))
def test_layer_decay_groups_equal_mmsegmentations(case):
    rec = DECAY["cases"][case]
    model = shrunk(rec["family"], rec["backbone"])
    groups = CONSTRUCTORS[rec["constructor"]](model, rec["lr"], rec["wd"], copy.deepcopy(rec["paramwise_cfg"]))
    ours = [[g["group_name"], g["lr_scale"], g["lr"], g["weight_decay"], g["param_names"]] for g in groups]
    assert [g[:4] for g in ours] == [g[:4] for g in rec["groups"]]  # name, lr scale, lr, weight decay
    assert ours == rec["groups"]  # and the same parameters in each, in the same order


def test_layer_decay_constructor_settings_are_checked(seglab_log):
    model = shrunk("beit", {})
    cfg = dict(
        type="OptimWrapper",
        optimizer=dict(type="AdamW", lr=3e-5, betas=(0.9, 0.999), weight_decay=0.05),
        constructor="LayerDecayOptimizerConstructor",
        paramwise_cfg=dict(num_layers=4, layer_decay_rate=0.9, decay_type="stage_wise"),
    )
    groups = build_optim_wrapper(model, cfg).param_groups
    expected = {g[0]: (g[2], g[3]) for g in DECAY["cases"]["beit_layer_decay"]["groups"]}
    assert {g["group_name"]: (g["lr"], g["weight_decay"]) for g in groups} == expected
    assert "decay_type='stage_wise' is replaced by 'layer_wise_vit'" in seglab_log.text
    mistakes = {
        "layer_decay_rate": (dict(num_layers=4, decay_rate=0.9), r"missing \['layer_decay_rate'\]"),
        "unknown": (dict(num_layers=4, layer_decay_rate=0.9, custom_keys={}), r"unknown key\(s\) \['custom_keys'\]"),
    }
    for paramwise, message in mistakes.values():
        with pytest.raises(ConfigError, match=message):
            build_optim_wrapper(model, dict(cfg, paramwise_cfg=paramwise))
    stage_wise = dict(cfg, constructor="LearningRateDecayOptimizerConstructor")
    with pytest.raises(ConfigError, match="decay_type 'stage_wise' has no layer rule for a BEiT backbone"):
        build_optim_wrapper(
            model, dict(stage_wise, paramwise_cfg=dict(decay_rate=0.9, num_layers=4, decay_type="stage_wise"))
        )


# ------------------------------------------------------------------------------------------ options and mistakes
@pytest.mark.parametrize(
    "cfg,message",
    [
        (dict(type="BEiT", out_indices=[3, 12]), r"out_indices \[3, 12\] must lie in 0..11"),
        (dict(type="MAE", embed_dims=100), "embed_dims=100 must be divisible by num_heads=12"),
        (dict(type="BEiT", img_size=(1, 2, 3)), r"img_size \(1, 2, 3\) must be one size or \(height, width\)"),
        (dict(type="Feature2Pyramid", embed_dim=8, rescales=[1, 2]), r"rescales \[1, 2\] must be the start of"),
    ],
)
def test_user_mistakes_raise_config_error(cfg, message):
    with pytest.raises(ConfigError, match=message):
        build_on_meta(cfg)


def test_an_input_of_another_size_than_img_size_is_named():
    model = BEiT(img_size=32, patch_size=8, embed_dims=8, num_layers=1, num_heads=2)
    with pytest.raises(ConfigError, match=r"built for img_size \(32, 32\) \(4x4 patches\) but got a 6x4-patch"):
        model(torch.zeros(1, 3, 48, 32))
    neck = MODELS.build(dict(type="Feature2Pyramid", embed_dim=8, norm_cfg=dict(type="BN")))
    with pytest.raises(ConfigError, match=r"got 1 feature maps for rescales \[4, 2, 1, 0.5\]"):
        neck([torch.zeros(1, 8, 4, 4)])


# ------------------------------------------------------------------------------------------ learning
def tiny_upernet(family: str, img_size: str = "(64, 64)") -> str:
    qv_bias = ", qv_bias=True" if family == "beit" else ""
    return f"""
model = dict(auxiliary_head=None,
    backbone=dict(_delete_=True, type='{family.upper() if family == "mae" else "BEiT"}', img_size={img_size},
        patch_size=16, embed_dims=16, num_layers=4, num_heads=2, mlp_ratio=2, out_indices=[0, 1, 2, 3],
        drop_path_rate=0.1, norm_cfg=dict(type='LN', eps=1e-6), init_values={1.0 if family == "mae" else 0.1}{qv_bias}),
    neck=dict(type='Feature2Pyramid', embed_dim=16, rescales=[4, 2, 1, 0.5], norm_cfg=dict(type='BN')),
    decode_head=dict(_delete_=True, type='UPerHead', in_channels=[16] * 4, in_index=[0, 1, 2, 3],
        pool_scales=(1, 2), {HEAD}))
"""


# for tests/test_export.py's zoo sweep, which exports at 64x96: the tables fix the input size to img_size
TINY_FAMILIES = {family: ("UPerHead", tiny_upernet(family, "(64, 96)")) for family in ("beit", "mae")}

# the published recipe (AdamW, layer-wise decay through LayerDecayOptimizerConstructor, linear warm-up then
# poly decay) with a learning rate and schedule for 40 iterations instead of 160k
ITERS = 40
PUBLISHED_TRAINING = f"""
optim_wrapper = dict(_delete_=True, type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=0.006, betas=(0.9, 0.999), weight_decay=0.05),
    constructor='LayerDecayOptimizerConstructor', paramwise_cfg=dict(num_layers=4, layer_decay_rate=0.9))
param_scheduler = [dict(type='LinearLR', start_factor=1e-6, by_epoch=False, begin=0, end=10),
                   dict(type='PolyLR', eta_min=0.0, power=1.0, begin=10, end={ITERS}, by_epoch=False)]
"""


@pytest.mark.parametrize("family", ["beit", "mae"])  # seeds 0-2 after 40: BEiT mIoU 75, 69, 51; MAE 75, 75, 77
def test_tiny_upernet_learns_with_the_published_optimiser(family, tiny_config, one_thread):
    assert_tiny_model_learns(tiny_config, tiny_upernet(family), "UPerHead", iters=ITERS, training=PUBLISHED_TRAINING)


# ------------------------------------------------------------------------------------------ the command line
@pytest.mark.parametrize("family", sorted(CONFIGS))
def test_shipped_config_trains_from_the_command_line(family, learnable_data, tmp_path, one_thread):
    options = [
        "model.pretrained=None",  # the published pre-trained weights are a download
        "model.backbone.img_size=(64,64)",
        "model.backbone.embed_dims=16",
        "model.backbone.num_layers=4",
        "model.backbone.num_heads=2",
        "model.backbone.out_indices=[0,1,2,3]",
        "model.neck.embed_dim=16",
        "model.decode_head.in_channels=[16,16,16,16]",
        "model.decode_head.channels=16",
        "model.auxiliary_head.in_channels=16",
        "model.auxiliary_head.channels=16",
        "model.test_cfg.crop_size=(64,64)",
        "model.test_cfg.stride=(43,43)",
        "optim_wrapper.paramwise_cfg.num_layers=4",
        "train_cfg.max_iters=2",
        "train_cfg.val_interval=2",
        "default_hooks.logger.interval=1",
        "default_hooks.checkpoint.interval=2",
        *data_options(learnable_data),
    ]
    work = tmp_path / "work"
    assert main(["train", str(config_path(CONFIGS[family])), "--work-dir", str(work), "--cfg-options", *options]) == 0
    assert (work / "iter_2.pth").is_file()
    log = next(work.glob("*/*.log")).read_text()
    assert "layer-wise lr decay (layer_wise_vit" in log
    if family == "beit":  # AmpOptimWrapper on CPU: autocast measured, then chosen
        assert "bfloat16 autocast measured" in log or "--amp" in log
