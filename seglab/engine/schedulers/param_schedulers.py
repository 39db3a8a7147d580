"""MMEngine 0.10.7's generic schedulers (``param_name`` chooses the group key), step by step as MMEngine
computes them; ``lr.py`` and ``momentum.py`` derive the ``*LR`` and ``*Momentum`` types from these."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from typing import Any

import torch

from seglab.engine.schedulers.base import INF, ParamScheduler
from seglab.errors import ConfigError
from seglab.registry import PARAM_SCHEDULERS


def _span(kwargs: dict) -> int:
    """``end - begin`` of the arguments a subclass passes on."""
    return kwargs.get("end", INF) - kwargs.get("begin", 0)


@PARAM_SCHEDULERS.register()
class StepParamScheduler(ParamScheduler):
    """Multiplies by ``gamma`` every ``step_size`` steps."""

    STEP_ARGS = ("step_size",)

    def __init__(self, optimizer: torch.optim.Optimizer, param_name: str, step_size: int, gamma: float = 0.1, **kw):
        self.step_size, self.gamma = step_size, gamma
        super().__init__(optimizer, param_name, **kw)

    def get_values(self) -> list[float]:
        if self.last_step == 0 or self.last_step % self.step_size != 0:
            return self.current()
        return [v * self.gamma for v in self.current()]


@PARAM_SCHEDULERS.register()
class MultiStepParamScheduler(ParamScheduler):
    """Multiplies by ``gamma`` at each milestone (steps counted from ``begin``; repeats count twice)."""

    STEP_ARGS = ("milestones",)

    def __init__(
        self, optimizer: torch.optim.Optimizer, param_name: str, milestones: Sequence[int], gamma: float = 0.1, **kw
    ):
        self.milestones, self.gamma = Counter(milestones), gamma
        super().__init__(optimizer, param_name, **kw)

    def get_values(self) -> list[float]:
        if self.last_step not in self.milestones:
            return self.current()
        return [v * self.gamma ** self.milestones[self.last_step] for v in self.current()]


@PARAM_SCHEDULERS.register()
class ConstantParamScheduler(ParamScheduler):
    """Multiplies by ``factor`` from ``begin`` until the last step before ``end``, then restores."""

    def __init__(self, optimizer: torch.optim.Optimizer, param_name: str, factor: float = 1.0 / 3, **kw):
        if not 0 <= factor <= 1:
            raise ConfigError(f"{type(self).__name__}: factor={factor} must be between 0 and 1")
        self.factor, self.total_iters = factor, _span(kw) - 1
        super().__init__(optimizer, param_name, **kw)

    def get_values(self) -> list[float]:
        if self.last_step == 0:
            return [v * self.factor for v in self.current()]
        if self.last_step != self.total_iters:
            return self.current()
        return [v * (1.0 / self.factor) for v in self.current()]


@PARAM_SCHEDULERS.register()
class ExponentialParamScheduler(ParamScheduler):
    """Multiplies by ``gamma`` every step."""

    def __init__(self, optimizer: torch.optim.Optimizer, param_name: str, gamma: float, **kw):
        self.gamma = gamma
        super().__init__(optimizer, param_name, **kw)

    def get_values(self) -> list[float]:
        if self.last_step == 0:
            return self.current()
        return [v * self.gamma for v in self.current()]


class _EtaMin:
    """``eta_min`` or ``eta_min_ratio`` x the group's initial value (exactly one of them)."""

    eta_min: float | None
    eta_min_ratio: float | None

    def set_eta_min(self, eta_min: float | None, eta_min_ratio: float | None) -> None:
        if (eta_min is None) == (eta_min_ratio is None):
            raise ConfigError(f"{type(self).__name__}: give exactly one of eta_min and eta_min_ratio")
        self.eta_min, self.eta_min_ratio = eta_min, eta_min_ratio

    def eta_min_of(self, base: float) -> float:
        return self.eta_min if self.eta_min_ratio is None else base * self.eta_min_ratio


