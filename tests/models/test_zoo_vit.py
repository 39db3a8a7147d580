"""ViT/DeiT (VisionTransformer + MultiLevelNeck + UPerHead) against MMSegmentation 1.2.2 (records in
tests/records/zoo/vit_*).

VisionTransformer and MultiLevelNeck give MMSegmentation's outputs for the same weights (the ViT cases at input
sizes other than ``img_size``: the position embedding is resized in forward; with and without class token,
pre/final/patch norm, the class token returned beside each map); a checkpoint in timm's ViT/DeiT layout loads
through ``init_cfg`` with every tensor where vit2mmseg.py puts it, its position embedding resized to another
``img_size`` as MMSegmentation's init_weights resizes it; a tiny ViT UPerNet learns with the published optimiser;
a shipped config trains from the command line. Key/shape lists and init statistics: test_zoo_keys.py.
"""

from __future__ import annotations

import pytest
import torch

from seglab import build_model
from seglab.errors import ConfigError
from seglab.models.backbones.vit import VisionTransformer, convert_timm_vit
from seglab.models.builder import build_on_meta
from seglab.registry import MODELS

from .zoo_parity import (
    HEAD,
    RECORDS,
    assert_fixture_outputs,
    assert_tiny_model_learns,
    assert_trains_two_iterations,
    read_record,
    recorded_state,
)

FIXTURES = read_record("vit_fixtures.json.gz")
del FIXTURES["recorder"]  # the script that re-makes the record, not a case
# every config of MMSegmentation 1.2.2's configs/vit/ ships and builds; none is left out
NOT_BUILT: dict[str, str] = {}


@pytest.fixture(scope="module")
def fixture_tensors() -> dict:
    return torch.load(RECORDS / "vit_fixtures.pt", weights_only=True)


@pytest.mark.parametrize("name", sorted(n for n in FIXTURES if n != "vit_cls_token"))
def test_outputs_match_mmsegmentation_for_the_same_weights(name, fixture_tensors, one_thread):
    assert_fixture_outputs(name, FIXTURES[name], fixture_tensors)


def test_class_tokens_beside_the_maps_match_mmsegmentation(fixture_tensors, one_thread):
    """``output_cls_token`` (DPT's use): each output is [map, class token]; the record holds them flattened."""
    case = FIXTURES["vit_cls_token"]
    model = MODELS.build(dict(type=case["type"], **case["kwargs"])).eval()
    model.load_state_dict(recorded_state(case, fixture_tensors["vit_cls_token/state"], model.state_dict()))
    with torch.no_grad():
        (out,) = model(fixture_tensors["inputs/vit_cls_token/0"])
    for i, value in enumerate(out):
        torch.testing.assert_close(value, fixture_tensors[f"vit_cls_token/out/{i}"], rtol=0, atol=1e-5)


# ------------------------------------------------------------------------------------------ original weights
@pytest.fixture(scope="module")
def layouts() -> dict:
    """timm's layout (synthetic, 4x4 patches), vit2mmseg.py's conversion, and what MMSegmentation's
    init_weights loads from the converted file at img_size 16, 24 and (24, 32) (patch 4)."""
    return torch.load(RECORDS / "vit_convert.pt", weights_only=True)


def test_timm_layout_converts_as_mmsegmentation_converter(layouts):
    converted = convert_timm_vit(layouts["original"])
    assert list(converted) == list(layouts["converted"])
    for key, value in layouts["converted"].items():
        assert torch.equal(converted[key], value), key


LOAD_SIZES = {"same": 16, "square": 24, "wide": (24, 32)}


def pretrained_vit(path, img_size) -> torch.nn.Module:
    backbone = dict(
        type="VisionTransformer", img_size=img_size, patch_size=4, embed_dims=8, num_layers=2, num_heads=2,
        final_norm=True, init_cfg=dict(type="Pretrained", checkpoint=str(path)),
    )  # fmt: skip
    head = dict(type="FCNHead", in_channels=8, channels=4, num_classes=3, num_convs=1)
    return build_model(dict(type="EncoderDecoder", backbone=backbone, decode_head=head)).backbone


@pytest.mark.parametrize("layout", ["timm", "mmseg", "segmentor"])
@pytest.mark.parametrize("size", sorted(LOAD_SIZES))
def test_pretrained_file_loads_with_position_embedding_resized_as_mmsegmentation(
    layout, size, layouts, tmp_path, seglab_log
):
    state = layouts["original" if layout == "timm" else "converted"]
    if layout == "segmentor":  # a whole MMSegmentation checkpoint given as the backbone's weights
        state = {"state_dict": {f"backbone.{k}": v for k, v in state.items()}}
    if layout == "timm":  # DeiT's files keep the weights under 'model'
        state = {"model": state}
    torch.save(state, tmp_path / "vit.pth")
    own = pretrained_vit(tmp_path / "vit.pth", LOAD_SIZES[size]).state_dict()
    expected = layouts["loaded"][size]
    assert list(own) == list(expected)
    for key, value in expected.items():
        torch.testing.assert_close(own[key], value, rtol=1e-5, atol=1e-6, msg=key)
    # the published configs leave patch_bias at False: the file's projection bias is not loaded, as in MMSeg
    assert "unexpected in checkpoint (1): patch_embed.projection.bias" in seglab_log.text
    assert ("converted the timm ViT/DeiT layout" in seglab_log.text) == (layout == "timm")
    assert ("resized pos_embed from (1, 17, 8)" in seglab_log.text) == (size != "same")


