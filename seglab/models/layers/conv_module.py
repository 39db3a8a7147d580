"""Conv + norm + activation blocks and the norm/activation builders, with MMCV's type names, child names
and meanings, so MMCV-style configs build the same modules and checkpoints load key for key."""

from __future__ import annotations

import inspect
import warnings
from collections.abc import Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from seglab.errors import ConfigError

# norm_cfg type -> (layer class, child-name abbreviation MMCV infers for it)
NORM_LAYERS: dict[str, tuple[type[nn.Module], str]] = {
    "BN": (nn.BatchNorm2d, "bn"),
    "BN1d": (nn.BatchNorm1d, "bn"),
    "BN2d": (nn.BatchNorm2d, "bn"),
    "BN3d": (nn.BatchNorm3d, "bn"),
    "SyncBN": (nn.BatchNorm2d, "bn"),  # converted to torch's SyncBatchNorm under DDP (see engine.runner)
    "GN": (nn.GroupNorm, "gn"),
    "LN": (nn.LayerNorm, "ln"),
    "IN": (nn.InstanceNorm2d, "in"),
    "IN1d": (nn.InstanceNorm1d, "in"),
    "IN2d": (nn.InstanceNorm2d, "in"),
    "IN3d": (nn.InstanceNorm3d, "in"),
}
NORM_NAMES = {name: abbr for name, (_, abbr) in NORM_LAYERS.items()}
_FEATURE_ARG = {nn.GroupNorm: "num_channels", nn.LayerNorm: "normalized_shape"}
_PAD_LAYERS = {"reflect": nn.ReflectionPad2d, "replicate": nn.ReplicationPad2d, "zero": nn.ZeroPad2d}


class HSigmoid(nn.Module):
    """MMCV's hard sigmoid ``clamp((x + bias) / divisor, min_value, max_value)``.

    Unlike torch's Hardsigmoid its bias/divisor/bounds are arguments (configs set them); the defaults
    (3, 6, 0, 1) are MMCV >= 1.4.4's, which equal torch's (MMCV < 1.4.4 used (x + 1) / 2)."""

    def __init__(self, bias: float = 3.0, divisor: float = 6.0, min_value: float = 0.0, max_value: float = 1.0):
        super().__init__()
        if divisor == 0:
            raise ConfigError("act_cfg type 'HSigmoid' needs a non-zero divisor")
        self.bias, self.divisor, self.min_value, self.max_value = bias, divisor, min_value, max_value

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return ((x + self.bias) / self.divisor).clamp(self.min_value, self.max_value)


class Swish(nn.Module):
    """``x * sigmoid(x)``; MMCV's 'Swish' takes no arguments (not even ``inplace``), unlike 'SiLU'."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.sigmoid(x)


class QuickGELU(nn.Module):
    """OpenAI CLIP's GELU approximation ``x * sigmoid(1.702 x)`` (MMSegmentation's 'QuickGELU', SAN's CLIP)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.sigmoid(1.702 * x)


class Clamp(nn.Module):
    """MMCV's 'Clamp' (alias 'Clip'): ``torch.clamp(x, min, max)`` with defaults -1 and 1."""

    def __init__(self, min: float = -1.0, max: float = 1.0):  # noqa: A002 (MMCV's argument names)
        super().__init__()
        self.min, self.max = min, max

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.clamp(x, min=self.min, max=self.max)


ACT_LAYERS: dict[str, type[nn.Module]] = {
    "ReLU": nn.ReLU,
    "ReLU6": nn.ReLU6,
    "LeakyReLU": nn.LeakyReLU,
    "PReLU": nn.PReLU,
    "RReLU": nn.RReLU,
    "ELU": nn.ELU,
    "GELU": nn.GELU,
    "Sigmoid": nn.Sigmoid,
    "Tanh": nn.Tanh,
    "HSwish": nn.Hardswish,
    "HSigmoid": HSigmoid,
    "Swish": Swish,
    "QuickGELU": QuickGELU,
    "SiLU": nn.SiLU,
    "Clamp": Clamp,
    "Clip": Clamp,
}


def _accepted_args(cls: type, skip: tuple[str, ...] = ()) -> list[str]:
    """Keyword arguments a layer class takes (what a config may set), without device/dtype."""
    params = inspect.signature(cls).parameters.values()
    plain = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    return [p.name for p in params if p.kind in plain and p.name not in ("device", "dtype", *skip)]


