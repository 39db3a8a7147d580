"""DINOv2 (Oquab et al. 2023): a plain ViT with patch size 14, layer scale, optional register tokens (Darcet et
al. 2024) and SwiGLU (ViT-g), whose learnt position embedding is interpolated to any input size.

The parameters are named as the authors' torch-hub files name them, so those files load as they are;
``adapt_pretrained`` also reads transformers' ``Dinov2Model`` / ``Dinov2WithRegistersModel`` layout
(``dinov2_weights.py``). The outputs are the patch tokens of the blocks in ``out_indices`` as (N, C, H/14,
W/14) maps, each through the final norm as the authors' segmentation probes read them; a ``Feature2Pyramid``
neck turns them into a pyramid for UPerNet.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from seglab.models.layers.dino_blocks import Block
from seglab.models.weight_init import INIT_TYPES
from seglab.registry import MODELS

logger = logging.getLogger("seglab")
EMBEDDING_NAMES = ("cls_token", "pos_embed", "register_tokens", "storage_tokens", "mask_token", "patch_embed")


class PatchEmbed(nn.Module):
    """A ``patch_size`` x ``patch_size`` conv with that stride (``proj``); a remainder is cropped, as the
    authors' models crop to the closest smaller multiple of the patch size."""

    def __init__(self, in_channels: int, embed_dims: int, patch_size: int) -> None:
        super().__init__()
        self.proj = nn.Conv2d(in_channels, embed_dims, kernel_size=patch_size, stride=patch_size)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, tuple[int, int]]:
        x = self.proj(x)
        return x.flatten(2).transpose(1, 2), (x.shape[2], x.shape[3])


