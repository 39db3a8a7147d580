"""transformers' ConvNeXt (``backbone.*`` inside ``UperNetForSemanticSegmentation``, ``convnext.*`` in a
classifier) in the keys of mmpretrain's ``ConvNeXt`` that the UPerNet + ConvNeXt configs build. (The timm
ImageNet maps of this family are in ``convnext_weights.py``.)"""

from __future__ import annotations

import torch

CONVNEXT_RULES = (
    (r"embeddings\.patch_embeddings\.(weight|bias)", r"downsample_layers.0.0.\1"),
    (r"embeddings\.layernorm\.(weight|bias)", r"downsample_layers.0.1.\1"),
    (r"encoder\.stages\.(\d+)\.downsampling_layer\.(0|1)\.(weight|bias)", r"downsample_layers.\1.\2.\3"),
    (r"encoder\.stages\.(\d+)\.layers\.(\d+)\.dwconv\.(weight|bias)", r"stages.\1.\2.depthwise_conv.\3"),
    (r"encoder\.stages\.(\d+)\.layers\.(\d+)\.layernorm\.(weight|bias)", r"stages.\1.\2.norm.\3"),
    (r"encoder\.stages\.(\d+)\.layers\.(\d+)\.pwconv(1|2)\.(weight|bias)", r"stages.\1.\2.pointwise_conv\3.\4"),
    (r"encoder\.stages\.(\d+)\.layers\.(\d+)\.layer_scale_parameter", r"stages.\1.\2.gamma"),
    (r"hidden_states_norms\.stage(\d)\.(weight|bias)", r"norm\1.\2"),
)


def transformers_convnext_to_mmseg(
    state: dict[str, torch.Tensor], prefix: str = "convnext."
) -> tuple[dict[str, torch.Tensor], list[str]]:
    """transformers' ConvNeXt tensors (under ``prefix``) in mmpretrain ``ConvNeXt``'s keys (the per-stage
    output norms ``stageN`` become ``norm{N-1}``); and the keys left over."""
    from seglab.models.hub_models import rename

    out, unmatched = rename(state, CONVNEXT_RULES, prefix)
    renumbered = {}
    for key, value in out.items():
        if key.startswith("norm") and key[4].isdigit():
            key = f"norm{int(key[4]) - 1}{key[5:]}"
        renumbered[key] = value
    return renumbered, unmatched