def _check_keys(kind: str, type_name: str, given: dict, accepted: list[str]) -> None:
    unknown = sorted(set(given) - set(accepted))
    if unknown:
        raise ConfigError(f"{kind} type '{type_name}' got unknown key(s) {unknown}; it accepts {sorted(accepted)}")


def build_norm(cfg: dict | None, channels: int, postfix: int | str = "") -> tuple[str, nn.Module]:
    """(child name, layer) for a ``norm_cfg`` such as ``dict(type='SyncBN', requires_grad=True)``.

    The name is MMCV's abbreviation plus ``postfix`` (``bn``, ``gn1``, ``ln``, ``in``), which is what
    checkpoints use. ``eps`` defaults to 1e-5 and every other key goes to the torch layer; GN needs
    ``num_groups``. SyncBN is built as BatchNorm here and synchronised only in a distributed run."""
    if cfg is not None and not isinstance(cfg, Mapping):
        raise ConfigError(f"norm_cfg must be a dict such as dict(type='BN'), got {cfg!r}")
    cfg = dict(cfg) if cfg is not None else {"type": "BN"}
    norm_type = cfg.pop("type", None)
    if norm_type not in NORM_LAYERS:
        hint = "" if norm_type is not None else " (norm_cfg has no 'type')"
        raise ConfigError(f"unknown norm_cfg type {norm_type!r}{hint}; use one of {', '.join(NORM_LAYERS)}")
    layer_cls, abbr = NORM_LAYERS[norm_type]
    requires_grad = cfg.pop("requires_grad", True)
    cfg.setdefault("eps", 1e-5)
    feature_arg = _FEATURE_ARG.get(layer_cls, "num_features")
    _check_keys("norm_cfg", norm_type, cfg, _accepted_args(layer_cls, skip=(feature_arg,)))
    if layer_cls is nn.GroupNorm:
        groups = cfg.get("num_groups")
        if not groups or channels % groups:
            raise ConfigError(f"norm_cfg type 'GN' needs num_groups dividing the {channels} channels, got {groups}")
    layer = layer_cls(**{feature_arg: channels}, **cfg)
    if norm_type == "SyncBN":
        layer._seglab_sync = True  # marks it for conversion under DDP
    for param in layer.parameters():
        param.requires_grad = requires_grad
    return f"{abbr}{postfix}", layer


def build_activation(cfg: dict | None, inplace: bool | None = None) -> nn.Module | None:
    """The activation layer an ``act_cfg`` names (None for None), with MMCV's registry names and defaults.

    ``inplace`` becomes the default of types that take it (ConvModule passes its own ``inplace``); as in
    MMCV, a bare ``build_activation(dict(type='ReLU'))`` keeps torch's default (not in place)."""
    if cfg is None:
        return None
    if not isinstance(cfg, Mapping):
        raise ConfigError(f"act_cfg must be a dict such as dict(type='ReLU') or None, got {cfg!r}")
    cfg = dict(cfg)
    act_type = cfg.pop("type", None)
    if act_type not in ACT_LAYERS:
        hint = "" if act_type is not None else " (act_cfg has no 'type')"
        raise ConfigError(f"unknown act_cfg type {act_type!r}{hint}; use one of {', '.join(ACT_LAYERS)}")
    layer_cls = ACT_LAYERS[act_type]
    accepted = _accepted_args(layer_cls)
    if inplace is not None and "inplace" in accepted:
        cfg.setdefault("inplace", inplace)
    _check_keys("act_cfg", act_type, cfg, accepted)
    return layer_cls(**cfg)


def _check_order(order: Sequence[str]) -> tuple[str, str, str]:
    if isinstance(order, str) or len(order) != 3 or set(order) != {"conv", "norm", "act"}:
        raise ConfigError(
            f"ConvModule order={order!r} must name 'conv', 'norm' and 'act' once each, e.g. ('conv', 'norm', 'act')"
        )
    return tuple(order)  # type: ignore[return-value]


