"""ConvNeXt (v1, and v2 with ``use_grn=True``): patchify stem, then four stages of depthwise 7x7 conv ->
channel LayerNorm -> pointwise MLP blocks, with 2x2 stride-2 downsampling between them.

MMSegmentation takes this backbone from mmpretrain (``type='mmpretrain.ConvNeXt'``); seglab provides it
under both names with mmpretrain 1.2.0's arguments and parameter names (``downsample_layers.0.0``,
``stages.2.5.pointwise_conv1``, ``.gamma``, ``norm3`` ...), so mmpretrain's published checkpoints load as
they are.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import chain

import torch
import torch.nn.functional as F
import torch.utils.checkpoint as cp
from torch import nn

from seglab.errors import ConfigError
from seglab.models.layers import DropPath, build_activation
from seglab.registry import MODELS

ARCH_SETTINGS = {
    "atto": {"depths": [2, 2, 6, 2], "channels": [40, 80, 160, 320]},
    "femto": {"depths": [2, 2, 6, 2], "channels": [48, 96, 192, 384]},
    "pico": {"depths": [2, 2, 6, 2], "channels": [64, 128, 256, 512]},
    "nano": {"depths": [2, 2, 8, 2], "channels": [80, 160, 320, 640]},
    "tiny": {"depths": [3, 3, 9, 3], "channels": [96, 192, 384, 768]},
    "small": {"depths": [3, 3, 27, 3], "channels": [96, 192, 384, 768]},
    "base": {"depths": [3, 3, 27, 3], "channels": [128, 256, 512, 1024]},
    "large": {"depths": [3, 3, 27, 3], "channels": [192, 384, 768, 1536]},
    "xlarge": {"depths": [3, 3, 27, 3], "channels": [256, 512, 1024, 2048]},
    "huge": {"depths": [3, 3, 27, 3], "channels": [352, 704, 1408, 2816]},
}
DEFAULT_INIT = [
    dict(type="TruncNormal", layer=["Conv2d", "Linear"], std=0.02, bias=0.0),
    dict(type="Constant", layer=["LayerNorm"], val=1.0, bias=0.0),
]


class LayerNorm2d(nn.LayerNorm):
    """mmpretrain's 'LN2d': LayerNorm over the channels of an (N, C, H, W) map, or of (N, H, W, C) with
    ``data_format='channel_last'`` (a ConvNeXt block normalises after permuting to channels-last)."""

    def __init__(self, num_channels: int, **kwargs) -> None:
        super().__init__(num_channels, **kwargs)
        self.num_channels = num_channels

    def forward(self, x: torch.Tensor, data_format: str = "channel_first") -> torch.Tensor:
        if data_format == "channel_last":
            return F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)
        x = F.layer_norm(x.permute(0, 2, 3, 1), self.normalized_shape, self.weight, self.bias, self.eps)
        return x.permute(0, 3, 1, 2).contiguous()


class GRN(nn.Module):
    """ConvNeXt v2's global response normalisation: each channel's spatial L2 norm relative to the mean
    over channels rescales it (``gamma``, ``beta`` start at zero, so a fresh GRN is the identity)."""

    def __init__(self, in_channels: int, eps: float = 1e-6) -> None:
        super().__init__()
        self.in_channels, self.eps = in_channels, eps
        self.gamma = nn.Parameter(torch.zeros(in_channels))
        self.beta = nn.Parameter(torch.zeros(in_channels))

    def forward(self, x: torch.Tensor, data_format: str = "channel_first") -> torch.Tensor:
        if data_format == "channel_last":
            gx = torch.norm(x, p=2, dim=(1, 2), keepdim=True)
            nx = gx / (gx.mean(dim=-1, keepdim=True) + self.eps)
            return self.gamma * (x * nx) + self.beta + x
        gx = torch.norm(x, p=2, dim=(2, 3), keepdim=True)
        nx = gx / (gx.mean(dim=1, keepdim=True) + self.eps)
        return self.gamma.view(1, -1, 1, 1) * (x * nx) + self.beta.view(1, -1, 1, 1) + x


def build_ln2d(cfg: dict, channels: int) -> LayerNorm2d:
    """A ConvNeXt ``norm_cfg``: only mmpretrain's 'LN2d' works in its blocks (they pass ``data_format``)."""
    cfg = dict(cfg)
    norm_type = cfg.pop("type", None)
    if norm_type != "LN2d":
        raise ConfigError(f"ConvNeXt norm_cfg type {norm_type!r}: ConvNeXt needs dict(type='LN2d', eps=1e-6)")
    requires_grad = cfg.pop("requires_grad", True)
    unknown = sorted(set(cfg) - {"eps", "elementwise_affine", "bias"})
    if unknown:
        raise ConfigError(f"ConvNeXt norm_cfg got unknown key(s) {unknown}; it accepts eps, elementwise_affine")
    cfg.setdefault("eps", 1e-5)  # mmpretrain's default when a norm_cfg names no eps
    layer = LayerNorm2d(channels, **cfg)
    for param in layer.parameters():
        param.requires_grad = requires_grad
    return layer


