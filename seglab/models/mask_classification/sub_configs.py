"""How the mask-classification heads build their sub-configs (pixel decoder, transformer layers, losses,
assigner, match costs) and initialise their convs.

MMSegmentation's configs name these parts with MMDetection's scope (``type='mmdet.DiceLoss'``); each head
resolves them in its own small table of MMDetection's names (``known``), so ``mmdet.CrossEntropyLoss`` there
is ``MatchedCrossEntropyLoss``, never the registry's MMSegmentation loss of that name. A name outside
``known`` or a key the class does not take fails with a ConfigError naming the config key.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from torch import nn

from seglab.errors import ConfigError
from seglab.registry import check_arguments, report_ignored


def type_name(cfg: Mapping, where: str, default: str | None = None) -> str:
    """``cfg['type']`` without an ``mmdet.``/``mmseg.`` scope prefix."""
    name = cfg.get("type", default)
    if not isinstance(name, str):
        raise ConfigError(f"{where} needs a 'type' string, got {cfg!r}")
    return name.split(".", 1)[1] if name.startswith(("mmdet.", "mmseg.")) else name


def build_part(
    cfg: Mapping | None, known: Mapping[str, Callable], where: str, default: str | None = None, **extra
) -> Any:
    """``known[type](**cfg, **extra)`` with MMDetection's scope prefix accepted and keys checked."""
    if not isinstance(cfg, Mapping):
        raise ConfigError(f"{where} must be a dict, got {cfg!r}")
    name = type_name(cfg, where, default)
    if name not in known:
        raise ConfigError(f"{where}: type '{cfg.get('type')}' is not supported here; use one of {sorted(known)}")
    args = {k: v for k, v in cfg.items() if k != "type"}
    args.update(extra)
    cls = known[name]
    check_arguments(cls, args, f"{where} ({name})")
    report_ignored(cls, args, f"{where} ({name})")
    return cls(**args)


def sub_dict(cfg: Mapping | None, where: str) -> dict:
    """A copy of a nested config dict; anything else fails naming ``where``."""
    if not isinstance(cfg, Mapping):
        raise ConfigError(f"{where} must be a dict, got {cfg!r}")
    return dict(cfg)


def caffe2_xavier_(conv: nn.Conv2d) -> None:
    """MMEngine's ``caffe2_xavier_init``: Kaiming-uniform with a=1 (fan in), zero bias."""
    nn.init.kaiming_uniform_(conv.weight, a=1, mode="fan_in", nonlinearity="leaky_relu")
    if conv.bias is not None:
        nn.init.zeros_(conv.bias)
