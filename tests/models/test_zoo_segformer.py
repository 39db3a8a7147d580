"""SegFormer against MMSegmentation 1.2.2 (records in tests/records/zoo/segformer_*).

MixVisionTransformer and SegformerHead give MMSegmentation's outputs for the same weights (at two input
sizes: MiT has no position embedding to resize); a checkpoint in the original SegFormer layout loads through
``init_cfg`` with every tensor where MMSegmentation's mit2mmseg converter puts it; a tiny SegFormer learns
with the published optimiser (AdamW, paramwise multipliers, linear warm-up then poly decay); a shipped config
trains from the command line. Key/shape lists and init statistics are checked in test_zoo_keys.py.
"""

from __future__ import annotations

import pytest
import torch

from seglab import Config, build_model
from seglab.errors import ConfigError
from seglab.models.backbones.mit import MixVisionTransformer
from seglab.models.builder import build_on_meta

from .zoo_parity import (
    HEAD,
    RECORDS,
    assert_fixture_outputs,
    assert_tiny_model_learns,
    assert_trains_two_iterations,
    read_record,
)

FIXTURES = read_record("segformer_fixtures.json.gz")
del FIXTURES["recorder"]  # the script that re-makes the record, not a case
# the shrunk MiT of the fixtures and the conversion record
TINY_MIT = dict(embed_dims=4, num_heads=[1, 2, 4, 8], num_layers=[1, 2, 1, 1], sr_ratios=[8, 4, 2, 1])


@pytest.fixture(scope="module")
def fixture_tensors() -> dict:
    return torch.load(RECORDS / "segformer_fixtures.pt", weights_only=True)


@pytest.mark.parametrize("name", sorted(FIXTURES))
def test_outputs_match_mmsegmentation_for_the_same_weights(name, fixture_tensors, one_thread):
    assert_fixture_outputs(name, FIXTURES[name], fixture_tensors)


# ------------------------------------------------------------------------------------------ original weights
@pytest.fixture(scope="module")
def layouts() -> dict:
    """A synthetic checkpoint in the original SegFormer layout and MMSegmentation's conversion of it."""
    return torch.load(RECORDS / "segformer_convert.pt", weights_only=True)


def test_original_layout_converts_as_mmsegmentation_converter(layouts):
    converted = MixVisionTransformer.adapt_pretrained(layouts["original"])
    assert list(converted) == list(layouts["converted"])
    for key, value in layouts["converted"].items():
        assert torch.equal(converted[key], value), key
    assert MixVisionTransformer.adapt_pretrained(layouts["converted"]) is layouts["converted"]  # already MMSeg's


@pytest.mark.parametrize("layout", ["original", "converted"])
def test_pretrained_file_in_either_layout_loads_through_init_cfg(layout, layouts, tmp_path, seglab_log):
    path = tmp_path / "mit_b0.pth"
    torch.save({"state_dict": layouts[layout]} if layout == "converted" else layouts[layout], path)
    cfg = dict(type="MixVisionTransformer", **TINY_MIT, init_cfg=dict(type="Pretrained", checkpoint=str(path)))
    model_cfg = dict(type="EncoderDecoder", backbone=cfg, decode_head=dict(type="SegformerHead", **HEAD_ARGS))
    model = build_model(model_cfg)
    state = model.backbone.state_dict()
    for key, value in layouts["converted"].items():
        assert torch.equal(state[key], value), key
    assert "missing in checkpoint" not in seglab_log.text and "unexpected" not in seglab_log.text
    assert ("converted the original SegFormer layout" in seglab_log.text) == (layout == "original")


# ------------------------------------------------------------------------------------------ options and mistakes
HEAD_ARGS = dict(in_channels=[4, 8, 16, 32], in_index=[0, 1, 2, 3], channels=8, num_classes=3)


@pytest.mark.parametrize(
    "cfg,message",
    [
        (dict(type="MixVisionTransformer", num_stages=3), r"num_stages=3 needs that many entries"),
        (dict(type="MixVisionTransformer", out_indices=(4,)), r"out_indices \(4,\) must lie in 0..3"),
        (dict(type="MixVisionTransformer", pretrained="a.pth", init_cfg={"type": "Pretrained"}), "not both"),
        (dict(type="SegformerHead", input_transform="resize_concat", **HEAD_ARGS), "always uses input_transform"),
        (dict(type="SegformerHead", interpolate_mode="linear", **HEAD_ARGS), "interpolate_mode must be one of"),
    ],
)
def test_user_mistakes_raise_config_error(cfg, message):
    with pytest.raises(ConfigError, match=message):
        build_on_meta(cfg)


