"""Swin Transformer: attention inside non-overlapping windows, shifted by half a window in every other block
so information crosses window borders, and 2x2 patch merging between stages.

Parameter names are MMSegmentation's (``stages.{i}.blocks.{j}.attn.w_msa.qkv``, ``ffn.layers.0.0``, ``norm{i}``).
``adapt_pretrained`` reads Microsoft's original release (``layers.{i}.blocks.{j}.attn.qkv``, ``mlp.fc1``,
patch-merging weights in the original unfold order) as MMSegmentation's swin2mmseg.py converts it, and resizes
relative-position tables pre-trained for another window size (bicubic), as MMSegmentation does when loading.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.modules.utils import _pair
from torch.utils import checkpoint as cp

from seglab.errors import ConfigError
from seglab.models.layers.conv_module import build_norm
from seglab.models.layers.transformer import FFN, PatchEmbed, PatchMerging, build_dropout
from seglab.models.weight_init import INIT_TYPES, init_transformer_style
from seglab.registry import MODELS

logger = logging.getLogger("seglab")


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


@MODELS.register()
class SwinTransformer(nn.Module):
    """Patch embedding (``patch_size``, non-overlapping), then ``len(depths)`` stages of window-attention
    blocks; stage i has ``embed_dims * 2**i`` channels, and ``norm{i}`` normalises each returned map."""

    def __init__(
        self,
        pretrain_img_size: int | Sequence[int] = 224,
        in_channels: int = 3,
        embed_dims: int = 96,
        patch_size: int = 4,
        window_size: int = 7,
        mlp_ratio: float = 4,
        depths: Sequence[int] = (2, 2, 6, 2),
        num_heads: Sequence[int] = (3, 6, 12, 24),
        strides: Sequence[int] = (4, 2, 2, 2),
        out_indices: Sequence[int] = (0, 1, 2, 3),
        qkv_bias: bool = True,
        qk_scale: float | None = None,
        patch_norm: bool = True,
        drop_rate: float = 0.0,
        attn_drop_rate: float = 0.0,
        drop_path_rate: float = 0.1,
        use_abs_pos_embed: bool = False,
        act_cfg: dict | None = None,
        norm_cfg: dict | None = None,
        with_cp: bool = False,
        pretrained: str | None = None,
        frozen_stages: int = -1,
        init_cfg: dict | None = None,
    ) -> None:
        super().__init__()
        if init_cfg and pretrained:
            raise ConfigError("SwinTransformer: give init_cfg or pretrained, not both")
        if pretrained is not None and not isinstance(pretrained, str):
            raise ConfigError(f"SwinTransformer pretrained must be a checkpoint path or URL, got {pretrained!r}")
        if strides[0] != patch_size:
            raise ConfigError(f"SwinTransformer strides[0]={strides[0]} must equal patch_size={patch_size}")
        if len(num_heads) != len(depths) or len(strides) != len(depths):
            raise ConfigError(f"SwinTransformer depths {list(depths)} need as many num_heads and strides")
        widths = [embed_dims * 2**i for i in range(len(depths))]
        if any(w % h for w, h in zip(widths, num_heads)):
            raise ConfigError(
                f"SwinTransformer stage widths {widths} (embed_dims x 2**i) must be divisible by num_heads {list(num_heads)}"
            )
        if not out_indices or max(out_indices) >= len(depths):
            raise ConfigError(f"SwinTransformer out_indices {tuple(out_indices)} must lie in 0..{len(depths) - 1}")
        self.init_cfg = dict(type="Pretrained", checkpoint=pretrained) if pretrained else init_cfg
        self.out_indices, self.frozen_stages, self.use_abs_pos_embed = (
            tuple(out_indices),
            frozen_stages,
            use_abs_pos_embed,
        )
        act_cfg, norm_cfg = act_cfg or dict(type="GELU"), norm_cfg or dict(type="LN")
        patch_norm_cfg = norm_cfg if patch_norm else None
        self.patch_embed = PatchEmbed(
            in_channels, embed_dims, kernel_size=patch_size, stride=strides[0], norm_cfg=patch_norm_cfg
        )
        if use_abs_pos_embed:
            rows, cols = (s // patch_size for s in _pair(pretrain_img_size))
            self.absolute_pos_embed = nn.Parameter(torch.zeros(1, rows * cols, embed_dims))
        self.drop_after_pos = nn.Dropout(p=drop_rate)
        rates = torch.linspace(0, drop_path_rate, sum(depths), device="cpu").tolist()
        self.stages = nn.ModuleList()
        channels = embed_dims
        for i, depth in enumerate(depths):
            downsample = None
            if i < len(depths) - 1:
                downsample = PatchMerging(channels, 2 * channels, stride=strides[i + 1], norm_cfg=patch_norm_cfg)
            first = sum(depths[:i])
            self.stages.append(
                SwinBlockSequence(
                    depth,
                    rates[first : first + depth],
                    downsample,
                    embed_dims=channels,
                    num_heads=num_heads[i],
                    feedforward_channels=int(mlp_ratio * channels),
                    window_size=window_size,
                    qkv_bias=qkv_bias,
                    qk_scale=qk_scale,
                    drop_rate=drop_rate,
                    attn_drop_rate=attn_drop_rate,
                    act_cfg=act_cfg,
                    norm_cfg=norm_cfg,
                    with_cp=with_cp,
                )  # fmt: skip
            )
            channels = downsample.out_channels if downsample else channels
        self.num_features = [int(embed_dims * 2**i) for i in range(len(depths))]
        for i in self.out_indices:
            self.add_module(f"norm{i}", build_norm(norm_cfg, self.num_features[i])[1])
        self._freeze_stages()

    def train(self, mode: bool = True) -> SwinTransformer:
        super().train(mode)
        self._freeze_stages()
        return self

    def _freeze_stages(self) -> None:
        """The patch embedding and the first ``frozen_stages`` stages (with their output norms) stop learning."""
        if self.frozen_stages < 0:
            return
        frozen: list[nn.Module] = [self.patch_embed, self.drop_after_pos]
        if self.use_abs_pos_embed:
            self.absolute_pos_embed.requires_grad = False
        for i in range(1, self.frozen_stages + 1):
            frozen.append(self.stages[i - 1])
            if i - 1 in self.out_indices:
                frozen.append(getattr(self, f"norm{i - 1}"))
        for module in frozen:
            module.eval()
            for param in module.parameters():
                param.requires_grad = False

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        x, hw_shape = self.patch_embed(x)
        if self.use_abs_pos_embed:
            x = x + self.absolute_pos_embed
        x = self.drop_after_pos(x)
        outs = []
        for i, stage in enumerate(self.stages):
            x, hw_shape, out, out_shape = stage(x, hw_shape)
            if i in self.out_indices:
                out = getattr(self, f"norm{i}")(out)
                outs.append(out.view(-1, *out_shape, self.num_features[i]).permute(0, 3, 1, 2).contiguous())
        return tuple(outs)

    def init_weights(self) -> None:
        """Without pre-trained weights: truncated-normal Linear layers (std 0.02) and unit LayerNorms, as
        MMSegmentation; its relative-position tables stay zero there (its Swin never calls the windows'
        own init), and so they do here."""
        if self.init_cfg:
            return
        trunc_normal, _ = INIT_TYPES["TruncNormal"]
        with torch.no_grad():
            if self.use_abs_pos_embed:
                trunc_normal(self.absolute_pos_embed, 0.0, 0.02, -2.0, 2.0)
        init_transformer_style(self)

    def adapt_pretrained(self, state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """MMSegmentation's layout from a segmentor checkpoint (``backbone.`` stripped), Microsoft's original
        release (converted), or MMSegmentation's own; relative-position tables resized to this model's windows."""
        if any(k.startswith("backbone.") for k in state):
            state = {k[len("backbone.") :]: v for k, v in state.items() if k.startswith("backbone.")}
        if any(re.match(r"layers\.\d+\.blocks\.", k) for k in state):
            state = convert_original_swin(state)
            logger.info(f"converted the original Swin Transformer layout ({len(state)} tensors) to MMSegmentation's")
        own = self.state_dict()
        out = {}
        for key, value in state.items():
            if key.endswith("relative_position_index") and key in own and own[key].shape != value.shape:
                continue  # a buffer computed from the window size
            if key.endswith("relative_position_bias_table") and key in own and own[key].shape != value.shape:
                value = resize_bias_table(key, value, own[key].shape)
            if key == "absolute_pos_embed" and key in own and own[key].shape != value.shape:
                logger.warning(
                    f"absolute_pos_embed {tuple(value.shape)} does not fit {tuple(own[key].shape)}; not loaded"
                )
                continue
            out[key] = value
        return out


def resize_bias_table(key: str, table: torch.Tensor, shape: torch.Size) -> torch.Tensor:
    """A (L1, heads) table of a (2w1-1)^2 window grid resized bicubically to (L2, heads), as MMSegmentation."""
    (length, heads), (new_length, new_heads) = table.shape, shape
    if heads != new_heads:
        return table  # the load report names the mismatch
    side, new_side = int(length**0.5), int(new_length**0.5)
    grid = table.permute(1, 0).reshape(1, heads, side, side)
    resized = F.interpolate(grid, size=(new_side, new_side), mode="bicubic")
    logger.info(f"resized {key} from {side}x{side} to {new_side}x{new_side} relative positions")
    return resized.view(new_heads, new_length).permute(1, 0).contiguous()


def convert_original_swin(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Microsoft's names in MMSegmentation's: ``layers`` -> ``stages``, ``attn`` -> ``attn.w_msa``,
    ``mlp.fc1/fc2`` -> ``ffn.layers.0.0/1``, ``patch_embed.proj`` -> ``projection``; patch merging's
    Linear/norm reordered from the original (x0, x1, x2, x3) concat to the unfold order; the ImageNet
    ``head`` and the recomputed ``attn_mask`` buffers dropped."""
    out = {}
    for key, value in state.items():
        if key.startswith("head") or key.endswith("attn_mask"):
            continue
        if key.startswith("layers"):
            if "attn." in key:
                key = key.replace("attn.", "attn.w_msa.")
            elif "mlp.fc1." in key:
                key = key.replace("mlp.fc1.", "ffn.layers.0.0.")
            elif "mlp.fc2." in key:
                key = key.replace("mlp.fc2.", "ffn.layers.1.")
            elif "downsample.reduction." in key:
                value = _unfold_order(value)
            elif "downsample.norm." in key:
                value = _unfold_order(value[None])[0]
            key = key.replace("layers", "stages", 1)
        elif key.startswith("patch_embed"):
            key = key.replace("proj", "projection")
        out[key] = value
    return out


def _unfold_order(weight: torch.Tensor) -> torch.Tensor:
    """Columns grouped as the original concat (x0, x1, x2, x3 = top-left, bottom-left, top-right,
    bottom-right; channels inside) regrouped as nn.Unfold lays them out (channel-major, then the 2x2 window)."""
    rows, cols = weight.shape
    return weight.reshape(rows, 4, cols // 4)[:, [0, 2, 1, 3], :].transpose(1, 2).reshape(rows, cols)
