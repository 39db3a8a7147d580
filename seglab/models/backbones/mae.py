"""MAE: BEiT's blocks with ordinary q/k/v biases, relative-position tables that start at zero, and an
absolute position embedding added after the class token is prepended.

Meta's original release (``mae_pretrain_vit_base.pth``: timm's ViT names, no layer scales, no tables) loads
through ``adapt_pretrained`` as MMSegmentation's beit2mmseg.py converts it; its 14x14 position embedding is
resized bicubically to this model's patch grid, as MMSegmentation's ``resize_abs_pos_embed`` does.
"""

from __future__ import annotations

import logging
import math

import torch
import torch.nn.functional as F
from torch import nn

from seglab.models.backbones.beit import BEiT, BEiTAttention, BEiTTransformerEncoderLayer
from seglab.registry import MODELS

logger = logging.getLogger("seglab")


class MAEAttention(BEiTAttention):
    """BEiT's attention; the difference (its table is not re-initialised) lives in ``MAE.init_tables``."""


class MAETransformerEncoderLayer(BEiTTransformerEncoderLayer):
    attention = MAEAttention


@MODELS.register()
class MAE(BEiT):
    """BEiT with q/k/v biases (no ``qv_bias`` argument) and a learned ``pos_embed`` over the class token and
    the ``img_size`` patch grid."""

    layer_type = MAETransformerEncoderLayer

    def __init__(
        self,
        img_size=224,
        patch_size: int = 16,
        in_channels: int = 3,
        embed_dims: int = 768,
        num_layers: int = 12,
        num_heads: int = 12,
        mlp_ratio: int = 4,
        out_indices=-1,
        attn_drop_rate: float = 0.0,
        drop_path_rate: float = 0.0,
        norm_cfg: dict | None = None,
        act_cfg: dict | None = None,
        patch_norm: bool = False,
        final_norm: bool = False,
        num_fcs: int = 2,
        norm_eval: bool = False,
        pretrained: str | None = None,
        init_values: float = 0.1,
        init_cfg: dict | None = None,
    ) -> None:
        super().__init__(
            img_size=img_size, patch_size=patch_size, in_channels=in_channels, embed_dims=embed_dims,
            num_layers=num_layers, num_heads=num_heads, mlp_ratio=mlp_ratio, out_indices=out_indices,
            qv_bias=False, attn_drop_rate=attn_drop_rate, drop_path_rate=drop_path_rate, norm_cfg=norm_cfg,
            act_cfg=act_cfg, patch_norm=patch_norm, final_norm=final_norm, num_fcs=num_fcs, norm_eval=norm_eval,
            pretrained=pretrained, init_values=init_values, init_cfg=init_cfg,
        )  # fmt: skip
        self.num_patches = self.patch_shape[0] * self.patch_shape[1]
        self.pos_embed = nn.Parameter(torch.zeros(1, self.num_patches + 1, embed_dims))

    def _qkv_bias(self, qv_bias: bool) -> bool | str:
        return True

    def embed(self, x: torch.Tensor) -> tuple[torch.Tensor, tuple[int, int]]:
        x, hw_shape = super().embed(x)
        return x + self.pos_embed, hw_shape

    def rescale_init(self) -> None:
        """Each block's output projections divided by sqrt(2 * depth) (BEiT's pre-training init, which
        MMSegmentation runs before loading or re-initialising)."""
        for depth, layer in enumerate(self.layers, start=1):
            layer.attn.proj.weight.div_(math.sqrt(2.0 * depth))
            layer.ffn.layers[1].weight.div_(math.sqrt(2.0 * depth))

    def init_tables(self) -> None:
        """MAE's tables stay zero under any init_cfg."""

    def adapt_pretrained(self, state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """BEiT's conversion, then a position embedding of another square grid resized to this one."""
        state = super().adapt_pretrained(state)
        pos_embed = state.get("pos_embed")
        if pos_embed is not None and pos_embed.shape != self.pos_embed.shape:
            state["pos_embed"] = self.resize_pos_embed(pos_embed)
        return state

    def resize_pos_embed(self, pos_embed: torch.Tensor) -> torch.Tensor:
        """(1, 1 + s^2, C) -> (1, 1 + h*w, C) for this model's (h, w) patch grid, bicubic; the class token's
        entry kept. (MMSegmentation resizes to a square grid only; a non-square model fails to load there.)"""
        side, (height, width) = int((pos_embed.shape[-2] - 1) ** 0.5), self.patch_shape
        if side * side + 1 != pos_embed.shape[-2]:
            return pos_embed  # not a square grid with a class token: the load report names the mismatch
        grid = pos_embed[:, 1:].reshape(-1, side, side, pos_embed.shape[-1]).permute(0, 3, 1, 2)
        grid = F.interpolate(grid, size=(height, width), mode="bicubic", align_corners=False)
        logger.info(f"resized pos_embed from {side}x{side} to {height}x{width} patches")
        return torch.cat((pos_embed[:, :1], grid.permute(0, 2, 3, 1).flatten(1, 2)), dim=1)
