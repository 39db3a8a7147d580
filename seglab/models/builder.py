"""``build_model``: a segmentor from ``cfg.model``, with backbone pre-training applied when asked."""

from __future__ import annotations

import logging

from torch import nn

from seglab.engine.checkpoint import load_checkpoint
from seglab.errors import ConfigError
from seglab.registry import MODELS

logger = logging.getLogger("seglab")


def build_model(cfg: dict, load_pretrained: bool = True) -> nn.Module:
    """Build the segmentor; ``load_pretrained=False`` skips backbone weights (``load_from``/resume overwrite them)."""
    if not isinstance(cfg, dict):
        raise ConfigError("the config has no 'model' dict")
    model = MODELS.build(cfg)
    if load_pretrained:
        init_pretrained(model)
    return model


def init_pretrained(model: nn.Module) -> None:
    """Load ``init_cfg=dict(type='Pretrained', checkpoint=...)`` of every submodule that has one."""
    for name, module in model.named_modules():
        init_cfg = getattr(module, "init_cfg", None)
        if not isinstance(init_cfg, dict) or init_cfg.get("type") != "Pretrained":
            continue
        source = init_cfg.get("checkpoint")
        if not source:
            raise ConfigError(f"{name or 'model'}.init_cfg type 'Pretrained' needs a 'checkpoint'")
        logger.info(f"loading pre-trained weights for {name or 'model'} from {source}")
        load_checkpoint(module, source, prefix=init_cfg.get("prefix", ""))
