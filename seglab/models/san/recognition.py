"""SAN's mask recognition (``RecWithAttnbias``): CLIP's last layers run again with one extra token per
query (a copy of the class token), and the side adapter's attention biases steer each of those tokens to
its mask's region; the projected, normalised tokens are the queries' embeddings in CLIP's text space.
Parameter names are MMSegmentation's (``rec_with_attnbias.layers.{i}`` as MMCV transformer layers,
``ln_post``, ``proj``); the module is frozen except the names in ``frozen_exclude``."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from seglab.errors import ConfigError
from seglab.models.layers.conv_module import build_norm

from .clip_layer import CLIPLayer


class RecWithAttnbias(nn.Module):
    """``forward(biases, (clip_map, cls_token))`` -> (B, Q, out_dims) query embeddings."""

    def __init__(
        self,
        sos_token_format: str = "cls_token",
        sos_token_num: int = 100,
        num_layers: int = 3,
        cross_attn: bool = False,
        embed_dims: int = 768,
        num_heads: int = 12,
        mlp_ratio: int = 4,
        num_fcs: int = 2,
        qkv_bias: bool = True,
        out_dims: int = 512,
        final_norm: bool = True,
        act_cfg: dict | None = None,
        norm_cfg: dict | None = None,
        frozen_exclude: Sequence[str] = (),
    ) -> None:
        super().__init__()
        if sos_token_format != "cls_token":  # MMSegmentation 1.2.2 cannot build the other two formats either
            raise ConfigError(f"decode_head.maskgen_cfg.sos_token_format={sos_token_format!r}; only 'cls_token' works")
        if cross_attn:
            raise ConfigError("decode_head.maskgen_cfg.cross_attn=True is not supported; SAN's configs use False")
        if num_fcs != 2:
            raise ConfigError(f"decode_head.maskgen_cfg.num_fcs={num_fcs}; CLIP's layers have 2")
        self.sos_token_num, self.num_layers, self.num_heads = sos_token_num, num_layers, num_heads
        self.final_norm = final_norm
        self.layers = nn.ModuleList(
            CLIPLayer(embed_dims, num_heads, mlp_ratio * embed_dims, qkv_bias, act_cfg or dict(type="GELU"))
            for _ in range(num_layers)
        )
        self.ln_post = build_norm(norm_cfg or dict(type="LN"), embed_dims)[1]
        self.proj = nn.Linear(embed_dims, out_dims, bias=False)
        self.frozen_exclude = list(frozen_exclude)
        if "all" not in self.frozen_exclude:
            for name, param in self.named_parameters():
                if not any(part in name for part in self.frozen_exclude):
                    param.requires_grad = False

    def init_weights(self) -> None:
        """Nothing: MMSegmentation leaves these layers at torch's defaults until CLIP's weights load."""

    def _attn_masks(self, biases: list[torch.Tensor], hw: tuple[int, int]) -> list[torch.Tensor]:
        """Each (B, heads or 1, Q, h, w) bias -> an additive (B*heads, Q+1+L, Q+1+L) mask: queries see
        themselves and the patches (biased), not each other nor the class token."""
        masks = []
        for bias in biases:
            b, heads, q = bias.shape[:3]
            if heads not in (1, self.num_heads):
                raise ConfigError(
                    f"decode_head: san_cfg.cfg_decoder.num_heads={heads} must be 1 or maskgen_cfg.num_heads="
                    f"{self.num_heads}"
                )
            bias = F.adaptive_max_pool2d(bias.reshape(b, heads * q, *bias.shape[-2:]), output_size=hw)
            bias = bias.reshape(b, heads, q, -1).expand(b, self.num_heads, q, -1).reshape(b * self.num_heads, q, -1)
            n = bias.shape[-1]
            base = bias.new_zeros(q + 1 + n, q + 1 + n)
            base[:, :q] = -100
            base[torch.arange(q), torch.arange(q)] = 0
            base[:q, q] = -100
            mask = base[None].expand(b * self.num_heads, -1, -1).clone()
            mask[:, :q, -n:] = bias
            masks.append(mask)
        return masks * self.num_layers if len(masks) == 1 else masks

    def forward(self, biases: list[torch.Tensor], feature: Sequence[torch.Tensor]) -> torch.Tensor:
        clip_map, cls_token = feature[0], feature[1].unsqueeze(0)
        b, c, h, w = clip_map.shape
        x = torch.cat([cls_token, clip_map.reshape(b, c, -1).permute(2, 0, 1)])
        x = torch.cat([cls_token.repeat(self.sos_token_num, 1, 1), x])
        for layer, mask in zip(self.layers, self._attn_masks(biases, (h, w))):
            x = layer(x, attn_mask=mask)
        sos = self.proj(self.ln_post(x[: self.sos_token_num].permute(1, 0, 2)))
        return F.normalize(sos, dim=-1) if self.final_norm else sos
