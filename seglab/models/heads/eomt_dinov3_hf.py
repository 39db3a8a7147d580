"""transformers' ``EomtDinov3ForUniversalSegmentation`` (EoMT on a DINOv3 ViT: patch size 16, storage tokens,
RoPE, layer scale, a plain or gated MLP) in seglab's ``DINOv3`` + ``EoMTHead``.

Its backbone tensors are those of transformers' ``DINOv3ViTModel`` with ``layer.{i}`` named ``layers.{i}`` and
the final ``norm`` named ``layernorm``; they are named back and read by DINOv3's own transformers map
(``dinov3_weights.py``: q/k/v fused into ``attn.qkv`` with a zero key bias, ``layer_scale{1,2}.lambda1`` as
``ls{1,2}.gamma``, ``mlp.{up,down}_proj`` as ``fc1``/``fc2``, or with a ``gate_proj`` as SwiGLU ``w1``/``w2``/
``w3``). The head's tensors are EoMT's (``eomt_hf.HEAD_RULES``). What holds no tensor is compared with the
config's model and a difference is one warning (the weights load, the logits differ): the RoPE base
(``rope_parameters.rope_theta``), the norm epsilon and ``hidden_act``, which transformers uses in the ViT's MLP
(SwiGLU's gate when gated) and also in the head's mask MLP and upscaling, where the authors' EoMT and seglab's
run GELU; so a gated (SiLU) model's head differs from seglab's, while all tue-mps models are plain GELU ViTs.

These weights are absolute: transformers' conversion script (``convert_eomt_dinov3_to_hf.py``) adds the
pre-trained DINOv3 backbone to the authors' deltas before it saves, so the segmentor's ``delta_base`` is not
used. A folder whose weights are the authors' own ``pytorch_model.bin`` (``network.*`` keys, deltas) goes to
``eomt_authors.py``, which adds ``delta_base``.
"""

from __future__ import annotations

import logging
import math

import torch
from torch import nn

from seglab.models.backbones.dinov3_weights import DINOV3_RULES, transformers_dinov3_to_original
from seglab.models.heads.eomt_hf import HEAD_RULES
from seglab.models.hub_models import rename

logger = logging.getLogger("seglab")


def as_dinov3_vit(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The backbone tensors in transformers' ``DINOv3ViTModel`` keys (``layer.{i}``, ``norm``)."""
    out = {}
    for key, value in state.items():
        if key.startswith("layers."):
            out["layer." + key[len("layers.") :]] = value
        elif key.startswith("layernorm."):
            out["norm." + key[len("layernorm.") :]] = value
        elif key.startswith("embeddings."):
            out[key] = value
    return out


def convert(config: dict, state: dict[str, torch.Tensor], model: nn.Module) -> tuple[dict, list[str]]:
    """(tensors in the segmentor's keys, Hub keys not converted)."""
    from seglab.models.heads import eomt_authors

    if eomt_authors.is_authors_layout(state):  # their pytorch_model.bin beside a transformers config.json
        return eomt_authors.convert(state, model, getattr(model, "delta_base", None))
    backbone = transformers_dinov3_to_original(as_dinov3_vit(state))
    backbone.pop("mask_token", None)
    head, _ = rename(state, HEAD_RULES)
    dropped = [k for k in state if not is_read(k, state[k])]  # e.g. criterion.empty_weight
    warn_on_settings(config, model)
    out = {f"backbone.{k}": v for k, v in backbone.items()} | {f"decode_head.{k}": v for k, v in head.items()}
    return out, dropped


def is_read(key: str, value: torch.Tensor) -> bool:
    """Whether a Hub key has a place in seglab's model (a backbone or a head rule reads it)."""
    if rename({key: value}, HEAD_RULES)[0]:
        return True
    return bool(rename(as_dinov3_vit({key: value}), DINOV3_RULES)[0]) and key != "embeddings.mask_token"


def warn_on_settings(config: dict, model: nn.Module) -> None:
    """One warning naming each setting without tensors (RoPE base, norm epsilon, activations) in which the Hub
    model differs from the config's model: the weights load, but the logits would differ."""
    backbone = getattr(model, "backbone", None)
    rope = getattr(backbone, "rope_embed", None)
    if backbone is None or rope is None:
        return
    differences = []
    theta = float((config.get("rope_parameters") or {}).get("rope_theta", config.get("rope_theta", 100.0)))
    head_dim = 4 * rope.periods.numel()
    expected = theta ** (4 * torch.arange(rope.periods.numel(), dtype=torch.float32) / head_dim)
    if not torch.allclose(rope.periods.float().cpu(), expected, rtol=1e-5):
        ours = rope.periods[1].item() ** (head_dim / 4) if rope.periods.numel() > 1 else float("nan")
        differences.append(f"rope_theta {theta:g} (the config's model: {ours:g}, model.backbone.rope_base)")
    eps = float(config.get("layer_norm_eps", 1e-6))
    if not math.isclose(eps, backbone.norm.eps, rel_tol=1e-6):
        differences.append(f"layer_norm_eps {eps:g} (the config's model: {backbone.norm.eps:g}, norm_eps)")
    act = str(config.get("hidden_act", "gelu"))
    mlp_act = "silu" if hasattr(backbone.blocks[0].mlp, "w1") else "gelu"  # SwiGLU's gate or the plain MLP
    if act != mlp_act:
        differences.append(f"hidden_act {act} in the ViT's MLP (the config's model's ffn_type runs {mlp_act})")
    if act != "gelu":
        differences.append(f"hidden_act {act} in the mask MLP and upscaling (GELU here, as in the authors' EoMT)")
    if differences:
        logger.warning(f"the EomtDinov3 Hub model differs from the config's model in {'; '.join(differences)}")
