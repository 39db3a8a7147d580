"""OpenAI CLIP's checkpoint layout -> MMSegmentation's SAN layout, as MMSegmentation's
tools/model_converters/clip2mmseg.py converts it: the visual tower's first ``visual_split`` layers become
``image_encoder`` (ViT names), the rest ``decode_head.rec_with_attnbias`` (MMCV transformer-layer names) with
``ln_post`` and ``proj`` (transposed into a Linear weight); the text tower becomes ``text_encoder``."""

from __future__ import annotations

import torch

VIT_LAYER = {
    "ln_1": "ln1",
    "ln_2": "ln2",
    "attn": "attn.attn",
    "mlp.c_fc": "ffn.layers.0.0",
    "mlp.c_proj": "ffn.layers.1",
}
MMCV_LAYER = {
    "ln_1": "norms.0",
    "ln_2": "norms.1",
    "attn": "attentions.0.attn",
    "mlp.c_fc": "ffns.0.layers.0.0",
    "mlp.c_proj": "ffns.0.layers.1",
}
TEXT_KEYS = (
    "positional_embedding",
    "text_projection",
    "bg_embed",
    "attn_mask",
    "logit_scale",
    "token_embedding",
    "ln_final",
)


def is_openai_clip(state: dict) -> bool:
    return "visual.conv1.weight" in state


def _layer_param(rest: str, names: dict[str, str]) -> str:
    """'mlp.c_fc.weight' -> names['mlp.c_fc'] + '.weight' (the longest matching prefix)."""
    for old in sorted(names, key=len, reverse=True):
        if rest.startswith(old + "."):
            return names[old] + rest[len(old) :]
    raise KeyError(rest)


def convert_openai_clip(state: dict[str, torch.Tensor], visual_split: int) -> dict[str, torch.Tensor]:
    """Keys the converter does not know (``input_resolution``, ``context_length``, ``vocab_size``) are dropped."""
    out: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        parts = key.split(".")
        if parts[0] == "visual":
            name = parts[1]
            if name == "class_embedding":
                out["image_encoder.cls_token"] = value[None, None]
            elif name == "positional_embedding":
                out["image_encoder.pos_embed"] = value[None]
            elif name == "conv1":
                out[f"image_encoder.patch_embed.projection.{parts[2]}"] = value
            elif name == "ln_pre":
                out[f"image_encoder.ln_pre.{parts[2]}"] = value
            elif name == "transformer":
                index, rest = int(parts[3]), ".".join(parts[4:])
                if index < visual_split:
                    out[f"image_encoder.layers.{index}.{_layer_param(rest, VIT_LAYER)}"] = value
                else:
                    layer = f"decode_head.rec_with_attnbias.layers.{index - visual_split}"
                    out[f"{layer}.{_layer_param(rest, MMCV_LAYER)}"] = value
            elif name == "proj":
                out["decode_head.rec_with_attnbias.proj.weight"] = value.t()
            elif name == "ln_post":
                out["decode_head.rec_with_attnbias." + ".".join(parts[1:])] = value
        elif parts[0] == "transformer":
            out[f"text_encoder.transformer.{parts[2]}.{_layer_param('.'.join(parts[3:]), MMCV_LAYER)}"] = value
        elif parts[0] in TEXT_KEYS:
            out["text_encoder." + key] = value
    return out
