"""SegNeXt's Multi-Scale Convolutional Attention Network (MSCAN-T/S/B/L): a convolutional stem, then stages of
blocks whose "attention" is a product of the input with a sum of depthwise strip convolutions (1xk then kx1,
k = 7, 11, 21) on a 5x5 depthwise conv: large receptive fields at the cost of a few depthwise convs.

Parameter names are MMSegmentation's (``patch_embed{i}``, ``block{i}.{j}.attn.spatial_gating_unit.conv0_1``,
``layer_scale_1``, ``norm{i}``; MMSegmentation kept the original SegNeXt code's names), so the pre-trained
``mscan_*.pth`` files the configs name load as they are (MMSegmentation has no converter for them either).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from seglab.errors import ConfigError
from seglab.models.layers.conv_module import build_activation, build_norm
from seglab.models.layers.transformer import DropPath
from seglab.models.weight_init import init_transformer_style
from seglab.registry import MODELS

KERNELS = (5, (1, 7), (1, 11), (1, 21))
PADDINGS = (2, (0, 3), (0, 5), (0, 10))


class Mlp(nn.Module):
    """1x1 conv -> 3x3 depthwise conv -> activation -> 1x1 conv (the block's feed-forward part)."""

    def __init__(self, in_features: int, hidden_features: int, act_cfg: dict, drop: float = 0.0) -> None:
        super().__init__()
        self.fc1 = nn.Conv2d(in_features, hidden_features, 1)
        self.dwconv = nn.Conv2d(hidden_features, hidden_features, 3, 1, 1, groups=hidden_features)
        self.act = build_activation(act_cfg)
        self.fc2 = nn.Conv2d(hidden_features, in_features, 1)
        self.drop = nn.Dropout(drop)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.drop(self.act(self.dwconv(self.fc1(x))))
        return self.drop(self.fc2(x))


class StemConv(nn.Module):
    """Two stride-2 3x3 convs with norms (stride 4 in all): the first stage's patch embedding. Its activation
    is always GELU, as in MMSegmentation, whatever the backbone's ``act_cfg``."""

    def __init__(self, in_channels: int, out_channels: int, norm_cfg: dict) -> None:
        super().__init__()
        half = out_channels // 2
        self.proj = nn.Sequential(
            nn.Conv2d(in_channels, half, 3, 2, 1),
            build_norm(norm_cfg, half)[1],
            nn.GELU(),
            nn.Conv2d(half, out_channels, 3, 2, 1),
            build_norm(norm_cfg, out_channels)[1],
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(x)


class OverlapPatchEmbed(nn.Module):
    """A stride-2 3x3 conv and a norm between stages (MMSegmentation's ``patch_size``/``stride`` names)."""

    def __init__(self, patch_size: int, stride: int, in_channels: int, embed_dim: int, norm_cfg: dict) -> None:
        super().__init__()
        self.proj = nn.Conv2d(in_channels, embed_dim, patch_size, stride, patch_size // 2)
        self.norm = build_norm(norm_cfg, embed_dim)[1]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(self.proj(x))


class MSCAAttention(nn.Module):
    """``x * conv3(a + sum_k strip_k(a))`` with ``a = conv0(x)``: branch k is a depthwise (1, k) conv then a
    depthwise (k, 1) conv (``conv{k}_1``, ``conv{k}_2``), ``conv3`` mixes channels."""

    def __init__(self, channels: int, kernel_sizes: Sequence, paddings: Sequence) -> None:
        super().__init__()
        self.conv0 = nn.Conv2d(channels, channels, _size(kernel_sizes[0]), padding=_size(paddings[0]), groups=channels)
        self.branches = len(kernel_sizes) - 1
        for i, (kernel, padding) in enumerate(zip(kernel_sizes[1:], paddings[1:])):
            for suffix, order in (("1", 1), ("2", -1)):
                conv = nn.Conv2d(channels, channels, tuple(kernel)[::order], padding=tuple(padding)[::order],
                                 groups=channels)  # fmt: skip
                self.add_module(f"conv{i}_{suffix}", conv)
        self.conv3 = nn.Conv2d(channels, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        attn = self.conv0(x)
        total = attn
        for i in range(self.branches):
            total = total + getattr(self, f"conv{i}_2")(getattr(self, f"conv{i}_1")(attn))
        return self.conv3(total) * x


class MSCASpatialAttention(nn.Module):
    """``x + proj_2(MSCA(act(proj_1(x))))``."""

    def __init__(self, in_channels: int, kernel_sizes: Sequence, paddings: Sequence, act_cfg: dict) -> None:
        super().__init__()
        self.proj_1 = nn.Conv2d(in_channels, in_channels, 1)
        self.activation = build_activation(act_cfg)
        self.spatial_gating_unit = MSCAAttention(in_channels, kernel_sizes, paddings)
        self.proj_2 = nn.Conv2d(in_channels, in_channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.proj_2(self.spatial_gating_unit(self.activation(self.proj_1(x))))


class MSCABlock(nn.Module):
    """``x + drop_path(layer_scale_1 * attn(norm1(x)))`` then the same with ``mlp``/``norm2``; the layer
    scales start at 0.01, so a fresh block is close to the identity."""

    def __init__(
        self,
        channels: int,
        kernel_sizes: Sequence,
        paddings: Sequence,
        mlp_ratio: float,
        drop: float,
        drop_path: float,
        act_cfg: dict,
        norm_cfg: dict,
    ) -> None:
        super().__init__()
        self.norm1 = build_norm(norm_cfg, channels)[1]
        self.attn = MSCASpatialAttention(channels, kernel_sizes, paddings, act_cfg)
        self.drop_path = DropPath(drop_path) if drop_path > 0 else nn.Identity()
        self.norm2 = build_norm(norm_cfg, channels)[1]
        self.mlp = Mlp(channels, int(channels * mlp_ratio), act_cfg, drop)
        self.layer_scale_1 = nn.Parameter(torch.full((channels,), 1e-2))
        self.layer_scale_2 = nn.Parameter(torch.full((channels,), 1e-2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.drop_path(self.layer_scale_1[:, None, None] * self.attn(self.norm1(x)))
        return x + self.drop_path(self.layer_scale_2[:, None, None] * self.mlp(self.norm2(x)))


@MODELS.register()
class MSCAN(nn.Module):
    """Stage i embeds (stage 0: ``StemConv``, stride 4; later: a stride-2 ``OverlapPatchEmbed``) into
    ``embed_dims[i]`` channels, runs ``depths[i]`` ``MSCABlock``s and a LayerNorm; every stage's map is
    returned (strides 4, 8, 16, 32)."""

    IGNORED_ARGS = {"pretrained": None}

    def __init__(
        self,
        in_channels: int = 3,
        embed_dims: Sequence[int] = (64, 128, 256, 512),
        mlp_ratios: Sequence[float] = (4, 4, 4, 4),
        drop_rate: float = 0.0,
        drop_path_rate: float = 0.0,
        depths: Sequence[int] = (3, 4, 6, 3),
        num_stages: int = 4,
        attention_kernel_sizes: Sequence = KERNELS,
        attention_kernel_paddings: Sequence = PADDINGS,
        act_cfg: dict | None = None,
        norm_cfg: dict | None = None,
        pretrained: str | None = None,
        init_cfg: dict | list | None = None,
    ) -> None:
        super().__init__()
        if init_cfg and pretrained:
            raise ConfigError("MSCAN: give init_cfg or pretrained, not both")
        if pretrained is not None and not isinstance(pretrained, str):
            raise ConfigError(f"MSCAN pretrained must be a checkpoint path or URL, got {pretrained!r}")
        self.init_cfg = dict(type="Pretrained", checkpoint=pretrained) if pretrained else init_cfg
        short = {
            name: len(value)
            for name, value in dict(embed_dims=embed_dims, mlp_ratios=mlp_ratios, depths=depths).items()
            if len(value) < num_stages
        }
        if short:
            raise ConfigError(f"MSCAN num_stages={num_stages} needs that many entries in {short}")
        _check_kernels(attention_kernel_sizes, attention_kernel_paddings)
        act_cfg = act_cfg or dict(type="GELU")
        norm_cfg = norm_cfg or dict(type="SyncBN", requires_grad=True)
        self.depths, self.num_stages = list(depths), num_stages
        rates = torch.linspace(0, drop_path_rate, sum(depths), device="cpu").tolist()  # over all depths, as MMSeg
        first = 0
        for i in range(num_stages):
            if i == 0:
                # MMSegmentation builds the stem on 3 channels whatever in_channels says; equal for RGB input
                embed = StemConv(in_channels, embed_dims[0], norm_cfg)
            else:
                embed = OverlapPatchEmbed(3, 2, embed_dims[i - 1], embed_dims[i], norm_cfg)
            blocks = nn.ModuleList(
                MSCABlock(
                    embed_dims[i],
                    attention_kernel_sizes,
                    attention_kernel_paddings,
                    mlp_ratios[i],
                    drop_rate,
                    rates[first + j],
                    act_cfg,
                    norm_cfg,
                )
                for j in range(depths[i])
            )
            self.add_module(f"patch_embed{i + 1}", embed)
            self.add_module(f"block{i + 1}", blocks)
            self.add_module(f"norm{i + 1}", nn.LayerNorm(embed_dims[i]))
            first += depths[i]

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        outs = []
        for i in range(1, self.num_stages + 1):
            x = getattr(self, f"patch_embed{i}")(x)
            for block in getattr(self, f"block{i}"):
                x = block(x)
            x = getattr(self, f"norm{i}")(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2).contiguous()
            outs.append(x)
        return tuple(outs)

    def init_weights(self) -> None:
        """Without pre-trained weights: He-normal (fan-out) convs with zero bias and unit LayerNorms, as
        MMSegmentation initialises MSCAN; batch norms keep PyTorch's defaults, layer scales 0.01."""
        if not self.init_cfg:
            init_transformer_style(self, linear=False, conv=True)


def _size(value: int | Sequence[int]) -> int | tuple[int, ...]:
    return value if isinstance(value, int) else tuple(value)


def _check_kernels(kernel_sizes: Sequence, paddings: Sequence) -> None:
    """The first entry is conv0's (an int or a pair); each later one a (1, k) strip and its padding pair."""
    hint = "e.g. attention_kernel_sizes=[5, [1, 7], [1, 11], [1, 21]] with paddings [2, [0, 3], [0, 5], [0, 10]]"
    if not isinstance(kernel_sizes, Sequence) or not isinstance(paddings, Sequence) or not kernel_sizes:
        raise ConfigError(f"MSCAN attention_kernel_sizes and attention_kernel_paddings must be lists; {hint}")
    if len(kernel_sizes) != len(paddings):
        raise ConfigError(
            f"MSCAN attention_kernel_sizes has {len(kernel_sizes)} entries but attention_kernel_paddings "
            f"{len(paddings)}; give one padding per kernel ({hint})"
        )
    for name, values in (("attention_kernel_sizes", kernel_sizes), ("attention_kernel_paddings", paddings)):
        strips = values[1:]
        if not all(isinstance(v, Sequence) and len(v) == 2 and all(isinstance(n, int) for n in v) for v in strips):
            raise ConfigError(f"MSCAN {name} entries after the first must be pairs such as [1, 7]; {hint}")
