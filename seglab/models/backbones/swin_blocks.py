"""Swin Transformer's blocks: window attention (``WindowMSA``) with its relative-position bias, the shifted
variant (``ShiftWindowMSA``), the block (attention + FFN, pre-norm) and a stage of blocks with its patch
merging (``SwinBlockSequence``). The backbone that stacks them is ``swin.py``.

Parameter names are MMSegmentation's (``blocks.{j}.attn.w_msa.qkv``, ``ffn.layers.0.0``, ``norm1``/``norm2``).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.modules.utils import _pair
from torch.utils import checkpoint as cp

from seglab.models.layers.conv_module import build_norm
from seglab.models.layers.transformer import FFN, build_dropout


class WindowMSA(nn.Module):
    """Multi-head self-attention within one window, with a learned bias per relative position and head."""

    def __init__(
        self,
        embed_dims: int,
        num_heads: int,
        window_size: tuple[int, int],
        qkv_bias: bool = True,
        qk_scale: float | None = None,
        attn_drop_rate: float = 0.0,
        proj_drop_rate: float = 0.0,
    ) -> None:
        super().__init__()
        self.embed_dims, self.num_heads, self.window_size = embed_dims, num_heads, window_size
        self.scale = qk_scale or (embed_dims // num_heads) ** -0.5
        wh, ww = window_size
        self.relative_position_bias_table = nn.Parameter(torch.zeros((2 * wh - 1) * (2 * ww - 1), num_heads))
        self.register_buffer("relative_position_index", relative_position_index(wh, ww))
        self.qkv = nn.Linear(embed_dims, embed_dims * 3, bias=qkv_bias)
        self.attn_drop = nn.Dropout(attn_drop_rate)
        self.proj = nn.Linear(embed_dims, embed_dims)
        self.proj_drop = nn.Dropout(proj_drop_rate)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """``x``: (windows * batch, tokens, C); ``mask``: (windows, tokens, tokens) of 0 / -100."""
        batch, tokens, channels = x.shape
        qkv = self.qkv(x).reshape(batch, tokens, 3, self.num_heads, channels // self.num_heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0] * self.scale, qkv[1], qkv[2]
        attn = q @ k.transpose(-2, -1)
        bias = self.relative_position_bias_table[self.relative_position_index.view(-1)]
        attn = attn + bias.view(tokens, tokens, -1).permute(2, 0, 1).unsqueeze(0)
        if mask is not None:
            windows = mask.shape[0]
            attn = attn.view(batch // windows, windows, self.num_heads, tokens, tokens) + mask[None, :, None]
            attn = attn.view(-1, self.num_heads, tokens, tokens)
        attn = self.attn_drop(attn.softmax(dim=-1))
        return self.proj_drop(self.proj((attn @ v).transpose(1, 2).reshape(batch, tokens, channels)))


def relative_position_index(wh: int, ww: int) -> torch.Tensor:
    """(wh*ww, wh*ww) index into the bias table for each query/key pair, in MMSegmentation's order."""
    coords = (torch.arange(0, (2 * ww - 1) * wh, 2 * ww - 1)[:, None] + torch.arange(ww)[None, :]).reshape(1, -1)
    return (coords + coords.T).flip(1).contiguous()


