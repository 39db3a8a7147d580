"""UNet's building blocks, with MMSegmentation's class, argument and parameter names.

``BasicConvBlock`` (``convs.<i>``: 3x3 ConvModules), ``UpConvBlock`` (``upsample`` then ``conv_block`` on
the skip feature concatenated with the upsampled one) and the two upsampling modules an
``upsample_cfg`` can name: ``InterpConv`` (``interp_upsample``: interpolation and a ConvModule) and
``DeconvModule`` (``deconv_upsamping``, MMSegmentation's spelling: transposed conv, norm, activation).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.checkpoint import checkpoint

from seglab.errors import ConfigError
from seglab.models.layers.conv_module import ConvModule, build_activation, build_norm

RELU = dict(type="ReLU")
BN = dict(type="BN")


def _run(module: nn.Module, x: torch.Tensor, with_cp: bool) -> torch.Tensor:
    """``module(x)``, recomputed in backward instead of stored when ``with_cp`` (saves training memory)."""
    if with_cp and x.requires_grad:
        return checkpoint(module, x, use_reentrant=False)
    return module(x)


def _reject(owner: str, **options: object) -> None:
    for name, value in options.items():
        if value is not None:
            raise ConfigError(f"{owner} option '{name}' is not implemented (as in MMSegmentation); remove it")


class BasicConvBlock(nn.Module):
    """``num_convs`` 3x3 ConvModules; only the first strides (``stride``) and only the later ones dilate."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        num_convs: int = 2,
        stride: int = 1,
        dilation: int = 1,
        with_cp: bool = False,
        conv_cfg: dict | None = None,
        norm_cfg: dict | None = BN,
        act_cfg: dict | None = RELU,
        dcn: dict | None = None,
        plugins: list | None = None,
    ) -> None:
        super().__init__()
        _reject("BasicConvBlock", dcn=dcn, plugins=plugins)
        self.with_cp = with_cp
        self.convs = nn.Sequential(
            *(
                ConvModule(
                    in_channels if i == 0 else out_channels,
                    out_channels,
                    3,
                    stride=stride if i == 0 else 1,
                    padding=1 if i == 0 else dilation,
                    dilation=1 if i == 0 else dilation,
                    conv_cfg=conv_cfg,
                    norm_cfg=norm_cfg,
                    act_cfg=act_cfg,
                )
                for i in range(num_convs)
            )
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _run(self.convs, x, self.with_cp)


class Upsample(nn.Module):
    """Interpolation to ``size`` or to ``int(side * scale_factor)`` per side (MMSegmentation's Upsample)."""

    def __init__(
        self,
        size: tuple[int, int] | None = None,
        scale_factor: float | tuple[float, float] | None = None,
        mode: str = "nearest",
        align_corners: bool | None = None,
    ) -> None:
        super().__init__()
        if not size and not scale_factor:
            raise ConfigError("InterpConv upsample_cfg needs size or scale_factor, e.g. dict(scale_factor=2)")
        self.size = size
        if isinstance(scale_factor, tuple | list):
            self.scale_factor = tuple(float(f) for f in scale_factor)
        else:
            self.scale_factor = float(scale_factor) if scale_factor else None
        self.mode = mode
        # interpolation modes without corners (nearest, area) take no align_corners
        self.align_corners = align_corners if mode in ("linear", "bilinear", "bicubic", "trilinear") else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.size:
            size = self.size
        elif isinstance(self.scale_factor, tuple):
            size = [int(t * f) for t, f in zip(x.shape[-2:], self.scale_factor)]
        else:
            size = [int(t * self.scale_factor) for t in x.shape[-2:]]
        return F.interpolate(x, size=size, mode=self.mode, align_corners=self.align_corners)


class InterpConv(nn.Module):
    """x2 upsampling by interpolation and a ConvModule (``conv_first`` puts the conv before it)."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        with_cp: bool = False,
        norm_cfg: dict | None = BN,
        act_cfg: dict | None = RELU,
        *,
        conv_cfg: dict | None = None,
        conv_first: bool = False,
        kernel_size: int = 1,
        stride: int = 1,
        padding: int = 0,
        upsample_cfg: dict = dict(scale_factor=2, mode="bilinear", align_corners=False),  # noqa: B006
    ) -> None:
        super().__init__()
        self.with_cp = with_cp
        conv = ConvModule(
            in_channels,
            out_channels,
            kernel_size,
            stride=stride,
            padding=padding,
            conv_cfg=conv_cfg,
            norm_cfg=norm_cfg,
            act_cfg=act_cfg,
        )
        if not isinstance(upsample_cfg, Mapping):
            raise ConfigError(
                f"InterpConv upsample_cfg must be a dict such as dict(scale_factor=2), got {upsample_cfg!r}"
            )
        upsample = Upsample(**upsample_cfg)
        self.interp_upsample = nn.Sequential(conv, upsample) if conv_first else nn.Sequential(upsample, conv)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _run(self.interp_upsample, x, self.with_cp)


class DeconvModule(nn.Module):
    """Upsampling by ``scale_factor`` with a transposed conv (padding ``(kernel_size - scale_factor) // 2``),
    a norm and an activation."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        with_cp: bool = False,
        norm_cfg: dict | None = BN,
        act_cfg: dict | None = RELU,
        *,
        kernel_size: int = 4,
        scale_factor: int = 2,
    ) -> None:
        super().__init__()
        if kernel_size < scale_factor or (kernel_size - scale_factor) % 2:
            raise ConfigError(
                f"DeconvModule kernel_size={kernel_size} must be >= scale_factor={scale_factor} and differ from "
                "it by an even number (e.g. kernel_size=4, scale_factor=2)"
            )
        if norm_cfg is None:
            raise ConfigError("DeconvModule needs a norm_cfg (as in MMSegmentation), e.g. dict(type='BN')")
        self.with_cp = with_cp
        deconv = nn.ConvTranspose2d(
            in_channels, out_channels, kernel_size, stride=scale_factor, padding=(kernel_size - scale_factor) // 2
        )
        act = build_activation(act_cfg) or nn.Identity()
        self.deconv_upsamping = nn.Sequential(deconv, build_norm(norm_cfg, out_channels)[1], act)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _run(self.deconv_upsamping, x, self.with_cp)


UPSAMPLE_LAYERS: dict[str, type[nn.Module]] = {"InterpConv": InterpConv, "DeconvModule": DeconvModule}


def build_upsample(cfg: Mapping, in_channels: int, out_channels: int, **kwargs) -> nn.Module:
    """The ``upsample_cfg`` layer (``InterpConv`` or ``DeconvModule``); its other keys go to the layer."""
    if not isinstance(cfg, Mapping) or cfg.get("type") not in UPSAMPLE_LAYERS:
        raise ConfigError(
            f"UNet upsample_cfg must be dict(type='InterpConv') or dict(type='DeconvModule') (plus their "
            f"options) or None, got {cfg!r}"
        )
    options = {k: v for k, v in cfg.items() if k != "type"}
    layer = UPSAMPLE_LAYERS[cfg["type"]]
    try:
        return layer(in_channels, out_channels, **kwargs, **options)
    except TypeError as err:
        raise ConfigError(f"UNet upsample_cfg {dict(cfg)}: {err}") from None


class UpConvBlock(nn.Module):
    """One decoder stage: ``upsample`` the deeper feature to the skip's channels (a 1x1 ConvModule when
    ``upsample_cfg`` is None: same size), concatenate with the skip feature, fuse with ``conv_block``."""

    def __init__(
        self,
        conv_block: Callable[..., nn.Module],
        in_channels: int,
        skip_channels: int,
        out_channels: int,
        num_convs: int = 2,
        stride: int = 1,
        dilation: int = 1,
        with_cp: bool = False,
        conv_cfg: dict | None = None,
        norm_cfg: dict | None = BN,
        act_cfg: dict | None = RELU,
        upsample_cfg: dict | None = dict(type="InterpConv"),  # noqa: B006
        dcn: dict | None = None,
        plugins: list | None = None,
    ) -> None:
        super().__init__()
        _reject("UpConvBlock", dcn=dcn, plugins=plugins)
        self.conv_block = conv_block(
            in_channels=2 * skip_channels,
            out_channels=out_channels,
            num_convs=num_convs,
            stride=stride,
            dilation=dilation,
            with_cp=with_cp,
            conv_cfg=conv_cfg,
            norm_cfg=norm_cfg,
            act_cfg=act_cfg,
        )
        if upsample_cfg is not None:
            self.upsample = build_upsample(
                upsample_cfg, in_channels, skip_channels, with_cp=with_cp, norm_cfg=norm_cfg, act_cfg=act_cfg
            )
        else:
            self.upsample = ConvModule(
                in_channels, skip_channels, 1, conv_cfg=conv_cfg, norm_cfg=norm_cfg, act_cfg=act_cfg
            )

    def forward(self, skip: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        return self.conv_block(torch.cat([skip, self.upsample(x)], dim=1))
