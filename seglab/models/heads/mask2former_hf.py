"""transformers' ``Mask2FormerForUniversalSegmentation`` (``facebook/mask2former-swin-*-{ade,cityscapes}-semantic``,
the Mask2Former authors' models) in seglab's Swin + ``Mask2FormerHead``.

The computation is MMDetection's: the same multi-scale deformable-attention pixel decoder (input projection
+ GroupNorm, level embedding, sine positions without offset, one FPN level to stride 4, ``mask_feature``), the
same masked-attention decoder (cross-attention, self-attention, FFN, each post-norm; masks thresholded at 0.5
and an all-masked query attending everywhere) and ``num_labels + 1`` classes with "no object" last. Only names
differ: the decoder's separate q/k/v projections become ``in_proj_*``, its norms are ordered cross, self,
final (``norms.0..2``), ``mask_embedder.i.0`` is ``mask_embed.2i``.

Not in the model: transformers' ``post_process_semantic_segmentation`` resizes the mask logits to a fixed
384x384 before combining them with the class scores and resizing to the image; seglab combines them at the
input's size, as MMSegmentation does, so the argmax can differ along class borders.
"""

from __future__ import annotations

import re

import torch
from torch import nn

from seglab.models.backbones.swin_weights import transformers_swin_to_mmseg
from seglab.models.hub_models import fuse_qkv, rename

_ENC = r"encoder\.layers\.(\d+)\."
_DEC = r"decoder\.layers\.(\d+)\."
PIXEL_DECODER_RULES = (
    (r"input_projections\.(\d+)\.0\.(weight|bias)", r"input_convs.\1.conv.\2"),
    (r"input_projections\.(\d+)\.1\.(weight|bias)", r"input_convs.\1.gn.\2"),
    (r"level_embed", "level_encoding.weight"),
    (_ENC + r"self_attn\.(sampling_offsets|attention_weights|value_proj|output_proj)\.(weight|bias)",
     r"encoder.layers.\1.self_attn.\2.\3"),
    (_ENC + r"self_attn_layer_norm\.(weight|bias)", r"encoder.layers.\1.norms.0.\2"),
    (_ENC + r"fc1\.(weight|bias)", r"encoder.layers.\1.ffn.layers.0.0.\2"),
    (_ENC + r"fc2\.(weight|bias)", r"encoder.layers.\1.ffn.layers.1.\2"),
    (_ENC + r"final_layer_norm\.(weight|bias)", r"encoder.layers.\1.norms.1.\2"),
    (r"adapter_(\d+)\.0\.weight", r"lateral_convs.\1.conv.weight"),
    (r"adapter_(\d+)\.1\.(weight|bias)", r"lateral_convs.\1.gn.\2"),
    (r"layer_(\d+)\.0\.weight", r"output_convs.\1.conv.weight"),
    (r"layer_(\d+)\.1\.(weight|bias)", r"output_convs.\1.gn.\2"),
    (r"mask_projection\.(weight|bias)", r"mask_feature.\1"),
)  # fmt: skip
TRANSFORMER_RULES = (
    (r"queries_features\.weight", "query_feat.weight"),
    (r"queries_embedder\.weight", "query_embed.weight"),
    (r"level_embed\.weight", "level_embed.weight"),
    (r"input_projections\.(\d+)\.(weight|bias)", r"decoder_input_projs.\1.\2"),
    (_DEC + r"self_attn\.(q|k|v)_proj\.(weight|bias)", r"transformer_decoder.layers.\1.self_attn.\2.\3"),
    (_DEC + r"self_attn\.out_proj\.(weight|bias)", r"transformer_decoder.layers.\1.self_attn.attn.out_proj.\2"),
    (_DEC + r"cross_attn\.(in_proj_weight|in_proj_bias)", r"transformer_decoder.layers.\1.cross_attn.attn.\2"),
    (_DEC + r"cross_attn\.out_proj\.(weight|bias)", r"transformer_decoder.layers.\1.cross_attn.attn.out_proj.\2"),
    (_DEC + r"cross_attn_layer_norm\.(weight|bias)", r"transformer_decoder.layers.\1.norms.0.\2"),
    (_DEC + r"self_attn_layer_norm\.(weight|bias)", r"transformer_decoder.layers.\1.norms.1.\2"),
    (_DEC + r"final_layer_norm\.(weight|bias)", r"transformer_decoder.layers.\1.norms.2.\2"),
    (_DEC + r"fc1\.(weight|bias)", r"transformer_decoder.layers.\1.ffn.layers.0.0.\2"),
    (_DEC + r"fc2\.(weight|bias)", r"transformer_decoder.layers.\1.ffn.layers.1.\2"),
    (r"decoder\.layernorm\.(weight|bias)", r"transformer_decoder.post_norm.\1"),
    (r"decoder\.mask_predictor\.mask_embedder\.(\d+)\.0\.(weight|bias)", r"mask_embed.\1.\2"),
)
CLASSIFIER_RULES = ((r"class_predictor\.(weight|bias)", r"cls_embed.\1"),)


def convert(config: dict, state: dict[str, torch.Tensor], model: nn.Module) -> tuple[dict, list[str]]:
    """(tensors in the segmentor's keys, Hub keys not converted)."""
    backbone, dropped = transformers_swin_to_mmseg(state, "model.pixel_level_module.encoder.")
    pixel, unmatched_pixel = rename(state, PIXEL_DECODER_RULES, "model.pixel_level_module.decoder.")
    head, unmatched_head = rename(state, TRANSFORMER_RULES, "model.transformer_module.")
    classifier, _ = rename(state, CLASSIFIER_RULES)
    head.update(_renumber(pixel, prefix="pixel_decoder."))
    head = _renumber(head)
    head.update(classifier)
    for key in [k for k in head if k.endswith(".self_attn.q.weight")]:
        base = key[: -len("q.weight")]
        fuse_qkv(head, tuple(f"{base}{n}.{{}}" for n in ("q", "k", "v")), f"{base}attn")
    out = {f"backbone.{k}": v for k, v in backbone.items()} | {f"decode_head.{k}": v for k, v in head.items()}
    others = [k for k in state if not k.startswith(("model.", "class_predictor."))]  # e.g. criterion.empty_weight
    return out, dropped + unmatched_pixel + unmatched_head + others


def _renumber(tensors: dict[str, torch.Tensor], prefix: str = "") -> dict[str, torch.Tensor]:
    """``adapter_k``/``layer_k`` (1-based, finest first) are seglab's ``lateral_convs``/``output_convs`` indexed
    by input level (0-based); ``mask_embedder.i`` is the i-th Linear of ``mask_embed`` (a Sequential with ReLUs)."""
    out = {}
    for key, value in tensors.items():
        key = re.sub(r"^(lateral_convs|output_convs)\.(\d+)\.", lambda m: f"{m[1]}.{int(m[2]) - 1}.", key)
        key = re.sub(r"^mask_embed\.(\d+)\.", lambda m: f"mask_embed.{2 * int(m[1])}.", key)
        out[prefix + key] = value
    return out
