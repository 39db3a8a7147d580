"""transformers' ``BeitForSemanticSegmentation`` (``microsoft/beit-*-finetuned-ade-640-640``) in seglab's
BEiT + UPerNet: the encoder into ``BEiT`` (query/key/value into one ``qkv`` weight with separate q/v biases,
``lambda_1/2`` -> ``gamma_1/2``), transformers' ``fpn1..fpn4`` into the ``Feature2Pyramid`` neck, and the
UperHead/FCNHead blocks by name (``seglab.models.heads.upernet_hf``)."""

from __future__ import annotations

import logging

import torch
from torch import nn

from seglab.models.heads.upernet_hf import conv_head
from seglab.models.hub_models import rename

logger = logging.getLogger("seglab")
_LAYER = r"encoder\.layer\.(\d+)\."
BEIT_RULES = (
    (r"embeddings\.cls_token", "cls_token"),
    (r"embeddings\.patch_embeddings\.projection\.(weight|bias)", r"patch_embed.projection.\1"),
    (_LAYER + r"lambda_(1|2)", r"layers.\1.gamma_\2"),
    (_LAYER + r"layernorm_before\.(weight|bias)", r"layers.\1.ln1.\2"),
    (_LAYER + r"layernorm_after\.(weight|bias)", r"layers.\1.ln2.\2"),
    (_LAYER + r"attention\.attention\.(query|key|value)\.(weight|bias)", r"layers.\1.attn.\2.\3"),
    (
        _LAYER + r"attention\.attention\.relative_position_bias\.relative_position_bias_table",
        r"layers.\1.attn.relative_position_bias_table",
    ),
    (_LAYER + r"attention\.output\.dense\.(weight|bias)", r"layers.\1.attn.proj.\2"),
    (_LAYER + r"intermediate\.dense\.(weight|bias)", r"layers.\1.ffn.layers.0.0.\2"),
    (_LAYER + r"output\.dense\.(weight|bias)", r"layers.\1.ffn.layers.1.\2"),
)
NECK_RULES = (
    (r"fpn1\.(0|1|3)\.(weight|bias|running_mean|running_var|num_batches_tracked)", r"upsample_4x.\1.\2"),
    (r"fpn2\.0\.(weight|bias)", r"upsample_2x.0.\1"),
)


def transformers_beit_to_mmseg(
    state: dict[str, torch.Tensor], prefix: str = "beit."
) -> tuple[dict[str, torch.Tensor], list[str]]:
    """transformers' BEiT encoder tensors (under ``prefix``) in seglab ``BEiT``'s keys; and the keys left over."""
    out, unmatched = rename(state, BEIT_RULES, prefix)
    for key in [k for k in out if k.endswith(".attn.query.weight")]:
        base = key[: -len("query.weight")]
        out[f"{base}qkv.weight"] = torch.cat([out.pop(f"{base}{n}.weight") for n in ("query", "key", "value")])
        for name, target in (("query", "q_bias"), ("value", "v_bias")):
            if f"{base}{name}.bias" in out:
                out[f"{base}{target}"] = out.pop(f"{base}{name}.bias")
    return out, unmatched


def convert(config: dict, state: dict[str, torch.Tensor], model: nn.Module) -> tuple[dict, list[str]]:
    """(tensors in the segmentor's keys, Hub keys not converted)."""
    backbone, dropped = transformers_beit_to_mmseg(state, "beit.")
    check_out_indices(config, model)
    out = {f"backbone.{k}": v for k, v in backbone.items()}
    neck, _ = rename(state, NECK_RULES)
    out.update({f"neck.{k}": v for k, v in neck.items()})
    for part in ("decode_head", "auxiliary_head"):
        head, unmatched = conv_head(state, f"{part}.", part)
        out.update(head)
        dropped += unmatched
    used = ("beit.", "decode_head.", "auxiliary_head.", "fpn1.", "fpn2.")
    return out, dropped + [k for k in state if not k.startswith(used)]


def check_out_indices(config: dict, model: nn.Module) -> None:
    """transformers feeds the neck ``hidden_states[i - 1]`` for each ``out_indices`` entry i, hidden_states[0]
    being the embeddings: the output of layer i - 2. A config reading other layers gets one warning."""
    wanted = [int(i) - 2 for i in config.get("out_indices") or []]
    have = list(getattr(getattr(model, "backbone", None), "out_indices", wanted))
    if wanted and have != wanted:
        logger.warning(
            f"the Hub BEiT feeds its neck the outputs of layers {wanted} (transformers out_indices "
            f"{config.get('out_indices')}), this config's backbone out_indices={have}: outputs differ; set "
            f"model.backbone.out_indices={wanted}"
        )
