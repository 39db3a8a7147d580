"""Hooks: the logger, checkpoint, EMA, visualisation ... the runner calls at fixed points of its loops.

``default_hooks`` (a dict by role) and ``custom_hooks`` (a list) become one list sorted by priority,
as MMEngine does; ``base.Hook`` documents the call points and what a hook may read off the runner.
"""

from __future__ import annotations

import logging

from seglab.engine.hooks.base import Hook, priority_value
from seglab.errors import ConfigError
from seglab.registry import HOOKS, check_arguments, report_ignored

logger = logging.getLogger("seglab")

DEFAULT_HOOKS = {
    "runtime_info": dict(type="RuntimeInfoHook"),
    "timer": dict(type="IterTimerHook"),
    "logger": dict(type="LoggerHook"),
    "param_scheduler": dict(type="ParamSchedulerHook"),
    "checkpoint": dict(type="CheckpointHook", interval=-1),
    "sampler_seed": dict(type="DistSamplerSeedHook"),
}


def build_hooks(default_hooks: dict | None, custom_hooks: list | None) -> list[Hook]:
    """The configured hooks, highest priority first (stable for equal priorities: defaults, then custom).

    A ``default_hooks`` entry set to ``None`` removes that hook, as in MMEngine."""
    configs: list[tuple[str, dict]] = []
    merged = {**DEFAULT_HOOKS, **dict(default_hooks or {})}
    for role, cfg in merged.items():
        if isinstance(cfg, dict) and "type" not in cfg and role in DEFAULT_HOOKS:
            cfg = {"type": DEFAULT_HOOKS[role]["type"], **cfg}  # a partial override of a default hook
        if cfg is not None:
            configs.append((f"default_hooks.{role}", cfg))
    if custom_hooks is not None and not isinstance(custom_hooks, list | tuple):
        raise ConfigError("custom_hooks must be a list of dicts such as [dict(type='EMAHook')]")
    configs += [(f"custom_hooks[{i}]", cfg) for i, cfg in enumerate(custom_hooks or [])]
    hooks = []
    for where, cfg in configs:
        if isinstance(cfg, Hook):
            hooks.append(cfg)
            continue
        if not isinstance(cfg, dict) or "type" not in cfg:
            raise ConfigError(f"{where} must be a dict with a 'type' key, got {cfg!r}")
        cfg = dict(cfg)
        priority = cfg.pop("priority", None)
        hook_cls = HOOKS.get(cfg["type"]) if isinstance(cfg["type"], str) else cfg["type"]
        args = {k: v for k, v in cfg.items() if k != "type"}
        check_arguments(hook_cls, args, where)
        report_ignored(hook_cls, args, where)
        hook = hook_cls(**args)
        if priority is not None:
            hook.priority = priority
        hooks.append(hook)
    return sorted(hooks, key=lambda h: priority_value(h.priority))
