"""DINOv2 and DINOv3 backbones: transformers models at small sizes with random weights, saved as the Hub serves
them, load into the shipped configs' backbones and give the same features within 1e-4 x max, at the
pre-training size and at another one (position interpolation / RoPE on another grid); the layer-decay ids;
freezing; a tiny linear-probe config trains."""

from __future__ import annotations

import pytest
import torch

from seglab.fileio.checkpoint import apply_checkpoint, read_state
from seglab.models.builder import build_model

from .hub_parity import assert_close, randomise, save_hub_model, shrunk_config
from .test_models import learnable_batch

SMALL = dict(hidden_size=32, num_hidden_layers=3, num_attention_heads=2)


def _seglab_backbone(config: str, overrides: dict, folder):
    """The config's backbone with the Hub folder as its pre-trained checkpoint, the way a user names one
    (``init_cfg=dict(type='Pretrained', checkpoint=FOLDER)``); every tensor must find its place."""
    cfg = shrunk_config(config, overrides)
    model = build_model(cfg.model, load_pretrained=False).eval()
    state = model.backbone.adapt_pretrained(read_state(folder / "model.safetensors"))
    report = apply_checkpoint(model.backbone, state, str(folder))
    assert report.missing == [] and report.unexpected == [], (report.missing, report.unexpected)
    init_cfg = dict(type="Pretrained", checkpoint=str(folder))
    cfg = shrunk_config(config, {**overrides, "model.backbone.init_cfg": init_cfg})
    loaded = build_model(cfg.model).eval()  # the config path: read_pretrained on a local Hub folder
    for key, value in model.backbone.state_dict().items():
        assert torch.equal(loaded.backbone.state_dict()[key], value), key
    return loaded.backbone


def _reference_features(hub_model, pixels, norm, prefix):
    with torch.no_grad():
        out = hub_model(pixel_values=pixels, output_hidden_states=True)
    return [norm(h)[:, prefix:] for h in out.hidden_states[1:]]


