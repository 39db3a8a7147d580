"""transformers' ``EomtForUniversalSegmentation`` (the EoMT authors' fine-tuned models on the Hub, e.g.
``tue-mps/ade20k_semantic_eomt_large_512`` and ``tue-mps/cityscapes_semantic_eomt_large_1024``: DINOv2 ViTs with
patch size 16 and 4 registers) in seglab's ``DINOv2`` + ``EoMTHead``.

Only names differ: ``layers.{i}`` are ``blocks.{i}`` with separate q/k/v (fused into ``attn.qkv``), a split
SwiGLU (fused into ``mlp.w12``), ``layer_scale{1,2}.lambda1`` as ``ls{1,2}.gamma`` and ``layernorm`` as the
ViT's final ``norm``; the position embedding has no class-token entry (seglab's gets zeros there, so the sum
is the same). The head's ``query``, ``upscale_block.block.{j}``, ``mask_head.fc{1,2,3}``, ``class_predictor``
and the annealing state ``attn_mask_probs`` (zeros in a fully trained model: no masks at inference) map one to
one. transformers' model runs only at its ``image_size``; seglab's interpolates the position embedding.
A folder whose ``config.json`` names this class but whose weights are the authors' own ``pytorch_model.bin``
(``network.*`` keys) goes to the authors' converter (``eomt_authors.py``). transformers' DINOv3 class,
``EomtDinov3ForUniversalSegmentation``, is converted by ``eomt_dinov3_hf.py``.
"""

from __future__ import annotations

import torch
from torch import nn

from seglab.models.backbones.dinov2_weights import fuse_attention_and_swiglu
from seglab.models.hub_models import rename

_LAYER = r"layers\.(\d+)\."
BACKBONE_RULES = (
    (r"embeddings\.cls_token", "cls_token"),
    (r"embeddings\.register_tokens", "register_tokens"),
    (r"embeddings\.patch_embeddings\.projection\.(weight|bias)", r"patch_embed.proj.\1"),
    (_LAYER + r"norm(1|2)\.(weight|bias)", r"blocks.\1.norm\2.\3"),
    (_LAYER + r"layer_scale(1|2)\.lambda1", r"blocks.\1.ls\2.gamma"),
    (_LAYER + r"attention\.(q_proj|k_proj|v_proj)\.(weight|bias)", r"blocks.\1.\2.\3"),
    (_LAYER + r"attention\.out_proj\.(weight|bias)", r"blocks.\1.attn.proj.\2"),
    (_LAYER + r"mlp\.fc(1|2)\.(weight|bias)", r"blocks.\1.mlp.fc\2.\3"),
    (_LAYER + r"mlp\.down_proj\.(weight|bias)", r"blocks.\1.mlp.w3.\2"),
    (_LAYER + r"mlp\.(gate_proj|up_proj)\.(weight|bias)", r"blocks.\1.\2.\3"),
    (r"layernorm\.(weight|bias)", r"norm.\1"),
)
HEAD_RULES = (
    (r"query\.weight", "query.weight"),
    (r"class_predictor\.(weight|bias)", r"cls_embed.\1"),
    (r"mask_head\.fc1\.(weight|bias)", r"mask_embed.0.\1"),
    (r"mask_head\.fc2\.(weight|bias)", r"mask_embed.2.\1"),
    (r"mask_head\.fc3\.(weight|bias)", r"mask_embed.4.\1"),
    (r"upscale_block\.block\.(\d+)\.(conv1|conv2)\.(weight|bias)", r"upscale.\1.\2.\3"),
    (r"upscale_block\.block\.(\d+)\.layernorm2d\.(weight|bias)", r"upscale.\1.norm.\2"),
    (r"attn_mask_probs", "attn_mask_probs"),
)


def convert(config: dict, state: dict[str, torch.Tensor], model: nn.Module) -> tuple[dict, list[str]]:
    """(tensors in the segmentor's keys, Hub keys not converted)."""
    from seglab.models.heads import eomt_authors

    if eomt_authors.is_authors_layout(state):
        return eomt_authors.convert(state, model, getattr(model, "delta_base", None))
    backbone, _ = rename(state, BACKBONE_RULES)
    backbone = fuse_attention_and_swiglu(backbone, int(config.get("num_hidden_layers", 0)))
    if backbone.get("register_tokens") is not None and backbone["register_tokens"].shape[1] == 0:
        del backbone["register_tokens"]
    pos = state.get("embeddings.position_embeddings.weight")
    if pos is not None:
        backbone["pos_embed"] = torch.cat((pos.new_zeros(1, pos.shape[1]), pos))[None]
    head, _ = rename(state, HEAD_RULES)
    used = {"embeddings.position_embeddings.weight"}
    used |= {k for k in state if rename({k: state[k]}, BACKBONE_RULES + HEAD_RULES)[0]}
    dropped = [k for k in state if k not in used]  # e.g. criterion.empty_weight
    out = {f"backbone.{k}": v for k, v in backbone.items()} | {f"decode_head.{k}": v for k, v in head.items()}
    return out, dropped
