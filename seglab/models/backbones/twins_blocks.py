"""Twins' blocks: global sub-sampled attention (GSA, SegFormer's attention with Twins' defaults), locally
grouped attention inside windows (LSA), their encoder layers (pre-norm attention + FFN) and the conditional
position encoding (a 3x3 depthwise conv). The PCPVT/SVT backbones that stack them are ``twins.py``.

Parameter names are MMSegmentation's (``attn.q``/``attn.kv`` (GSA), ``attn.qkv`` (LSA), ``ffn.layers.0.0``, ``proj``).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from seglab.errors import ConfigError
from seglab.models.backbones.mit import EfficientMultiheadAttention
from seglab.models.layers.conv_module import build_norm
from seglab.models.layers.transformer import FFN, build_dropout


class GlobalSubsampledAttention(EfficientMultiheadAttention):
    """GSA: SegFormer's attention over a key/value map shrunk ``sr_ratio`` times (the Twins paper's name)."""

    def __init__(
        self,
        embed_dims: int,
        num_heads: int,
        attn_drop: float = 0.0,
        proj_drop: float = 0.0,
        dropout_layer: dict | None = None,
        batch_first: bool = True,
        qkv_bias: bool = True,
        norm_cfg: dict | None = None,
        sr_ratio: int = 1,
        init_cfg: dict | None = None,
    ) -> None:
        if not batch_first:
            raise ConfigError("GlobalSubsampledAttention works on (batch, tokens, channels): batch_first must be True")
        super().__init__(embed_dims, num_heads, attn_drop, proj_drop, dropout_layer, qkv_bias, norm_cfg, sr_ratio)
        self.init_cfg = init_cfg


def _drop_path(rate: float) -> nn.Module:
    return build_dropout(dict(type="DropPath", drop_prob=rate)) if rate > 0 else nn.Identity()


class GSAEncoderLayer(nn.Module):
    """Pre-norm block with GSA. As in MMSegmentation, the attention's and the FFN's outputs pass the
    stochastic-depth drop twice (their own ``dropout_layer`` and the block's ``drop_path``)."""

    def __init__(
        self,
        embed_dims: int,
        num_heads: int,
        feedforward_channels: int,
        drop_rate: float = 0.0,
        attn_drop_rate: float = 0.0,
        drop_path_rate: float = 0.0,
        num_fcs: int = 2,
        qkv_bias: bool = True,
        act_cfg: dict | None = None,
        norm_cfg: dict | None = None,
        sr_ratio: int = 1,
        init_cfg: dict | None = None,
    ) -> None:
        super().__init__()
        norm_cfg = norm_cfg or dict(type="LN")
        drop_path = dict(type="DropPath", drop_prob=drop_path_rate)
        self.init_cfg = init_cfg
        self.norm1 = build_norm(norm_cfg, embed_dims)[1]
        drops = dict(attn_drop=attn_drop_rate, proj_drop=drop_rate, dropout_layer=drop_path)
        self.attn = GlobalSubsampledAttention(embed_dims, num_heads, **drops, qkv_bias=qkv_bias, sr_ratio=sr_ratio)
        self.norm2 = build_norm(norm_cfg, embed_dims)[1]
        act_cfg = act_cfg or dict(type="GELU")
        self.ffn = FFN(embed_dims, feedforward_channels, num_fcs, act_cfg, drop_rate, drop_path, add_identity=False)
        self.drop_path = _drop_path(drop_path_rate)

    def forward(self, x: torch.Tensor, hw_shape: Sequence[int]) -> torch.Tensor:
        x = x + self.drop_path(self.attn(self.norm1(x), hw_shape, identity=0.0))
        return x + self.drop_path(self.ffn(self.norm2(x)))


class LocallyGroupedSelfAttention(nn.Module):
    """LSA: self-attention inside non-overlapping ``window_size`` windows (the map zero-padded at the
    bottom/right to whole windows). As MMSegmentation, padded positions are masked out (-1000) only when
    both height and width are padded: its mask, cut with ``-pad`` slices, covers the whole map otherwise."""

    def __init__(
        self,
        embed_dims: int,
        num_heads: int = 8,
        qkv_bias: bool = False,
        qk_scale: float | None = None,
        attn_drop_rate: float = 0.0,
        proj_drop_rate: float = 0.0,
        window_size: int = 1,
        init_cfg: dict | None = None,
    ) -> None:
        super().__init__()
        if embed_dims % num_heads:
            raise ConfigError(f"Twins: width {embed_dims} must be divisible by num_heads={num_heads}")
        self.embed_dims, self.num_heads, self.window_size = embed_dims, num_heads, window_size
        self.scale = qk_scale or (embed_dims // num_heads) ** -0.5
        self.init_cfg = init_cfg
        self.qkv = nn.Linear(embed_dims, embed_dims * 3, bias=qkv_bias)
        self.attn_drop = nn.Dropout(attn_drop_rate)
        self.proj = nn.Linear(embed_dims, embed_dims)
        self.proj_drop = nn.Dropout(proj_drop_rate)

    def forward(self, x: torch.Tensor, hw_shape: Sequence[int]) -> torch.Tensor:
        batch, length, channels = x.shape
        (height, width), ws = hw_shape, self.window_size
        pad_b, pad_r = (ws - height % ws) % ws, (ws - width % ws) % ws
        x = F.pad(x.view(batch, height, width, channels), (0, 0, 0, pad_r, 0, pad_b))
        rows, cols = (height + pad_b) // ws, (width + pad_r) // ws
        # (B, rows*cols windows, ws*ws tokens, C)
        windows = x.view(batch, rows, ws, cols, ws, channels).transpose(2, 3).reshape(batch, rows * cols, ws * ws, -1)
        head_dims = channels // self.num_heads
        qkv = self.qkv(windows).view(batch, rows * cols, ws * ws, 3, self.num_heads, head_dims)
        q, k, v = qkv.permute(3, 0, 1, 4, 2, 5)  # each (B, windows, heads, ws*ws, head_dims)
        attn = (q @ k.transpose(-2, -1)) * self.scale
        if pad_b > 0 and pad_r > 0:
            attn = attn + self._padding_mask(rows, cols, pad_b, pad_r, x.device)
        attn = self.attn_drop(attn.softmax(dim=-1))
        out = (attn @ v).transpose(2, 3).reshape(batch, rows, cols, ws, ws, channels)
        out = out.transpose(2, 3).reshape(batch, rows * ws, cols * ws, channels)[:, :height, :width]
        return self.proj_drop(self.proj(out.reshape(batch, length, channels)))

    def _padding_mask(self, rows: int, cols: int, pad_b: int, pad_r: int, device: torch.device) -> torch.Tensor:
        """(windows, 1, ws*ws, ws*ws): -1000 between a padded and a real position, 0 elsewhere."""
        ws = self.window_size
        padded = torch.zeros(rows * ws, cols * ws, device=device)
        padded[-pad_b:, :] = 1
        padded[:, -pad_r:] = 1
        padded = padded.view(rows, ws, cols, ws).transpose(1, 2).reshape(rows * cols, ws * ws)
        differs = padded[:, None, :] != padded[:, :, None]
        return torch.where(differs, -1000.0, 0.0)[:, None]


class LSAEncoderLayer(nn.Module):
    """Pre-norm block with LSA (SVT's even blocks); the FFN's output passes stochastic depth twice, as in
    MMSegmentation."""

    def __init__(
        self,
        embed_dims: int,
        num_heads: int,
        feedforward_channels: int,
        drop_rate: float = 0.0,
        attn_drop_rate: float = 0.0,
        drop_path_rate: float = 0.0,
        num_fcs: int = 2,
        qkv_bias: bool = True,
        qk_scale: float | None = None,
        act_cfg: dict | None = None,
        norm_cfg: dict | None = None,
        window_size: int = 1,
        init_cfg: dict | None = None,
    ) -> None:
        super().__init__()
        norm_cfg = norm_cfg or dict(type="LN")
        self.init_cfg = init_cfg
        self.norm1 = build_norm(norm_cfg, embed_dims)[1]
        self.attn = LocallyGroupedSelfAttention(
            embed_dims, num_heads, qkv_bias, qk_scale, attn_drop_rate, drop_rate, window_size
        )
        self.norm2 = build_norm(norm_cfg, embed_dims)[1]
        act_cfg, drop_path = act_cfg or dict(type="GELU"), dict(type="DropPath", drop_prob=drop_path_rate)
        self.ffn = FFN(embed_dims, feedforward_channels, num_fcs, act_cfg, drop_rate, drop_path, add_identity=False)
        self.drop_path = _drop_path(drop_path_rate)

    def forward(self, x: torch.Tensor, hw_shape: Sequence[int]) -> torch.Tensor:
        x = x + self.drop_path(self.attn(self.norm1(x), hw_shape))
        return x + self.drop_path(self.ffn(self.norm2(x)))


class ConditionalPositionEncoding(nn.Module):
    """CPE: a 3x3 depthwise conv of the token map (``proj``), added to it when ``stride`` is 1."""

    def __init__(self, in_channels: int, embed_dims: int = 768, stride: int = 1, init_cfg: dict | None = None):
        super().__init__()
        self.proj = nn.Conv2d(in_channels, embed_dims, 3, stride, 1, bias=True, groups=embed_dims)
        self.stride, self.init_cfg = stride, init_cfg

    def forward(self, x: torch.Tensor, hw_shape: Sequence[int]) -> torch.Tensor:
        batch, _, channels = x.shape
        feat = x.transpose(1, 2).reshape(batch, channels, *hw_shape)
        out = self.proj(feat) + feat if self.stride == 1 else self.proj(feat)
        return out.flatten(2).transpose(1, 2)
