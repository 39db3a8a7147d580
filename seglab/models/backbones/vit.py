"""Vision Transformer (ViT, DeiT): non-overlapping patch tokens plus a class token and a learned absolute
position embedding, then ``num_layers`` identical pre-norm encoder layers; chosen layers come back as maps.

Parameter names are MMSegmentation's (``layers.{i}.ln1``, ``attn.attn.in_proj_weight``, ``ffn.layers.0.0``,
the closing ``ln1``). ``adapt_pretrained`` converts timm's ViT/DeiT layout (``blocks.{i}.norm1``,
``attn.qkv``, ``mlp.fc1``, ``norm``) as MMSegmentation's vit2mmseg.py does, passes MMSegmentation's own
through, and resizes a position embedding pre-trained at another size as MMSegmentation's init_weights does.
Google's original jax ``.npz`` files are not read: convert them with timm first.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils import checkpoint as cp

from seglab.errors import ConfigError
from seglab.models.layers.conv_module import build_norm
from seglab.models.layers.transformer import FFN, MultiheadAttention, PatchEmbed
from seglab.models.weight_init import INIT_TYPES
from seglab.registry import MODELS

logger = logging.getLogger("seglab")

RESIZE_MODES = ("bilinear", "bicubic")  # the 4-D modes F.interpolate accepts with align_corners=False


class TransformerEncoderLayer(nn.Module):
    """Pre-norm block: ``x + attn(norm1(x))``, then ``x + ffn(norm2(x))``; drop path only on the FFN branch,
    as in MMSegmentation. ``build_attn``/``build_ffn`` are the hooks BEiT and MAE override; ``attn_cfg`` and
    ``ffn_cfg`` carry their extra arguments."""

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
        batch_first: bool = True,
        attn_cfg: dict | None = None,
        ffn_cfg: dict | None = None,
        with_cp: bool = False,
    ) -> None:
        super().__init__()
        norm_cfg = norm_cfg or dict(type="LN")
        self.norm1_name, norm1 = build_norm(norm_cfg, embed_dims, postfix=1)
        self.add_module(self.norm1_name, norm1)
        attn_cfg = dict(attn_cfg or {})
        attn_cfg.update(
            embed_dims=embed_dims,
            num_heads=num_heads,
            attn_drop=attn_drop_rate,
            proj_drop=drop_rate,
            batch_first=batch_first,
            bias=qkv_bias,
        )
        self.build_attn(attn_cfg)
        self.norm2_name, norm2 = build_norm(norm_cfg, embed_dims, postfix=2)
        self.add_module(self.norm2_name, norm2)
        ffn_cfg = dict(ffn_cfg or {})
        ffn_cfg.update(
            embed_dims=embed_dims,
            feedforward_channels=feedforward_channels,
            num_fcs=num_fcs,
            ffn_drop=drop_rate,
            dropout_layer=dict(type="DropPath", drop_prob=drop_path_rate) if drop_path_rate > 0 else None,
            act_cfg=act_cfg or dict(type="GELU"),
        )
        self.build_ffn(ffn_cfg)
        self.with_cp = with_cp

    def build_attn(self, attn_cfg: dict) -> None:
        self.attn = MultiheadAttention(**attn_cfg)

    def build_ffn(self, ffn_cfg: dict) -> None:
        self.ffn = FFN(**ffn_cfg)

    @property
    def norm1(self) -> nn.Module:
        return getattr(self, self.norm1_name)

    @property
    def norm2(self) -> nn.Module:
        return getattr(self, self.norm2_name)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        def inner(x: torch.Tensor) -> torch.Tensor:
            x = self.attn(self.norm1(x), identity=x)
            return self.ffn(self.norm2(x), identity=x)

        if self.with_cp and x.requires_grad:
            return cp.checkpoint(inner, x, use_reentrant=False)
        return inner(x)


def resize_pos_embed(
    pos_embed: torch.Tensor, input_shape: Sequence[int], pos_shape: Sequence[int], mode: str
) -> torch.Tensor:
    """(1, 1 + h*w, C) -> (1, 1 + H*W, C): the class token's entry kept, the last h*w entries resized as an
    (h, w) grid to ``input_shape`` (``align_corners=False``), as MMSegmentation resizes them."""
    pos_h, pos_w = pos_shape
    cls_weight = pos_embed[:, :1]
    grid = pos_embed[:, -pos_h * pos_w :].reshape(1, pos_h, pos_w, pos_embed.shape[2]).permute(0, 3, 1, 2)
    grid = F.interpolate(grid, size=tuple(input_shape), mode=mode, align_corners=False)
    return torch.cat((cls_weight, grid.flatten(2).transpose(1, 2)), dim=1)


def _pair_size(img_size, name: str = "img_size") -> tuple[int, int]:
    if isinstance(img_size, int):
        return img_size, img_size
    if isinstance(img_size, list | tuple) and len(img_size) in (1, 2) and all(isinstance(s, int) for s in img_size):
        return (img_size[0], img_size[0]) if len(img_size) == 1 else (img_size[0], img_size[1])
    raise ConfigError(f"VisionTransformer {name} must be an int or (height, width), got {img_size!r}")


@MODELS.register()
class VisionTransformer(nn.Module):
    """``patch_embed`` -> prepend ``cls_token`` -> add ``pos_embed`` (resized when the input's token grid
    differs from ``img_size // patch_size``) -> ``layers``; the tokens after each layer in ``out_indices``
    (and the embedding itself with ``out_origin``) come back as (N, C, H/p, W/p) maps, each paired with its
    class token when ``output_cls_token``."""

    def __init__(
        self,
        img_size: int | Sequence[int] = 224,
        patch_size: int = 16,
        patch_pad: str | int = "corner",
        in_channels: int = 3,
        embed_dims: int = 768,
        num_layers: int = 12,
        num_heads: int = 12,
        mlp_ratio: int = 4,
        out_origin: bool = False,
        out_indices: int | Sequence[int] = -1,
        qkv_bias: bool = True,
        drop_rate: float = 0.0,
        attn_drop_rate: float = 0.0,
        drop_path_rate: float = 0.0,
        with_cls_token: bool = True,
        output_cls_token: bool = False,
        norm_cfg: dict | None = None,
        act_cfg: dict | None = None,
        patch_norm: bool = False,
        patch_bias: bool = False,
        pre_norm: bool = False,
        final_norm: bool = False,
        interpolate_mode: str = "bicubic",
        num_fcs: int = 2,
        norm_eval: bool = False,
        with_cp: bool = False,
        frozen_exclude: Sequence[str] = ("all",),
        pretrained: str | None = None,
        init_cfg: dict | list | None = None,
    ) -> None:
        super().__init__()
        if init_cfg and pretrained:
            raise ConfigError("VisionTransformer: give init_cfg or pretrained, not both")
        if pretrained is not None and not isinstance(pretrained, str):
            raise ConfigError(f"VisionTransformer pretrained must be a checkpoint path or URL, got {pretrained!r}")
        if output_cls_token and not with_cls_token:
            raise ConfigError("VisionTransformer output_cls_token=True needs with_cls_token=True")
        if interpolate_mode not in RESIZE_MODES:
            raise ConfigError(f"VisionTransformer interpolate_mode={interpolate_mode!r}; use one of {RESIZE_MODES}")
        if embed_dims % num_heads:
            raise ConfigError(f"VisionTransformer embed_dims={embed_dims} must be divisible by num_heads={num_heads}")
        if isinstance(out_indices, int):
            out_indices = [num_layers - 1 if out_indices == -1 else out_indices]
        if not isinstance(out_indices, list | tuple) or not all(isinstance(i, int) for i in out_indices):
            raise ConfigError(f"VisionTransformer out_indices must be an int, list or tuple, got {out_indices!r}")
        if any(not 0 <= i < num_layers for i in out_indices):
            raise ConfigError(f"VisionTransformer out_indices {tuple(out_indices)} must lie in 0..{num_layers - 1}")
        self.init_cfg = dict(type="Pretrained", checkpoint=pretrained) if pretrained else init_cfg
        self.img_size, self.patch_size = _pair_size(img_size), patch_size
        self.interpolate_mode, self.norm_eval, self.with_cp = interpolate_mode, norm_eval, with_cp
        self.out_origin, self.out_indices = out_origin, list(out_indices)
        self.with_cls_token, self.output_cls_token = with_cls_token, output_cls_token
        self.frozen_exclude = list(frozen_exclude)
        norm_cfg, act_cfg = norm_cfg or dict(type="LN"), act_cfg or dict(type="GELU")
        self.patch_embed = PatchEmbed(
            in_channels, embed_dims, "Conv2d", kernel_size=patch_size, stride=patch_size, padding=patch_pad,
            bias=patch_bias, norm_cfg=norm_cfg if patch_norm else None,
        )  # fmt: skip
        num_patches = (self.img_size[0] // patch_size) * (self.img_size[1] // patch_size)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, embed_dims))
        self.pos_embed = nn.Parameter(torch.zeros(1, num_patches + 1, embed_dims))
        self.drop_after_pos = nn.Dropout(p=drop_rate)
        self.pre_norm = pre_norm
        if pre_norm:
            self.pre_ln_name, pre_ln = build_norm(norm_cfg, embed_dims, postfix="_pre")
            self.add_module(self.pre_ln_name, pre_ln)
        rates = torch.linspace(0, drop_path_rate, num_layers, device="cpu").tolist()  # deeper layers drop more
        self.layers = nn.ModuleList(
            TransformerEncoderLayer(
                embed_dims,
                num_heads,
                mlp_ratio * embed_dims,
                drop_rate=drop_rate,
                attn_drop_rate=attn_drop_rate,
                drop_path_rate=rates[i],
                num_fcs=num_fcs,
                qkv_bias=qkv_bias,
                act_cfg=act_cfg,
                norm_cfg=norm_cfg,
                batch_first=True,
                with_cp=with_cp,
            )
            for i in range(num_layers)
        )
        self.final_norm = final_norm
        if final_norm:
            self.norm1_name, norm1 = build_norm(norm_cfg, embed_dims, postfix=1)
            self.add_module(self.norm1_name, norm1)
        self._freeze()

    @property
    def pre_ln(self) -> nn.Module:
        return getattr(self, self.pre_ln_name)

    @property
    def norm1(self) -> nn.Module:
        return getattr(self, self.norm1_name)

    def _freeze(self) -> None:
        """Parameters whose names contain none of ``frozen_exclude`` stop learning (``'all'``: none frozen)."""
        if "all" in self.frozen_exclude:
            return
        for name, param in self.named_parameters():
            if not any(part in name for part in self.frozen_exclude):
                param.requires_grad = False

    def train(self, mode: bool = True) -> VisionTransformer:
        super().train(mode)
        if mode and self.norm_eval:
            for module in self.modules():
                if isinstance(module, nn.LayerNorm):
                    module.eval()
        return self

    def _pos_embedding(self, tokens: torch.Tensor, hw_shape: Sequence[int]) -> torch.Tensor:
        """Adds the position embedding, resized from the ``img_size`` grid when the token count differs."""
        pos_embed = self.pos_embed
        if tokens.shape[1] != pos_embed.shape[1]:
            grid = (self.img_size[0] // self.patch_size, self.img_size[1] // self.patch_size)
            pos_embed = resize_pos_embed(pos_embed, hw_shape, grid, self.interpolate_mode)
        return self.drop_after_pos(tokens + pos_embed)

    def _as_map(self, x: torch.Tensor, hw_shape: Sequence[int]) -> torch.Tensor | list[torch.Tensor]:
        out = x[:, 1:] if self.with_cls_token else x
        out = out.reshape(out.shape[0], hw_shape[0], hw_shape[1], out.shape[2]).permute(0, 3, 1, 2).contiguous()
        return [out, x[:, 0]] if self.output_cls_token else out

    def forward(self, inputs: torch.Tensor) -> tuple:
        x, hw_shape = self.patch_embed(inputs)
        x = torch.cat((self.cls_token.expand(x.shape[0], -1, -1), x), dim=1)
        x = self._pos_embedding(x, hw_shape)
        if not self.with_cls_token:
            x = x[:, 1:]
        if self.pre_norm:
            x = self.pre_ln(x)
        outs = [self._as_map(x, hw_shape)] if self.out_origin else []
        for i, layer in enumerate(self.layers):
            x = layer(x)
            if i == len(self.layers) - 1 and self.final_norm:
                x = self.norm1(x)
            if i in self.out_indices:
                outs.append(self._as_map(x, hw_shape))
        return tuple(outs)

    def init_weights(self) -> None:
        """Without pre-trained weights: timm's jax-style init, as MMSegmentation — truncated-normal (std 0.02)
        position embedding, class token and Linear weights, FFN biases N(0, 1e-6), other biases zero,
        He-normal (fan-in) patch projection, unit norms. The attention's packed input projection is not a
        Linear and keeps PyTorch's default there too."""
        if self.init_cfg:
            return
        trunc_normal, _ = INIT_TYPES["TruncNormal"]
        with torch.no_grad():
            trunc_normal(self.pos_embed, 0.0, 0.02, -2.0, 2.0)
            trunc_normal(self.cls_token, 0.0, 0.02, -2.0, 2.0)
            for name, module in self.named_modules():
                if isinstance(module, nn.Linear):
                    trunc_normal(module.weight, 0.0, 0.02, -2.0, 2.0)
                    if module.bias is not None:
                        if "ffn" in name:
                            module.bias.normal_(0.0, 1e-6)
                        else:
                            module.bias.zero_()
                elif isinstance(module, nn.Conv2d):
                    nn.init.kaiming_normal_(module.weight, mode="fan_in", nonlinearity="relu")
                    if module.bias is not None:
                        module.bias.zero_()
                elif isinstance(module, nn.modules.batchnorm._BatchNorm | nn.GroupNorm | nn.LayerNorm):
                    module.weight.fill_(1.0)
                    module.bias.zero_()

    def adapt_pretrained(self, state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """timm's ViT/DeiT layout (converted), MMSegmentation's (as is) or a segmentor checkpoint
        (``backbone.`` stripped); a ``pos_embed`` of another size resized to this model's ``img_size`` grid
        from a square grid, as MMSegmentation's init_weights does."""
        if any(k.startswith("backbone.") for k in state):
            state = {k[len("backbone.") :]: v for k, v in state.items() if k.startswith("backbone.")}
        if any(k.startswith("blocks.") for k in state):
            state = convert_timm_vit(state)
            logger.info(f"converted the timm ViT/DeiT layout ({len(state)} tensors) to MMSegmentation's")
        pos_embed = state.get("pos_embed")
        if pos_embed is not None and pos_embed.shape != self.pos_embed.shape:
            side = int(math.sqrt(pos_embed.shape[1] - 1))
            grid = (self.img_size[0] // self.patch_size, self.img_size[1] // self.patch_size)
            logger.info(
                f"resized pos_embed from {tuple(pos_embed.shape)} ({side}x{side} patches) to "
                f"{tuple(self.pos_embed.shape)} ({grid[0]}x{grid[1]} patches)"
            )
            state = dict(state, pos_embed=resize_pos_embed(pos_embed, grid, (side, side), self.interpolate_mode))
        return state


def convert_timm_vit(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """timm's names in MMSegmentation's, key by key as vit2mmseg.py renames them: ``blocks`` -> ``layers``,
    ``norm1/2`` -> ``ln1/2``, ``mlp.fc1/fc2`` -> ``ffn.layers.0.0/1``, ``attn.qkv`` -> ``attn.attn.in_proj_``,
    ``attn.proj`` -> ``attn.attn.out_proj``, the closing ``norm`` -> ``ln1``, ``patch_embed.proj`` ->
    ``projection``; the ImageNet ``head`` dropped, anything else kept."""
    out = {}
    for key, value in state.items():
        if key.startswith("head"):
            continue
        if key.startswith("norm"):
            key = key.replace("norm.", "ln1.")
        elif key.startswith("patch_embed"):
            key = key.replace("proj", "projection")
        elif key.startswith("blocks"):
            key = _block_key(key).replace("blocks.", "layers.")
        out[key] = value
    return out


BLOCK_NAMES = (
    ("mlp.fc1", "ffn.layers.0.0"),
    ("mlp.fc2", "ffn.layers.1"),
    ("attn.qkv.", "attn.attn.in_proj_"),
    ("attn.proj", "attn.attn.out_proj"),
)


def _block_key(key: str) -> str:
    if "norm" in key:
        return key.replace("norm", "ln")
    for old, new in BLOCK_NAMES:
        if old in key:
            return key.replace(old, new)
    return key
