"""``EoMTHead``: the Encoder-only Mask Transformer (Kerssies et al., CVPR 2025) on a plain DINOv2/DINOv3 ViT.

``num_queries`` learnt query tokens join the ViT's tokens before its last ``num_blocks`` blocks. Before each of
those blocks (in training always, at inference only while the block's mask probability is above zero) and
after the final norm, the queries predict class logits (``cls_embed``, num_classes + 1 for "no object") and mask
logits: an MLP of each query (``mask_embed``) dotted with the patch tokens upsampled 4x by ``upscale`` (the
paper's light mask module). Each prediction masks the next block's attention from the queries to the patches
outside their foreground; every query's mask is dropped with probability 1 - p, and p anneals per block from 1
to 0 over training (polynomial, power 0.9, as published), so the trained model runs with no mask. Losses are
Mask2Former's (Hungarian matching, point-sampled mask and dice losses) on every prediction (``d{i}.loss_*``).

The head runs the backbone's last blocks itself (``forward_encoder``); the ``EoMT`` segmentor hands it the
backbone. The annealing step is the head's own count of training forwards (``annealing_iter``, a buffer saved
with every checkpoint, so a resumed run continues the schedule): one per runner iteration, as the runner runs
one training forward per iteration (also with ``accumulative_counts``), so no hook or engine import is needed.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from seglab.errors import ConfigError
from seglab.models.heads.mask2former import CLS_LOSS, DICE_LOSS, MASK_LOSS
from seglab.models.layers.dino_blocks import rotate_half
from seglab.models.mask_classification.base_head import MaskClassificationHead
from seglab.registry import MODELS


class ScaleLayer(nn.Module):
    """2x upsampling of the patch map: transposed conv, GELU, depth-wise 3x3 conv, channel LayerNorm."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv1 = nn.ConvTranspose2d(channels, channels, kernel_size=2, stride=2)
        self.conv2 = nn.Conv2d(channels, channels, kernel_size=3, padding=1, groups=channels, bias=False)
        self.norm = nn.LayerNorm(channels, eps=1e-6)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv2(F.gelu(self.conv1(x)))
        return self.norm(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)


def masked_block(block: nn.Module, x: torch.Tensor, attn_mask: torch.Tensor, rope=None) -> torch.Tensor:
    """A DINOv2/DINOv3 ``Block`` (``dino_blocks.Block``) with a boolean attention mask (True: attend), computed
    from that block's own parameters so the backbone itself stays unchanged."""
    attn = block.attn
    h = block.norm1(x)
    batch, tokens, dim = h.shape
    bias = None if attn.qkv.bias is None else attn.qkv.bias * attn.k_bias_mask
    qkv = F.linear(h, attn.qkv.weight, bias).reshape(batch, tokens, 3, attn.num_heads, dim // attn.num_heads)
    q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)
    if rope is not None:
        sin, cos = rope
        start = tokens - sin.shape[0]
        q = torch.cat((q[:, :, :start], q[:, :, start:] * cos + rotate_half(q[:, :, start:]) * sin), dim=2)
        k = torch.cat((k[:, :, :start], k[:, :, start:] * cos + rotate_half(k[:, :, start:]) * sin), dim=2)
    out = F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask[:, None])
    x = x + block.drop_path(block.ls1(attn.proj(out.transpose(1, 2).reshape(batch, tokens, dim))))
    return x + block.drop_path(block.ls2(block.mlp(block.norm2(x))))