@PARAM_SCHEDULERS.register()
class CosineAnnealingParamScheduler(_EtaMin, ParamScheduler):
    """Cosine from the value at ``begin`` down to ``eta_min`` over ``T_max`` steps (default ``end - begin``)."""

    STEP_ARGS = ("T_max",)

    def __init__(
        self,
        optimizer: torch.optim.Optimizer,
        param_name: str,
        T_max: int | None = None,
        eta_min: float | None = None,
        eta_min_ratio: float | None = None,
        **kw,
    ):
        self.set_eta_min(0.0 if eta_min is None and eta_min_ratio is None else eta_min, eta_min_ratio)
        self.T_max = T_max or _span(kw)
        super().__init__(optimizer, param_name, **kw)

    def get_values(self) -> list[float]:
        t, T = self.last_step, self.T_max
        if t == 0:
            return self.current()
        values = []
        for base, v in zip(self.base_values, self.current()):
            eta_min = self.eta_min_of(base)
            if (t - 1 - T) % (2 * T) == 0:
                values.append(v + (base - eta_min) * (1 - math.cos(math.pi / T)) / 2)
            else:
                values.append(
                    (1 + math.cos(math.pi * t / T)) / (1 + math.cos(math.pi * (t - 1) / T)) * (v - eta_min) + eta_min
                )
        return values


@PARAM_SCHEDULERS.register()
class LinearParamScheduler(ParamScheduler):
    """Factor going linearly from ``start_factor`` to ``end_factor`` over ``end - begin - 1`` steps."""

    def __init__(
        self,
        optimizer: torch.optim.Optimizer,
        param_name: str,
        start_factor: float = 1.0 / 3,
        end_factor: float = 1.0,
        **kw,
    ):
        for key, factor in (("start_factor", start_factor), ("end_factor", end_factor)):
            if not 0 <= factor <= 1:
                raise ConfigError(f"{type(self).__name__}: {key}={factor} must be between 0 and 1")
        self.start_factor, self.end_factor, self.total_iters = start_factor, end_factor, _span(kw) - 1
        super().__init__(optimizer, param_name, **kw)

    def get_values(self) -> list[float]:
        if self.last_step == 0:
            return [v * self.start_factor for v in self.current()]
        delta = self.end_factor - self.start_factor
        ratio = 1.0 + delta / (self.total_iters * self.start_factor + (self.last_step - 1) * delta)
        return [v * ratio for v in self.current()]


@PARAM_SCHEDULERS.register()
class PolyParamScheduler(ParamScheduler):
    """Polynomial decay to ``eta_min`` at the last step before ``end``."""

    def __init__(self, optimizer: torch.optim.Optimizer, param_name: str, eta_min: float = 0, power: float = 1.0, **kw):
        self.eta_min, self.power, self.total_iters = eta_min, power, _span(kw) - 1
        super().__init__(optimizer, param_name, **kw)

    def get_values(self) -> list[float]:
        if self.last_step == 0:
            return self.current()
        ratio, eta_min, name = (
            (1 - 1 / (self.total_iters - self.last_step + 1)) ** self.power,
            self.eta_min,
            self.param_name,
        )
        return [(group[name] - eta_min) * ratio + eta_min for group in self.optimizer.param_groups]


