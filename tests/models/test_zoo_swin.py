"""Swin Transformer against MMSegmentation 1.2.2 (records in tests/records/zoo/swin_*).

SwinTransformer gives MMSegmentation's outputs for the same weights (odd input sizes: padding to whole
windows and the shifted-window mask; absolute position embedding, no patch norm); a checkpoint in Microsoft's
original layout loads through ``init_cfg`` with every tensor where swin2mmseg.py puts it, and relative-position
tables of another window size are resized as MMSegmentation resizes them; a tiny Swin + UPerHead learns with the
published optimiser; a shipped config trains from the command line. Key/shape lists and init statistics are
checked in test_zoo_keys.py.
"""

from __future__ import annotations

import pytest
import torch

from seglab import build_model
from seglab.errors import ConfigError
from seglab.models.backbones.swin import SwinTransformer, convert_original_swin
from seglab.models.builder import build_on_meta

from .zoo_parity import (
    HEAD,
    RECORDS,
    assert_fixture_outputs,
    assert_tiny_model_learns,
    assert_trains_two_iterations,
    read_record,
)

FIXTURES = read_record("swin_fixtures.json.gz")
del FIXTURES["recorder"]  # the script that re-makes the record, not a case
TINY_SWIN = dict(embed_dims=4, depths=[2, 2, 2, 2], num_heads=[1, 2, 2, 4], window_size=3)  # the records' model


@pytest.fixture(scope="module")
def fixture_tensors() -> dict:
    return torch.load(RECORDS / "swin_fixtures.pt", weights_only=True)


@pytest.mark.parametrize("name", sorted(FIXTURES))
def test_outputs_match_mmsegmentation_for_the_same_weights(name, fixture_tensors, one_thread):
    assert_fixture_outputs(name, FIXTURES[name], fixture_tensors)


# ------------------------------------------------------------------------------------------ original weights
@pytest.fixture(scope="module")
def layouts() -> dict:
    """Microsoft's layout (synthetic), MMSegmentation's conversion, and the tables it loads into window 5."""
    return torch.load(RECORDS / "swin_convert.pt", weights_only=True)


def test_original_layout_converts_as_mmsegmentation_converter(layouts):
    """As swin2mmseg.py, except that the ``attn_mask`` buffers (recomputed by every forward) are dropped
    rather than reported as unexpected keys."""
    converted = convert_original_swin(layouts["original"])
    expected = {k: v for k, v in layouts["converted"].items() if not k.endswith("attn_mask")}
    assert list(converted) == list(expected)
    for key, value in expected.items():
        assert torch.equal(converted[key], value), key


def pretrained_swin(path, **kwargs) -> torch.nn.Module:
    backbone = dict(
        type="SwinTransformer", **{**TINY_SWIN, **kwargs}, init_cfg=dict(type="Pretrained", checkpoint=str(path))
    )
    head = dict(type="FCNHead", in_channels=32, channels=4, num_classes=3, num_convs=1)
    return build_model(dict(type="EncoderDecoder", backbone=backbone, decode_head=head)).backbone


@pytest.mark.parametrize("layout", ["original", "converted", "segmentor"])
def test_pretrained_file_in_any_layout_loads_through_init_cfg(layout, layouts, tmp_path, seglab_log):
    state = layouts["original" if layout == "original" else "converted"]
    if layout == "segmentor":  # a whole MMSegmentation checkpoint given as the backbone's weights
        state = {"state_dict": {f"backbone.{k}": v for k, v in state.items()}}
    torch.save(state, tmp_path / "swin.pth")
    model = pretrained_swin(tmp_path / "swin.pth")
    own = model.state_dict()
    for key, value in layouts["converted"].items():
        if key in own:
            assert torch.equal(own[key], value), key
    # an ImageNet file has one closing norm; the four output norms are new, in MMSegmentation as well
    assert (
        "missing in checkpoint (8): norm0.weight, norm0.bias, norm1.weight, norm1.bias, norm2.weight" in seglab_log.text
    )
    assert ("converted the original Swin" in seglab_log.text) == (layout == "original")