class ConvNeXtBlock(nn.Module):
    """dwconv 7x7 -> LN -> pointwise (Linear on channels-last, or 1x1 conv) -> act [-> GRN] -> pointwise,
    scaled per channel by ``gamma`` (layer scale) and added to the input through drop path."""

    def __init__(
        self,
        in_channels: int,
        dw_conv_cfg: dict | None = None,
        norm_cfg: dict | None = None,
        act_cfg: dict | None = None,
        mlp_ratio: float = 4.0,
        linear_pw_conv: bool = True,
        drop_path_rate: float = 0.0,
        layer_scale_init_value: float = 1e-6,
        use_grn: bool = False,
        with_cp: bool = False,
    ) -> None:
        super().__init__()
        self.with_cp, self.linear_pw_conv = with_cp, linear_pw_conv
        dw_conv_cfg = dw_conv_cfg or dict(kernel_size=7, padding=3)
        self.depthwise_conv = nn.Conv2d(in_channels, in_channels, groups=in_channels, **dw_conv_cfg)
        self.norm = build_ln2d(norm_cfg or dict(type="LN2d", eps=1e-6), in_channels)
        mid_channels = int(mlp_ratio * in_channels)
        if linear_pw_conv:
            self.pointwise_conv1 = nn.Linear(in_channels, mid_channels)
        else:
            self.pointwise_conv1 = nn.Conv2d(in_channels, mid_channels, kernel_size=1)
        self.act = build_activation(act_cfg or dict(type="GELU"))
        if linear_pw_conv:
            self.pointwise_conv2 = nn.Linear(mid_channels, in_channels)
        else:
            self.pointwise_conv2 = nn.Conv2d(mid_channels, in_channels, kernel_size=1)
        self.grn = GRN(mid_channels) if use_grn else None
        scale = layer_scale_init_value
        self.gamma = nn.Parameter(scale * torch.ones(in_channels)) if scale > 0 else None
        self.drop_path = DropPath(drop_path_rate) if drop_path_rate > 0 else nn.Identity()

    def _inner_forward(self, x: torch.Tensor) -> torch.Tensor:
        shortcut = x
        x = self.depthwise_conv(x)
        layout = "channel_last" if self.linear_pw_conv else "channel_first"
        if self.linear_pw_conv:
            x = x.permute(0, 2, 3, 1)
        x = self.act(self.pointwise_conv1(self.norm(x, data_format=layout)))
        if self.grn is not None:
            x = self.grn(x, data_format=layout)
        x = self.pointwise_conv2(x)
        if self.linear_pw_conv:
            x = x.permute(0, 3, 1, 2)
        if self.gamma is not None:
            x = x.mul(self.gamma.view(1, -1, 1, 1))
        return shortcut + self.drop_path(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.with_cp and x.requires_grad:
            return cp.checkpoint(self._inner_forward, x, use_reentrant=False)
        return self._inner_forward(x)


def resolve_arch(arch: str | dict, settings: dict, keys: tuple[str, ...], family: str) -> dict:
    """An ``arch`` name from ``settings`` or a dict with ``keys``, else a ConfigError naming the choices."""
    if isinstance(arch, str):
        if arch.lower() not in settings:
            raise ConfigError(f"{family} arch '{arch}' is unknown; use one of {', '.join(settings)} or a dict")
        return settings[arch.lower()]
    if not isinstance(arch, dict) or any(k not in arch for k in keys):
        raise ConfigError(f"{family} arch must be a name or a dict with keys {list(keys)}, got {arch!r}")
    return arch


def resolve_out_indices(out_indices: int | Sequence[int], count: int, family: str) -> list[int]:
    """mmpretrain's rule: an int is one index; a negative index counts back from ``count``."""
    indices = [out_indices] if isinstance(out_indices, int) else out_indices
    if not isinstance(indices, Sequence):
        raise ConfigError(f"{family} out_indices must be an int or a list of ints, got {out_indices!r}")
    resolved = [i + count if i < 0 else i for i in indices]
    if any(not 0 <= i < count for i in resolved):
        raise ConfigError(f"{family} out_indices {list(indices)} must lie in [-{count}, {count - 1}]")
    return resolved


@MODELS.register("mmpretrain.ConvNeXt")
@MODELS.register()
class ConvNeXt(nn.Module):
    """mmpretrain's ConvNeXt: ``downsample_layers`` (stem + 3), ``stages`` of blocks and one ``norm{i}`` per
    output stage. ``gap_before_final_norm=True`` (the classification default) returns pooled (N, C)
    vectors; segmentation configs set it False to get maps."""

    def __init__(
        self,
        arch: str | dict = "tiny",
        in_channels: int = 3,
        stem_patch_size: int = 4,
        norm_cfg: dict | None = None,
        act_cfg: dict | None = None,
        linear_pw_conv: bool = True,
        use_grn: bool = False,
        drop_path_rate: float = 0.0,
        layer_scale_init_value: float = 1e-6,
        out_indices: int | Sequence[int] = -1,
        frozen_stages: int = 0,
        gap_before_final_norm: bool = True,
        with_cp: bool = False,
        init_cfg: dict | list | None = DEFAULT_INIT,  # noqa: B006 (never mutated)
    ) -> None:
        super().__init__()
        self.init_cfg = init_cfg
        arch = resolve_arch(arch, ARCH_SETTINGS, ("depths", "channels"), "ConvNeXt")
        self.depths, self.channels = list(arch["depths"]), list(arch["channels"])
        if len(self.depths) != len(self.channels):
            raise ConfigError(f"ConvNeXt arch: depths {self.depths} and channels {self.channels} differ in length")
        self.num_stages = len(self.depths)
        self.out_indices = resolve_out_indices(out_indices, 4, "ConvNeXt")  # mmpretrain counts back from 4
        if not 0 <= frozen_stages <= self.num_stages:
            raise ConfigError(f"ConvNeXt frozen_stages={frozen_stages} must lie in [0, {self.num_stages}]")
        self.frozen_stages, self.gap_before_final_norm = frozen_stages, gap_before_final_norm
        norm_cfg = norm_cfg or dict(type="LN2d", eps=1e-6)
        rates = torch.linspace(0, drop_path_rate, sum(self.depths), device="cpu").tolist()

        self.downsample_layers = nn.ModuleList()
        stem = nn.Conv2d(in_channels, self.channels[0], kernel_size=stem_patch_size, stride=stem_patch_size)
        self.downsample_layers.append(nn.Sequential(stem, build_ln2d(norm_cfg, self.channels[0])))
        self.stages = nn.ModuleList()
        first = 0
        for i, (depth, channels) in enumerate(zip(self.depths, self.channels)):
            if i >= 1:
                previous = self.channels[i - 1]
                down = nn.Conv2d(previous, channels, kernel_size=2, stride=2)
                self.downsample_layers.append(nn.Sequential(build_ln2d(norm_cfg, previous), down))
            blocks = [
                ConvNeXtBlock(
                    channels,
                    norm_cfg=norm_cfg,
                    act_cfg=act_cfg,
                    linear_pw_conv=linear_pw_conv,
                    drop_path_rate=rates[first + j],
                    layer_scale_init_value=layer_scale_init_value,
                    use_grn=use_grn,
                    with_cp=with_cp,
                )
                for j in range(depth)
            ]
            first += depth
            self.stages.append(nn.Sequential(*blocks))
            if i in self.out_indices:
                self.add_module(f"norm{i}", build_ln2d(norm_cfg, channels))
        self._freeze_stages()

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        outs = []
        for i, stage in enumerate(self.stages):
            x = stage(self.downsample_layers[i](x))
            if i in self.out_indices:
                norm = getattr(self, f"norm{i}")
                if self.gap_before_final_norm:
                    outs.append(norm(x.mean([-2, -1], keepdim=True)).flatten(1))
                else:
                    outs.append(norm(x))
        return tuple(outs)

    layer_decay_types = ("layer_wise", "stage_wise")

    def layer_id(self, param_name: str, num_layers: int, decay_type: str) -> int:
        """MMSegmentation's ConvNeXt ids for layer-wise lr decay (``seglab.engine.layer_decay``).
        ``layer_wise``: stem 0, stage 0 1, stage 1 and its downsampling 2, stage 2's blocks in threes from 3
        (its downsampling 3), the last stage and its downsampling ``num_layers``; ``stage_wise``: every
        downsampling 0, stage ``i`` ``i + 1``. Output norms get ``num_layers + 1``, as the heads do."""
        parts = param_name.split(".")
        if parts[0] == "downsample_layers":
            return 0 if decay_type == "stage_wise" else {0: 0, 1: 2, 2: 3}.get(int(parts[1]), num_layers)
        if parts[0] == "stages":
            stage = int(parts[1])
            if decay_type == "stage_wise":
                return stage + 1
            return 3 + int(parts[2]) // 3 if stage == 2 else {0: 1, 1: 2}.get(stage, num_layers)
        return num_layers + 1

    def _freeze_stages(self) -> None:
        """The stem/downsampling layer and blocks of the first ``frozen_stages`` stages: eval, no gradient."""
        for i in range(self.frozen_stages):
            self.downsample_layers[i].eval()
            self.stages[i].eval()
            for param in chain(self.downsample_layers[i].parameters(), self.stages[i].parameters()):
                param.requires_grad = False

    def train(self, mode: bool = True) -> ConvNeXt:
        super().train(mode)
        self._freeze_stages()
        return self
