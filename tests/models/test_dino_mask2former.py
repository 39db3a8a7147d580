"""DINOv2 / DINOv3 + Mask2Former configs: each resolves and builds on the meta device with four evenly spaced
blocks feeding a four-level pyramid into the head, names a registered pre-trained source (the ``seglab zoo
--pretrained`` path) and states no result; the optimiser gives every backbone parameter the lr its layer id
asks for; a shrunk model predicts and takes a training step with the configs' own optimiser; the CPU-sized config
reads the same data as the linear probe's."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from seglab import zoo
from seglab.config import Config
from seglab.engine.optim import build_optim_wrapper, param_groups
from seglab.fileio import checkpoint
from seglab.fileio.sources import known
from seglab.models import builder
from seglab.models.layers.dino_blocks import LayerScale

from .hub_parity import shrunk_config
from .test_models import learnable_batch

ADE, CITYSCAPES, CPU = "8xb2-160k_ade20k-512x512", "8xb2-90k_cityscapes-512x1024", "1xb4-2k_my-data-360x480"
CONFIGS = {  # name -> (classes, layers, patch size)
    **{f"dinov2/dinov2-{s}_mask2former_{ADE}": (150, n, 14) for s, n in (("s", 12), ("b", 12), ("l", 24))},
    **{f"dinov2/dinov2-{s}_mask2former_{CITYSCAPES}": (19, n, 14) for s, n in (("s", 12), ("b", 12), ("l", 24))},
    **{f"dinov3/dinov3-{s}_mask2former_{ADE}": (150, n, 16) for s, n in (("b", 12), ("l", 24))},
    f"dinov2/dinov2-s_mask2former_{CPU}": (11, 12, 14),
}
NO_WEIGHT_DECAY = ("cls_token", "pos_embed", "register_tokens", "storage_tokens")


def test_every_shipped_dino_mask2former_config_is_tested_here():
    shipped = {name for name in zoo.shipped_configs() if "mask2former" in name and name.startswith("dino")}
    assert shipped == set(CONFIGS)


def _built_with_sources(name: str, monkeypatch) -> tuple[Config, nn.Module, list[str]]:
    """``seglab zoo --pretrained NAME``'s path with the download replaced: the meta-built model it walks and
    the checkpoint names it would fetch."""
    built, fetched, build_on_meta = [], [], builder.build_on_meta
    monkeypatch.setattr(builder, "build_on_meta", lambda cfg: built.append(build_on_meta(cfg)) or built[-1])
    monkeypatch.setattr(checkpoint, "fetch", lambda source: fetched.append(source) or source)
    zoo.download_pretrained(name)
    return Config.fromfile(str(zoo.config_source(name))), built[0], fetched


def _expected_optimiser_settings(model: nn.Module, num_layers: int) -> dict[str, tuple[float, float]]:
    """name -> (lr, weight decay) the Mask2Former Swin recipe with layer-wise decay gives: the backbone at 0.1x
    and 0.9 per layer id below the top (the backbone's own ids), no decay on norms, layer scales, tokens,
    position tables and queries."""
    backbone = model.backbone
    expected = {}
    for module_name, module in model.named_modules():
        for param_name, _ in module.named_parameters(recurse=False):
            full = f"{module_name}.{param_name}"
            no_decay = isinstance(module, nn.LayerNorm | nn.GroupNorm | nn.BatchNorm2d | LayerScale)
            lr = 1e-4
            if full.startswith("backbone."):
                layer = backbone.layer_id(full[len("backbone.") :], num_layers, "layer_wise")
                lr *= 0.1 * 0.9 ** (num_layers + 1 - layer)
                no_decay = no_decay or param_name in NO_WEIGHT_DECAY
            no_decay = no_decay or module_name.endswith(("query_embed", "query_feat", "level_embed"))
            expected[full] = (lr, 0.0 if no_decay else 0.05)
    return expected


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_config_builds_a_pyramid_into_mask2former_with_registered_weights(name, monkeypatch):
    classes, layers, patch = CONFIGS[name]
    cfg, model, sources = _built_with_sources(name, monkeypatch)
    assert all(p.is_meta for p in model.parameters())
    backbone, dims = model.backbone, model.backbone.embed_dims
    assert len(backbone.blocks) == layers and backbone.patch_size == patch
    step = layers // 4
    assert backbone.out_indices == tuple(range(step - 1, layers, step))  # four evenly spaced, the last one last
    assert model.neck.rescales == [4, 2, 1, 0.5] and model.neck.upsample_2x[0].in_channels == dims
    assert [p.in_channels for p in model.decode_head.pixel_decoder.input_convs] == [dims] * 3
    assert model.decode_head.cls_embed.out_features == classes + 1
    assert len(cfg.model.decode_head.loss_cls.class_weight) == classes + 1
    assert cfg.model.data_preprocessor.test_cfg.size_divisor == patch
    assert zoo.stated_result(zoo.find_shipped(name)) is None  # no published result for these combinations
    assert sources == [backbone.init_cfg["checkpoint"]] and known(sources[0]) is not None
    if backbone.frozen:  # the CPU-sized config: neck and head train
        assert not any(p.requires_grad for p in backbone.parameters())
        return
    groups = param_groups(model, 1e-4, 0.05, cfg.optim_wrapper.paramwise_cfg)
    got = {g["name"]: (g["lr"], g["weight_decay"]) for g in groups}
    expected = _expected_optimiser_settings(model, layers)
    assert got.keys() == expected.keys()
    wrong = {k: (got[k], v) for k, v in expected.items() if not all(map(math.isclose, got[k], v))}
    assert not wrong, list(wrong.items())[:5]


TINY = {
    "model.backbone.init_cfg": None, "model.backbone.embed_dims": 32, "model.backbone.num_heads": 2,
    "model.backbone.num_layers": 4, "model.backbone.out_indices": (0, 1, 2, 3), "model.backbone.img_size": 56,
    "model.neck.embed_dim": 32, "model.neck.norm_cfg": dict(type="BN", requires_grad=True),
    "model.decode_head.in_channels": [32] * 4, "model.decode_head.feat_channels": 32,
    "model.decode_head.out_channels": 32, "model.decode_head.num_queries": 8, "model.decode_head.num_classes": 3,
    "model.decode_head.loss_cls.class_weight": [1.0] * 3 + [0.1],
    "model.decode_head.positional_encoding.num_feats": 16, "model.decode_head.train_cfg.num_points": 256,
    "model.decode_head.pixel_decoder": dict(
        norm_cfg=dict(num_groups=8), positional_encoding=dict(num_feats=16),
        encoder=dict(num_layers=1, layer_cfg=dict(
            self_attn_cfg=dict(embed_dims=32, num_heads=2), ffn_cfg=dict(embed_dims=32, feedforward_channels=64)))),
    "model.decode_head.transformer_decoder": dict(num_layers=2, layer_cfg=dict(
        self_attn_cfg=dict(embed_dims=32, num_heads=2), cross_attn_cfg=dict(embed_dims=32, num_heads=2),
        ffn_cfg=dict(embed_dims=32, feedforward_channels=64))),
}  # fmt: skip


@pytest.mark.parametrize("name", [f"dinov2/dinov2-s_mask2former_{ADE}", f"dinov2/dinov2-s_mask2former_{CPU}"])
def test_shrunk_model_predicts_and_takes_a_step_with_the_configs_optimiser(name, one_thread):
    """The whole ViT trains under the ADE20K recipe; the CPU-sized config trains the neck and head only."""
    torch.manual_seed(0)
    cfg = shrunk_config(name, TINY)
    model = builder.build_model(cfg.model, load_pretrained=False)
    optim = build_optim_wrapper(model, cfg.optim_wrapper)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    model.train()
    losses = model.loss(*model.data_preprocessor(learnable_batch(n=1, size=64), training=True))
    assert {"decode.loss_cls", "decode.loss_mask", "decode.loss_dice", "decode.d0.loss_cls"} <= set(losses)
    loss = sum(v for k, v in losses.items() if "loss" in k)
    assert torch.isfinite(loss)
    optim.update(loss)
    after = model.state_dict()
    for key in ("backbone.blocks.0.attn.qkv.weight", "neck.upsample_4x.0.weight", "decode_head.query_feat.weight"):
        trains = not (key.startswith("backbone.") and model.backbone.frozen)
        assert torch.equal(before[key], after[key]) != trains, f"{key}: trains {trains}"
    model.eval()
    inputs, samples = model.data_preprocessor(learnable_batch(n=1, size=64), training=False)
    assert inputs.shape[-2:] == (70, 70)  # padded to whole patches: the ViT sees every pixel
    with torch.no_grad():
        assert model.predict(inputs, samples)[0]["pred_sem_seg"].shape[-2:] == (64, 64)


def test_cpu_sized_config_reads_the_linear_probes_data():
    mask2former = Config.fromfile(str(zoo.config_source(f"dinov2/dinov2-s_mask2former_{CPU}")))
    linear = Config.fromfile(str(zoo.config_source(f"dinov2/dinov2-s_linear_{CPU}")))
    for key in ("train_dataloader", "val_dataloader", "test_dataloader", "val_evaluator", "train_cfg", "crop_size"):
        assert mask2former[key] == linear[key], key
    assert mask2former.model.data_preprocessor.size == linear.model.data_preprocessor.size
    assert mask2former.model.decode_head.num_classes == linear.model.decode_head.num_classes
