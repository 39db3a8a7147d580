"""DDRNet (Hong et al. 2021): deep dual-resolution network for real-time road-scene segmentation.

A spatial branch keeps 1/8 resolution while a context branch goes down to 1/64 and ends in DAPPM; after
stages 3 and 4 the branches exchange features both ways (bilateral fusion: the context branch is
compressed and upsampled into the spatial one, the spatial branch strided down into the context one).
Module names follow MMSegmentation's ``DDRNet`` so its checkpoints load key for key. In training the
backbone returns ``(stage-3 spatial map, output)`` for DDRHead's two losses; in eval the output.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from seglab.models.layers import ConvModule, build_norm
from seglab.models.layers.basic_block import BasicBlock, Bottleneck
from seglab.models.layers.dappm import DAPPM
from seglab.registry import MODELS

RELU = dict(type="ReLU", inplace=True)


@MODELS.register()
class DDRNet(nn.Module):
    """DDRNet-23-slim has ``channels=32``, DDRNet-23 ``channels=64``; ``ppm_channels`` is DAPPM's branch width."""

    def __init__(
        self,
        in_channels: int = 3,
        channels: int = 32,
        ppm_channels: int = 128,
        align_corners: bool = False,
        norm_cfg: dict | None = dict(type="BN", requires_grad=True),  # noqa: B006 (never mutated)
        act_cfg: dict | None = RELU,
        init_cfg: dict | list | None = None,
    ) -> None:
        super().__init__()
        self.in_channels, self.ppm_channels = in_channels, ppm_channels
        self.norm_cfg, self.act_cfg, self.align_corners = norm_cfg, act_cfg, align_corners
        self.init_cfg = init_cfg
        c = channels
        conv = dict(kernel_size=3, stride=2, padding=1, norm_cfg=norm_cfg)
        self.stem = nn.Sequential(
            ConvModule(in_channels, c, act_cfg=act_cfg, **conv),
            ConvModule(c, c, act_cfg=act_cfg, **conv),
            self._make_layer(BasicBlock, c, c, 2),
            nn.ReLU(),
            self._make_layer(BasicBlock, c, c * 2, 2, stride=2),
            nn.ReLU(),
        )
        self.relu = nn.ReLU()
        self.context_branch_layers = nn.ModuleList(
            self._make_layer(
                BasicBlock if i < 2 else Bottleneck, c * 2 ** (i + 1), c * 8 if i > 0 else c * 4, 2 if i < 2 else 1, 2
            )
            for i in range(3)
        )
        # bilateral fusion
        self.compression_1 = ConvModule(c * 4, c * 2, 1, norm_cfg=norm_cfg, act_cfg=None)
        self.down_1 = ConvModule(c * 2, c * 4, act_cfg=None, **conv)
        self.compression_2 = ConvModule(c * 8, c * 2, 1, norm_cfg=norm_cfg, act_cfg=None)
        self.down_2 = nn.Sequential(
            ConvModule(c * 2, c * 4, act_cfg=act_cfg, **conv), ConvModule(c * 4, c * 8, act_cfg=None, **conv)
        )
        self.spatial_branch_layers = nn.ModuleList(
            self._make_layer(BasicBlock if i < 2 else Bottleneck, c * 2, c * 2, 2 if i < 2 else 1) for i in range(3)
        )
        self.spp = DAPPM(c * 16, ppm_channels, c * 4, num_scales=5)

    def _make_layer(
        self, block: type[BasicBlock | Bottleneck], inplanes: int, planes: int, num_blocks: int, stride: int = 1
    ) -> nn.Sequential:
        """As MMSegmentation: a plain conv + norm shortcut; the first block keeps plain BN, the others get
        ``norm_cfg``; the last block has no activation after its sum."""
        out = planes * block.expansion
        downsample = None
        if stride != 1 or inplanes != out:
            conv = nn.Conv2d(inplanes, out, kernel_size=1, stride=stride, bias=False)
            downsample = nn.Sequential(conv, build_norm(self.norm_cfg, out)[1])
        layers = [block(inplanes, planes, stride, downsample)]
        for i in range(1, num_blocks):
            last = i == num_blocks - 1
            layers.append(block(out, planes, 1, norm_cfg=self.norm_cfg, act_cfg_out=None if last else self.act_cfg))
        return nn.Sequential(*layers)

    def _up(self, x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        return F.interpolate(x, size=size, mode="bilinear", align_corners=self.align_corners)

    def forward(self, x: torch.Tensor) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        x = self.stem(x)
        # 1/8 of the input as MMSegmentation computes it (x // 8) when it divides; MMSegmentation fails on other
        # sizes, the stem's own ceil(x / 8) output keeps them working
        size = (x.shape[-2], x.shape[-1])
        # stage 3
        x_c = self.context_branch_layers[0](x)
        x_s = self.spatial_branch_layers[0](x)
        comp_c = self.compression_1(self.relu(x_c))
        x_c = x_c + self.down_1(self.relu(x_s))
        x_s = x_s + self._up(comp_c, size)
        temp_context = x_s
        # stage 4
        x_c = self.context_branch_layers[1](self.relu(x_c))
        x_s = self.spatial_branch_layers[1](self.relu(x_s))
        comp_c = self.compression_2(self.relu(x_c))
        x_c = x_c + self.down_2(self.relu(x_s))
        x_s = x_s + self._up(comp_c, size)
        # stage 5
        x_s = self.spatial_branch_layers[2](self.relu(x_s))
        x_c = self._up(self.spp(self.context_branch_layers[2](self.relu(x_c))), size)
        return (temp_context, x_s + x_c) if self.training else x_s + x_c