# ------------------------------------------------------------------------------------------ options and mistakes
@pytest.mark.parametrize(
    "cfg,message",
    [
        (dict(type="VisionTransformer", out_indices=(2, 12)), r"out_indices \(2, 12\) must lie in 0..11"),
        (dict(type="VisionTransformer", output_cls_token=True, with_cls_token=False), "needs with_cls_token=True"),
        (dict(type="VisionTransformer", interpolate_mode="nearest"), "interpolate_mode='nearest'; use one of"),
        (dict(type="VisionTransformer", embed_dims=100), "embed_dims=100 must be divisible by num_heads=12"),
        (dict(type="VisionTransformer", img_size=(1, 2, 3)), r"img_size must be an int or \(height, width\)"),
        (dict(type="VisionTransformer", pretrained="a.pth", init_cfg={"type": "Pretrained"}), "not both"),
        (dict(type="MultiLevelNeck", in_channels=[8, 8], out_channels=8), "2 in_channels for 4 scales"),
    ],
)
def test_user_mistakes_raise_config_error(cfg, message):
    with pytest.raises(ConfigError, match=message):
        build_on_meta(cfg)


def test_frozen_exclude_and_drop_path_as_mmsegmentation():
    model = VisionTransformer(embed_dims=8, num_heads=2, num_layers=3, drop_path_rate=0.2, frozen_exclude=["ln"])
    trainable = sorted(n for n, p in model.named_parameters() if p.requires_grad)
    assert trainable == sorted(f"layers.{i}.ln{j}.{k}" for i in range(3) for j in (1, 2) for k in ("weight", "bias"))
    # stochastic depth on the FFN branch only, growing with depth (the first layer has none)
    assert [type(layer.ffn.dropout_layer).__name__ for layer in model.layers] == ["Identity", "DropPath", "DropPath"]
    assert [layer.ffn.dropout_layer.drop_prob for layer in model.layers[1:]] == pytest.approx([0.1, 0.2])


# ------------------------------------------------------------------------------------------ learning
# the published model at a tiny width: ViT (final norm, drop path) -> MultiLevelNeck (x4 ... x0.5) -> UPerHead;
# read by tests/test_export.py's zoo sweep too (the 64x96 export resizes the 16x16 position embedding)
TINY_FAMILIES = {
    "vit": (
        "UPerHead",
        f"""model = dict(
    backbone=dict(_delete_=True, type='VisionTransformer', img_size=(64, 64), patch_size=8, embed_dims=16,
                  num_layers=4, num_heads=2, out_indices=(0, 1, 2, 3), final_norm=True, drop_path_rate=0.1,
                  norm_cfg=dict(type='LN', eps=1e-6)),
    neck=dict(type='MultiLevelNeck', in_channels=[16, 16, 16, 16], out_channels=16, scales=[4, 2, 1, 0.5]),
    auxiliary_head=None,
    decode_head=dict(_delete_=True, type='UPerHead', in_channels=[16, 16, 16, 16], in_index=[0, 1, 2, 3],
                     pool_scales=(1, 2), {HEAD}))
""",
    )
}
# the published recipe (AdamW, no decay on position embedding, class token and norms, linear warm-up then poly
# decay), with a learning rate and schedule for 60 iterations instead of 160k
PUBLISHED_TRAINING = """
optim_wrapper = dict(_delete_=True, type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=0.003, betas=(0.9, 0.999), weight_decay=0.01),
    paramwise_cfg=dict(custom_keys={'pos_embed': dict(decay_mult=0.), 'cls_token': dict(decay_mult=0.),
                                    'norm': dict(decay_mult=0.)}))
param_scheduler = [dict(type='LinearLR', start_factor=1e-6, by_epoch=False, begin=0, end=10),
                   dict(type='PolyLR', eta_min=0.0, power=1.0, begin=10, end=60, by_epoch=False)]
"""


def test_tiny_vit_upernet_learns_with_the_published_optimiser(tiny_config, one_thread):
    head_type, fragment = TINY_FAMILIES["vit"]
    assert_tiny_model_learns(tiny_config, fragment, head_type, training=PUBLISHED_TRAINING)


# ------------------------------------------------------------------------------------------ the command line
def test_shipped_config_trains_from_the_command_line(learnable_data, tmp_path, one_thread):
    config = "vit/vit_deit-s16-ln_mln_upernet_8xb2-160k_ade20k-512x512"
    options = [
        "model.pretrained=None",  # the published ImageNet weights are a download
        "model.backbone.img_size=(64,64)",
        "model.backbone.embed_dims=16",
        "model.backbone.num_heads=2",
        "model.neck.in_channels=[16,16,16,16]",
        "model.neck.out_channels=16",
        "model.decode_head.in_channels=[16,16,16,16]",
        "model.decode_head.channels=16",
        "model.auxiliary_head.in_channels=16",
        "model.auxiliary_head.channels=16",
    ]
    work = tmp_path / "work"
    assert_trains_two_iterations(config, options, learnable_data, work)