def test_drop_path_grows_with_depth_as_mmsegmentation():
    model = build_on_meta(dict(type="MixVisionTransformer", num_layers=[1, 1, 1, 2], drop_path_rate=0.3))
    rates = [block.attn.dropout_layer.drop_prob for stage in model.layers for block in stage[1]]
    assert rates == pytest.approx([0.0, 0.075, 0.15, 0.225, 0.3])


# ------------------------------------------------------------------------------------------ learning
TINY_SEGFORMER = f"""
model = dict(
    backbone=dict(_delete_=True, type='MixVisionTransformer', embed_dims=8, num_heads=[1, 2, 4, 8],
                  num_layers=[1, 1, 1, 1], sr_ratios=[8, 4, 2, 1], drop_path_rate=0.1),
    auxiliary_head=None,
    decode_head=dict(_delete_=True, type='SegformerHead', in_channels=[8, 16, 32, 64], in_index=[0, 1, 2, 3],
                     {HEAD}))
"""
# the published recipe (AdamW, no decay on norms, x10 lr on the head, linear warm-up then poly decay),
# with a learning rate and schedule for 60 iterations instead of 160k
PUBLISHED_TRAINING = """
optim_wrapper = dict(_delete_=True, type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=0.001, betas=(0.9, 0.999), weight_decay=0.01),
    paramwise_cfg=dict(custom_keys={'pos_block': dict(decay_mult=0.), 'norm': dict(decay_mult=0.),
                                    'head': dict(lr_mult=10.)}))
param_scheduler = [dict(type='LinearLR', start_factor=1e-6, by_epoch=False, begin=0, end=10),
                   dict(type='PolyLR', eta_min=0.0, power=1.0, begin=10, end=60, by_epoch=False)]
"""


def test_tiny_segformer_learns_with_the_published_optimiser(tiny_config, one_thread):
    assert_tiny_model_learns(tiny_config, TINY_SEGFORMER, "SegformerHead", training=PUBLISHED_TRAINING)


def test_published_paramwise_multipliers_reach_the_optimiser(tiny_config):
    """MMSegmentation matches custom_keys against full parameter names: the blocks' and patch embeddings'
    norms lose weight decay, each stage's closing norm (``layers.i.2``, no 'norm' in its name) keeps it."""
    from seglab.engine.optim import build_optim_wrapper

    cfg = Config.fromfile(tiny_config(extra=TINY_SEGFORMER + PUBLISHED_TRAINING))
    model = build_model(cfg.model, load_pretrained=False)
    optimizer = build_optim_wrapper(model, cfg.optim_wrapper).optimizer
    names = {id(p): n for n, p in model.named_parameters()}
    groups = {names[id(p)]: g for g in optimizer.param_groups for p in g["params"]}
    decay = {
        name: groups[f"backbone.layers.0.{name}"]["weight_decay"]
        for name in ("1.0.norm1.weight", "0.norm.bias", "2.weight", "1.0.attn.attn.in_proj_weight")
    }
    assert decay == {"1.0.norm1.weight": 0, "0.norm.bias": 0, "2.weight": 0.01, "1.0.attn.attn.in_proj_weight": 0.01}
    backbone_lr = groups["backbone.layers.0.0.projection.weight"]["lr"]
    assert groups["decode_head.conv_seg.weight"]["lr"] == pytest.approx(10 * backbone_lr)


# ------------------------------------------------------------------------------------------ the command line
def test_shipped_config_trains_from_the_command_line(learnable_data, tmp_path, one_thread):
    config = "segformer/segformer_mit-b0_8xb2-160k_ade20k-512x512"
    options = [
        "model.backbone.init_cfg=None",  # the published ImageNet weights are a download
        "model.backbone.embed_dims=8",
        "model.decode_head.in_channels=[8,16,40,64]",
        "model.decode_head.channels=16",
    ]
    work = tmp_path / "work"
    assert_trains_two_iterations(config, options, learnable_data, work)
