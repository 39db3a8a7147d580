"""MMEngine's ``init_cfg``: how a freshly built model gets its starting weights.

A module may carry ``init_cfg`` (a dict or a list of dicts), e.g. a decode head's
``dict(type='Normal', std=0.01, override=dict(name='conv_seg'))`` or ResNet's
``[dict(type='Kaiming', layer='Conv2d'), dict(type='Constant', val=1, layer=['_BatchNorm', 'GroupNorm'])]``.
``initialize`` applies such a config to one module; ``init_weights`` walks a whole model in MMEngine's
order, so a model starts from the same weight distributions as MMSegmentation's before training.

Semantics kept from MMEngine, because configs rely on them:
- ``layer`` names are matched against each submodule's class name and its *direct* base classes
  (``BatchNorm2d`` and ``_BatchNorm`` both match a BatchNorm2d; ``Module`` matches nearly everything).
- A cfg without ``layer`` touches nothing by itself; its ``override`` entries initialise the named
  attributes as whole modules (every submodule with a ``weight``, norms included).
- An override with only ``name`` reuses the parent's settings (minus ``layer``); an override with other
  keys must name its own ``type``.
- ``Pretrained`` entries are skipped here; ``seglab.models.builder`` loads them after the walk.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from seglab.errors import ConfigError

logger = logging.getLogger("seglab")

COMMON_KEYS = ("bias", "bias_prob", "layer")
DISTRIBUTIONS = ("normal", "uniform")
MODES = ("fan_in", "fan_out")


def _fill_constant(w: torch.Tensor, val: float) -> None:
    nn.init.constant_(w, val)


def _fill_normal(w: torch.Tensor, mean: float, std: float) -> None:
    nn.init.normal_(w, mean, std)


def _fill_trunc_normal(w: torch.Tensor, mean: float, std: float, a: float, b: float) -> None:
    """N(mean, std) truncated to [a, b] (absolute bounds) by inverse-CDF sampling: one uniform draw per
    value, as MMEngine draws, so a seed gives MMEngine's values (torch's own trunc_normal_ now rejects)."""

    def cdf(x: float) -> float:
        return 0.5 * (1 + math.erf((x - mean) / (std * math.sqrt(2))))

    w.uniform_(2 * cdf(a) - 1, 2 * cdf(b) - 1)  # erf of the standardised value, uniform in its range
    w.erfinv_().mul_(std * math.sqrt(2)).add_(mean).clamp_(min=a, max=b)


def _fill_uniform(w: torch.Tensor, a: float, b: float) -> None:
    nn.init.uniform_(w, a, b)


def _fill_kaiming(w: torch.Tensor, a: float, mode: str, nonlinearity: str, distribution: str) -> None:
    fill = nn.init.kaiming_uniform_ if distribution == "uniform" else nn.init.kaiming_normal_
    fill(w, a=a, mode=mode, nonlinearity=nonlinearity)


def _fill_xavier(w: torch.Tensor, gain: float, distribution: str) -> None:
    fill = nn.init.xavier_uniform_ if distribution == "uniform" else nn.init.xavier_normal_
    fill(w, gain=gain)


_REQUIRED = object()
CAFFE2_XAVIER = dict(a=1, mode="fan_in", nonlinearity="leaky_relu", distribution="uniform")

# type -> (weight fill, its keyword defaults). Caffe2Xavier is MMEngine's fixed Kaiming (Caffe2's XavierFill).
INIT_TYPES: dict[str, tuple[Callable[..., None], dict[str, Any]]] = {
    "Constant": (_fill_constant, {"val": _REQUIRED}),
    "Normal": (_fill_normal, {"mean": 0, "std": 1}),
    "TruncNormal": (_fill_trunc_normal, {"mean": 0, "std": 1, "a": -2, "b": 2}),
    "Uniform": (_fill_uniform, {"a": 0, "b": 1}),
    "Kaiming": (_fill_kaiming, {"a": 0, "mode": "fan_out", "nonlinearity": "relu", "distribution": "normal"}),
    "Caffe2Xavier": (_fill_kaiming, {}),
    "Xavier": (_fill_xavier, {"gain": 1, "distribution": "normal"}),
}
ACCEPTED_TYPES = (*INIT_TYPES, "Pretrained")
_ACTIVE: set[int] = set()  # models being walked, so that a module's init_weights() calling init_weights(self) returns


class _Initializer:
    """One parsed init cfg: what to fill weights with, the bias value and the layer filter."""

    def __init__(self, cfg: dict, where: str) -> None:
        cfg = dict(cfg)
        init_type = cfg.pop("type", None)
        if init_type not in INIT_TYPES:
            raise ConfigError(f"{where}: unknown init type {init_type!r}; accepted types: {', '.join(ACCEPTED_TYPES)}")
        self.type = init_type
        self.where = where
        fill, defaults = INIT_TYPES[init_type]
        unknown = sorted(set(cfg) - set(defaults) - set(COMMON_KEYS))
        if unknown:
            accepted = ", ".join([*defaults, *COMMON_KEYS, "override"])
            raise ConfigError(
                f"{where}: init type '{init_type}' got unknown key(s) {unknown}; accepted keys: {accepted}"
            )
        params = {key: cfg.get(key, default) for key, default in defaults.items()}
        if init_type == "Caffe2Xavier":
            params = dict(CAFFE2_XAVIER)
        missing = [key for key, value in params.items() if value is _REQUIRED]
        if missing:
            raise ConfigError(f"{where}: init type '{init_type}' needs {missing[0]!r}")
        _check_params(params, f"{where} ({init_type})")
        self.fill = lambda w: fill(w, **params)
        self.bias = _bias_value(cfg.get("bias", 0), cfg.get("bias_prob"), where)
        self.layers = _layer_names(cfg.get("layer"), where)
        self.whole_module = False

    def __call__(self, module: nn.Module) -> None:
        module.apply(self._init_one)

    def _init_one(self, m: nn.Module) -> None:
        if not self.whole_module and not self.layers & _class_names(m):
            return
        with torch.no_grad():
            weight, bias = getattr(m, "weight", None), getattr(m, "bias", None)
            if isinstance(weight, torch.Tensor):
                try:
                    self.fill(weight)
                except ValueError as err:  # fan-based inits on 1-D weights (norms)
                    raise ConfigError(
                        f"{self.where}: {self.type} cannot initialise the weight of a {type(m).__name__} ({err}); "
                        "narrow 'layer' to the layers it suits"
                    ) from None
            if isinstance(bias, torch.Tensor):
                nn.init.constant_(bias, self.bias)


def _class_names(m: nn.Module) -> set[str]:
    """The names a ``layer`` filter matches: the class and its direct bases, as MMEngine compares."""
    cls = type(m)
    return {cls.__name__, *(base.__name__ for base in cls.__bases__)}


def _check_params(params: dict, where: str) -> None:
    for key, value in params.items():
        if key in ("distribution", "mode", "nonlinearity"):
            continue
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"{where}: {key!r} must be a number, got {value!r}")
    if params.get("std", 0) < 0:
        raise ConfigError(f"{where}: std must be >= 0, got {params['std']}")
    if "std" in params and "b" in params and not (params["std"] > 0 and params["a"] < params["b"]):
        raise ConfigError(
            f"{where}: needs std > 0 and a < b, got std={params['std']}, a={params['a']}, b={params['b']}"
        )
    if params.get("distribution", "normal") not in DISTRIBUTIONS:
        raise ConfigError(f"{where}: distribution must be one of {DISTRIBUTIONS}, got {params['distribution']!r}")
    if params.get("mode", "fan_in") not in MODES:
        raise ConfigError(f"{where}: mode must be one of {MODES}, got {params['mode']!r}")
    if "nonlinearity" in params:
        try:
            nn.init.calculate_gain(params["nonlinearity"], params["a"])
        except ValueError:
            raise ConfigError(
                f"{where}: unsupported nonlinearity {params['nonlinearity']!r}; use e.g. 'relu', 'leaky_relu', "
                "'tanh', 'sigmoid', 'selu', 'linear'"
            ) from None


def _bias_value(bias: Any, bias_prob: Any, where: str) -> float:
    """``bias_prob`` p gives the bias whose sigmoid is p (focal-loss style), overriding ``bias``."""
    if isinstance(bias, bool) or not isinstance(bias, int | float):
        raise ConfigError(f"{where}: 'bias' must be a number, got {bias!r}")
    if bias_prob is None:
        return float(bias)
    if isinstance(bias_prob, bool) or not isinstance(bias_prob, int | float) or not 0 < bias_prob < 1:
        raise ConfigError(f"{where}: 'bias_prob' must be a probability in (0, 1), got {bias_prob!r}")
    return -math.log((1 - bias_prob) / bias_prob)


def _layer_names(layer: Any, where: str) -> set[str]:
    if layer is None:
        return set()
    names = [layer] if isinstance(layer, str) else layer
    if not isinstance(names, list | tuple) or not all(isinstance(n, str) for n in names):
        raise ConfigError(f"{where}: 'layer' must be a class name or a list of class names, got {layer!r}")
    return set(names)


def _as_list(init_cfg: Any, where: str) -> list[dict]:
    cfgs = [init_cfg] if isinstance(init_cfg, dict) else init_cfg
    if not isinstance(cfgs, list | tuple) or not all(isinstance(c, dict) for c in cfgs):
        raise ConfigError(f"{where}: init_cfg must be a dict or a list of dicts, got {init_cfg!r}")
    return list(cfgs)


def initialize(module: nn.Module, init_cfg: dict | list[dict], where: str = "init_cfg") -> None:
    """Apply ``init_cfg`` to ``module``: each cfg's ``layer``-filtered init, then its ``override`` entries.

    ``where`` names the module in error messages (e.g. ``decode_head.init_cfg``)."""
    for cfg in _as_list(init_cfg, where):
        if cfg.get("type") == "Pretrained":
            continue
        cfg = dict(cfg)
        override = cfg.pop("override", None)
        _Initializer(cfg, where)(module)
        if override is not None:
            cfg.pop("layer", None)
            _initialize_override(module, override, cfg, where)


def _initialize_override(module: nn.Module, override: Any, parent: dict, where: str) -> None:
    for entry in _as_list(override, f"{where}.override"):
        entry = dict(entry)
        name = entry.pop("name", None)
        if not isinstance(name, str):
            raise ConfigError(f"{where}: every override needs a 'name' (an attribute of the module), got {entry}")
        if not entry:
            entry = dict(parent)
        elif "type" not in entry:
            raise ConfigError(
                f"{where}: override '{name}' sets {sorted(entry)} but no 'type'; give a 'type', or only 'name' "
                "to reuse the parent's settings"
            )
        if entry["type"] == "Pretrained":
            raise ConfigError(
                f"{where}: override '{name}' cannot be 'Pretrained'; give that module its own init_cfg instead"
            )
        target = getattr(module, name, None)
        if not isinstance(target, nn.Module):
            children = ", ".join(n for n, _ in module.named_children()) or "none"
            raise ConfigError(
                f"{where}: override name '{name}' matches no submodule of {type(module).__name__}; "
                f"its submodules are: {children}"
            )
        init = _Initializer(entry, f"{where}.override '{name}'")
        init.whole_module = True
        init(target)


def init_weights(model: nn.Module) -> None:
    """Initialise ``model`` as MMEngine's ``model.init_weights()`` does before training.

    seglab has no BaseModule class: a module takes part in the walk when it has an ``init_cfg`` attribute
    (``None`` is fine) or an ``init_weights()`` method, as MMSegmentation's BaseModules and ConvModules do.
    Each such module gets its own non-Pretrained ``init_cfg`` first, then its taking-part children in turn
    (so a child's cfg overrides its parent's), then its own ``init_weights()`` if it defines one (MMEngine's
    ``super().init_weights()`` followed by the custom part; a method that calls this function on its own
    module is harmless: the inner call returns at once).
    Like MMEngine, the walk does not enter plain containers and layers: ConvModules in a plain
    ``nn.ModuleList`` keep what a parent's ``layer`` cfg gave them (MMSegmentation's FPN convs stay Xavier),
    and heads in an ``nn.ModuleList`` (a list of auxiliary heads) keep the weights they were built with."""
    if id(model) in _ACTIVE:
        return
    _ACTIVE.add(id(model))
    done: set[int] = set()
    try:
        _walk(model, "", done)
    finally:
        _ACTIVE.discard(id(model))
    for name, module in model.named_modules():
        if getattr(module, "init_cfg", None) and id(module) not in done:
            logger.debug(f"{name}.init_cfg not applied: its parent is a plain container, which MMEngine skips too")


def _takes_part(module: nn.Module) -> bool:
    return hasattr(module, "init_cfg") or callable(getattr(module, "init_weights", None))


def _walk(module: nn.Module, name: str, done: set[int]) -> None:
    if id(module) in done:
        return
    done.add(id(module))
    init_cfg = getattr(module, "init_cfg", None)
    if init_cfg:
        initialize(module, init_cfg, f"{name or 'model'}.init_cfg")
    for child_name, child in module.named_children():
        if _takes_part(child):
            _walk(child, f"{name}.{child_name}" if name else child_name, done)
    own = getattr(module, "init_weights", None)
    if callable(own):
        own()


def pretrained_cfgs(init_cfg: Any) -> list[dict]:
    """The ``Pretrained`` entries of an ``init_cfg`` (dict or list), which the builder loads."""
    cfgs = [init_cfg] if isinstance(init_cfg, dict) else init_cfg if isinstance(init_cfg, list | tuple) else []
    return [c for c in cfgs if isinstance(c, dict) and c.get("type") == "Pretrained"]


def init_transformer_style(
    root: nn.Module, linear: bool = True, conv: bool = False, norms: tuple[type, ...] = (nn.LayerNorm,)
) -> None:
    """The initialisation MMSegmentation's transformer backbones write out by hand (MiT, Swin, Twins, BEiT,
    MSCAN ...): truncated-normal Linear weights (std 0.02, within +-2) with zero biases, unit/zero affine
    ``norms``, and with ``conv`` He-normal fan-out convs (kernel area x out_channels / groups) with zero biases."""
    trunc_normal, _ = INIT_TYPES["TruncNormal"]
    with torch.no_grad():
        for module in root.modules():
            if linear and isinstance(module, nn.Linear):
                trunc_normal(module.weight, 0.0, 0.02, -2.0, 2.0)
            elif isinstance(module, norms) and getattr(module, "weight", None) is not None:
                module.weight.fill_(1.0)
            elif conv and isinstance(module, nn.Conv2d):
                fan_out = module.kernel_size[0] * module.kernel_size[1] * module.out_channels // module.groups
                module.weight.normal_(0.0, math.sqrt(2.0 / fan_out))
            else:
                continue
            if getattr(module, "bias", None) is not None:
                module.bias.zero_()
