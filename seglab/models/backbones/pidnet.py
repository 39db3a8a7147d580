"""PIDNet (Xu et al. 2022): a real-time network with three branches named after a PID controller.

P (proportional) keeps detail at 1/8 resolution, I (integral) gathers context down to 1/64 and pools it
(PAPPM or DAPPM), D (derivative) learns boundaries at 1/8; the I branch is fused into P by pixel attention
(``PagFM``) and P and I are blended under the D branch's boundary attention (``Bag``/``LightBag``).
Module names follow MMSegmentation's ``PIDNet`` so its checkpoints load key for key.
In training the backbone returns ``(p, fused, d)`` for PIDHead's three losses; in eval the fused map.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from seglab.errors import ConfigError
from seglab.models.layers import ConvModule, build_activation
from seglab.models.layers.basic_block import BasicBlock, Bottleneck
from seglab.models.layers.dappm import DAPPM, PAPPM
from seglab.registry import MODELS

BN = dict(type="BN")
RELU = dict(type="ReLU", inplace=True)


class PagFM(nn.Module):
    """Pixel-attention-guided fusion: ``sigma * up(x_i) + (1 - sigma) * x_p`` where ``sigma`` is the
    sigmoid of the per-pixel similarity of the two branches' 1x1 embeddings (per channel with
    ``with_channel``)."""

    def __init__(
        self,
        in_channels: int,
        channels: int,
        after_relu: bool = False,
        with_channel: bool = False,
        upsample_mode: str = "bilinear",
        norm_cfg: dict | None = BN,
        act_cfg: dict | None = RELU,
        init_cfg: dict | list | None = None,
    ) -> None:
        super().__init__()
        self.init_cfg = init_cfg
        self.after_relu, self.with_channel, self.upsample_mode = after_relu, with_channel, upsample_mode
        self.f_i = ConvModule(in_channels, channels, 1, norm_cfg=norm_cfg, act_cfg=None)
        self.f_p = ConvModule(in_channels, channels, 1, norm_cfg=norm_cfg, act_cfg=None)
        if with_channel:
            self.up = ConvModule(channels, in_channels, 1, norm_cfg=norm_cfg, act_cfg=None)
        if after_relu:
            self.relu = build_activation(act_cfg)

    def _up(self, x: torch.Tensor, size: torch.Size) -> torch.Tensor:
        return F.interpolate(x, size=size, mode=self.upsample_mode, align_corners=False)

    def forward(self, x_p: torch.Tensor, x_i: torch.Tensor) -> torch.Tensor:
        if self.after_relu:
            x_p, x_i = self.relu(x_p), self.relu(x_i)
        size = x_p.shape[2:]
        similarity = self.f_p(x_p) * self._up(self.f_i(x_i), size)
        logit = self.up(similarity) if self.with_channel else similarity.sum(dim=1, keepdim=True)
        sigma = torch.sigmoid(logit)
        return sigma * self._up(x_i, size) + (1 - sigma) * x_p


class Bag(nn.Module):
    """Boundary-attention-guided fusion: a pre-activation conv of ``s * x_p + (1 - s) * x_i``, ``s = sigmoid(x_d)``."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int = 3,
        padding: int = 1,
        norm_cfg: dict | None = BN,
        act_cfg: dict | None = RELU,
        conv_cfg: dict = dict(order=("norm", "act", "conv")),  # noqa: B006 (never mutated)
        init_cfg: dict | list | None = None,
    ) -> None:
        super().__init__()
        self.init_cfg = init_cfg
        self.conv = ConvModule(
            in_channels, out_channels, kernel_size, padding=padding, norm_cfg=norm_cfg, act_cfg=act_cfg, **conv_cfg
        )

    def forward(self, x_p: torch.Tensor, x_i: torch.Tensor, x_d: torch.Tensor) -> torch.Tensor:
        sigma = torch.sigmoid(x_d)
        return self.conv(sigma * x_p + (1 - sigma) * x_i)


