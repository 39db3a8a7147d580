"""Layer-wise learning-rate decay: MMSegmentation's ``LearningRateDecayOptimizerConstructor``.

A config sets ``optim_wrapper=dict(constructor='LearningRateDecayOptimizerConstructor',
paramwise_cfg=dict(decay_rate=0.9, decay_type='stage_wise', num_layers=12), ...)``. Each backbone
parameter gets a layer id (the stem 0, deeper layers higher, the heads above the backbone) and the learning
rate ``base_lr * decay_rate ** (num_layers + 1 - layer_id)``, so layers near the input, which pre-training
already shaped, move least. Parameters that are 1-D or named ``*.bias`` get no weight decay.

The layer-id rules are MMSegmentation 1.2.2's, picked by the backbone's class name and ``decay_type``
(``LAYER_RULES``); a family with its own rules (BEiT/MAE's ``layer_wise`` ids, the deprecated
``LayerDecayOptimizerConstructor``) adds a rule and, if needed, a ``CONSTRUCTORS`` entry here.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from torch import nn

from seglab.errors import ConfigError

logger = logging.getLogger("seglab")

DECAY_KEYS = {"decay_rate", "decay_type", "num_layers"}


def convnext_layer_id(name: str, num_layers: int) -> int:
    """``layer_wise`` for ConvNeXt: stem 0, stage 1 and its downsampling 2 (stage 0 is 1), stage 2's blocks in
    threes from 3, the last stage and its downsampling ``num_layers``, everything else ``num_layers + 1``."""
    if name in ("backbone.cls_token", "backbone.mask_token", "backbone.pos_embed"):
        return 0
    parts = name.split(".")
    if name.startswith("backbone.downsample_layers"):
        return {0: 0, 1: 2, 2: 3}.get(int(parts[2]), num_layers)
    if name.startswith("backbone.stages"):
        stage, block = int(parts[2]), int(parts[3])
        if stage == 2:
            return 3 + block // 3
        return {0: 1, 1: 2}.get(stage, num_layers)
    return num_layers + 1


def convnext_stage_id(name: str, max_stage_id: int) -> int:
    """``stage_wise`` for ConvNeXt: every downsampling layer 0, stage ``i`` ``i + 1``, the rest (output
    norms, heads) ``max_stage_id - 1``."""
    if name in ("backbone.cls_token", "backbone.mask_token", "backbone.pos_embed"):
        return 0
    if name.startswith("backbone.downsample_layers"):
        return 0
    if name.startswith("backbone.stages"):
        return int(name.split(".")[2]) + 1
    return max_stage_id - 1


def vit_layer_id(name: str, max_layer_id: int) -> int:
    """BEiT/MAE: class token, position embedding and patch embedding 0, block ``i`` ``i + 1``, everything
    else (final norm, neck, heads) ``max_layer_id - 1``; MMSegmentation passes ``num_layers + 2``."""
    if name in ("backbone.cls_token", "backbone.mask_token", "backbone.pos_embed"):
        return 0
    if name.startswith("backbone.patch_embed"):
        return 0
    if name.startswith("backbone.layers"):
        return int(name.split(".")[2]) + 1
    return max_layer_id - 1


# (backbone class-name fragments, decay types whose name contains the key, rule(name, num_layers) -> id).
# As in MMSegmentation, 'layer_wise' matches any decay_type containing it ('layer_wise_vit' too) and the
# stage-wise rule gets num_layers + 2.
LAYER_RULES: list[tuple[tuple[str, ...], str, Callable[[str, int], int]]] = [
    (("ConvNeXt",), "layer_wise", convnext_layer_id),
    (("ConvNeXt",), "stage_wise", lambda name, n: convnext_stage_id(name, n + 2)),
    (("BEiT", "MAE"), "layer_wise", lambda name, n: vit_layer_id(name, n + 2)),
]


def layer_rule(backbone: nn.Module, decay_type: str) -> Callable[[str, int], int]:
    """The layer-id rule for this backbone class and ``decay_type``, or a ConfigError naming what exists."""
    class_name = type(backbone).__name__
    for fragments, kind, rule in LAYER_RULES:
        matches_type = kind in decay_type if kind == "layer_wise" else kind == decay_type
        if matches_type and any(f in class_name for f in fragments):
            return rule
    known = ", ".join(f"{'/'.join(f)} ({kind})" for f, kind, _ in LAYER_RULES)
    raise ConfigError(
        f"optim_wrapper.paramwise_cfg: decay_type '{decay_type}' has no layer rule for a {class_name} backbone; "
        f"rules exist for {known}"
    )


def learning_rate_decay_groups(model: nn.Module, base_lr: float, base_wd: float, paramwise: dict | None) -> list[dict]:
    """Parameter groups named ``layer_{id}_{decay|no_decay}`` in first-seen order, as MMSegmentation builds
    them, each with ``lr``, ``weight_decay``, ``lr_scale``, ``group_name`` and ``param_names``."""
    paramwise = dict(paramwise or {})
    where = "optim_wrapper.paramwise_cfg (LearningRateDecayOptimizerConstructor)"
    unknown = sorted(set(paramwise) - DECAY_KEYS)
    missing = sorted({"decay_rate", "num_layers"} - set(paramwise))
    if unknown or missing:
        problem = f"unknown key(s) {unknown}" if unknown else f"missing {missing}"
        raise ConfigError(
            f"{where}: {problem}; it takes decay_rate, decay_type ('layer_wise'/'stage_wise'), num_layers"
        )
    backbone = getattr(model, "backbone", None)
    if not isinstance(backbone, nn.Module):
        raise ConfigError(f"{where}: layer-wise decay needs a model with a backbone")
    decay_rate, num_layers = paramwise["decay_rate"], paramwise["num_layers"]
    rule = layer_rule(backbone, paramwise.get("decay_type", "layer_wise"))
    groups: dict[str, dict] = {}
    for name, param in model.named_parameters():
        if not param.requires_grad:
            continue
        # MMSegmentation compares full names with 'pos_embed'/'cls_token', which never match in a segmentor
        no_decay = param.ndim == 1 or name.endswith(".bias") or name in ("pos_embed", "cls_token")
        layer_id = rule(name, num_layers)
        group_name = f"layer_{layer_id}_{'no_decay' if no_decay else 'decay'}"
        if group_name not in groups:
            scale = decay_rate ** (num_layers + 2 - layer_id - 1)
            groups[group_name] = {
                "params": [],
                "param_names": [],
                "lr": scale * base_lr,
                "lr_scale": scale,
                "weight_decay": 0.0 if no_decay else base_wd,
                "group_name": group_name,
            }
        groups[group_name]["params"].append(param)
        groups[group_name]["param_names"].append(name)
    scales = [g["lr_scale"] for g in groups.values()] or [1.0]
    logger.info(
        f"layer-wise lr decay ({paramwise.get('decay_type', 'layer_wise')}, rate {decay_rate}, {num_layers} layers): "
        f"{len(groups)} parameter groups, lr x {min(scales):.3g} ... x {max(scales):.3g}"
    )
    return list(groups.values())


def layer_decay_groups(model: nn.Module, base_lr: float, base_wd: float, paramwise: dict | None) -> list[dict]:
    """MMSegmentation's deprecated ``LayerDecayOptimizerConstructor`` (the BEiT/MAE configs'):
    ``paramwise_cfg=dict(num_layers=12, layer_decay_rate=0.9)`` means ``decay_rate=layer_decay_rate`` and
    ``decay_type='layer_wise_vit'`` (both replace any value given) in ``LearningRateDecayOptimizerConstructor``."""
    paramwise = dict(paramwise or {})
    where = "optim_wrapper.paramwise_cfg (LayerDecayOptimizerConstructor)"
    unknown = sorted(set(paramwise) - {"num_layers", "layer_decay_rate", "decay_rate", "decay_type"})
    missing = sorted({"num_layers", "layer_decay_rate"} - set(paramwise))
    if unknown or missing:
        problem = f"unknown key(s) {unknown}" if unknown else f"missing {missing}"
        raise ConfigError(f"{where}: {problem}; it takes num_layers and layer_decay_rate")
    for key, value in (("decay_rate", paramwise.get("layer_decay_rate")), ("decay_type", "layer_wise_vit")):
        if key in paramwise and paramwise[key] != value:
            logger.warning(f"{where}: {key}={paramwise[key]!r} is replaced by {value!r}, as MMSegmentation does")
    paramwise["decay_rate"], paramwise["decay_type"] = paramwise.pop("layer_decay_rate"), "layer_wise_vit"
    return learning_rate_decay_groups(model, base_lr, base_wd, paramwise)


# optim_wrapper.constructor name -> (model, base_lr, base_wd, paramwise_cfg) -> parameter groups
CONSTRUCTORS: dict[str, Callable[[nn.Module, float, float, dict | None], list[dict]]] = {
    "LearningRateDecayOptimizerConstructor": learning_rate_decay_groups,
    "LayerDecayOptimizerConstructor": layer_decay_groups,
}