class ConvModule(nn.Module):
    """Conv2d, norm and activation in the given ``order`` (MMCV's ConvModule, argument for argument).

    ``bias='auto'`` drops the conv bias when a norm is present; a norm placed before the conv is built on
    ``in_channels``. ``padding_mode`` 'reflect', 'replicate' or 'zero' pads with a separate parameter-free
    ``padding_layer`` (conv padding 0); 'zeros' and 'circular' are handed to no layer, so 'circular' pads
    with zeros, exactly as MMCV 2.x computes it (it never passes padding_mode to the conv)."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | tuple[int, int],
        stride: int | tuple[int, int] = 1,
        padding: int | tuple[int, ...] = 0,
        dilation: int | tuple[int, int] = 1,
        groups: int = 1,
        bias: bool | str = "auto",
        conv_cfg: dict | None = None,
        norm_cfg: dict | None = None,
        act_cfg: dict | None = dict(type="ReLU"),  # noqa: B006 (never mutated)
        inplace: bool = True,
        with_spectral_norm: bool = False,
        padding_mode: str = "zeros",
        order: Sequence[str] = ("conv", "norm", "act"),
        efficient_conv_bn_eval: bool = False,
    ) -> None:
        super().__init__()
        if conv_cfg not in (None, {}) and dict(conv_cfg).get("type", "Conv2d") not in ("Conv2d", "Conv"):
            raise ConfigError(f"conv_cfg {conv_cfg} is not supported; only plain Conv2d")
        self.order = _check_order(order)
        self.conv_cfg, self.norm_cfg, self.act_cfg = conv_cfg, norm_cfg, act_cfg
        self.inplace, self.with_spectral_norm = inplace, with_spectral_norm
        self.with_norm, self.with_activation = norm_cfg is not None, act_cfg is not None
        self.with_bias = (not self.with_norm) if bias == "auto" else bool(bias)
        self.with_explicit_padding = padding_mode not in ("zeros", "circular")
        if padding_mode == "circular":
            warnings.warn(
                "ConvModule padding_mode='circular' pads with zeros, as MMCV's ConvModule computes it "
                "(checkpoints trained with it expect that); use a plain nn.Conv2d for real circular padding",
                stacklevel=2,
            )
        if self.with_explicit_padding:
            if padding_mode not in _PAD_LAYERS:
                raise ConfigError(
                    f"ConvModule padding_mode={padding_mode!r} is unknown; use 'zeros', 'circular', "
                    f"{', '.join(repr(m) for m in _PAD_LAYERS)}"
                )
            if isinstance(padding, Sequence) and len(padding) != 4:
                raise ConfigError(
                    f"ConvModule padding_mode={padding_mode!r} needs an int padding or 4 values "
                    f"(left, right, top, bottom), got {padding!r}"
                )
            self.padding_layer = _PAD_LAYERS[padding_mode](padding)
        self.conv = nn.Conv2d(
            in_channels,
            out_channels,
            kernel_size,
            stride,
            0 if self.with_explicit_padding else padding,
            dilation,
            groups,
            bias=self.with_bias,
        )
        self.in_channels, self.out_channels, self.groups = in_channels, out_channels, groups
        self.kernel_size, self.stride, self.dilation = self.conv.kernel_size, self.conv.stride, self.conv.dilation
        self.padding = padding
        if with_spectral_norm:
            self.conv = nn.utils.spectral_norm(self.conv)
        self.norm_name = None
        if norm_cfg is not None:
            norm_first = self.order.index("norm") < self.order.index("conv")
            self.norm_name, norm = build_norm(norm_cfg, in_channels if norm_first else out_channels)
            self.add_module(self.norm_name, norm)
            if self.with_bias and isinstance(norm, nn.modules.batchnorm._NormBase):
                warnings.warn("Unnecessary conv bias before batch/instance norm", stacklevel=2)
        self.turn_on_efficient_conv_bn_eval(efficient_conv_bn_eval)
        self.activate = build_activation(act_cfg, inplace=inplace)
        self.init_weights()

    @property
    def norm(self) -> nn.Module | None:
        return getattr(self, self.norm_name) if self.norm_name else None

    def turn_on_efficient_conv_bn_eval(self, enabled: bool = True) -> None:
        """Fold an eval-mode BatchNorm that directly follows the conv into the conv weights (saves memory;
        same result up to rounding). Only BatchNorm with running statistics qualifies, as in MMCV."""
        norm = self.norm
        is_bn = isinstance(norm, nn.modules.batchnorm._BatchNorm) and norm.track_running_stats
        # spectral norm recomputes the weight in a forward hook that folding would bypass: keep the plain path
        self.efficient_conv_bn_eval = bool(enabled and is_bn and not self.with_spectral_norm)

    def init_weights(self) -> None:
        """MMCV's ConvModule init: Kaiming normal (fan-out, gain of the activation), zero bias, unit norm."""
        leaky = isinstance(self.activate, nn.LeakyReLU)
        nn.init.kaiming_normal_(
            self.conv.weight,
            a=self.activate.negative_slope if leaky else 0,
            mode="fan_out",
            nonlinearity="leaky_relu" if leaky else "relu",
        )
        if self.conv.bias is not None:
            nn.init.zeros_(self.conv.bias)
        if self.norm_name is not None:
            norm = getattr(self, self.norm_name)
            if getattr(norm, "weight", None) is not None:
                nn.init.ones_(norm.weight)
            if getattr(norm, "bias", None) is not None:
                nn.init.zeros_(norm.bias)

    def _conv_bn_folded(self, x: torch.Tensor) -> torch.Tensor:
        bn, conv = self.norm, self.conv
        scale = torch.rsqrt(bn.running_var + bn.eps)
        if bn.weight is not None:
            scale = scale * bn.weight
        bias = conv.bias if conv.bias is not None else torch.zeros_like(bn.running_mean)
        bias = (bias - bn.running_mean) * scale
        if bn.bias is not None:
            bias = bias + bn.bias
        weight = conv.weight * scale.reshape(-1, 1, 1, 1)
        return F.conv2d(x, weight, bias, conv.stride, conv.padding, conv.dilation, conv.groups)

    def forward(self, x: torch.Tensor, activate: bool = True, norm: bool = True) -> torch.Tensor:
        """Runs the layers in ``order``; ``activate=False``/``norm=False`` skip those steps, as in MMCV."""
        skip_norm = False
        for index, layer in enumerate(self.order):
            if layer == "conv":
                if self.with_explicit_padding:
                    x = self.padding_layer(x)
                fold = (
                    self.efficient_conv_bn_eval
                    and norm
                    and index < 2
                    and self.order[index + 1] == "norm"
                    and not self.norm.training
                )
                x = self._conv_bn_folded(x) if fold else self.conv(x)
                skip_norm = fold
            elif layer == "norm" and norm and self.norm_name is not None and not skip_norm:
                x = getattr(self, self.norm_name)(x)
            elif layer == "act" and activate and self.activate is not None:
                x = self.activate(x)
        return x


