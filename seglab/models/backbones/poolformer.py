"""PoolFormer (MetaFormer with pooling as the token mixer): a 7x7 stride-4 patch embedding, then four
stages of [GroupNorm -> avg-pool minus identity] + [GroupNorm -> 1x1-conv MLP] blocks with layer scale,
with 3x3 stride-2 patch embeddings between stages.

MMSegmentation takes this backbone from mmpretrain (``type='mmpretrain.PoolFormer'``); seglab provides it
under both names with mmpretrain 1.2.0's arguments and parameter names (``patch_embed.proj``,
``network.0.1.mlp.fc1``, ``layer_scale_1``, ``norm6`` ...), so mmpretrain's published checkpoints load.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from seglab.errors import ConfigError
from seglab.models.backbones.convnext import resolve_arch, resolve_out_indices
from seglab.models.layers import DropPath, build_activation, build_norm
from seglab.registry import MODELS

ARCH_SETTINGS = {
    "s12": {"layers": [2, 2, 6, 2], "embed_dims": [64, 128, 320, 512], "layer_scale_init_value": 1e-5},
    "s24": {"layers": [4, 4, 12, 4], "embed_dims": [64, 128, 320, 512], "layer_scale_init_value": 1e-5},
    "s36": {"layers": [6, 6, 18, 6], "embed_dims": [64, 128, 320, 512], "layer_scale_init_value": 1e-6},
    "m36": {"layers": [6, 6, 18, 6], "embed_dims": [96, 192, 384, 768], "layer_scale_init_value": 1e-6},
    "m48": {"layers": [8, 8, 24, 8], "embed_dims": [96, 192, 384, 768], "layer_scale_init_value": 1e-6},
}


class PatchEmbed(nn.Module):
    """One strided conv (``proj``); mmpretrain's PoolFormer embeddings have no norm."""

    def __init__(self, patch_size: int, stride: int, padding: int, in_chans: int, embed_dim: int) -> None:
        super().__init__()
        self.proj = nn.Conv2d(in_chans, embed_dim, kernel_size=patch_size, stride=stride, padding=padding)
        self.norm = nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(self.proj(x))