class ShiftWindowMSA(nn.Module):
    """Pads the token map to whole windows, rolls it by ``shift_size`` (masking attention between regions
    the roll brought together), attends per window (``w_msa``) and undoes both."""

    def __init__(
        self,
        embed_dims: int,
        num_heads: int,
        window_size: int,
        shift_size: int,
        qkv_bias: bool,
        qk_scale: float | None,
        attn_drop_rate: float,
        proj_drop_rate: float,
        drop_path_rate: float,
    ) -> None:
        super().__init__()
        self.window_size, self.shift_size = window_size, shift_size
        self.w_msa = WindowMSA(
            embed_dims, num_heads, _pair(window_size), qkv_bias, qk_scale, attn_drop_rate, proj_drop_rate
        )
        self.drop = build_dropout(dict(type="DropPath", drop_prob=drop_path_rate))

    def forward(self, query: torch.Tensor, hw_shape: Sequence[int]) -> torch.Tensor:
        batch, length, channels = query.shape
        height, width = hw_shape
        if length != height * width:
            raise ValueError(f"Swin block got {length} tokens for a {height}x{width} map")
        size, shift = self.window_size, self.shift_size
        x = query.view(batch, height, width, channels)
        x = F.pad(x, (0, 0, 0, (size - width % size) % size, 0, (size - height % size) % size))
        padded_h, padded_w = x.shape[1], x.shape[2]
        mask = None
        if shift > 0:
            x = torch.roll(x, shifts=(-shift, -shift), dims=(1, 2))
            mask = self._shift_mask(padded_h, padded_w, x.device)
        windows = self._partition(x).view(-1, size * size, channels)
        out = self.w_msa(windows, mask=mask).view(-1, size, size, channels)
        x = self._reverse(out, padded_h, padded_w)
        if shift > 0:
            x = torch.roll(x, shifts=(shift, shift), dims=(1, 2))
        x = x[:, :height, :width, :].contiguous().view(batch, height * width, channels)
        return self.drop(x)

    def _shift_mask(self, height: int, width: int, device: torch.device) -> torch.Tensor:
        """-100 between tokens of a window that came from different regions of the unrolled map."""
        size, shift = self.window_size, self.shift_size
        regions = torch.zeros((1, height, width, 1), device=device)
        bounds = (slice(0, -size), slice(-size, -shift), slice(-shift, None))
        for i, (rows, cols) in enumerate((r, c) for r in bounds for c in bounds):
            regions[:, rows, cols, :] = i
        ids = self._partition(regions).view(-1, size * size)
        differs = ids.unsqueeze(1) - ids.unsqueeze(2)
        return differs.masked_fill(differs != 0, -100.0).masked_fill(differs == 0, 0.0)

    def _partition(self, x: torch.Tensor) -> torch.Tensor:
        batch, height, width, channels = x.shape
        size = self.window_size
        x = x.view(batch, height // size, size, width // size, size, channels)
        return x.permute(0, 1, 3, 2, 4, 5).contiguous().view(-1, size, size, channels)

    def _reverse(self, windows: torch.Tensor, height: int, width: int) -> torch.Tensor:
        size = self.window_size
        batch = windows.shape[0] // ((height // size) * (width // size))
        x = windows.view(batch, height // size, width // size, size, size, -1)
        return x.permute(0, 1, 3, 2, 4, 5).contiguous().view(batch, height, width, -1)


class SwinBlock(nn.Module):
    """``x + attn(norm1(x))`` then ``x + ffn(norm2(x))``; odd blocks shift their windows."""

    def __init__(
        self,
        embed_dims: int,
        num_heads: int,
        feedforward_channels: int,
        window_size: int,
        shift: bool,
        qkv_bias: bool,
        qk_scale: float | None,
        drop_rate: float,
        attn_drop_rate: float,
        drop_path_rate: float,
        act_cfg: dict,
        norm_cfg: dict,
        with_cp: bool,
    ) -> None:
        super().__init__()
        self.with_cp = with_cp
        self.norm1 = build_norm(norm_cfg, embed_dims)[1]
        self.attn = ShiftWindowMSA(
            embed_dims, num_heads, window_size, window_size // 2 if shift else 0, qkv_bias, qk_scale,
            attn_drop_rate, drop_rate, drop_path_rate,
        )  # fmt: skip
        self.norm2 = build_norm(norm_cfg, embed_dims)[1]
        self.ffn = FFN(
            embed_dims, feedforward_channels, num_fcs=2, act_cfg=act_cfg, ffn_drop=drop_rate,
            dropout_layer=dict(type="DropPath", drop_prob=drop_path_rate),
        )  # fmt: skip

    def forward(self, x: torch.Tensor, hw_shape: Sequence[int]) -> torch.Tensor:
        def inner(x: torch.Tensor) -> torch.Tensor:
            x = x + self.attn(self.norm1(x), hw_shape)
            return self.ffn(self.norm2(x), identity=x)

        if self.with_cp and x.requires_grad:
            return cp.checkpoint(inner, x, use_reentrant=False)
        return inner(x)


class SwinBlockSequence(nn.Module):
    """One stage: its blocks, then (except the last stage) a PatchMerging ``downsample``."""

    def __init__(self, depth: int, drop_path_rates: list[float], downsample: nn.Module | None, **block) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(
            SwinBlock(shift=i % 2 == 1, drop_path_rate=drop_path_rates[i], **block) for i in range(depth)
        )
        self.downsample = downsample

    def forward(self, x: torch.Tensor, hw_shape: Sequence[int]):
        """(input of the next stage, its size, this stage's output, its size)."""
        for block in self.blocks:
            x = block(x, hw_shape)
        if self.downsample is None:
            return x, hw_shape, x, hw_shape
        down, down_shape = self.downsample(x, hw_shape)
        return down, down_shape, x, hw_shape
