"""Mask2Former and MaskFormer Hub models (transformers layout) loaded into seglab's Swin mask-classification
configs: built with transformers at small sizes and random weights, saved as the Hub serves them, loaded by
``init_model(CONFIG, FOLDER)`` into the shipped config shrunk to the same sizes; the last stage's class and
mask logits agree within 1e-4 x max."""

from __future__ import annotations

import pytest
import torch

from seglab.inference import init_model

from .hub_parity import assert_close, randomise, save_hub_model, shrunk_config

transformers = pytest.importorskip("transformers")

STAGES = ["stage1", "stage2", "stage3", "stage4"]
SWIN_SIZES = dict(embed_dim=8, depths=[1, 1, 1, 1], num_heads=[1, 1, 2, 2], window_size=2)
SWIN_SEGLAB = {
    "model.backbone.init_cfg": None,
    "model.backbone.embed_dims": 8,
    "model.backbone.depths": [1, 1, 1, 1],
    "model.backbone.num_heads": [1, 1, 2, 2],
    "model.backbone.window_size": 2,
    "model.decode_head.in_channels": [8, 16, 32, 64],
    "model.decode_head.num_classes": 5,
    "model.decode_head.num_queries": 4,
    "model.decode_head.loss_cls.class_weight": [1.0] * 5 + [0.1],
}
MASK2FORMER = "mask2former_swin-t_8xb2-160k_ade20k-512x512"
ATTN = dict(embed_dims=32, num_heads=2)
MASK2FORMER_SEGLAB = {
    **SWIN_SEGLAB,
    "model.decode_head.feat_channels": 32,
    "model.decode_head.out_channels": 32,
    "model.decode_head.positional_encoding.num_feats": 16,
    "model.decode_head.pixel_decoder.positional_encoding.num_feats": 16,
    "model.decode_head.pixel_decoder.encoder.num_layers": 1,
    "model.decode_head.pixel_decoder.encoder.layer_cfg.self_attn_cfg": ATTN,
    "model.decode_head.pixel_decoder.encoder.layer_cfg.ffn_cfg": dict(embed_dims=32, feedforward_channels=48),
    "model.decode_head.transformer_decoder.num_layers": 3,
    "model.decode_head.transformer_decoder.layer_cfg.self_attn_cfg": ATTN,
    "model.decode_head.transformer_decoder.layer_cfg.cross_attn_cfg": ATTN,
    "model.decode_head.transformer_decoder.layer_cfg.ffn_cfg": dict(embed_dims=32, feedforward_channels=40),
}


def hub_mask2former(tmp_path):
    config = transformers.Mask2FormerConfig(
        backbone_config=transformers.SwinConfig(**SWIN_SIZES, out_features=STAGES),
        feature_size=32,
        mask_feature_size=32,
        hidden_dim=32,
        encoder_feedforward_dim=48,
        dim_feedforward=40,
        num_queries=4,
        decoder_layers=4,  # transformers builds decoder_layers - 1 masked-attention layers
        encoder_layers=1,
        num_attention_heads=2,
        num_labels=5,
    )
    model = randomise(transformers.Mask2FormerForUniversalSegmentation(config))
    return model, save_hub_model(model, tmp_path / "mask2former")


def test_mask2former_swin_from_a_hub_folder_gives_the_hub_models_logits(tmp_path):
    theirs, folder = hub_mask2former(tmp_path)
    ours = init_model(shrunk_config(MASK2FORMER, MASK2FORMER_SEGLAB), str(folder))
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        cls_preds, mask_preds = ours.decode_head(ours.backbone(x))
        out = theirs(pixel_values=x)
    assert_close(cls_preds[-1], out.class_queries_logits)
    assert_close(mask_preds[-1], out.masks_queries_logits)


MASKFORMER = "maskformer_swin-t_upernet_8xb2-160k_ade20k-512x512"
MASKFORMER_SEGLAB = {
    **SWIN_SEGLAB,
    "model.decode_head.feat_channels": 32,
    "model.decode_head.out_channels": 32,
    "model.decode_head.positional_encoding.num_feats": 16,
    "model.decode_head.transformer_decoder.num_layers": 2,
    "model.decode_head.transformer_decoder.layer_cfg.self_attn_cfg": ATTN,
    "model.decode_head.transformer_decoder.layer_cfg.cross_attn_cfg": ATTN,
    "model.decode_head.transformer_decoder.layer_cfg.ffn_cfg": dict(embed_dims=32, feedforward_channels=40),
}


def test_maskformer_swin_from_a_hub_folder_gives_the_hub_models_logits(tmp_path):
    decoder = transformers.DetrConfig(
        d_model=32, decoder_layers=2, decoder_attention_heads=2, decoder_ffn_dim=40, num_queries=4, encoder_layers=1
    )
    config = transformers.MaskFormerConfig(
        backbone_config=transformers.MaskFormerSwinConfig(**SWIN_SIZES, out_features=STAGES),
        decoder_config=decoder,
        fpn_feature_size=32,
        mask_feature_size=32,
        num_queries=4,
        num_labels=5,
    )
    theirs = randomise(transformers.MaskFormerForInstanceSegmentation(config))
    folder = save_hub_model(theirs, tmp_path / "maskformer")
    ours = init_model(shrunk_config(MASKFORMER, MASKFORMER_SEGLAB), str(folder))
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        cls_preds, mask_preds = ours.decode_head(ours.backbone(x))
        out = theirs(pixel_values=x)
    assert_close(cls_preds[-1], out.class_queries_logits)
    assert_close(mask_preds[-1], out.masks_queries_logits)