@MODELS.register()
class EoMTHead(MaskClassificationHead):
    """EoMT's queries, mask module and classifier, and its attention-mask annealing. ``in_channels`` is the
    ViT's width; ``attn_mask_annealing`` = dict(start_iters=[...], end_iters=[...], power=0.9), one entry per
    masked block, or None to keep the masks on (training and inference) as a plain masked-attention model."""

    IGNORED_ARGS = {"test_cfg": None, "init_cfg": None}

    def __init__(
        self,
        num_classes: int,
        in_channels: int,
        num_queries: int = 100,
        num_blocks: int = 4,
        num_upscale_blocks: int = 2,
        attn_mask_annealing: dict | None = None,
        align_corners: bool = False,
        ignore_index: int = 255,
        loss_cls: dict = CLS_LOSS,
        loss_mask: dict = MASK_LOSS,
        loss_dice: dict = DICE_LOSS,
        train_cfg: dict | None = None,
        test_cfg: dict | None = None,
        init_cfg: dict | None = None,
    ) -> None:
        super().__init__()
        self.num_classes = self.out_channels = num_classes
        self.align_corners, self.ignore_index, self.init_cfg = align_corners, ignore_index, init_cfg
        self.num_queries, self.num_blocks = num_queries, num_blocks
        self.annealing = self._check_annealing(attn_mask_annealing, num_blocks)
        self.query = nn.Embedding(num_queries, in_channels)
        self.cls_embed = nn.Linear(in_channels, num_classes + 1)
        self.mask_embed = nn.Sequential(
            nn.Linear(in_channels, in_channels),
            nn.GELU(),
            nn.Linear(in_channels, in_channels),
            nn.GELU(),
            nn.Linear(in_channels, in_channels),
        )
        self.upscale = nn.ModuleList(ScaleLayer(in_channels) for _ in range(num_upscale_blocks))
        self.register_buffer("attn_mask_probs", torch.ones(num_blocks))
        self.register_buffer("annealing_iter", torch.zeros((), dtype=torch.long))
        self.stage_losses = self._build_losses(train_cfg, loss_cls, loss_mask, loss_dice)

    @staticmethod
    def _check_annealing(cfg: dict | None, num_blocks: int) -> dict | None:
        if cfg is None:
            return None
        unknown = sorted(set(cfg) - {"start_iters", "end_iters", "power"})
        starts, ends = list(cfg.get("start_iters", [])), list(cfg.get("end_iters", []))
        if unknown or len(starts) != num_blocks or len(ends) != num_blocks or any(e <= s for s, e in zip(starts, ends)):
            raise ConfigError(
                f"decode_head.attn_mask_annealing needs start_iters and end_iters, {num_blocks} each (one per masked "
                f"block, end > start) and optionally power; got {dict(cfg)!r}"
            )
        return dict(start_iters=starts, end_iters=ends, power=float(cfg.get("power", 0.9)))

    def annealed_probs(self, iteration: int) -> torch.Tensor:
        """Per masked block, the probability that a query's mask is applied at ``iteration``: 1 before the
        block's start, (1 - progress) ** power between start and end, 0 from the end on."""
        cfg = self.annealing
        probs = []
        for start, end in zip(cfg["start_iters"], cfg["end_iters"]):
            progress = min(max((iteration - start) / (end - start), 0.0), 1.0)
            probs.append((1.0 - progress) ** cfg["power"])
        return torch.tensor(probs, dtype=self.attn_mask_probs.dtype, device=self.attn_mask_probs.device)

    # ------------------------------------------------------------------ forward
    def forward(self, outputs: tuple) -> tuple:
        """The predictions ``forward_encoder`` made (the segmentor runs it as its feature extraction)."""
        return outputs

    def forward_encoder(self, backbone: nn.Module, images: torch.Tensor) -> tuple[list, list]:
        """Run ``backbone`` (a ``DinoViT``) with the queries in its last ``num_blocks`` blocks; class logits
        (B, Q, num_classes + 1) and mask logits (B, Q, 4h, 4w) of every prediction, the final one last."""
        if self.training and self.annealing is not None:
            self.attn_mask_probs.copy_(self.annealed_probs(int(self.annealing_iter)))
            self.annealing_iter += 1
        x, grid = backbone.tokens(images)
        rope = backbone.rope(grid)
        first = len(backbone.blocks) - self.num_blocks
        if first < 0:
            raise ConfigError(
                f"decode_head.num_blocks={self.num_blocks} exceeds the backbone's {first + self.num_blocks}"
            )
        prefix = 1 + backbone.num_registers
        cls_preds, mask_preds = [], []
        for i, block in enumerate(backbone.blocks):
            if i == first:
                x = torch.cat((self.query.weight.expand(x.shape[0], -1, -1), x), dim=1)
            prob = self.attn_mask_probs[i - first] if i >= first else None
            if prob is None or not (self.training or prob > 0):
                x = block(x, rope)
                continue
            cls_pred, mask_pred = self.predict_queries(backbone.norm(x), grid, prefix)
            cls_preds.append(cls_pred)
            mask_preds.append(mask_pred)
            if prob > 0:
                x = masked_block(block, x, self.attention_mask(mask_pred, grid, prefix, prob), rope)
            else:  # annealed away: every query's mask would be dropped
                x = block(x, rope)
        cls_pred, mask_pred = self.predict_queries(backbone.norm(x), grid, prefix)
        return [*cls_preds, cls_pred], [*mask_preds, mask_pred]

    def predict_queries(self, x: torch.Tensor, grid: Sequence[int], prefix: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Class logits from the query tokens; mask logits: their MLP dotted with the upsampled patch map."""
        queries = x[:, : self.num_queries]
        patches = x[:, self.num_queries + prefix :].transpose(1, 2).reshape(x.shape[0], -1, *grid)
        for layer in self.upscale:
            patches = layer(patches)
        return self.cls_embed(queries), torch.einsum("bqc,bchw->bqhw", self.mask_embed(queries), patches)

    def attention_mask(self, mask_pred: torch.Tensor, grid, prefix: int, prob: torch.Tensor) -> torch.Tensor:
        """(B, T, T) booleans, True where attention is allowed: a query sees only the patches its mask (resized
        to the patch grid) covers; with probability 1 - ``prob`` a query's mask is dropped (sees every patch)."""
        batch, num_tokens = mask_pred.shape[0], self.num_queries + prefix + grid[0] * grid[1]
        mask = torch.ones(batch, num_tokens, num_tokens, dtype=torch.bool, device=mask_pred.device)
        small = F.interpolate(mask_pred.detach(), size=tuple(grid), mode="bilinear", align_corners=False)
        foreground = small.flatten(2) > 0
        if prob < 1:
            dropped = torch.rand(batch, self.num_queries, device=mask_pred.device) > prob
            foreground = foreground | dropped[..., None]
        mask[:, : self.num_queries, self.num_queries + prefix :] = foreground
        return mask
