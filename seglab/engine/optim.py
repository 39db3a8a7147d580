"""Optimizers from ``optim_wrapper`` (parameter-wise lr/decay multipliers, gradient clipping, AMP)
and learning-rate schedules from ``param_scheduler``.

Schedules are closed-form functions of the step (iteration or epoch), so resuming needs only the
step count and the result equals MMEngine's step-by-step updates.
"""

from __future__ import annotations

import contextlib
import logging
import math
from collections.abc import Iterator, Sequence

import torch
from torch import nn

from seglab.engine.layer_decay import CONSTRUCTORS
from seglab.errors import ConfigError
from seglab.registry import PARAM_SCHEDULERS, check_arguments

logger = logging.getLogger("seglab")

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


# ----------------------------------------------------------------------------- schedules
class ParamScheduler:
    """Maps (value before this scheduler, step) -> value, active on steps in [begin, end)."""

    IGNORED_ARGS = {"last_step": -1, "verbose": False}

    def __init__(
        self,
        begin: int = 0,
        end: int = 10**9,
        by_epoch: bool = True,
        last_step: int = -1,
        verbose: bool = False,
        convert_to_iter_based: bool = False,
    ) -> None:
        if end <= begin:
            raise ConfigError(f"{type(self).__name__}: end ({end}) must be greater than begin ({begin})")
        self.begin, self.end, self.by_epoch = begin, end, by_epoch
        self.convert_to_iter_based = convert_to_iter_based

    def to_iterations(self, epoch_length: int) -> None:
        self.begin *= epoch_length
        self.end = self.end * epoch_length if self.end < 10**9 else self.end
        self.by_epoch = False
        self.rescale(epoch_length)

    def rescale(self, epoch_length: int) -> None:
        """Scale step-valued arguments (milestones, periods) when converting epochs to iterations."""

    @property
    def total(self) -> int:
        return self.end - self.begin - 1

    def apply(self, value: float, step: int, base: float | None = None) -> float:
        """``value``: the lr entering this scheduler at ``step``; ``base``: the group's initial lr."""
        if step < self.begin:
            return value
        return self.compute(value, min(step, self.end - 1) - self.begin)

    def compute(self, value: float, t: int) -> float:
        raise NotImplementedError


@PARAM_SCHEDULERS.register()
class PolyLR(ParamScheduler):
    def __init__(self, eta_min: float = 0.0, power: float = 1.0, **kwargs) -> None:
        super().__init__(**kwargs)
        self.eta_min, self.power = eta_min, power

    def compute(self, value: float, t: int) -> float:
        return (value - self.eta_min) * (1 - t / max(self.total, 1)) ** self.power + self.eta_min


@PARAM_SCHEDULERS.register()
class PolyLRRatio(PolyLR):
    """MMSegmentation's PolyLR whose floor is ``eta_min_ratio`` x the group's initial lr."""

    def __init__(self, eta_min_ratio: float | None = None, **kwargs) -> None:
        super().__init__(**kwargs)
        self.eta_min_ratio = eta_min_ratio
        self.fixed_eta_min = self.eta_min

    def apply(self, value: float, step: int, base: float | None = None) -> float:
        use_ratio = self.eta_min_ratio is not None and base is not None
        self.eta_min = base * self.eta_min_ratio if use_ratio else self.fixed_eta_min
        return super().apply(value, step, base)


@PARAM_SCHEDULERS.register()
class LinearLR(ParamScheduler):
    def __init__(self, start_factor: float = 1.0 / 3, end_factor: float = 1.0, **kwargs) -> None:
        super().__init__(**kwargs)
        self.start_factor, self.end_factor = start_factor, end_factor

    def compute(self, value: float, t: int) -> float:
        progress = min(t, self.total) / max(self.total, 1)
        return value * (self.start_factor + (self.end_factor - self.start_factor) * progress)


