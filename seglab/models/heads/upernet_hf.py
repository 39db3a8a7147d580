"""transformers' ``UperNetForSemanticSegmentation`` (``openmmlab/upernet-convnext-*``, ``openmmlab/upernet-swin-*``)
in seglab's UPerNet: the backbone (Swin or ConvNeXt, named by ``backbone_config.model_type``) through its
family's map, ``UPerHead`` and the auxiliary ``FCNHead`` by name (``batch_norm`` -> ``bn``, ``classifier`` ->
``conv_seg``): the Hub's UPerNet was converted from MMSegmentation's, so the heads share its structure."""

from __future__ import annotations

import torch
from torch import nn

from seglab.errors import CheckpointError
from seglab.models.hub_models import rename

CONV_HEAD_RULES = (
    (r"(.+)\.batch_norm\.(weight|bias|running_mean|running_var|num_batches_tracked)", r"\1.bn.\2"),
    (r"(.+)\.bn\.(weight|bias|running_mean|running_var|num_batches_tracked)", r"\1.bn.\2"),
    (r"(.+)\.conv\.(weight|bias)", r"\1.conv.\2"),
    (r"classifier\.(weight|bias)", r"conv_seg.\1"),
)


def conv_head(state: dict[str, torch.Tensor], prefix: str, target: str) -> tuple[dict, list[str]]:
    """A transformers head built of conv + batch_norm blocks (UperHead, FCNHead) under ``target``'s keys."""
    out, unmatched = rename(state, CONV_HEAD_RULES, prefix)
    return {f"{target}.{k}": v for k, v in out.items()}, unmatched


def backbone_map(model_type: str):
    """The transformers -> seglab key map of a UPerNet backbone."""
    if model_type == "swin":
        from seglab.models.backbones.swin_weights import transformers_swin_to_mmseg

        return transformers_swin_to_mmseg
    if model_type == "convnext":
        from seglab.models.backbones.convnext_hf import transformers_convnext_to_mmseg

        return transformers_convnext_to_mmseg
    raise CheckpointError(f"a UperNet Hub model with a {model_type!r} backbone: seglab converts swin and convnext")


def convert(config: dict, state: dict[str, torch.Tensor], model: nn.Module) -> tuple[dict, list[str]]:
    """(tensors in the segmentor's keys, Hub keys not converted)."""
    model_type = (config.get("backbone_config") or {}).get("model_type", "")
    backbone, dropped = backbone_map(model_type)(state, "backbone.")
    out = {f"backbone.{k}": v for k, v in backbone.items()}
    for part in ("decode_head", "auxiliary_head"):
        head, unmatched = conv_head(state, f"{part}.", part)
        out.update(head)
        dropped += unmatched
    others = [k for k in state if not k.startswith(("backbone.", "decode_head.", "auxiliary_head."))]
    return out, dropped + others