class DinoViT(nn.Module):
    """What DINOv2 and DINOv3 share: patch embedding, class and register tokens, the blocks, the final norm,
    ``out_indices``, freezing, layer ids for layer-wise lr decay and the pre-trained layouts."""

    register_name = "register_tokens"

    def __init__(
        self,
        img_size: int = 518,
        patch_size: int = 14,
        in_channels: int = 3,
        embed_dims: int = 384,
        num_layers: int = 12,
        num_heads: int = 6,
        mlp_ratio: float = 4.0,
        ffn_type: str = "mlp",
        num_register_tokens: int = 0,
        init_values: float | None = 1e-5,
        drop_path_rate: float = 0.0,
        qkv_bias: bool = True,
        mask_k_bias: bool = False,
        norm_eps: float = 1e-6,
        out_indices: Sequence[int] = (11,),
        final_norm: bool = True,
        frozen: bool = False,
        pretrained: str | None = None,
        init_cfg: dict | list | None = None,
    ) -> None:
        super().__init__()
        if pretrained is not None:
            init_cfg = dict(type="Pretrained", checkpoint=pretrained)
        self.init_cfg = init_cfg
        self.img_size, self.patch_size, self.embed_dims = img_size, patch_size, embed_dims
        self.num_layers = num_layers
        self.out_indices = tuple(i if i >= 0 else num_layers + i for i in out_indices)
        self.final_norm, self.frozen = final_norm, frozen
        self.patch_embed = PatchEmbed(in_channels, embed_dims, patch_size)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, embed_dims))
        self.num_registers = num_register_tokens
        if num_register_tokens:
            setattr(self, self.register_name, nn.Parameter(torch.zeros(1, num_register_tokens, embed_dims)))
        rates = torch.linspace(0, drop_path_rate, num_layers, device="cpu").tolist()
        block = dict(ffn_type=ffn_type, init_values=init_values, qkv_bias=qkv_bias, mask_k_bias=mask_k_bias)
        self.blocks = nn.ModuleList(
            Block(embed_dims, num_heads, mlp_ratio, drop_path=rate, norm_eps=norm_eps, **block) for rate in rates
        )
        self.norm = nn.LayerNorm(embed_dims, eps=norm_eps)
        if frozen:
            self.requires_grad_(False)

    # ------------------------------------------------------------------------------------------ forward
    def tokens(self, x: torch.Tensor) -> tuple[torch.Tensor, tuple[int, int]]:
        """[class, registers, patches] tokens and the patch grid."""
        patches, grid = self.patch_embed(x)
        parts = [self.cls_token.expand(x.shape[0], -1, -1)]
        if self.num_registers:
            parts.append(getattr(self, self.register_name).expand(x.shape[0], -1, -1))
        return torch.cat([*parts, patches], dim=1), grid

    def rope(self, grid: tuple[int, int]) -> tuple[torch.Tensor, torch.Tensor] | None:
        return None

    def forward(self, inputs: torch.Tensor) -> tuple[torch.Tensor, ...]:
        x, (height, width) = self.tokens(inputs)
        rope = self.rope((height, width))
        prefix = 1 + self.num_registers
        outs = []
        for i, block in enumerate(self.blocks):
            x = block(x, rope)
            if i in self.out_indices:
                out = self.norm(x) if self.final_norm else x
                out = out[:, prefix:].reshape(x.shape[0], height, width, -1)
                outs.append(out.permute(0, 3, 1, 2).contiguous())
        return tuple(outs)

    def train(self, mode: bool = True) -> DinoViT:
        """A frozen backbone stays in eval mode (no drop path) while the head trains."""
        return super().train(mode and not self.frozen)

    # ------------------------------------------------------------------------------------------ lr decay
    layer_decay_types = ("layer_wise",)

    def layer_id(self, param_name: str, num_layers: int, decay_type: str) -> int:
        """Embeddings and tokens 0, block ``i`` ``i + 1``, the final norm ``num_layers + 1`` (BEiT's rule)."""
        if param_name.startswith(EMBEDDING_NAMES):
            return 0
        return int(param_name.split(".")[1]) + 1 if param_name.startswith("blocks.") else num_layers + 1

    # ------------------------------------------------------------------------------------------ weights
    def init_weights(self) -> None:
        """Without pre-trained weights, the authors' init: truncated-normal (std 0.02) Linear weights and zero
        biases, class/register tokens N(0, 1e-6), unit norms; layer scales keep ``init_values``."""
        if self.init_cfg:
            return
        trunc_normal, _ = INIT_TYPES["TruncNormal"]
        with torch.no_grad():
            for module in self.modules():
                if isinstance(module, nn.Linear):
                    trunc_normal(module.weight, 0.0, 0.02, -2.0, 2.0)
                    if module.bias is not None:
                        module.bias.zero_()
                elif isinstance(module, nn.LayerNorm):
                    module.weight.fill_(1.0)
                    module.bias.zero_()
            nn.init.normal_(self.cls_token, std=1e-6)
            if self.num_registers:
                nn.init.normal_(getattr(self, self.register_name), std=1e-6)
            self.init_extra()

    def init_extra(self) -> None:
        """Family-specific initial values (DINOv2: the position embedding)."""

    def adapt_pretrained(self, state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """The authors' layout (as is), transformers' (converted) or a segmentor checkpoint (``backbone.``
        stripped); the pre-training mask token dropped."""
        if any(k.startswith("backbone.") for k in state):
            state = {k[len("backbone.") :]: v for k, v in state.items() if k.startswith("backbone.")}
        if not any(k.startswith("blocks.") for k in state):
            state = self.from_transformers(state)
            logger.info(f"converted the transformers {type(self).__name__} layout ({len(state)} tensors)")
        return {k: v for k, v in state.items() if k != "mask_token"}

    def from_transformers(self, state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        raise NotImplementedError


@MODELS.register()
class DINOv2(DinoViT):
    """DINOv2 ViT. ``interpolate_offset``/``interpolate_antialias`` pick how the 37x37 position grid is resized:
    0.0/False is transformers' ``Dinov2Model`` (the default), 0.1/False the authors' plain models, 0.0/True
    transformers' and the authors' register models."""

    def __init__(self, *args, interpolate_offset: float = 0.0, interpolate_antialias: bool = False, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        side = self.img_size // self.patch_size
        self.pos_embed = nn.Parameter(torch.zeros(1, 1 + side * side, self.embed_dims))
        self.interpolate_offset, self.interpolate_antialias = interpolate_offset, interpolate_antialias
        if self.frozen:
            self.pos_embed.requires_grad_(False)

    def tokens(self, x: torch.Tensor) -> tuple[torch.Tensor, tuple[int, int]]:
        patches, grid = self.patch_embed(x)
        pos = self.resized_pos_embed(grid)
        cls = (self.cls_token + pos[:, :1]).expand(x.shape[0], -1, -1)
        parts = [cls]
        if self.num_registers:
            parts.append(self.register_tokens.expand(x.shape[0], -1, -1))
        return torch.cat([*parts, patches + pos[:, 1:]], dim=1), grid

    def resized_pos_embed(self, grid: tuple[int, int]) -> torch.Tensor:
        """The position embedding bicubically resized from its square grid to ``grid`` (unchanged when equal)."""
        side = int(math.sqrt(self.pos_embed.shape[1] - 1))
        if tuple(grid) == (side, side):
            return self.pos_embed
        patch_pos = self.pos_embed[:, 1:].reshape(1, side, side, -1).permute(0, 3, 1, 2).float()
        if self.interpolate_offset:
            scale = ((grid[0] + self.interpolate_offset) / side, (grid[1] + self.interpolate_offset) / side)
            resize = dict(scale_factor=scale)
        else:
            resize = dict(size=tuple(grid))
        patch_pos = F.interpolate(patch_pos, mode="bicubic", antialias=self.interpolate_antialias, **resize)
        patch_pos = patch_pos.to(self.pos_embed.dtype).permute(0, 2, 3, 1).reshape(1, -1, self.embed_dims)
        return torch.cat((self.pos_embed[:, :1], patch_pos), dim=1)

    def init_extra(self) -> None:
        INIT_TYPES["TruncNormal"][0](self.pos_embed, 0.0, 0.02, -2.0, 2.0)

    def adapt_pretrained(self, state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """As ``DinoViT``, and a position embedding of another grid resized to this model's ``img_size``."""
        state = super().adapt_pretrained(state)
        pos = state.get("pos_embed")
        if pos is not None and pos.shape != self.pos_embed.shape:
            side = int(math.sqrt(pos.shape[1] - 1))
            grid = int(math.sqrt(self.pos_embed.shape[1] - 1))
            patch_pos = pos[:, 1:].reshape(1, side, side, -1).permute(0, 3, 1, 2).float()
            patch_pos = F.interpolate(patch_pos, size=(grid, grid), mode="bicubic", antialias=side > grid)
            patch_pos = patch_pos.permute(0, 2, 3, 1).reshape(1, grid * grid, -1).to(pos.dtype)
            state["pos_embed"] = torch.cat((pos[:, :1], patch_pos), dim=1)
            logger.info(f"resized pos_embed from {side}x{side} to {grid}x{grid} patches (img_size {self.img_size})")
        return state

    def from_transformers(self, state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        from seglab.models.backbones.dinov2_weights import transformers_dinov2_to_original

        return transformers_dinov2_to_original(state)