@PARAM_SCHEDULERS.register()
class ConstantLR(ParamScheduler):
    def __init__(self, factor: float = 1.0 / 3, **kwargs) -> None:
        super().__init__(**kwargs)
        self.factor = factor

    def compute(self, value: float, t: int) -> float:
        return value * self.factor if t < self.total else value


@PARAM_SCHEDULERS.register()
class MultiStepLR(ParamScheduler):
    def __init__(self, milestones: Sequence[int], gamma: float = 0.1, **kwargs) -> None:
        super().__init__(**kwargs)
        self.milestones, self.gamma = list(milestones), gamma

    def rescale(self, epoch_length: int) -> None:
        self.milestones = [m * epoch_length for m in self.milestones]

    def compute(self, value: float, t: int) -> float:
        return value * self.gamma ** sum(t + self.begin >= m for m in self.milestones)


@PARAM_SCHEDULERS.register()
class StepLR(ParamScheduler):
    def __init__(self, step_size: int, gamma: float = 0.1, **kwargs) -> None:
        super().__init__(**kwargs)
        self.step_size, self.gamma = step_size, gamma

    def rescale(self, epoch_length: int) -> None:
        self.step_size *= epoch_length

    def compute(self, value: float, t: int) -> float:
        return value * self.gamma ** (t // self.step_size)


@PARAM_SCHEDULERS.register()
class ExponentialLR(ParamScheduler):
    def __init__(self, gamma: float, **kwargs) -> None:
        super().__init__(**kwargs)
        self.gamma = gamma

    def compute(self, value: float, t: int) -> float:
        return value * self.gamma**t


@PARAM_SCHEDULERS.register()
class CosineAnnealingLR(ParamScheduler):
    def __init__(
        self, T_max: int | None = None, eta_min: float | None = None, eta_min_ratio: float | None = None, **kwargs
    ) -> None:
        super().__init__(**kwargs)
        self.T_max = T_max if T_max is not None else self.end - self.begin
        self.eta_min, self.eta_min_ratio = eta_min, eta_min_ratio

    def rescale(self, epoch_length: int) -> None:
        self.T_max *= epoch_length

    def compute(self, value: float, t: int) -> float:
        eta_min = value * self.eta_min_ratio if self.eta_min_ratio is not None else (self.eta_min or 0.0)
        return eta_min + (value - eta_min) * (1 + math.cos(math.pi * t / self.T_max)) / 2


class LRSchedule:
    """The chained schedulers of ``param_scheduler``: sets every group's lr for a step."""

    def __init__(
        self,
        cfgs: dict | Sequence[dict] | None,
        optimizer: torch.optim.Optimizer,
        by_epoch_loop: bool,
        epoch_length: int,
    ) -> None:
        cfgs = [cfgs] if isinstance(cfgs, dict) else list(cfgs or [])
        self.schedulers: list[ParamScheduler] = []
        for cfg in cfgs:
            scheduler = PARAM_SCHEDULERS.build(cfg)
            if scheduler.by_epoch and (scheduler.convert_to_iter_based or not by_epoch_loop):
                if not by_epoch_loop and not scheduler.convert_to_iter_based:
                    logger.info(
                        f"{cfg['type']}: by_epoch=True in an iteration-based loop; "
                        f"stepping it every {epoch_length} iterations"
                    )
                scheduler.to_iterations(epoch_length)
            self.schedulers.append(scheduler)
        self.optimizer = optimizer
        self.base_lrs = [group["lr"] for group in optimizer.param_groups]
        for group, base in zip(optimizer.param_groups, self.base_lrs):
            group.setdefault("initial_lr", base)

    def set_step(self, iteration: int, epoch: int) -> None:
        for group, base in zip(self.optimizer.param_groups, self.base_lrs):
            value = base
            for scheduler in self.schedulers:
                value = scheduler.apply(value, epoch if scheduler.by_epoch else iteration, base)
            group["lr"] = value

    def state_dict(self) -> list[dict]:
        return [
            {"type": type(s).__name__, "begin": s.begin, "end": s.end, "by_epoch": s.by_epoch} for s in self.schedulers
        ]
