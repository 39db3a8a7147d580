"""SegFormer's Mix Transformer (MiT-B0 ... B5): overlapping patch embeddings, attention over a spatially
reduced key/value sequence, and a feed-forward block whose 3x3 depthwise conv stands in for position
embeddings, so the backbone takes any input size.

Parameter names are MMSegmentation's (``layers.{stage}.{0 patch embed | 1 blocks | 2 norm}``); the original
SegFormer release (``mit_b0.pth`` ...: ``patch_embed1``, ``block1.0.attn.q``, ``norm1``) is converted on
load by ``adapt_pretrained``, so neither layout needs a converter script.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence

import torch
from torch import nn
from torch.utils import checkpoint as cp

from seglab.errors import CheckpointError, ConfigError
from seglab.models.layers.conv_module import build_activation, build_norm
from seglab.models.layers.transformer import MultiheadAttention, PatchEmbed, build_dropout, nchw_to_nlc, nlc_to_nchw
from seglab.models.weight_init import init_transformer_style
from seglab.registry import MODELS

logger = logging.getLogger("seglab")


class MixFFN(nn.Module):
    """1x1 conv -> 3x3 depthwise conv -> activation -> 1x1 conv on the token map, plus the identity."""

    def __init__(
        self,
        embed_dims: int,
        feedforward_channels: int,
        act_cfg: dict | None = None,
        ffn_drop: float = 0.0,
        dropout_layer: dict | None = None,
    ) -> None:
        super().__init__()
        drop = nn.Dropout(ffn_drop)
        self.layers = nn.Sequential(
            nn.Conv2d(embed_dims, feedforward_channels, 1),
            nn.Conv2d(feedforward_channels, feedforward_channels, 3, padding=1, groups=feedforward_channels),
            build_activation(act_cfg or dict(type="GELU")),
            drop,
            nn.Conv2d(feedforward_channels, embed_dims, 1),
            drop,
        )
        self.dropout_layer = build_dropout(dropout_layer) if dropout_layer else nn.Identity()

    def forward(self, x: torch.Tensor, hw_shape: Sequence[int], identity: torch.Tensor) -> torch.Tensor:
        out = nchw_to_nlc(self.layers(nlc_to_nchw(x, hw_shape)))
        return identity + self.dropout_layer(out)


class EfficientMultiheadAttention(MultiheadAttention):
    """Attention whose keys/values come from the token map shrunk ``sr_ratio`` times by a strided conv
    (``sr``) and a norm: the cost falls by ``sr_ratio**2`` at the high-resolution stages."""

    def __init__(
        self,
        embed_dims: int,
        num_heads: int,
        attn_drop: float = 0.0,
        proj_drop: float = 0.0,
        dropout_layer: dict | None = None,
        qkv_bias: bool = False,
        norm_cfg: dict | None = None,
        sr_ratio: int = 1,
    ) -> None:
        super().__init__(
            embed_dims, num_heads, attn_drop, proj_drop, dropout_layer=dropout_layer, batch_first=True, bias=qkv_bias
        )
        self.sr_ratio = sr_ratio
        if sr_ratio > 1:
            self.sr = nn.Conv2d(embed_dims, embed_dims, sr_ratio, sr_ratio)
            self.norm = build_norm(norm_cfg or dict(type="LN"), embed_dims)[1]

    def forward(self, x: torch.Tensor, hw_shape: Sequence[int], identity: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        kv = x
        if self.sr_ratio > 1:
            kv = self.norm(nchw_to_nlc(self.sr(nlc_to_nchw(x, hw_shape))))
        return super().forward(x, kv, kv, identity=identity)


class MixTransformerLayer(nn.Module):
    """Pre-norm block: ``x + attn(norm1(x))`` then ``x + ffn(norm2(x))``."""

    def __init__(
        self,
        embed_dims: int,
        num_heads: int,
        feedforward_channels: int,
        drop_rate: float,
        attn_drop_rate: float,
        drop_path_rate: float,
        qkv_bias: bool,
        act_cfg: dict,
        norm_cfg: dict,
        sr_ratio: int,
        with_cp: bool,
    ) -> None:
        super().__init__()
        drop_path = dict(type="DropPath", drop_prob=drop_path_rate)
        self.norm1 = build_norm(norm_cfg, embed_dims)[1]
        self.attn = EfficientMultiheadAttention(
            embed_dims, num_heads, attn_drop_rate, drop_rate, drop_path, qkv_bias, norm_cfg, sr_ratio
        )
        self.norm2 = build_norm(norm_cfg, embed_dims)[1]
        self.ffn = MixFFN(embed_dims, feedforward_channels, act_cfg, drop_rate, drop_path)
        self.with_cp = with_cp

    def forward(self, x: torch.Tensor, hw_shape: Sequence[int]) -> torch.Tensor:
        def inner(x: torch.Tensor) -> torch.Tensor:
            x = self.attn(self.norm1(x), hw_shape, identity=x)
            return self.ffn(self.norm2(x), hw_shape, identity=x)

        if self.with_cp and x.requires_grad:
            return cp.checkpoint(inner, x, use_reentrant=False)
        return inner(x)


@MODELS.register()
class MixVisionTransformer(nn.Module):
    """Stage i embeds patches (``patch_sizes[i]`` kernel, ``strides[i]``, overlapping) into
    ``embed_dims * num_heads[i]`` channels, runs ``num_layers[i]`` blocks and a norm; the maps of
    ``out_indices`` are returned (strides 4, 8, 16, 32 by default)."""

    def __init__(
        self,
        in_channels: int = 3,
        embed_dims: int = 64,
        num_stages: int = 4,
        num_layers: Sequence[int] = (3, 4, 6, 3),
        num_heads: Sequence[int] = (1, 2, 4, 8),
        patch_sizes: Sequence[int] = (7, 3, 3, 3),
        strides: Sequence[int] = (4, 2, 2, 2),
        sr_ratios: Sequence[int] = (8, 4, 2, 1),
        out_indices: Sequence[int] = (0, 1, 2, 3),
        mlp_ratio: int = 4,
        qkv_bias: bool = True,
        drop_rate: float = 0.0,
        attn_drop_rate: float = 0.0,
        drop_path_rate: float = 0.0,
        act_cfg: dict | None = None,
        norm_cfg: dict | None = None,
        pretrained: str | None = None,
        init_cfg: dict | list | None = None,
        with_cp: bool = False,
    ) -> None:
        super().__init__()
        if init_cfg and pretrained:
            raise ConfigError("MixVisionTransformer: give init_cfg or pretrained, not both")
        if pretrained is not None and not isinstance(pretrained, str):
            raise ConfigError(f"MixVisionTransformer pretrained must be a checkpoint path or URL, got {pretrained!r}")
        self.init_cfg = dict(type="Pretrained", checkpoint=pretrained) if pretrained else init_cfg
        per_stage = dict(
            num_layers=num_layers, num_heads=num_heads, patch_sizes=patch_sizes, strides=strides, sr_ratios=sr_ratios
        )
        wrong = {k: len(v) for k, v in per_stage.items() if len(v) != num_stages}
        if wrong:
            raise ConfigError(f"MixVisionTransformer num_stages={num_stages} needs that many entries in {wrong}")
        out_indices = (out_indices,) if isinstance(out_indices, int) else tuple(out_indices)
        if not out_indices or max(out_indices) >= num_stages:
            raise ConfigError(f"MixVisionTransformer out_indices {out_indices} must lie in 0..{num_stages - 1}")
        self.out_indices, self.num_stages = out_indices, num_stages
        act_cfg = act_cfg or dict(type="GELU")
        norm_cfg = norm_cfg or dict(type="LN", eps=1e-6)
        rates = torch.linspace(0, drop_path_rate, sum(num_layers), device="cpu").tolist()  # deeper blocks drop more
        self.layers = nn.ModuleList()
        first = 0
        for i, depth in enumerate(num_layers):
            dims = embed_dims * num_heads[i]
            patch_embed = PatchEmbed(
                in_channels, dims, kernel_size=patch_sizes[i], stride=strides[i], padding=patch_sizes[i] // 2,
                norm_cfg=norm_cfg,
            )  # fmt: skip
            blocks = nn.ModuleList(
                MixTransformerLayer(
                    dims,
                    num_heads[i],
                    mlp_ratio * dims,
                    drop_rate,
                    attn_drop_rate,
                    rates[first + j],
                    qkv_bias,
                    act_cfg,
                    norm_cfg,
                    sr_ratios[i],
                    with_cp,
                )  # fmt: skip
                for j in range(depth)
            )
            self.layers.append(nn.ModuleList([patch_embed, blocks, build_norm(norm_cfg, dims)[1]]))
            in_channels, first = dims, first + depth

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        outs = []
        for i, (patch_embed, blocks, norm) in enumerate(self.layers):
            x, hw_shape = patch_embed(x)
            for block in blocks:
                x = block(x, hw_shape)
            x = nlc_to_nchw(norm(x), hw_shape)
            if i in self.out_indices:
                outs.append(x)
        return tuple(outs)

    def init_weights(self) -> None:
        """Without pre-trained weights: truncated-normal Linear layers (std 0.02), unit LayerNorms and
        He-normal (fan-out) convs, as MMSegmentation initialises MiT. The attention's packed input
        projection is not a Linear and keeps PyTorch's default, there too."""
        if not self.init_cfg:
            init_transformer_style(self, conv=True)

    @staticmethod
    def adapt_pretrained(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """The original SegFormer layout (``patch_embed1``, ``block1.0.attn.q``/``kv``, ``mlp.fc1`` as
        Linear, ``norm1``; an ImageNet ``head``) in MMSegmentation's; other layouts pass unchanged."""
        if not any(re.match(r"(patch_embed|block)\d+\.", key) for key in state):
            return state
        out: dict[str, torch.Tensor] = {}
        for key, value in state.items():
            if key.startswith("head."):
                continue  # the ImageNet classifier
            match = re.match(r"(patch_embed|block|norm)(\d+)\.(.*)", key)
            if not match:
                out[key] = value
                continue
            part, stage, rest = match.group(1), int(match.group(2)) - 1, match.group(3)
            if part == "patch_embed":
                out[f"layers.{stage}.0.{rest.replace('proj.', 'projection.')}"] = value
            elif part == "norm":
                out[f"layers.{stage}.2.{rest}"] = value
            else:
                renamed = _block_entry(rest, value, state.get(key.replace(".attn.q.", ".attn.kv.")))
                if renamed is not None:
                    out[f"layers.{stage}.1.{renamed[0]}"] = renamed[1]
        logger.info(f"converted the original SegFormer layout ({len(state)} tensors) to MMSegmentation's")
        return out


FFN_NAMES = {"fc1": "0", "dwconv.dwconv": "1", "fc2": "4"}


def _block_entry(rest: str, value: torch.Tensor, kv: torch.Tensor | None) -> tuple[str, torch.Tensor] | None:
    """One original ``block{i}.<rest>`` tensor in MMSegmentation's names (None: folded into another):
    q and kv packed into the attention's input projection, proj as its output projection, the Linear
    fc1/fc2 as 1x1 convs; norm1/norm2, attn.sr and attn.norm keep their names."""
    match = re.match(r"(\d+)\.attn\.(q|kv|proj)\.(weight|bias)$", rest)
    if match:
        index, name, kind = match.groups()
        if name == "kv":
            return None
        if name == "proj":
            return f"{index}.attn.attn.out_proj.{kind}", value
        if kv is None:
            raise CheckpointError(f"original SegFormer checkpoint has block ...{rest} but no matching attn.kv.{kind}")
        return f"{index}.attn.attn.in_proj_{kind}", torch.cat([value, kv], dim=0)
    match = re.match(r"(\d+)\.mlp\.(fc1|dwconv\.dwconv|fc2)\.(weight|bias)$", rest)
    if match:
        index, name, kind = match.groups()
        if kind == "weight" and name != "dwconv.dwconv":
            value = value.reshape(*value.shape, 1, 1)
        return f"{index}.ffn.layers.{FFN_NAMES[name]}.{kind}", value
    return rest, value