@PARAM_SCHEDULERS.register()
class OneCycleParamScheduler(ParamScheduler):
    """The 1cycle policy (learning rate only): up from ``eta_max / div_factor`` to ``eta_max`` during
    ``pct_start`` of ``total_steps``, then down to ``eta_max / div_factor / final_div_factor``; not chainable."""

    STEP_ARGS = ("total_steps",)

    def __init__(
        self,
        optimizer: torch.optim.Optimizer,
        param_name: str,
        eta_max: float | Sequence[float] = 0,
        total_steps: int | None = None,
        pct_start: float = 0.3,
        anneal_strategy: str = "cos",
        div_factor: float = 25.0,
        final_div_factor: float = 1e4,
        three_phase: bool = False,
        **kw: Any,
    ):
        name = type(self).__name__
        if param_name != "lr":
            raise ConfigError(f"{name} schedules the learning rate only, not '{param_name}'")
        if total_steps is not None and (not isinstance(total_steps, int) or total_steps <= 0):
            raise ConfigError(f"{name}: total_steps={total_steps!r} must be a positive integer")
        self.total_steps = total_steps if total_steps is not None else _span(kw)
        if self.total_steps < _span(kw) - 1:
            raise ConfigError(f"{name}: total_steps={self.total_steps} is shorter than end - begin = {_span(kw)}")
        if not 0 <= pct_start <= 1:
            raise ConfigError(f"{name}: pct_start={pct_start} must be between 0 and 1")
        if anneal_strategy not in ("cos", "linear"):
            raise ConfigError(f"{name}: anneal_strategy='{anneal_strategy}' must be 'cos' or 'linear'")
        self.eta_max, self.div_factor, self.final_div_factor = eta_max, div_factor, final_div_factor
        self.anneal_strategy = anneal_strategy
        up_end = float(pct_start * self.total_steps) - 1
        if three_phase:
            phases = [(up_end, "initial", "max"), (float(2 * pct_start * self.total_steps) - 2, "max", "initial")]
        else:
            phases = [(up_end, "initial", "max")]
        self.phases = [*phases, (self.total_steps - 1, "max" if not three_phase else "initial", "min")]
        groups = optimizer.param_groups
        maxima = list(eta_max) if isinstance(eta_max, list | tuple) else [eta_max] * len(groups)
        if len(maxima) != len(groups):
            raise ConfigError(f"{name}: eta_max lists {len(maxima)} values for {len(groups)} parameter groups")
        if kw.get("last_step", -1) == -1:
            for group, peak in zip(groups, maxima):
                group["initial_lr"] = peak / div_factor
                group["max_lr"] = peak
                group["min_lr"] = group["initial_lr"] / final_div_factor
        super().__init__(optimizer, param_name, **kw)

    def anneal(self, start: float, end: float, pct: float) -> float:
        if self.anneal_strategy == "cos":
            return end + (start - end) / 2.0 * (math.cos(math.pi * pct) + 1)
        return (end - start) * pct + start

    def get_values(self) -> list[float]:
        t, values = self.last_step, []
        for group in self.optimizer.param_groups:
            start_step = 0
            for i, (end_step, start, end) in enumerate(self.phases):
                if t <= end_step or i == len(self.phases) - 1:
                    pct = (t - start_step) / (end_step - start_step)
                    values.append(self.anneal(group[f"{start}_lr"], group[f"{end}_lr"], pct))
                    break
                start_step = end_step
        return values


@PARAM_SCHEDULERS.register()
class CosineRestartParamScheduler(_EtaMin, ParamScheduler):
    """Cosine annealing restarted after each of ``periods``, from ``restart_weights[i]`` x the initial value."""

    STEP_ARGS = ("periods",)

    def __init__(
        self,
        optimizer: torch.optim.Optimizer,
        param_name: str,
        periods: Sequence[int],
        restart_weights: Sequence[float] = (1,),
        eta_min: float | None = None,
        eta_min_ratio: float | None = None,
        **kw: Any,
    ):
        self.set_eta_min(eta_min, eta_min_ratio)
        if len(periods) != len(restart_weights):
            raise ConfigError(
                f"{type(self).__name__}: periods ({len(periods)}) and restart_weights ({len(restart_weights)}) "
                "must have the same length"
            )
        self.periods, self.restart_weights = list(periods), list(restart_weights)
        self.cumulative_periods = [sum(self.periods[: i + 1]) for i in range(len(self.periods))]
        super().__init__(optimizer, param_name, **kw)

    def get_values(self) -> list[float]:
        idx = next((i for i, p in enumerate(self.cumulative_periods) if self.last_step < p), None)
        if idx is None:
            return self.current()
        period = self.periods[idx]
        t = self.last_step - (0 if idx == 0 else self.cumulative_periods[idx - 1])
        values = []
        for base, v in zip(self.base_values, self.current()):
            eta_min = self.eta_min_of(base)
            if t == 0:
                values.append(base * self.restart_weights[idx])
            else:
                ratio = (1 + math.cos(math.pi * t / period)) / (1 + math.cos(math.pi * (t - 1) / period))
                values.append(ratio * (v - eta_min) + eta_min)
        return values
