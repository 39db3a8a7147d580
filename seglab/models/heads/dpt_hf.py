"""transformers' ``DPTForSemanticSegmentation`` (``Intel/dpt-large-ade``) in seglab's ViT + ``DPTHead``.

The encoder is a plain ViT (query/key/value fused into ``attn.attn.in_proj_*``), the neck's reassemble stage
and fusion stage are MMSegmentation's ``reassemble_blocks``/``convs``/``fusion_blocks`` under other names
(fusion layer i takes the i-th coarsest level in both), and the head's conv + BN + classifier are
``project`` + ``conv_seg``. A fusion residual conv with a bias and no BN (``use_batch_norm_in_fusion_residual``
False) becomes seglab's bias-free conv + an identity BN carrying the bias; with both, the bias folds into the
BN's running mean. The Hub's auxiliary head and final ``layernorm`` have no place (unused for prediction).

Differences that change outputs, each one warning: transformers resizes the position embedding bilinearly
(set ``backbone.interpolate_mode='bilinear'``) and upsamples the logits x2 with ``align_corners=True`` (seglab
resizes the stride-2 logits to the image: the same when ``decode_head.align_corners=True`` and the input side
is a multiple of 32).
"""

from __future__ import annotations

import logging

import torch
from torch import nn

from seglab.models.hub_models import fuse_qkv, identity_norm, rename

logger = logging.getLogger("seglab")
_LAYER = r"encoder\.layer\.(\d+)\."
_BN = r"(weight|bias|running_mean|running_var|num_batches_tracked)"
VIT_RULES = (
    (r"embeddings\.cls_token", "cls_token"),
    (r"embeddings\.position_embeddings", "pos_embed"),
    (r"embeddings\.patch_embeddings\.projection\.(weight|bias)", r"patch_embed.projection.\1"),
    (_LAYER + r"layernorm_before\.(weight|bias)", r"layers.\1.ln1.\2"),
    (_LAYER + r"layernorm_after\.(weight|bias)", r"layers.\1.ln2.\2"),
    (_LAYER + r"attention\.attention\.(query|key|value)\.(weight|bias)", r"layers.\1.attn.\2.\3"),
    (_LAYER + r"attention\.output\.dense\.(weight|bias)", r"layers.\1.attn.attn.out_proj.\2"),
    (_LAYER + r"intermediate\.dense\.(weight|bias)", r"layers.\1.ffn.layers.0.0.\2"),
    (_LAYER + r"output\.dense\.(weight|bias)", r"layers.\1.ffn.layers.1.\2"),
)
_RESIDUAL = r"fusion_stage\.layers\.(\d+)\.residual_layer(1|2)\."
HEAD_RULES = (
    (r"reassemble_stage\.layers\.(\d+)\.projection\.(weight|bias)", r"reassemble_blocks.projects.\1.conv.\2"),
    (r"reassemble_stage\.layers\.(\d+)\.resize\.(weight|bias)", r"reassemble_blocks.resize_layers.\1.\2"),
    (r"reassemble_stage\.readout_projects\.(\d+)\.0\.(weight|bias)", r"reassemble_blocks.readout_projects.\1.0.\2"),
    (r"convs\.(\d+)\.weight", r"convs.\1.conv.weight"),
    (r"fusion_stage\.layers\.(\d+)\.projection\.(weight|bias)", r"fusion_blocks.\1.project.conv.\2"),
    (_RESIDUAL + r"convolution(1|2)\.(weight|bias)", r"fusion_blocks.\1.res_conv_unit\2.conv\3.conv.\4"),
    (_RESIDUAL + r"batch_norm(1|2)\." + _BN, r"fusion_blocks.\1.res_conv_unit\2.conv\3.bn.\4"),
)
CLASSIFIER_RULES = (
    (r"head\.0\.weight", "project.conv.weight"),
    (r"head\.1\." + _BN, r"project.bn.\1"),
    (r"head\.4\.(weight|bias)", r"conv_seg.\1"),
)


def transformers_vit_to_mmseg(state: dict[str, torch.Tensor], prefix: str) -> tuple[dict, list[str]]:
    """transformers' ViT encoder tensors (under ``prefix``) in seglab ``VisionTransformer``'s keys; and the
    keys no rule matched (e.g. the final ``layernorm`` DPT does not use)."""
    out, unmatched = rename(state, VIT_RULES, prefix)
    for key in [k for k in out if k.endswith(".attn.query.weight")]:
        base = key[: -len("query.weight")]
        fuse_qkv(out, tuple(f"{base}{n}.{{}}" for n in ("query", "key", "value")), f"{base}attn")
    return out, unmatched


def convert(config: dict, state: dict[str, torch.Tensor], model: nn.Module) -> tuple[dict, list[str]]:
    """(tensors in the segmentor's keys, Hub keys not converted)."""
    backbone, dropped = transformers_vit_to_mmseg(state, "dpt.")
    neck, unmatched = rename(state, HEAD_RULES, "neck.")
    head, unmatched_head = rename(state, CLASSIFIER_RULES, "head.")
    neck = {k: v for k, v in neck.items() if not k.startswith("fusion_blocks.0.res_conv_unit1.")}  # never used
    _fold_residual_biases(neck, model)
    _warn_differences(model)
    out = {f"backbone.{k}": v for k, v in backbone.items()}
    out.update({f"decode_head.{k}": v for k, v in {**neck, **head}.items()})
    others = [k for k in state if not k.startswith(("dpt.", "neck.", "head."))]
    return out, dropped + unmatched + unmatched_head + others


def _fold_residual_biases(head: dict[str, torch.Tensor], model: nn.Module) -> None:
    """A residual conv's bias into its BN (an identity BN when the Hub model has none), in place."""
    eps = _residual_bn_eps(model)
    for key in [k for k in head if k.endswith(".conv.bias") and ".res_conv_unit" in k]:
        bias, norm = head.pop(key), key[: -len("conv.bias")] + "bn"
        if f"{norm}.running_mean" not in head:
            head.update(identity_norm(bias.shape[0], norm, bias, eps))
        else:  # BN(conv + b) == BN with its running mean moved by -b
            head[f"{norm}.running_mean"] = head[f"{norm}.running_mean"] - bias


def _residual_bn_eps(model: nn.Module) -> float:
    try:
        return float(model.decode_head.fusion_blocks[0].res_conv_unit2.conv1.bn.eps)
    except (AttributeError, IndexError, TypeError):
        return 1e-5


def _warn_differences(model: nn.Module) -> None:
    backbone, head = getattr(model, "backbone", None), getattr(model, "decode_head", None)
    if getattr(backbone, "interpolate_mode", "bilinear") != "bilinear":
        logger.warning(
            "the Hub's DPT resizes its position embedding bilinearly, this config's VisionTransformer with "
            f"{backbone.interpolate_mode!r}: outputs differ at other input sizes; set "
            "model.backbone.interpolate_mode='bilinear' (the *_hf-* configs do)"
        )
    if getattr(head, "align_corners", True) is not True:
        logger.warning(
            "the Hub's DPT upsamples its logits x2 with align_corners=True, this config's DPTHead resizes with "
            "align_corners=False: outputs differ slightly; set model.decode_head.align_corners=True (the *_hf-* configs do)"
        )
