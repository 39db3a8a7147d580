"""DINOv3 (Siméoni et al. 2025): a plain ViT with patch size 16, four register ("storage") tokens, layer
scale, a key bias held at zero, SwiGLU in the ViT-S+/H+ models, and 2-D rotary position embedding (RoPE)
instead of a learnt table, so any input size needs no interpolation.

Parameters are named as the authors' files name them (``storage_tokens``, ``blocks.{i}.attn.qkv``,
``ls1.gamma``, ``mlp.w1/w2/w3``); ``adapt_pretrained`` also reads transformers' ``DINOv3ViTModel`` layout
(``dinov3_weights.py``). Outputs, layer ids and freezing are DINOv2's (``DinoViT``).
"""

from __future__ import annotations

import torch

from seglab.models.backbones.dinov2 import DinoViT
from seglab.models.layers.dino_blocks import RopeEmbedding
from seglab.registry import MODELS


@MODELS.register()
class DINOv3(DinoViT):
    """DINOv3 ViT; ``rope_base`` is the RoPE period base, ``rope_rescale`` the coordinate rescaling range used
    in training (None: off, the default for fine-tuning; the authors pre-trained with 2)."""

    register_name = "storage_tokens"

    def __init__(
        self,
        *args,
        patch_size: int = 16,
        num_register_tokens: int = 4,
        mask_k_bias: bool = True,
        norm_eps: float = 1e-5,
        rope_base: float = 100.0,
        rope_rescale: float | None = None,
        **kwargs,
    ) -> None:
        kwargs.setdefault("img_size", 224)
        super().__init__(
            *args,
            patch_size=patch_size,
            num_register_tokens=num_register_tokens,
            mask_k_bias=mask_k_bias,
            norm_eps=norm_eps,
            **kwargs,
        )
        heads = self.blocks[0].attn.num_heads
        self.rope_embed = RopeEmbedding(self.embed_dims // heads, rope_base, rope_rescale)

    def rope(self, grid: tuple[int, int]) -> tuple[torch.Tensor, torch.Tensor]:
        return self.rope_embed(*grid)

    def adapt_pretrained(self, state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """As ``DinoViT``; the authors' RoPE periods are checked against this model's (then dropped: they are
        computed, not learnt) and the key-bias masks dropped (the key bias is masked here too)."""
        state = super().adapt_pretrained(state)
        periods = state.pop("rope_embed.periods", None)
        if periods is not None and periods.shape == self.rope_embed.periods.shape:
            self.rope_embed.periods.copy_(periods.to(self.rope_embed.periods.dtype))
        return {k: v for k, v in state.items() if not k.endswith("bias_mask")}

    def from_transformers(self, state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        from seglab.models.backbones.dinov3_weights import transformers_dinov3_to_original

        return transformers_dinov3_to_original(state)