class LightBag(nn.Module):
    """Light Bag: two 1x1 convs, of ``x_p + (1 - s) * x_i`` and of ``x_i + s * x_p``, summed."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        norm_cfg: dict | None = BN,
        act_cfg: dict | None = None,
        init_cfg: dict | list | None = None,
    ) -> None:
        super().__init__()
        self.init_cfg = init_cfg
        self.f_p = ConvModule(in_channels, out_channels, 1, norm_cfg=norm_cfg, act_cfg=act_cfg)
        self.f_i = ConvModule(in_channels, out_channels, 1, norm_cfg=norm_cfg, act_cfg=act_cfg)

    def forward(self, x_p: torch.Tensor, x_i: torch.Tensor, x_d: torch.Tensor) -> torch.Tensor:
        sigma = torch.sigmoid(x_d)
        return self.f_p((1 - sigma) * x_i + x_p) + self.f_i(x_i + sigma * x_p)


def make_layer(
    block: type[BasicBlock | Bottleneck],
    in_channels: int,
    channels: int,
    num_blocks: int,
    stride: int = 1,
    norm_cfg: dict | None = BN,
    act_cfg: dict | None = RELU,
) -> nn.Sequential:
    """A stage of ``num_blocks`` blocks, the first strided (with a 1x1 ConvModule shortcut when the shape
    changes); the last block has no activation after its sum (the first keeps the block's default).
    As in MMSegmentation, ``norm_cfg`` reaches the shortcut only: the blocks use plain BN."""
    out = channels * block.expansion
    downsample = None
    if stride != 1 or in_channels != out:
        downsample = ConvModule(in_channels, out, 1, stride=stride, norm_cfg=norm_cfg, act_cfg=None)
    layers = [block(in_channels, channels, stride, downsample)]
    for i in range(1, num_blocks):
        layers.append(block(out, channels, 1, act_cfg_out=None if i == num_blocks - 1 else act_cfg))
    return nn.Sequential(*layers)


def make_single_layer(
    block: type[BasicBlock | Bottleneck], in_channels: int, channels: int, norm_cfg: dict | None
) -> nn.Module:
    """One block without the activation after its sum."""
    out = channels * block.expansion
    downsample = ConvModule(in_channels, out, 1, norm_cfg=norm_cfg, act_cfg=None) if in_channels != out else None
    return block(in_channels, channels, 1, downsample, act_cfg_out=None)


@MODELS.register()
class PIDNet(nn.Module):
    """``channels`` sets every width (PIDNet-S 32, -M 64, -L 64); ``num_stem_blocks=2`` gives the S/M
    layout (PAPPM, LightBag, a Bottleneck D branch), 3 the L layout (DAPPM, Bag)."""

    def __init__(
        self,
        in_channels: int = 3,
        channels: int = 64,
        ppm_channels: int = 96,
        num_stem_blocks: int = 2,
        num_branch_blocks: int = 3,
        align_corners: bool = False,
        norm_cfg: dict | None = BN,
        act_cfg: dict | None = RELU,
        init_cfg: dict | list | None = None,
    ) -> None:
        super().__init__()
        if num_stem_blocks < 1 or num_branch_blocks < 1:
            raise ConfigError(
                f"PIDNet: num_stem_blocks and num_branch_blocks must be >= 1, got {num_stem_blocks}, {num_branch_blocks}"
            )
        self.norm_cfg, self.act_cfg, self.align_corners = norm_cfg, act_cfg, align_corners
        self.init_cfg = init_cfg
        c = channels
        layer = dict(norm_cfg=norm_cfg, act_cfg=act_cfg)
        conv = dict(kernel_size=3, stride=2, padding=1, norm_cfg=norm_cfg, act_cfg=act_cfg)
        self.stem = nn.Sequential(
            ConvModule(in_channels, c, **conv),
            ConvModule(c, c, **conv),
            make_layer(BasicBlock, c, c, num_stem_blocks, **layer),
            nn.ReLU(),
            make_layer(BasicBlock, c, c * 2, num_stem_blocks, stride=2, **layer),
            nn.ReLU(),
        )
        self.relu = nn.ReLU()
        # I branch: 1/16, 1/32, 1/64; P branch: 1/8 throughout
        self.i_branch_layers = nn.ModuleList(
            make_layer(
                BasicBlock if i < 2 else Bottleneck,
                c * 2 ** (i + 1),
                c * 8 if i > 0 else c * 4,
                num_branch_blocks if i < 2 else 2,
                stride=2,
                **layer,
            )
            for i in range(3)
        )
        self.p_branch_layers = nn.ModuleList(
            make_layer(BasicBlock if i < 2 else Bottleneck, c * 2, c * 2, num_stem_blocks if i < 2 else 1, **layer)
            for i in range(3)
        )
        self.compression_1 = ConvModule(c * 4, c * 2, 1, bias=False, norm_cfg=norm_cfg, act_cfg=None)
        self.compression_2 = ConvModule(c * 8, c * 2, 1, bias=False, norm_cfg=norm_cfg, act_cfg=None)
        self.pag_1 = PagFM(c * 2, c)
        self.pag_2 = PagFM(c * 2, c)
        small = num_stem_blocks == 2  # PIDNet-S/M
        if small:
            first = [make_single_layer(BasicBlock, c * 2, c, norm_cfg), make_layer(Bottleneck, c, c, 1, **layer)]
        else:
            first = [make_single_layer(BasicBlock, c * 2, c * 2, norm_cfg) for _ in range(2)]
        self.d_branch_layers = nn.ModuleList(first)
        expand = 1 if small else 2
        self.diff_1 = ConvModule(c * 4, c * expand, 3, padding=1, bias=False, norm_cfg=norm_cfg, act_cfg=None)
        self.diff_2 = ConvModule(c * 8, c * 2, 3, padding=1, bias=False, norm_cfg=norm_cfg, act_cfg=None)
        self.spp = (PAPPM if small else DAPPM)(c * 16, ppm_channels, c * 4, num_scales=5)
        if small:
            self.dfm = LightBag(c * 4, c * 4, norm_cfg=norm_cfg, act_cfg=None)
        else:
            self.dfm = Bag(c * 4, c * 4, norm_cfg=norm_cfg, act_cfg=act_cfg)
        self.d_branch_layers.append(make_layer(Bottleneck, c * 2, c * 2, 1, **layer))

    def init_weights(self) -> None:
        """MMSegmentation's own init (the D branch has no ImageNet weights): Kaiming fan-out for every conv,
        unit BatchNorm; a ``Pretrained`` init_cfg is then loaded by the builder."""
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.constant_(m.weight, 1)
                nn.init.constant_(m.bias, 0)

    def _up(self, x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        return F.interpolate(x, size=size, mode="bilinear", align_corners=self.align_corners)

    def forward(self, x: torch.Tensor) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        x = self.stem(x)
        # 1/8 of the input as MMSegmentation computes it (x // 8) when it divides; MMSegmentation fails on other
        # sizes, the stem's own ceil(x / 8) output keeps them working
        size = (x.shape[-2], x.shape[-1])
        # stage 3
        x_i = self.relu(self.i_branch_layers[0](x))
        x_p = self.pag_1(self.p_branch_layers[0](x), self.compression_1(x_i))
        x_d = self.d_branch_layers[0](x) + self._up(self.diff_1(x_i), size)
        temp_p = x_p
        # stage 4
        x_i = self.relu(self.i_branch_layers[1](x_i))
        x_p = self.pag_2(self.p_branch_layers[1](self.relu(x_p)), self.compression_2(x_i))
        x_d = self.d_branch_layers[1](self.relu(x_d)) + self._up(self.diff_2(x_i), size)
        temp_d = x_d
        # stage 5
        x_i = self._up(self.spp(self.i_branch_layers[2](x_i)), size)
        x_p = self.p_branch_layers[2](self.relu(x_p))
        x_d = self.d_branch_layers[2](self.relu(x_d))
        out = self.dfm(x_p, x_i, x_d)
        return (temp_p, out, temp_d) if self.training else out
