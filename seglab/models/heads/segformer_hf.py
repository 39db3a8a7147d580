"""transformers' ``SegformerForSemanticSegmentation`` (``nvidia/segformer-b*-finetuned-*``) in seglab's
SegFormer: the MiT encoder through its backbone map, and the SegFormer authors' all-MLP head into
``SegformerHead``.

The authors' head projects each level with a Linear layer (bias, no norm, no activation); seglab's
``convs.i`` are 1x1 conv + BN (+ ``act_cfg``), so the bias goes into an identity BN, and the Hub configs set
``decode_head.act_cfg=None``. The authors concatenate the levels coarsest first; seglab finest first, so the
fusion conv's input channels are reordered.
"""

from __future__ import annotations

import logging

import torch
from torch import nn

from seglab.models.backbones.mit_weights import transformers_mit_to_mmseg
from seglab.models.hub_models import as_conv1x1, identity_norm, rename

logger = logging.getLogger("seglab")
HEAD_RULES = (
    (r"linear_fuse\.weight", "fusion_conv.conv.weight"),
    (r"batch_norm\.(weight|bias|running_mean|running_var|num_batches_tracked)", r"fusion_conv.bn.\1"),
    (r"classifier\.(weight|bias)", r"conv_seg.\1"),
    (r"linear_c\.(\d+)\.proj\.(weight|bias)", r"linear.\1.\2"),
)


def convert(config: dict, state: dict[str, torch.Tensor], model: nn.Module) -> tuple[dict, list[str]]:
    """(tensors in the segmentor's keys, Hub keys not converted)."""
    backbone, dropped = transformers_mit_to_mmseg(state, "segformer.encoder.")
    head, unmatched = rename(state, HEAD_RULES, "decode_head.")
    levels = len(config.get("hidden_sizes") or [k for k in head if k.startswith("linear.") and k.endswith("weight")])
    for i in range(levels):
        weight, bias = head.pop(f"linear.{i}.weight", None), head.pop(f"linear.{i}.bias", None)
        if weight is None:
            continue
        head[f"convs.{i}.conv.weight"] = as_conv1x1(weight)
        head.update(identity_norm(weight.shape[0], f"convs.{i}.bn", bias, _bn_eps(model, i)))
    fuse = head.get("fusion_conv.conv.weight")
    if fuse is not None and levels:
        head["fusion_conv.conv.weight"] = torch.cat(list(reversed(fuse.chunk(levels, dim=1))), dim=1)
    if getattr(getattr(model, "decode_head", None), "act_cfg", None) is not None:
        logger.warning(
            "the Hub's SegFormer head projects each level with no activation, this config's SegformerHead applies "
            "act_cfg after each projection: outputs differ; set model.decode_head.act_cfg=None (the *_hf-* configs do)"
        )
    out = {f"backbone.{k}": v for k, v in backbone.items()} | {f"decode_head.{k}": v for k, v in head.items()}
    others = [k for k in state if not k.startswith(("segformer.encoder.", "decode_head."))]
    return out, dropped + unmatched + others


def _bn_eps(model: nn.Module, index: int) -> float:
    """The eps of the config's BN after projection ``index`` (so the identity BN is exact)."""
    try:
        return float(model.decode_head.convs[index].bn.eps)
    except (AttributeError, IndexError, TypeError):
        return 1e-5
