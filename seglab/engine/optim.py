"""Optimizers from ``optim_wrapper`` (parameter-wise lr/decay multipliers, gradient clipping, AMP).

The schedules of ``param_scheduler`` live in ``seglab.engine.schedulers``; ``LRSchedule`` is re-exported here.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator

import torch
from torch import nn

from seglab.engine.layer_decay import CONSTRUCTORS
from seglab.engine.schedulers import LRSchedule
from seglab.errors import ConfigError
from seglab.registry import check_arguments

logger = logging.getLogger("seglab")
__all__ = ["LRSchedule", "OptimWrapper", "build_optim_wrapper", "merge_groups", "param_groups"]

NORM_TYPES = (nn.modules.batchnorm._BatchNorm, nn.GroupNorm, nn.LayerNorm, nn.modules.instancenorm._InstanceNorm)
PARAMWISE_KEYS = {
    "custom_keys",
    "bias_lr_mult",
    "bias_decay_mult",
    "norm_decay_mult",
    "dwconv_decay_mult",
    "flat_decay_mult",
    "bypass_duplicate",
}


def param_groups(model: nn.Module, base_lr: float, base_wd: float, paramwise: dict | None) -> list[dict]:
    """One group per parameter with its lr and weight decay after ``paramwise_cfg`` multipliers."""
    paramwise = dict(paramwise or {})
    unknown = set(paramwise) - PARAMWISE_KEYS
    if unknown:
        raise ConfigError(
            f"optim_wrapper.paramwise_cfg: unknown key(s) {sorted(unknown)}; accepted: {sorted(PARAMWISE_KEYS)}"
        )
    custom = paramwise.get("custom_keys", {})
    ordered_keys = sorted(sorted(custom), key=len, reverse=True)
    groups = []
    for module_name, module in model.named_modules():
        for name, param in module.named_parameters(recurse=False):
            if not param.requires_grad:
                continue
            full = f"{module_name}.{name}" if module_name else name
            lr, wd = base_lr, base_wd
            matched = next((k for k in ordered_keys if k in full), None)
            if matched is not None:
                lr *= custom[matched].get("lr_mult", 1.0)
                wd *= custom[matched].get("decay_mult", 1.0)
            else:
                is_norm = isinstance(module, NORM_TYPES)
                is_dw = isinstance(module, nn.Conv2d) and module.in_channels == module.groups > 1
                if name == "bias" and not is_norm:
                    lr *= paramwise.get("bias_lr_mult", 1.0)
                    wd *= paramwise.get("bias_decay_mult", 1.0)
                if is_norm:
                    wd *= paramwise.get("norm_decay_mult", 1.0)
                elif is_dw:
                    wd *= paramwise.get("dwconv_decay_mult", 1.0)
                elif param.ndim == 1:
                    wd *= paramwise.get("flat_decay_mult", 1.0)
            groups.append({"params": [param], "lr": lr, "weight_decay": wd, "name": full})
    return groups


def merge_groups(groups: list[dict]) -> list[dict]:
    """One optimizer group per distinct (lr, weight_decay): far fewer Python-level steps than one per tensor."""
    merged: dict[tuple[float, float], dict] = {}
    for group in groups:
        key = (group["lr"], group["weight_decay"])
        target = merged.setdefault(key, {"params": [], "lr": group["lr"], "weight_decay": group["weight_decay"]})
        target["params"] += group["params"]
    return list(merged.values())


class OptimWrapper:
    """Optimizer + optional gradient clipping + optional mixed precision, driven by ``update(loss)``."""

    def __init__(
        self,
        optimizer: torch.optim.Optimizer,
        clip_grad: dict | None = None,
        amp_dtype: torch.dtype | None = None,
        device_type: str = "cpu",
        accumulative_counts: int = 1,
    ) -> None:
        self.optimizer = optimizer
        self.clip_grad = dict(clip_grad) if clip_grad else None
        self.amp_dtype = amp_dtype
        self.device_type = device_type
        self.accumulative_counts = accumulative_counts
        self.scaler = torch.amp.GradScaler(device_type) if amp_dtype == torch.float16 else None
        self.step_count = 0

    @property
    def param_groups(self) -> list[dict]:
        return self.optimizer.param_groups

    def autocast(self) -> contextlib.AbstractContextManager:
        if self.amp_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device_type, dtype=self.amp_dtype)

    def _params(self) -> Iterator[torch.Tensor]:
        for group in self.optimizer.param_groups:
            yield from group["params"]

    def update(self, loss: torch.Tensor) -> None:
        loss = loss / self.accumulative_counts
        (self.scaler.scale(loss) if self.scaler else loss).backward()
        self.step_count += 1
        if self.step_count % self.accumulative_counts:
            return
        if self.clip_grad:
            if self.scaler:
                self.scaler.unscale_(self.optimizer)
            nn.utils.clip_grad_norm_(list(self._params()), **self.clip_grad)
        if self.scaler:
            self.scaler.step(self.optimizer)
            self.scaler.update()
        else:
            self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)

    def state_dict(self) -> dict:
        state = {"optimizer": self.optimizer.state_dict()}
        if self.scaler:
            state["loss_scaler"] = self.scaler.state_dict()
        return state

    def load_state_dict(self, state: dict) -> None:
        """Restore from a dict with ``optimizer`` (and ``loss_scaler``), e.g. a whole checkpoint."""
        self.optimizer.load_state_dict(state["optimizer"])
        if self.scaler and state.get("loss_scaler"):
            self.scaler.load_state_dict(state["loss_scaler"])


WRAPPER_KEYS = {
    "type",
    "optimizer",
    "clip_grad",
    "paramwise_cfg",
    "constructor",
    "accumulative_counts",
    "loss_scale",
    "dtype",
}


def build_optim_wrapper(model: nn.Module, cfg: dict, amp: bool = False, device_type: str = "cpu") -> OptimWrapper:
    """From ``optim_wrapper=dict(type='OptimWrapper'|'AmpOptimWrapper', optimizer=dict(type='SGD', ...))``."""
    cfg = dict(cfg)
    unknown = set(cfg) - WRAPPER_KEYS
    if unknown:
        raise ConfigError(f"optim_wrapper: unknown key(s) {sorted(unknown)}; accepted: {sorted(WRAPPER_KEYS)}")
    wrapper_type = cfg.get("type", "OptimWrapper")
    if wrapper_type not in ("OptimWrapper", "AmpOptimWrapper"):
        raise ConfigError(f"optim_wrapper type '{wrapper_type}' is unknown; use OptimWrapper or AmpOptimWrapper")
    if "optimizer" not in cfg:
        raise ConfigError("optim_wrapper needs an 'optimizer' dict, e.g. dict(type='SGD', lr=0.01)")
    opt_cfg = dict(cfg["optimizer"])
    opt_type = opt_cfg.pop("type", "SGD")
    opt_class = getattr(torch.optim, opt_type, None)
    if not (isinstance(opt_class, type) and issubclass(opt_class, torch.optim.Optimizer)):
        raise ConfigError(f"unknown optimizer type '{opt_type}'; use a torch.optim class such as SGD, Adam or AdamW")
    check_arguments(opt_class, {"params": None, **opt_cfg}, f"optimizer type '{opt_type}'")
    base_lr = opt_cfg.get("lr", 1e-3)
    base_wd = opt_cfg.get("weight_decay", 0.0)
    constructor = cfg.get("constructor", "DefaultOptimWrapperConstructor")
    if constructor == "DefaultOptimWrapperConstructor":
        groups = merge_groups(param_groups(model, base_lr, base_wd, cfg.get("paramwise_cfg")))
    elif constructor in CONSTRUCTORS:  # layer-wise lr decay (seglab.engine.layer_decay)
        groups = CONSTRUCTORS[constructor](model, base_lr, base_wd, cfg.get("paramwise_cfg"))
    else:
        known = ", ".join(["DefaultOptimWrapperConstructor", *CONSTRUCTORS])
        raise ConfigError(f"optim_wrapper.constructor '{constructor}' is unknown; use one of {known}")
    optimizer = opt_class(groups, **opt_cfg)
    use_amp = amp or wrapper_type == "AmpOptimWrapper"
    amp_dtype = None
    if use_amp:
        requested = cfg.get("dtype")
        if device_type == "cpu":
            amp_dtype = torch.bfloat16
        else:
            amp_dtype = {"bfloat16": torch.bfloat16, "float16": torch.float16, None: torch.float16}[requested]
    return OptimWrapper(optimizer, cfg.get("clip_grad"), amp_dtype, device_type, int(cfg.get("accumulative_counts", 1)))
