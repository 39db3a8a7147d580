"""SAN's side adapter: a small ViT over the full-resolution image whose query tokens become mask
proposals and per-head attention biases; CLIP's intermediate maps are added to its patch tokens at the
``fusion_index`` layers. Parameter names are MMSegmentation's (``side_adapter_network.*``)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from seglab.errors import ConfigError
from seglab.models.backbones.convnext import LayerNorm2d
from seglab.models.backbones.vit import TransformerEncoderLayer
from seglab.models.layers.conv_module import ConvModule
from seglab.models.layers.transformer import PatchEmbed
from seglab.models.mask_classification.sub_configs import caffe2_xavier_
from seglab.models.weight_init import INIT_TYPES

PATCH_GRID_INPUT = 640  # MMSegmentation sizes the position embedding for a 640 x 640 input


class MLP(nn.Module):
    """``num_layers`` affine layers (Linear or 1x1 Conv2d) with ReLU between them."""

    def __init__(self, in_dims: int, hidden: int, out_dims: int, num_layers: int, conv: bool = False) -> None:
        super().__init__()
        dims = [in_dims] + [hidden] * (num_layers - 1) + [out_dims]
        layer = (lambda i, o: nn.Conv2d(i, o, 1)) if conv else nn.Linear
        self.layers = nn.ModuleList(layer(i, o) for i, o in zip(dims[:-1], dims[1:]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for i, layer in enumerate(self.layers):
            x = layer(x) if i == len(self.layers) - 1 else F.relu(layer(x))
        return x


class MLPMaskDecoder(nn.Module):
    """Queries (B, Q, C) and patch map (B, C, H, W) -> mask logits (B, Q, H, W) and, per recognition layer,
    attention biases (B, heads, Q, H, W)."""

    def __init__(self, in_channels, total_heads=1, total_layers=1, embed_channels=256, mlp_channels=256,
                 mlp_num_layers=3, rescale_attn_bias=False) -> None:  # fmt: skip
        super().__init__()
        self.total_heads, self.total_layers = total_heads, total_layers
        self.query_mlp = MLP(in_channels, mlp_channels, embed_channels, mlp_num_layers)
        self.pix_mlp = MLP(in_channels, mlp_channels, embed_channels, mlp_num_layers, conv=True)
        out = embed_channels * total_heads * total_layers
        self.attn_mlp = MLP(in_channels, mlp_channels, out, mlp_num_layers, conv=True)
        self.bias_scaling = nn.Linear(1, 1) if rescale_attn_bias else nn.Identity()

    def forward(self, query: torch.Tensor, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        query, pix = self.query_mlp(query), self.pix_mlp(x)
        b, c, h, w = pix.shape
        masks = torch.einsum("bqc,bchw->bqhw", query, pix)
        attn = self.attn_mlp(x).reshape(b, self.total_layers, self.total_heads, c, h, w)
        bias = torch.einsum("bqc,blnchw->blnqhw", query, attn)
        bias = self.bias_scaling(bias[..., None]).squeeze(-1)
        return masks, [t.squeeze(1) for t in bias.chunk(self.total_layers, dim=1)]


class SideAdapterNetwork(nn.Module):
    """``forward(image, clip_features, deep_supervision_idxs)`` -> (mask logits, attention biases) for the
    last layer and every layer in ``deep_supervision_idxs`` (1-based), shallow first."""

    def __init__(
        self,
        in_channels: int = 3,
        clip_channels: int = 768,
        embed_dims: int = 240,
        patch_size: int = 16,
        patch_bias: bool = True,
        num_queries: int = 100,
        fusion_index: Sequence[int] = (0, 1, 2, 3),
        cfg_encoder: dict | None = None,
        cfg_decoder: dict | None = None,
        norm_cfg: dict | None = None,
    ) -> None:
        super().__init__()
        enc = {"num_encode_layer": 8, "num_heads": 6, "mlp_ratio": 4, **(cfg_encoder or {})}
        dec = {"num_heads": 12, "num_layers": 1, "embed_channels": 256, "mlp_channels": 256, "num_mlp": 3,
               "rescale": True, **(cfg_decoder or {})}  # fmt: skip
        if not fusion_index or list(fusion_index) != sorted(set(fusion_index)) or fusion_index[0] < 0:
            # indices past the last layer are never reached (as in MMSegmentation: those maps go unused)
            raise ConfigError(
                f"decode_head.san_cfg.fusion_index {list(fusion_index)} must be rising layer indices >= 0"
            )
        self.patch_embed = PatchEmbed(in_channels, embed_dims, "Conv2d", kernel_size=patch_size, stride=patch_size,
                                      padding=0, bias=patch_bias, norm_cfg=None)  # fmt: skip
        self.grid = (PATCH_GRID_INPUT // patch_size, PATCH_GRID_INPUT // patch_size)
        self.pos_embed = nn.Parameter(torch.randn(1, self.grid[0] * self.grid[1], embed_dims) * 0.02)
        self.query_pos_embed = nn.Parameter(torch.zeros(1, num_queries, embed_dims))
        self.query_embed = nn.Parameter(torch.zeros(1, num_queries, embed_dims))
        self.encode_layers = nn.ModuleList(
            TransformerEncoderLayer(
                embed_dims, enc["num_heads"], enc["mlp_ratio"] * embed_dims, norm_cfg=norm_cfg or dict(type="LN")
            )  # fmt: skip
            for _ in range(enc["num_encode_layer"])
        )
        self.conv_clips = nn.ModuleList(
            nn.Sequential(
                LayerNorm2d(clip_channels, eps=1e-6),
                ConvModule(clip_channels, embed_dims, 1, norm_cfg=None, act_cfg=None),
            )  # fmt: skip
            for _ in fusion_index
        )
        self.fusion_index = list(fusion_index)
        self.mask_decoder = MLPMaskDecoder(
            in_channels=embed_dims, total_heads=dec["num_heads"], total_layers=dec["num_layers"],
            embed_channels=dec["embed_channels"], mlp_channels=dec["mlp_channels"],
            mlp_num_layers=dec["num_mlp"], rescale_attn_bias=dec["rescale"],
        )  # fmt: skip

    def init_weights(self) -> None:
        trunc_normal, _ = INIT_TYPES["TruncNormal"]
        with torch.no_grad():
            trunc_normal(self.pos_embed, 0.0, 0.02, -2.0, 2.0)
            nn.init.normal_(self.query_embed, std=0.02)
            nn.init.normal_(self.query_pos_embed, std=0.02)
            for conv_clip in self.conv_clips:
                caffe2_xavier_(conv_clip[1].conv)

    def _fuse(self, i: int, x: torch.Tensor, clip_map: torch.Tensor, hw: tuple[int, int]) -> torch.Tensor:
        """Adds the i-th CLIP map (normalised, projected, resized) to the patch tokens."""
        fused = F.interpolate(self.conv_clips[i](clip_map.contiguous()), size=hw, mode="bilinear", align_corners=False)
        n = hw[0] * hw[1]
        return torch.cat([x[:, :-n], x[:, -n:] + fused.flatten(2).transpose(1, 2)], dim=1)

    def forward(self, image: torch.Tensor, clip_features: Sequence, deep_supervision_idxs: Sequence[int]):
        if len(clip_features) != len(self.fusion_index):
            raise ConfigError(
                f"decode_head.san_cfg.fusion_index has {len(self.fusion_index)} entries but the image encoder gives "
                f"{len(clip_features)} maps; match it to out_origin + out_indices"
            )
        x, hw = self.patch_embed(image)
        pos = self.pos_embed
        if pos.shape[1] != x.shape[1]:
            grid = pos.reshape(1, *self.grid, -1).permute(0, 3, 1, 2)
            pos = F.interpolate(grid, size=hw, mode="bicubic", align_corners=False).flatten(2).transpose(1, 2)
        pos = torch.cat([self.query_pos_embed.expand(pos.shape[0], -1, -1), pos], dim=1)
        x = torch.cat([self.query_embed.expand(x.shape[0], -1, -1), x], dim=1) + pos
        n, fused = hw[0] * hw[1], 0
        if self.fusion_index[0] == 0:
            x, fused = self._fuse(0, x, clip_features[0][0], hw), 1
        features = []
        for index, layer in enumerate(self.encode_layers, start=1):
            x = layer(x)
            if index < len(self.fusion_index) and index == self.fusion_index[fused]:
                x, fused = self._fuse(fused, x, clip_features[fused][0], hw), fused + 1
            if index in deep_supervision_idxs or index == len(self.encode_layers):
                patch = x[:, -n:].transpose(1, 2).reshape(x.shape[0], x.shape[-1], *hw)
                features.append((x[:, :-n], patch))
            if index < len(self.encode_layers):
                x = x + pos
        masks, biases = zip(*(self.mask_decoder(q, p) for q, p in features), strict=True)
        return list(masks), list(biases)
