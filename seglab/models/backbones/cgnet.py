"""CGNet (Wu et al., "A Light-weight Context Guided Network for Semantic Segmentation"), as MMSegmentation
builds it: same type name, arguments and parameter keys (``stem.0.conv``, ``level1.0.f_loc``,
``level2.3.f_glo.fc.0``, ``norm_prelu_2.1`` ...), so its Cityscapes checkpoints load as they are.

Three stages at strides 2, 4 and 8; each stage's output is concatenated with its first block's output (and a
down-sampled copy of the image) before a norm + PReLU, so the outputs have ``num_channels[0] + in_channels``,
``2 * num_channels[1] + in_channels`` and ``2 * num_channels[2]`` channels."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn
from torch.utils.checkpoint import checkpoint

from seglab.errors import ConfigError
from seglab.models.layers import ConvModule, build_norm
from seglab.registry import MODELS

BN = dict(type="BN", requires_grad=True)
PRELU = dict(type="PReLU")


def _with_prelu_width(act_cfg: dict | None, channels: int) -> dict | None:
    """MMSegmentation gives a PReLU act_cfg one slope per channel of the layer it follows."""
    if act_cfg is not None and act_cfg.get("type") == "PReLU":
        return dict(act_cfg, num_parameters=channels)
    return act_cfg


class GlobalContextExtractor(nn.Module):
    """Squeeze-and-excitation: the channels re-weighted by a two-layer MLP of their global average."""

    def __init__(self, channel: int, reduction: int = 16) -> None:
        super().__init__()
        if reduction < 1 or channel < reduction:
            raise ConfigError(
                f"CGNet reductions: a reduction of {reduction} needs 1 <= reduction <= {channel} channels"
            )
        self.channel, self.reduction = channel, reduction
        self.avg_pool = nn.AdaptiveAvgPool2d(1)
        hidden = channel // reduction
        self.fc = nn.Sequential(
            nn.Linear(channel, hidden), nn.ReLU(inplace=True), nn.Linear(hidden, channel), nn.Sigmoid()
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        weights = self.fc(self.avg_pool(x).flatten(1))
        return x * weights[:, :, None, None]


class ContextGuidedBlock(nn.Module):
    """Local (3x3 depthwise) and surrounding (dilated 3x3 depthwise) features, joined by norm + PReLU,
    re-weighted by the global context; a residual unless the block down-samples (stride 2)."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        dilation: int = 2,
        reduction: int = 16,
        skip_connect: bool = True,
        downsample: bool = False,
        conv_cfg: dict | None = None,
        norm_cfg: dict | None = BN,
        act_cfg: dict | None = PRELU,
        with_cp: bool = False,
    ) -> None:
        super().__init__()
        self.with_cp, self.downsample = with_cp, downsample
        channels = out_channels if downsample else out_channels // 2
        kernel, stride = (3, 2) if downsample else (1, 1)
        self.conv1x1 = ConvModule(
            in_channels,
            channels,
            kernel,
            stride,
            (kernel - 1) // 2,
            conv_cfg=conv_cfg,
            norm_cfg=norm_cfg,
            act_cfg=_with_prelu_width(act_cfg, channels),
        )
        self.f_loc = nn.Conv2d(channels, channels, 3, padding=1, groups=channels, bias=False)
        self.f_sur = nn.Conv2d(channels, channels, 3, padding=dilation, dilation=dilation, groups=channels, bias=False)
        self.bn = build_norm(norm_cfg, 2 * channels)[1]
        self.activate = nn.PReLU(2 * channels)  # always PReLU, whatever act_cfg says (as in MMSegmentation)
        if downsample:
            self.bottleneck = nn.Conv2d(2 * channels, out_channels, 1, bias=False)
        self.skip_connect = skip_connect and not downsample
        self.f_glo = GlobalContextExtractor(out_channels, reduction)

    def _block(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv1x1(x)
        joint = self.activate(self.bn(torch.cat([self.f_loc(out), self.f_sur(out)], 1)))
        if self.downsample:
            joint = self.bottleneck(joint)
        out = self.f_glo(joint)
        return x + out if self.skip_connect else out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.with_cp and x.requires_grad:
            return checkpoint(self._block, x, use_reentrant=False)
        return self._block(x)


class InputInjection(nn.Module):
    """The image average-pooled ``num_downsampling`` times (3x3, stride 2), fed to a later stage."""

    def __init__(self, num_downsampling: int) -> None:
        super().__init__()
        self.pool = nn.ModuleList(nn.AvgPool2d(3, stride=2, padding=1) for _ in range(num_downsampling))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for pool in self.pool:
            x = pool(x)
        return x


def _norm_prelu(norm_cfg: dict | None, channels: int) -> nn.Sequential:
    return nn.Sequential(build_norm(norm_cfg, channels)[1], nn.PReLU(channels))


def _check_lengths(**values: Sequence[int]) -> None:
    wanted = {"num_channels": 3, "num_blocks": 2, "dilations": 2, "reductions": 2}
    for key, value in values.items():
        if not isinstance(value, Sequence) or len(value) != wanted[key]:
            raise ConfigError(f"CGNet {key}={value!r} must be a tuple of {wanted[key]} integers")


@MODELS.register()
class CGNet(nn.Module):
    """CGNet backbone: a 3-conv stem and two stages of context-guided blocks; returns three feature maps."""

    def __init__(
        self,
        in_channels: int = 3,
        num_channels: Sequence[int] = (32, 64, 128),
        num_blocks: Sequence[int] = (3, 21),
        dilations: Sequence[int] = (2, 4),
        reductions: Sequence[int] = (8, 16),
        conv_cfg: dict | None = None,
        norm_cfg: dict | None = BN,
        act_cfg: dict | None = PRELU,
        norm_eval: bool = False,
        with_cp: bool = False,
        pretrained: str | None = None,
        init_cfg: dict | list | None = None,
    ) -> None:
        super().__init__()
        _check_lengths(num_channels=num_channels, num_blocks=num_blocks, dilations=dilations, reductions=reductions)
        self.init_cfg = self._init_cfg(init_cfg, pretrained)
        self.in_channels, self.num_channels, self.num_blocks = in_channels, num_channels, num_blocks
        self.dilations, self.reductions, self.norm_eval = dilations, reductions, norm_eval
        self.norm_cfg, self.act_cfg = norm_cfg, act_cfg

        stem_act = _with_prelu_width(act_cfg, num_channels[0])
        self.stem = nn.ModuleList(
            ConvModule(
                in_channels if i == 0 else num_channels[0],
                num_channels[0],
                3,
                2 if i == 0 else 1,
                padding=1,
                conv_cfg=conv_cfg,
                norm_cfg=norm_cfg,
                act_cfg=stem_act,
            )
            for i in range(3)
        )
        self.inject_2x = InputInjection(1)
        self.inject_4x = InputInjection(2)
        channels = num_channels[0] + in_channels
        self.norm_prelu_0 = _norm_prelu(norm_cfg, channels)
        block_args = dict(conv_cfg=conv_cfg, norm_cfg=norm_cfg, act_cfg=act_cfg, with_cp=with_cp)
        self.level1 = self._stage(channels, num_channels[1], num_blocks[0], dilations[0], reductions[0], block_args)
        channels = 2 * num_channels[1] + in_channels
        self.norm_prelu_1 = _norm_prelu(norm_cfg, channels)
        self.level2 = self._stage(channels, num_channels[2], num_blocks[1], dilations[1], reductions[1], block_args)
        self.norm_prelu_2 = _norm_prelu(norm_cfg, 2 * num_channels[2])

    @staticmethod
    def _stage(in_channels: int, out_channels: int, blocks: int, dilation: int, reduction: int, args: dict):
        """``blocks`` context-guided blocks, the first down-sampling ``in_channels`` to ``out_channels``."""
        if blocks < 1:
            raise ConfigError(f"CGNet num_blocks must be at least 1 per stage, got {blocks}")
        return nn.ModuleList(
            ContextGuidedBlock(
                in_channels if i == 0 else out_channels, out_channels, dilation, reduction, downsample=i == 0, **args
            )
            for i in range(blocks)
        )

    @staticmethod
    def _init_cfg(init_cfg: dict | list | None, pretrained: str | None) -> dict | list | None:
        """MMSegmentation's default: He-normal convs and linears, unit norms and PReLU slopes of 0."""
        if init_cfg and pretrained:
            raise ConfigError("CGNet: give init_cfg or pretrained, not both (init_cfg=dict(type='Pretrained', ...))")
        if pretrained is not None and not isinstance(pretrained, str):
            raise ConfigError(f"CGNet pretrained must be a checkpoint path or URL, got {pretrained!r}")
        if pretrained:
            return dict(type="Pretrained", checkpoint=pretrained)
        if init_cfg is not None:
            return init_cfg
        return [
            dict(type="Kaiming", layer=["Conv2d", "Linear"]),
            dict(type="Constant", val=1, layer=["_BatchNorm", "GroupNorm"]),
            dict(type="Constant", val=0, layer="PReLU"),
        ]

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        inp_2x, inp_4x = self.inject_2x(x), self.inject_4x(x)
        for layer in self.stem:
            x = layer(x)
        x = self.norm_prelu_0(torch.cat([x, inp_2x], 1))
        outs = [x]
        x = down1 = self.level1[0](x)
        for block in self.level1[1:]:
            x = block(x)
        x = self.norm_prelu_1(torch.cat([x, down1, inp_4x], 1))
        outs.append(x)
        x = down2 = self.level2[0](x)
        for block in self.level2[1:]:
            x = block(x)
        outs.append(self.norm_prelu_2(torch.cat([down2, x], 1)))
        return tuple(outs)

    def train(self, mode: bool = True) -> CGNet:
        """``norm_eval`` keeps the BatchNorm statistics frozen while training."""
        super().train(mode)
        if mode and self.norm_eval:
            for module in self.modules():
                if isinstance(module, nn.modules.batchnorm._BatchNorm):
                    module.eval()
        return self
