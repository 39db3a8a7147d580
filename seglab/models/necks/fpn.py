"""Feature Pyramid Network (MMSegmentation's ``FPN`` neck): one ``out_channels`` map per pyramid level."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from seglab.errors import ConfigError
from seglab.models.layers import ConvModule
from seglab.registry import MODELS

EXTRA_SOURCES = ("on_input", "on_lateral", "on_output")
UPSAMPLE_KEYS = ("mode", "scale_factor", "align_corners")
XAVIER = dict(type="Xavier", layer="Conv2d", distribution="uniform")


@MODELS.register()
class FPN(nn.Module):
    """1x1 ``lateral_convs`` on input levels ``start_level``..``end_level``, a top-down pass that adds each
    upsampled coarser level to the next finer one (``upsample_cfg``, nearest by default), 3x3 ``fpn_convs``;
    ``num_outs`` beyond the input levels come from stride-2 max pooling, or from stride-2 3x3 convs
    (``add_extra_convs`` True / 'on_input' / 'on_lateral' / 'on_output', appended to ``fpn_convs``).

    All its Conv2d start Xavier-uniform (``init_cfg``); the ConvModules sit in plain ModuleLists, which the
    init walk does not enter, so they keep it, as in MMSegmentation."""

    def __init__(
        self,
        in_channels: Sequence[int],
        out_channels: int,
        num_outs: int,
        start_level: int = 0,
        end_level: int = -1,
        add_extra_convs: bool | str = False,
        extra_convs_on_inputs: bool = False,
        relu_before_extra_convs: bool = False,
        no_norm_on_lateral: bool = False,
        conv_cfg: dict | None = None,
        norm_cfg: dict | None = None,
        act_cfg: dict | None = None,
        upsample_cfg: dict = dict(mode="nearest"),  # noqa: B006 (copied, never mutated)
        init_cfg: dict | list | None = XAVIER,  # noqa: B006
    ) -> None:
        super().__init__()
        if not isinstance(in_channels, list | tuple) or not in_channels:
            raise ConfigError(
                f"FPN in_channels must be a list of channel counts, one per input level, got {in_channels!r}"
            )
        self.in_channels = list(in_channels)
        self.out_channels = out_channels
        self.num_ins = len(in_channels)
        self.num_outs = num_outs
        self.relu_before_extra_convs = relu_before_extra_convs
        self.no_norm_on_lateral = no_norm_on_lateral
        self.upsample_cfg = _check_upsample(upsample_cfg)
        self.init_cfg = init_cfg
        self.backbone_end_level = self._check_levels(start_level, end_level, num_outs)
        self.start_level, self.end_level = start_level, end_level
        self.add_extra_convs = _extra_source(add_extra_convs, extra_convs_on_inputs)

        conv_args = dict(conv_cfg=conv_cfg, act_cfg=act_cfg, inplace=False)
        levels = range(start_level, self.backbone_end_level)
        lateral_norm = None if no_norm_on_lateral else norm_cfg
        self.lateral_convs = nn.ModuleList(
            ConvModule(self.in_channels[i], out_channels, 1, norm_cfg=lateral_norm, **conv_args) for i in levels
        )
        self.fpn_convs = nn.ModuleList(
            ConvModule(out_channels, out_channels, 3, padding=1, norm_cfg=norm_cfg, **conv_args) for _ in levels
        )
        extra_levels = num_outs - self.backbone_end_level + start_level
        if self.add_extra_convs:
            for i in range(extra_levels):
                source = self.in_channels[self.backbone_end_level - 1]
                channels = source if i == 0 and self.add_extra_convs == "on_input" else out_channels
                self.fpn_convs.append(
                    ConvModule(channels, out_channels, 3, stride=2, padding=1, norm_cfg=norm_cfg, **conv_args)
                )

    def _check_levels(self, start_level: int, end_level: int, num_outs: int) -> int:
        """MMSegmentation's asserts as ConfigErrors; returns the (exclusive) last input level used."""
        if not 0 <= start_level < self.num_ins:
            raise ConfigError(f"FPN start_level={start_level} must name one of the {self.num_ins} input levels")
        if end_level == -1:
            if num_outs < self.num_ins - start_level:
                raise ConfigError(
                    f"FPN num_outs={num_outs} is fewer than the input levels it uses "
                    f"({self.num_ins - start_level} from start_level={start_level})"
                )
            return self.num_ins
        if not start_level < end_level <= self.num_ins or num_outs != end_level - start_level:
            raise ConfigError(
                f"FPN end_level={end_level} must be in ({start_level}, {self.num_ins}] and num_outs ({num_outs}) "
                f"must equal end_level - start_level (no extra levels with an explicit end_level)"
            )
        return end_level

    def _upsample(self, x: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
        if "scale_factor" in self.upsample_cfg:  # a fixed factor, as MMSegmentation allows instead of the size
            return F.interpolate(x, **self.upsample_cfg)
        return F.interpolate(x, size=like.shape[2:], **self.upsample_cfg)

    def forward(self, inputs: Sequence[torch.Tensor]) -> tuple[torch.Tensor, ...]:
        if len(inputs) != self.num_ins:
            raise ConfigError(
                f"FPN got {len(inputs)} feature levels but in_channels lists {self.num_ins}; "
                "make in_channels match the backbone's out_indices"
            )
        laterals = [conv(inputs[self.start_level + i]) for i, conv in enumerate(self.lateral_convs)]
        for i in range(len(laterals) - 1, 0, -1):  # top-down; out of place, so each level stays intact
            laterals[i - 1] = laterals[i - 1] + self._upsample(laterals[i], laterals[i - 1])
        used = len(laterals)
        outs = [self.fpn_convs[i](laterals[i]) for i in range(used)]
        if self.num_outs > used and not self.add_extra_convs:
            for _ in range(self.num_outs - used):  # each extra level subsamples the previous one
                outs.append(F.max_pool2d(outs[-1], 1, stride=2))
        elif self.num_outs > used:
            source = {
                "on_input": inputs[self.backbone_end_level - 1],
                "on_lateral": laterals[-1],
                "on_output": outs[-1],
            }[self.add_extra_convs]
            outs.append(self.fpn_convs[used](source))
            for i in range(used + 1, self.num_outs):
                x = F.relu(outs[-1]) if self.relu_before_extra_convs else outs[-1]
                outs.append(self.fpn_convs[i](x))
        return tuple(outs)


def _extra_source(add_extra_convs: bool | str, extra_convs_on_inputs: bool) -> bool | str:
    """``add_extra_convs`` as False or the source of the extra convs; True means 'on_input' when the
    deprecated ``extra_convs_on_inputs`` is set, else 'on_output'."""
    if isinstance(add_extra_convs, str):
        if add_extra_convs not in EXTRA_SOURCES:
            raise ConfigError(f"FPN add_extra_convs must be a bool or one of {EXTRA_SOURCES}, got {add_extra_convs!r}")
        return add_extra_convs
    if not isinstance(add_extra_convs, bool):
        raise ConfigError(f"FPN add_extra_convs must be a bool or one of {EXTRA_SOURCES}, got {add_extra_convs!r}")
    if add_extra_convs:
        return "on_input" if extra_convs_on_inputs else "on_output"
    return False


def _check_upsample(upsample_cfg: dict) -> dict:
    if not isinstance(upsample_cfg, dict) or set(upsample_cfg) - set(UPSAMPLE_KEYS):
        raise ConfigError(f"FPN upsample_cfg takes the keys {UPSAMPLE_KEYS} (as F.interpolate), got {upsample_cfg!r}")
    cfg = dict(upsample_cfg)
    cfg.setdefault("mode", "nearest")
    if cfg.get("align_corners") is not None and cfg["mode"] not in ("linear", "bilinear", "bicubic", "trilinear"):
        raise ConfigError(f"FPN upsample_cfg: align_corners only applies to the linear modes, not mode='{cfg['mode']}'")
    return cfg
