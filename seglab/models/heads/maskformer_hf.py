"""transformers' ``MaskFormerForInstanceSegmentation`` (``facebook/maskformer-swin-*-ade``, the MaskFormer authors'
models) in seglab's Swin + ``MaskFormerHead``.

The computation is MMDetection's: the FPN pixel decoder (a 3x3 stem on the coarsest level, then per finer
level a 1x1 lateral + nearest-upsampled coarser + 3x3, all GroupNorm; a 3x3 ``mask_feature``), a DETR decoder
(zero queries with learned positions, post-norm self-attention, cross-attention to the projected coarsest
backbone level, FFN, a final norm) and ``num_labels + 1`` classes with "no object" last. Only names differ:
``MaskFormerSwin`` keeps its stages under ``model.`` with ``hidden_states_norms.i``, the FPN's ``layers.j``
runs coarse to fine (seglab's ``lateral_convs`` are indexed by input level), DETR's separate q/k/v
projections become ``in_proj_*``. The Hub's post-processing differs as for Mask2Former (``mask2former_hf``).
"""

from __future__ import annotations

import re

import torch
from torch import nn

from seglab.models.backbones.swin_weights import transformers_swin_to_mmseg
from seglab.models.hub_models import fuse_qkv, rename

_SWIN = "model.pixel_level_module.encoder."
_DEC = r"decoder\.layers\.(\d+)\."
_OUT = r"transformer_decoder.layers.\1."
PIXEL_DECODER_RULES = (
    (r"fpn\.stem\.0\.weight", "last_feat_conv.conv.weight"),
    (r"fpn\.stem\.1\.(weight|bias)", r"last_feat_conv.gn.\1"),
    (r"fpn\.layers\.(\d+)\.proj\.0\.weight", r"lateral_convs.\1.conv.weight"),
    (r"fpn\.layers\.(\d+)\.proj\.1\.(weight|bias)", r"lateral_convs.\1.gn.\2"),
    (r"fpn\.layers\.(\d+)\.block\.0\.weight", r"output_convs.\1.conv.weight"),
    (r"fpn\.layers\.(\d+)\.block\.1\.(weight|bias)", r"output_convs.\1.gn.\2"),
    (r"mask_projection\.(weight|bias)", r"mask_feature.\1"),
)
TRANSFORMER_RULES = (
    (r"input_projection\.(weight|bias)", r"decoder_input_proj.\1"),
    (r"queries_embedder\.weight", "query_embed.weight"),
    (_DEC + r"self_attn\.(q|k|v)_proj\.(weight|bias)", _OUT + r"self_attn.\2.\3"),
    (_DEC + r"encoder_attn\.(q|k|v)_proj\.(weight|bias)", _OUT + r"cross_attn.\2.\3"),
    (_DEC + r"self_attn\.out_proj\.(weight|bias)", _OUT + r"self_attn.attn.out_proj.\2"),
    (_DEC + r"encoder_attn\.out_proj\.(weight|bias)", _OUT + r"cross_attn.attn.out_proj.\2"),
    (_DEC + r"self_attn_layer_norm\.(weight|bias)", _OUT + r"norms.0.\2"),
    (_DEC + r"encoder_attn_layer_norm\.(weight|bias)", _OUT + r"norms.1.\2"),
    (_DEC + r"final_layer_norm\.(weight|bias)", _OUT + r"norms.2.\2"),
    (_DEC + r"fc1\.(weight|bias)", _OUT + r"ffn.layers.0.0.\2"),
    (_DEC + r"fc2\.(weight|bias)", _OUT + r"ffn.layers.1.\2"),
    (r"decoder\.layernorm\.(weight|bias)", r"transformer_decoder.post_norm.\1"),
)
PREDICTOR_RULES = (
    (r"class_predictor\.(weight|bias)", r"cls_embed.\1"),
    (r"mask_embedder\.(\d+)\.0\.(weight|bias)", r"mask_embed.\1.\2"),
)


def maskformer_swin_state(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """``MaskFormerSwin``'s tensors in transformers' ``Swin`` layout (under ``swin.``): its stages under
    ``model.``, its output norms numbered from 0."""
    out = {}
    for key, value in state.items():
        if key.startswith(_SWIN + "model."):
            out["swin." + key[len(_SWIN + "model.") :]] = value
        elif key.startswith(_SWIN + "hidden_states_norms."):
            index, leaf = key[len(_SWIN + "hidden_states_norms.") :].split(".", 1)
            out[f"swin.hidden_states_norms.stage{int(index) + 1}.{leaf}"] = value
    return out


def convert(config: dict, state: dict[str, torch.Tensor], model: nn.Module) -> tuple[dict, list[str]]:
    """(tensors in the segmentor's keys, Hub keys not converted)."""
    backbone, dropped = transformers_swin_to_mmseg(maskformer_swin_state(state), "swin.")
    pixel, unmatched_pixel = rename(state, PIXEL_DECODER_RULES, "model.pixel_level_module.decoder.")
    head, unmatched_head = rename(state, TRANSFORMER_RULES, "model.transformer_module.")
    predictors, _ = rename(state, PREDICTOR_RULES)
    levels = 1 + len({k.split(".")[1] for k in pixel if k.startswith("lateral_convs.")})
    for key, value in pixel.items():  # the FPN's layers.j (coarse to fine) is input level levels - 2 - j
        key = re.sub(r"^(lateral_convs|output_convs)\.(\d+)\.", lambda m: f"{m[1]}.{levels - 2 - int(m[2])}.", key)
        head[f"pixel_decoder.{key}"] = value
    for key, value in predictors.items():
        head[re.sub(r"^mask_embed\.(\d+)\.", lambda m: f"mask_embed.{2 * int(m[1])}.", key)] = value
    for attn in ("self_attn", "cross_attn"):
        for key in [k for k in head if k.endswith(f".{attn}.q.weight")]:
            base = key[: -len("q.weight")]
            fuse_qkv(head, tuple(f"{base}{n}.{{}}" for n in ("q", "k", "v")), f"{base}attn")
    out = {f"backbone.{k}": v for k, v in backbone.items()} | {f"decode_head.{k}": v for k, v in head.items()}
    others = [k for k in state if not k.startswith(("model.pixel_level_module.decoder.", "model.transformer_module."))]
    others = [k for k in others if not k.startswith((_SWIN, "class_predictor.", "mask_embedder."))]
    return out, dropped + unmatched_pixel + unmatched_head + others  # dropped: e.g. Swin's unused final norm
