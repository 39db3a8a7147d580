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

from seglab.errors import ConfigError
from seglab.models.backbones.swin_blocks import SwinBlockSequence
from seglab.models.layers.conv_module import build_norm
from seglab.models.layers.transformer import PatchEmbed, PatchMerging
from seglab.models.weight_init import INIT_TYPES, init_transformer_style
from seglab.registry import MODELS

logger = logging.getLogger("seglab")


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
