"""Pixel samplers: per-pixel loss weights a decode head computes from its logits before its losses.

A head's ``sampler=dict(type='OHEMPixelSampler', ...)`` is built here with the head as its ``context``
(MMSegmentation's term); the head passes the (N,H,W) weights as ``weight=`` to each of its losses.
"""

from __future__ import annotations

from typing import Any

from seglab.errors import ConfigError
from seglab.registry import MODELS


def build_pixel_sampler(cfg: dict, context: Any) -> Any:
    """The sampler named by ``cfg['type']`` (a ``pixel_sampler`` type), bound to the head ``context``."""
    if not isinstance(cfg, dict) or "type" not in cfg:
        raise ConfigError(f"decode head 'sampler' must be dict(type='OHEMPixelSampler', ...), got {cfg!r}")
    if isinstance(cfg["type"], str) and MODELS.kind_of(cfg["type"]) not in (None, "pixel_sampler"):
        known = ", ".join(MODELS.names(kind="pixel_sampler"))
        raise ConfigError(f"decode head sampler type '{cfg['type']}' is not a pixel sampler; known: {known}")
    return MODELS.build(cfg, context=context)
