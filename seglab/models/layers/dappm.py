"""Deep aggregation pyramid pooling (DDRNet's DAPPM) and its parallel variant (PIDNet's PAPPM), as
MMSegmentation's ``mmseg/models/utils/ppm.py`` builds them, with its module names (``scales``,
``processes``, ``compression``, ``shortcut``) so checkpoints load key for key.

Every ConvModule is pre-activation (norm, act, conv) without bias: ``conv_cfg`` here holds ConvModule
keyword arguments (``order``, ``bias``), as in MMSegmentation, not a conv-layer type."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from seglab.errors import ConfigError
from seglab.models.layers.conv_module import ConvModule

PRE_ACT = dict(order=("norm", "act", "conv"), bias=False)


class DAPPM(nn.Module):
    """Pooled context at ``num_scales`` scales: the input itself (1x1), ``num_scales - 2`` average pools
    (``kernel_sizes``/``strides``/``paddings``) and a global pool; each pooled branch, upsampled and added
    to the previous scale's output, goes through its own 3x3 ``processes`` conv (hierarchical fusion).
    The concatenation is compressed to ``out_channels`` and added to a 1x1 shortcut of the input."""

    def __init__(
        self,
        in_channels: int,
        branch_channels: int,
        out_channels: int,
        num_scales: int,
        kernel_sizes: Sequence[int] = (5, 9, 17),
        strides: Sequence[int] = (2, 4, 8),
        paddings: Sequence[int] = (2, 4, 8),
        norm_cfg: dict | None = dict(type="BN", momentum=0.1),  # noqa: B006 (never mutated)
        act_cfg: dict | None = dict(type="ReLU", inplace=True),  # noqa: B006
        conv_cfg: dict = PRE_ACT,
        upsample_mode: str = "bilinear",
    ) -> None:
        super().__init__()
        pools = num_scales - 2
        if num_scales < 2 or min(len(kernel_sizes), len(strides), len(paddings)) < pools:
            raise ConfigError(
                f"{type(self).__name__}: num_scales={num_scales} needs at least 2 scales and {max(pools, 0)} "
                f"kernel_sizes/strides/paddings, got {list(kernel_sizes)}, {list(strides)}, {list(paddings)}"
            )
        self.num_scales, self.upsample_mode = num_scales, upsample_mode
        self.in_channels, self.branch_channels, self.out_channels = in_channels, branch_channels, out_channels
        self.norm_cfg, self.act_cfg, self.conv_cfg = norm_cfg, act_cfg, dict(conv_cfg)

        def conv(cin: int, cout: int, kernel: int = 1, **kwargs) -> ConvModule:
            return ConvModule(
                cin, cout, kernel, padding=kernel // 2, norm_cfg=norm_cfg, act_cfg=act_cfg, **kwargs, **self.conv_cfg
            )

        self.scales = nn.ModuleList([conv(in_channels, branch_channels)])
        for k, s, p in list(zip(kernel_sizes, strides, paddings))[:pools]:
            pool = nn.AvgPool2d(kernel_size=k, stride=s, padding=p)
            self.scales.append(nn.Sequential(pool, conv(in_channels, branch_channels)))
        self.scales.append(nn.Sequential(nn.AdaptiveAvgPool2d((1, 1)), conv(in_channels, branch_channels)))
        self.processes = self._make_processes(conv)
        self.compression = conv(branch_channels * num_scales, out_channels)
        self.shortcut = conv(in_channels, out_channels)

    def _make_processes(self, conv) -> nn.Module:
        return nn.ModuleList(conv(self.branch_channels, self.branch_channels, 3) for _ in range(self.num_scales - 1))

    def _upsampled(self, i: int, x: torch.Tensor) -> torch.Tensor:
        return F.interpolate(self.scales[i](x), size=x.shape[2:], mode=self.upsample_mode)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        feats = [self.scales[0](x)]
        for i in range(1, self.num_scales):
            feats.append(self.processes[i - 1](self._upsampled(i, x) + feats[-1]))
        return self.compression(torch.cat(feats, dim=1)) + self.shortcut(x)


class PAPPM(DAPPM):
    """DAPPM with the pooled branches fused in parallel: each is added to the 1x1 branch, and one grouped
    3x3 conv (a group per branch) processes them all at once."""

    def _make_processes(self, conv) -> nn.Module:
        width = self.branch_channels * (self.num_scales - 1)
        return conv(width, width, 3, groups=self.num_scales - 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        base = self.scales[0](x)
        pooled = [self._upsampled(i, x) + base for i in range(1, self.num_scales)]
        return self.compression(torch.cat([base, self.processes(torch.cat(pooled, dim=1))], dim=1)) + self.shortcut(x)
