"""Transformer blocks of the DINOv2 and DINOv3 ViTs, named as the authors' code names them (``blocks.{i}.norm1``,
``attn.qkv``, ``ls1.gamma``, ``mlp.fc1`` / ``mlp.w12`` / ``mlp.w1``), so the authors' torch-hub files load as
they are: pre-norm attention and MLP, each scaled by a per-channel layer scale, with optional rotary position
embedding (DINOv3) applied to the patch tokens only.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from seglab.models.layers.transformer import DropPath


class LayerScale(nn.Module):
    """Per-channel scale of a residual branch (``gamma``), as CaiT introduced and DINOv2/v3 use."""

    def __init__(self, dim: int, init_values: float = 1e-5) -> None:
        super().__init__()
        self.gamma = nn.Parameter(torch.full((dim,), float(init_values)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.gamma


class Mlp(nn.Module):
    """Linear -> GELU -> Linear (``fc1``, ``fc2``)."""

    def __init__(self, dim: int, hidden: int, bias: bool = True) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden, bias=bias)
        self.fc2 = nn.Linear(hidden, dim, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(F.gelu(self.fc1(x)))


def swiglu_hidden(hidden: int, align: int = 8) -> int:
    """The SwiGLU width the authors use for an MLP of width ``hidden``: 2/3 of it, rounded up to ``align``."""
    width = int(hidden * 2 / 3)
    return width + (-width % align)


class SwiGLUFused(nn.Module):
    """DINOv2's SwiGLU: one ``w12`` projection whose halves are the gate and the value, then ``w3``."""

    def __init__(self, dim: int, hidden: int, bias: bool = True) -> None:
        super().__init__()
        width = swiglu_hidden(hidden)
        self.w12 = nn.Linear(dim, 2 * width, bias=bias)
        self.w3 = nn.Linear(width, dim, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        gate, value = self.w12(x).chunk(2, dim=-1)
        return self.w3(F.silu(gate) * value)


class SwiGLU(nn.Module):
    """DINOv3's SwiGLU: gate ``w1``, value ``w2``, output ``w3``."""

    def __init__(self, dim: int, hidden: int, bias: bool = True) -> None:
        super().__init__()
        width = swiglu_hidden(hidden)
        self.w1 = nn.Linear(dim, width, bias=bias)
        self.w2 = nn.Linear(dim, width, bias=bias)
        self.w3 = nn.Linear(width, dim, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.w3(F.silu(self.w1(x)) * self.w2(x))


FFN_TYPES = {"mlp": Mlp, "swiglufused": SwiGLUFused, "swiglu": SwiGLU}


def rotate_half(x: torch.Tensor) -> torch.Tensor:
    first, second = x.chunk(2, dim=-1)
    return torch.cat((-second, first), dim=-1)


class Attention(nn.Module):
    """Multi-head self-attention with one ``qkv`` projection. ``mask_k_bias`` keeps the key bias at zero (DINOv3
    trains with it masked); ``rope`` (sin, cos) of the patch grid rotates the queries and keys of the last
    ``len(sin)`` tokens, leaving the class and register tokens in front untouched."""

    def __init__(self, dim: int, num_heads: int, qkv_bias: bool = True, mask_k_bias: bool = False) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.qkv = nn.Linear(dim, dim * 3, bias=qkv_bias)
        self.proj = nn.Linear(dim, dim)
        mask = torch.ones(dim * 3)
        if mask_k_bias:
            mask[dim : 2 * dim] = 0.0
        self.register_buffer("k_bias_mask", mask, persistent=False)

    def forward(self, x: torch.Tensor, rope: tuple[torch.Tensor, torch.Tensor] | None = None) -> torch.Tensor:
        batch, tokens, dim = x.shape
        bias = None if self.qkv.bias is None else self.qkv.bias * self.k_bias_mask
        qkv = F.linear(x, self.qkv.weight, bias).reshape(batch, tokens, 3, self.num_heads, dim // self.num_heads)
        q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)
        if rope is not None:
            sin, cos = rope
            prefix = tokens - sin.shape[0]
            q = torch.cat((q[:, :, :prefix], q[:, :, prefix:] * cos + rotate_half(q[:, :, prefix:]) * sin), dim=2)
            k = torch.cat((k[:, :, :prefix], k[:, :, prefix:] * cos + rotate_half(k[:, :, prefix:]) * sin), dim=2)
        out = F.scaled_dot_product_attention(q, k, v)
        return self.proj(out.transpose(1, 2).reshape(batch, tokens, dim))


class Block(nn.Module):
    """x + ls1(attn(norm1(x))), then x + ls2(mlp(norm2(x))), each branch dropped per sample by ``drop_path``."""

    def __init__(
        self,
        dim: int,
        num_heads: int,
        mlp_ratio: float = 4.0,
        ffn_type: str = "mlp",
        init_values: float | None = 1e-5,
        drop_path: float = 0.0,
        qkv_bias: bool = True,
        mask_k_bias: bool = False,
        norm_eps: float = 1e-6,
    ) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=norm_eps)
        self.attn = Attention(dim, num_heads, qkv_bias, mask_k_bias)
        self.ls1 = LayerScale(dim, init_values) if init_values else nn.Identity()
        self.norm2 = nn.LayerNorm(dim, eps=norm_eps)
        self.mlp = FFN_TYPES[ffn_type](dim, int(dim * mlp_ratio))
        self.ls2 = LayerScale(dim, init_values) if init_values else nn.Identity()
        self.drop_path = DropPath(drop_path) if drop_path > 0 else nn.Identity()

    def forward(self, x: torch.Tensor, rope: tuple[torch.Tensor, torch.Tensor] | None = None) -> torch.Tensor:
        x = x + self.drop_path(self.ls1(self.attn(self.norm1(x), rope)))
        return x + self.drop_path(self.ls2(self.mlp(self.norm2(x))))


class RopeEmbedding(nn.Module):
    """DINOv3's 2-D rotary embedding: patch centres in [-1, 1] per axis ("separate" normalisation), angles
    2*pi*coord/period for ``head_dim // 4`` periods ``base ** (4i / head_dim)`` per axis. ``rescale`` (> 1)
    multiplies the coordinates by a log-uniform factor in [1/rescale, rescale] in training, as pre-training did;
    None (the default) keeps fine-tuning deterministic."""

    def __init__(self, head_dim: int, base: float = 100.0, rescale: float | None = None) -> None:
        super().__init__()
        periods = base ** (2 * torch.arange(head_dim // 4, dtype=torch.float32) / (head_dim // 2))
        self.register_buffer("periods", periods, persistent=False)
        self.rescale = rescale

    def forward(self, height: int, width: int) -> tuple[torch.Tensor, torch.Tensor]:
        device = self.periods.device
        coords_h = torch.arange(0.5, height, device=device, dtype=torch.float32) / height
        coords_w = torch.arange(0.5, width, device=device, dtype=torch.float32) / width
        coords = torch.stack(torch.meshgrid(coords_h, coords_w, indexing="ij"), dim=-1).flatten(0, 1) * 2.0 - 1.0
        if self.training and self.rescale:
            span = math.log(self.rescale)
            coords = coords * torch.empty(1, device=device).uniform_(-span, span).exp()
        angles = (2 * math.pi * coords[:, :, None] / self.periods[None, None, :]).flatten(1, 2).tile(2)
        return torch.sin(angles), torch.cos(angles)