def _compare(backbone, hub_model, norm, prefix, size, patch):
    pixels = torch.randn(1, 3, *size)
    with torch.no_grad():
        ours = backbone(pixels)
    theirs = _reference_features(hub_model, pixels, norm, prefix)
    grid = (size[0] // patch, size[1] // patch)
    for out, index in zip(ours, backbone.out_indices):
        assert out.shape[-2:] == grid
        assert_close(out.flatten(2).transpose(1, 2), theirs[index])


@pytest.mark.parametrize("registers", [0, 4])
def test_transformers_dinov2_loads_and_matches_at_two_sizes(tmp_path, registers):
    transformers = pytest.importorskip("transformers")
    if registers:
        config = transformers.Dinov2WithRegistersConfig(
            **SMALL, patch_size=14, image_size=56, num_register_tokens=registers, mlp_ratio=4
        )
        hub = transformers.Dinov2WithRegistersModel(config)
    else:
        hub = transformers.Dinov2Model(transformers.Dinov2Config(**SMALL, patch_size=14, image_size=56))
    hub = randomise(hub)
    folder = save_hub_model(hub, tmp_path / "hub")
    overrides = {
        "model.backbone.embed_dims": 32, "model.backbone.num_layers": 3, "model.backbone.num_heads": 2,
        "model.backbone.img_size": 56, "model.backbone.out_indices": (0, 2),
        "model.backbone.num_register_tokens": registers, "model.backbone.interpolate_antialias": bool(registers),
    }  # fmt: skip
    backbone = _seglab_backbone("dinov2/dinov2-s_linear_8xb2-40k_ade20k-512x512", overrides, folder)
    for size in ((56, 56), (70, 42)):
        _compare(backbone, hub, hub.layernorm, 1 + registers, size, 14)


@pytest.mark.parametrize("gated", [False, True])
def test_transformers_dinov3_loads_and_matches_at_two_sizes(tmp_path, gated):
    transformers = pytest.importorskip("transformers")
    config = transformers.DINOv3ViTConfig(
        **SMALL,
        intermediate_size=128,
        patch_size=16,
        image_size=64,
        num_register_tokens=4,
        use_gated_mlp=gated,
        hidden_act="silu" if gated else "gelu",  # the gated (S+/H+) models are SwiGLU
    )
    hub = randomise(transformers.DINOv3ViTModel(config))
    folder = save_hub_model(hub, tmp_path / "hub")
    overrides = {
        "model.backbone.embed_dims": 32, "model.backbone.num_layers": 3, "model.backbone.num_heads": 2,
        "model.backbone.out_indices": (1, 2), "model.backbone.ffn_type": "swiglu" if gated else "mlp",
        "model.backbone.mlp_ratio": 6.0 if gated else 4.0,
    }  # fmt: skip
    backbone = _seglab_backbone("dinov3/dinov3-s_linear_8xb2-40k_ade20k-512x512", overrides, folder)
    assert backbone.blocks[0].attn.qkv.bias[32:64].abs().max() == 0  # transformers has no key bias
    for size in ((64, 64), (48, 80)):
        _compare(backbone, hub, hub.norm, 5, size, 16)


def test_authors_layout_loads_as_is_and_layer_ids_follow_blocks():
    from seglab.models.backbones.dinov2 import DINOv2

    model = DINOv2(img_size=28, embed_dims=32, num_layers=3, num_heads=2, out_indices=(2,), ffn_type="swiglufused")
    state = {k: torch.randn_like(v) for k, v in model.state_dict().items()}
    state["mask_token"] = torch.zeros(1, 32)
    assert set(model.adapt_pretrained(dict(state))) == set(model.state_dict())
    assert model.layer_id("pos_embed", 3, "layer_wise") == 0
    assert model.layer_id("blocks.1.attn.qkv.weight", 3, "layer_wise") == 2
    assert model.layer_id("norm.weight", 3, "layer_wise") == 4


def test_frozen_linear_probe_trains_only_the_head():
    cfg = shrunk_config(
        "dinov2/dinov2-s_linear_1xb4-2k_my-data-360x480",
        {
            "model.backbone.init_cfg": None, "model.backbone.embed_dims": 32, "model.backbone.num_layers": 2,
            "model.backbone.num_heads": 2, "model.backbone.img_size": 56, "model.backbone.out_indices": (0, 1),
            "model.decode_head.in_channels": [32, 32], "model.decode_head.in_index": [0, 1],
            "model.decode_head.channels": 64, "model.decode_head.num_classes": 3,
        },
    )  # fmt: skip
    model = build_model(cfg.model, load_pretrained=False).train()
    assert not any(p.requires_grad for p in model.backbone.parameters())
    assert not model.backbone.training  # frozen: no drop path while the head trains
    assert_learns_with_the_backbone_unchanged(model)


def test_cpu_sized_upernet_trains_the_neck_and_heads_only():
    cfg = shrunk_config(
        "dinov2/dinov2-s_upernet_1xb4-2k_my-data-360x480",
        {
            "model.backbone.init_cfg": None, "model.backbone.embed_dims": 32, "model.backbone.num_layers": 4,
            "model.backbone.num_heads": 2, "model.backbone.img_size": 56, "model.backbone.out_indices": (0, 1, 2, 3),
            "model.neck.embed_dim": 32, "model.decode_head.in_channels": [32] * 4, "model.decode_head.channels": 32,
            "model.decode_head.num_classes": 3, "model.auxiliary_head.in_channels": 32,
            "model.auxiliary_head.channels": 16, "model.auxiliary_head.num_classes": 3,
        },
    )  # fmt: skip
    assert cfg.model.decode_head.norm_cfg["type"] == "BN" and cfg.model.neck.norm_cfg["type"] == "BN"
    model = build_model(cfg.model, load_pretrained=False).train()
    assert not any(p.requires_grad for p in model.backbone.parameters())
    assert_learns_with_the_backbone_unchanged(model)


def assert_learns_with_the_backbone_unchanged(model, steps: int = 15) -> None:
    """A few AdamW steps on a learnable batch: the loss falls by 30% and the frozen backbone's tensors stay put."""
    backbone_before = {k: v.clone() for k, v in model.backbone.state_dict().items()}
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-2)
    batch = learnable_batch(n=2, size=56)
    losses = []
    for _ in range(steps):
        inputs, samples = model.data_preprocessor(batch, training=True)
        loss = sum(v for k, v in model.loss(inputs, samples).items() if "loss" in k)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.7 * losses[0], losses
    assert all(torch.equal(v, model.backbone.state_dict()[k]) for k, v in backbone_before.items())