class DepthwiseSeparableConvModule(nn.Module):
    """Depthwise ConvModule (``groups=in_channels``) followed by a pointwise 1x1 ConvModule.

    ``dw_norm_cfg``/``dw_act_cfg``/``pw_norm_cfg``/``pw_act_cfg`` override ``norm_cfg``/``act_cfg`` for one
    of the two when not 'default'; other keyword arguments go to both ConvModules."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | tuple[int, int],
        stride: int | tuple[int, int] = 1,
        padding: int | tuple[int, ...] = 0,
        dilation: int | tuple[int, int] = 1,
        norm_cfg: dict | None = None,
        act_cfg: dict | None = dict(type="ReLU"),  # noqa: B006 (never mutated)
        dw_norm_cfg: dict | str | None = "default",
        dw_act_cfg: dict | str | None = "default",
        pw_norm_cfg: dict | str | None = "default",
        pw_act_cfg: dict | str | None = "default",
        **kwargs: object,
    ) -> None:
        super().__init__()
        if "groups" in kwargs:
            raise ConfigError("DepthwiseSeparableConvModule sets groups itself (= in_channels); remove 'groups'")

        def pick(specific: dict | str | None, shared: dict | None) -> dict | None:
            return shared if isinstance(specific, str) and specific == "default" else specific

        self.depthwise_conv = ConvModule(
            in_channels,
            in_channels,
            kernel_size,
            stride,
            padding,
            dilation,
            groups=in_channels,
            norm_cfg=pick(dw_norm_cfg, norm_cfg),
            act_cfg=pick(dw_act_cfg, act_cfg),
            **kwargs,
        )
        self.pointwise_conv = ConvModule(
            in_channels,
            out_channels,
            1,
            norm_cfg=pick(pw_norm_cfg, norm_cfg),
            act_cfg=pick(pw_act_cfg, act_cfg),
            **kwargs,
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pointwise_conv(self.depthwise_conv(x))
