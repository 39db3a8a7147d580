"""Layer-wise learning-rate decay: MMSegmentation's ``LearningRateDecayOptimizerConstructor``.

A config sets ``optim_wrapper=dict(constructor='LearningRateDecayOptimizerConstructor',
paramwise_cfg=dict(decay_rate=0.9, decay_type='stage_wise', num_layers=12), ...)``. Each backbone
parameter gets a layer id (the stem 0, deeper layers higher, the heads above the backbone) and the learning
rate ``base_lr * decay_rate ** (num_layers + 1 - layer_id)``, so layers near the input, which pre-training
already shaped, move least. Parameters that are 1-D or named ``*.bias`` get no weight decay.

The layer ids come from the backbone itself (``LayerDecayBackbone``): each family keeps MMSegmentation
1.2.2's rule beside its code (ConvNeXt, BEiT, MAE), so a new family adds a method, not a row here.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Protocol

from torch import nn

from seglab.errors import ConfigError

logger = logging.getLogger("seglab")

DECAY_KEYS = {"decay_rate", "decay_type", "num_layers"}


class LayerDecayBackbone(Protocol):
    """What a backbone offers to take part in layer-wise lr decay (the idea of timm's ``group_matcher``,
    with MMSegmentation's numbering).

    ``layer_decay_types``: the ``decay_type`` values it has rules for, ``'layer_wise'`` and/or
    ``'stage_wise'`` (any ``decay_type`` containing ``'layer_wise'``, e.g. ``'layer_wise_vit'``, asks
    for ``'layer_wise'``, as in MMSegmentation).
    ``layer_id(param_name, num_layers, decay_type)``: the layer id of one of its parameters, named as in
    its own ``named_parameters()`` (``'stages.2.0.dwconv.weight'``, no ``'backbone.'``); ``num_layers``
    is ``paramwise_cfg.num_layers``. Ids run from 0 (stem, embeddings) to ``num_layers + 1``, the id the
    heads get: a parameter the rule does not place (output norms) gets ``num_layers + 1`` too."""

    layer_decay_types: tuple[str, ...]

    def layer_id(self, param_name: str, num_layers: int, decay_type: str) -> int: ...


def layer_rule(backbone: nn.Module, decay_type: str) -> Callable[[str, int], int]:
    """``(full parameter name, num_layers) -> layer id`` asking ``backbone`` (a ``LayerDecayBackbone``) for
    its own parameters and giving the rest (neck, heads) ``num_layers + 1``; a ConfigError when the
    backbone has no rule for ``decay_type``."""
    kind = "layer_wise" if "layer_wise" in decay_type else decay_type
    known = tuple(getattr(backbone, "layer_decay_types", ()))
    if kind not in known or not callable(getattr(backbone, "layer_id", None)):
        has = f"it has rules for {', '.join(known)}" if known else "it defines no layer ids (a layer_id method)"
        raise ConfigError(
            f"optim_wrapper.paramwise_cfg: decay_type '{decay_type}' has no layer rule for a "
            f"{type(backbone).__name__} backbone; {has}"
        )

    def rule(name: str, num_layers: int) -> int:
        if name.startswith("backbone."):
            return backbone.layer_id(name[len("backbone.") :], num_layers, kind)
        return num_layers + 1

    return rule


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