class Pooling(nn.Module):
    """The token mixer: average over a ``pool_size`` window (padding not counted) minus the input."""

    def __init__(self, pool_size: int = 3) -> None:
        super().__init__()
        self.pool = nn.AvgPool2d(pool_size, stride=1, padding=pool_size // 2, count_include_pad=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(x) - x


class Mlp(nn.Module):
    """1x1 conv -> act -> dropout -> 1x1 conv -> dropout."""

    def __init__(self, in_features: int, hidden_features: int, act_cfg: dict, drop: float) -> None:
        super().__init__()
        self.fc1 = nn.Conv2d(in_features, hidden_features, 1)
        self.act = build_activation(act_cfg)
        self.fc2 = nn.Conv2d(hidden_features, in_features, 1)
        self.drop = nn.Dropout(drop)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.drop(self.fc2(self.drop(self.act(self.fc1(x)))))


class PoolFormerBlock(nn.Module):
    """``x + drop_path(layer_scale_1 * pool(norm1(x)))``, then the same with the MLP and ``layer_scale_2``."""

    def __init__(
        self,
        dim: int,
        pool_size: int,
        mlp_ratio: float,
        norm_cfg: dict,
        act_cfg: dict,
        drop: float,
        drop_path: float,
        layer_scale_init_value: float,
    ) -> None:
        super().__init__()
        self.norm1 = build_norm(norm_cfg, dim)[1]
        self.token_mixer = Pooling(pool_size)
        self.norm2 = build_norm(norm_cfg, dim)[1]
        self.mlp = Mlp(dim, int(dim * mlp_ratio), act_cfg, drop)
        self.drop_path = DropPath(drop_path) if drop_path > 0 else nn.Identity()
        self.layer_scale_1 = nn.Parameter(layer_scale_init_value * torch.ones(dim))
        self.layer_scale_2 = nn.Parameter(layer_scale_init_value * torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.drop_path(self.layer_scale_1.view(-1, 1, 1) * self.token_mixer(self.norm1(x)))
        return x + self.drop_path(self.layer_scale_2.view(-1, 1, 1) * self.mlp(self.norm2(x)))


@MODELS.register("mmpretrain.PoolFormer")
@MODELS.register()
class PoolFormer(nn.Module):
    """mmpretrain's PoolFormer. ``network`` interleaves stages and downsampling embeddings (indices 0-6:
    stage1, down, stage2, down, stage3, down, stage4), and ``out_indices`` count in that list; each output
    index ``i`` gets a GroupNorm ``norm{i}``.

    As in mmpretrain 1.2.0, ``frozen_stages >= 0`` (the default 0 included) freezes ``patch_embed``: the
    published PoolFormer configs train with a fixed first embedding."""

    def __init__(
        self,
        arch: str | dict = "s12",
        pool_size: int = 3,
        norm_cfg: dict | None = None,
        act_cfg: dict | None = None,
        in_patch_size: int = 7,
        in_stride: int = 4,
        in_pad: int = 2,
        down_patch_size: int = 3,
        down_stride: int = 2,
        down_pad: int = 1,
        drop_rate: float = 0.0,
        drop_path_rate: float = 0.0,
        out_indices: int | Sequence[int] = -1,
        frozen_stages: int = 0,
        init_cfg: dict | list | None = None,
    ) -> None:
        super().__init__()
        self.init_cfg = init_cfg
        arch = resolve_arch(arch, ARCH_SETTINGS, ("layers", "embed_dims"), "PoolFormer")
        layers, embed_dims = list(arch["layers"]), list(arch["embed_dims"])
        mlp_ratios = arch.get("mlp_ratios", [4] * len(layers))
        scale = arch.get("layer_scale_init_value", 1e-5)
        norm_cfg = norm_cfg or dict(type="GN", num_groups=1)
        act_cfg = act_cfg or dict(type="GELU")
        self.patch_embed = PatchEmbed(in_patch_size, in_stride, in_pad, 3, embed_dims[0])
        network: list[nn.Module] = []
        total = sum(layers)
        for i, depth in enumerate(layers):
            blocks = [
                PoolFormerBlock(
                    embed_dims[i],
                    pool_size,
                    mlp_ratios[i],
                    norm_cfg,
                    act_cfg,
                    drop_rate,
                    drop_path_rate * (j + sum(layers[:i])) / (total - 1),
                    scale,
                )
                for j in range(depth)
            ]
            network.append(nn.Sequential(*blocks))
            if i < len(layers) - 1 and embed_dims[i] != embed_dims[i + 1]:
                network.append(PatchEmbed(down_patch_size, down_stride, down_pad, embed_dims[i], embed_dims[i + 1]))
        self.network = nn.ModuleList(network)
        self.out_indices = resolve_out_indices(out_indices, 7, "PoolFormer")  # mmpretrain counts back from 7
        for i in self.out_indices:
            self.add_module(f"norm{i}", build_norm(norm_cfg, embed_dims[(i + 1) // 2])[1])
        if frozen_stages > len(self.network):
            raise ConfigError(f"PoolFormer frozen_stages={frozen_stages} exceeds its {len(self.network)} parts")
        self.frozen_stages = frozen_stages
        self._freeze_stages()

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        x = self.patch_embed(x)
        outs = []
        for i, block in enumerate(self.network):
            x = block(x)
            if i in self.out_indices:
                outs.append(getattr(self, f"norm{i}")(x))
        return tuple(outs)

    def _freeze_stages(self) -> None:
        frozen: list[nn.Module] = [self.patch_embed] if self.frozen_stages >= 0 else []
        for i in range(self.frozen_stages):
            frozen.append(self.network[i])
            if i in self.out_indices:
                frozen.append(getattr(self, f"norm{i}"))
        for module in frozen:
            module.eval()
            for param in module.parameters():
                param.requires_grad = False

    def train(self, mode: bool = True) -> PoolFormer:
        super().train(mode)
        self._freeze_stages()
        return self