def test_tables_of_another_window_size_are_resized_as_mmsegmentation(layouts, tmp_path, seglab_log):
    torch.save(layouts["original"], tmp_path / "swin_window3.pth")
    model = pretrained_swin(tmp_path / "swin_window3.pth", window_size=5)
    own = model.state_dict()
    for key, table in layouts["window5_tables"].items():
        torch.testing.assert_close(own[key], table, rtol=1e-5, atol=1e-6)
    assert "resized stages.0.blocks.0.attn.w_msa.relative_position_bias_table from 5x5 to 9x9" in seglab_log.text
    assert "skipped" not in seglab_log.text  # the 9x9 index buffers are recomputed, not loaded


# ------------------------------------------------------------------------------------------ options and mistakes
@pytest.mark.parametrize(
    "cfg,message",
    [
        (dict(type="SwinTransformer", strides=(2, 2, 2, 2)), r"strides\[0\]=2 must equal patch_size=4"),
        (dict(type="SwinTransformer", num_heads=(3, 6)), r"need as many num_heads and strides"),
        (dict(type="SwinTransformer", out_indices=(4,)), r"out_indices \(4,\) must lie in 0..3"),
        (dict(type="SwinTransformer", embed_dims=8), r"widths \[8, 16, 32, 64\] .* divisible by num_heads \[3, 6"),
    ],
)
def test_user_mistakes_raise_config_error(cfg, message):
    with pytest.raises(ConfigError, match=message):
        build_on_meta(cfg)


def test_frozen_stages_stop_learning_and_stay_in_eval_mode():
    model = SwinTransformer(**TINY_SWIN, frozen_stages=1).train()
    assert not any(p.requires_grad for p in model.patch_embed.parameters())
    assert not any(p.requires_grad for p in model.stages[0].parameters()) and not model.stages[0].training
    assert not model.norm0.weight.requires_grad and model.norm1.weight.requires_grad
    assert all(p.requires_grad for p in model.stages[1].parameters())


# ------------------------------------------------------------------------------------------ learning
TINY_SWIN_UPERNET = f"""
model = dict(
    backbone=dict(_delete_=True, type='SwinTransformer', embed_dims=8, depths=[1, 1, 1, 1],
                  num_heads=[1, 2, 2, 4], window_size=4, drop_path_rate=0.1),
    auxiliary_head=None,
    decode_head=dict(_delete_=True, type='UPerHead', in_channels=[8, 16, 32, 64], in_index=[0, 1, 2, 3],
                     pool_scales=(1, 2), {HEAD}))
"""
# the published recipe (AdamW, no decay on norms and position tables, linear warm-up then poly decay), with a
# learning rate and schedule for 60 iterations instead of 160k
PUBLISHED_TRAINING = """
optim_wrapper = dict(_delete_=True, type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=0.003, betas=(0.9, 0.999), weight_decay=0.01),
    paramwise_cfg=dict(custom_keys={'absolute_pos_embed': dict(decay_mult=0.),
                                    'relative_position_bias_table': dict(decay_mult=0.),
                                    'norm': dict(decay_mult=0.)}))
param_scheduler = [dict(type='LinearLR', start_factor=1e-6, by_epoch=False, begin=0, end=10),
                   dict(type='PolyLR', eta_min=0.0, power=1.0, begin=10, end=60, by_epoch=False)]
"""


def test_tiny_swin_upernet_learns_with_the_published_optimiser(tiny_config, one_thread):
    assert_tiny_model_learns(tiny_config, TINY_SWIN_UPERNET, "UPerHead", training=PUBLISHED_TRAINING)


# ------------------------------------------------------------------------------------------ the command line
def test_shipped_config_trains_from_the_command_line(learnable_data, tmp_path, one_thread):
    config = "swin/swin-tiny-patch4-window7-in1k-pre_upernet_8xb2-160k_ade20k-512x512"
    options = [
        "model.backbone.init_cfg=None",  # the published ImageNet weights are a download
        "model.backbone.embed_dims=8",
        "model.backbone.depths=[1,1,1,1]",
        "model.backbone.num_heads=[1,2,4,8]",
        "model.decode_head.in_channels=[8,16,32,64]",
        "model.decode_head.channels=16",
        "model.auxiliary_head.in_channels=32",
        "model.auxiliary_head.channels=16",
    ]
    work = tmp_path / "work"
    assert_trains_two_iterations(config, options, learnable_data, work)
