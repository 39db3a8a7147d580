"""Conv + norm + activation blocks whose child names match MMSegmentation's parameter names."""

from __future__ import annotations

import torch
from torch import nn

from seglab.errors import ConfigError

NORM_NAMES = {"BN": "bn", "BN2d": "bn", "SyncBN": "bn", "GN": "gn", "LN": "ln", "IN": "in"}


def build_norm(cfg: dict | None, channels: int) -> tuple[str, nn.Module]:
    """(child name, layer) for a ``norm_cfg`` such as ``dict(type='SyncBN', requires_grad=True)``.

    SyncBN becomes BatchNorm here; a distributed run converts it back (torch's SyncBatchNorm)."""
    cfg = dict(cfg or {"type": "BN"})
    norm_type = cfg.pop("type")
    requires_grad = cfg.pop("requires_grad", True)
    if norm_type in ("BN", "BN2d", "SyncBN"):
        layer: nn.Module = nn.BatchNorm2d(channels, eps=cfg.pop("eps", 1e-5), momentum=cfg.pop("momentum", 0.1))
        if norm_type == "SyncBN":
            layer._seglab_sync = True  # marks it for conversion under DDP
    elif norm_type == "GN":
        if "num_groups" not in cfg:
            raise ConfigError("norm_cfg type 'GN' needs num_groups")
        layer = nn.GroupNorm(cfg.pop("num_groups"), channels, eps=cfg.pop("eps", 1e-5))
    elif norm_type == "IN":
        layer = nn.InstanceNorm2d(channels, eps=cfg.pop("eps", 1e-5), affine=cfg.pop("affine", False))
    else:
        raise ConfigError(f"unknown norm_cfg type '{norm_type}'; use BN, SyncBN, GN or IN")
    if cfg:
        raise ConfigError(f"norm_cfg type '{norm_type}' got unknown key(s) {sorted(cfg)}")
    for param in layer.parameters():
        param.requires_grad = requires_grad
    return NORM_NAMES[norm_type], layer


def build_activation(cfg: dict | None) -> nn.Module | None:
    if cfg is None:
        return None
    cfg = dict(cfg)
    act_type = cfg.pop("type")
    table = {
        "ReLU": nn.ReLU,
        "LeakyReLU": nn.LeakyReLU,
        "GELU": nn.GELU,
        "SiLU": nn.SiLU,
        "Swish": nn.SiLU,
        "Sigmoid": nn.Sigmoid,
        "Tanh": nn.Tanh,
        "PReLU": nn.PReLU,
        "ReLU6": nn.ReLU6,
        "HSwish": nn.Hardswish,
    }
    if act_type not in table:
        raise ConfigError(f"unknown act_cfg type '{act_type}'; use one of {sorted(table)}")
    if act_type in ("ReLU", "LeakyReLU", "ReLU6", "SiLU", "Swish", "HSwish"):
        cfg.setdefault("inplace", True)
    return table[act_type](**cfg)


class ConvModule(nn.Module):
    """Conv2d -> norm -> activation, with the conv bias dropped when a norm follows."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | tuple[int, int],
        stride: int = 1,
        padding: int = 0,
        dilation: int = 1,
        groups: int = 1,
        bias: bool | str = "auto",
        conv_cfg: dict | None = None,
        norm_cfg: dict | None = None,
        act_cfg: dict | None = dict(type="ReLU"),  # noqa: B006 (never mutated)
    ) -> None:
        super().__init__()
        if conv_cfg not in (None, {}) and dict(conv_cfg).get("type", "Conv2d") not in ("Conv2d", "Conv"):
            raise ConfigError(f"conv_cfg {conv_cfg} is not supported; only plain Conv2d")
        use_bias = norm_cfg is None if bias == "auto" else bool(bias)
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias=use_bias)
        self.norm_name = None
        if norm_cfg is not None:
            self.norm_name, norm = build_norm(norm_cfg, out_channels)
            self.add_module(self.norm_name, norm)
        self.activate = build_activation(act_cfg)
        self.init_weights()

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

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv(x)
        if self.norm_name is not None:
            x = getattr(self, self.norm_name)(x)
        if self.activate is not None:
            x = self.activate(x)
        return x


class DepthwiseSeparableConvModule(nn.Module):
    """Depthwise 3x3 ConvModule followed by a pointwise 1x1 ConvModule."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        stride: int = 1,
        padding: int = 0,
        dilation: int = 1,
        norm_cfg: dict | None = None,
        act_cfg: dict | None = dict(type="ReLU"),  # noqa: B006 (never mutated)
        **kwargs: object,
    ) -> None:
        super().__init__()
        self.depthwise_conv = ConvModule(
            in_channels,
            in_channels,
            kernel_size,
            stride,
            padding,
            dilation,
            groups=in_channels,
            norm_cfg=norm_cfg,
            act_cfg=act_cfg,
            **kwargs,
        )
        self.pointwise_conv = ConvModule(in_channels, out_channels, 1, norm_cfg=norm_cfg, act_cfg=act_cfg, **kwargs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pointwise_conv(self.depthwise_conv(x))
