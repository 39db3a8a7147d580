"""Feature2Pyramid: turns a plain ViT's single-scale maps (BEiT, MAE) into a four-level pyramid by
transposed-conv upsampling and max-pool downsampling, for heads such as UPerHead."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from seglab.errors import ConfigError
from seglab.models.layers.conv_module import build_norm
from seglab.registry import MODELS

# MMSegmentation applies its resamplers in one of two fixed orders, whatever order ``rescales`` lists
ORDERS = ((4, 2, 1, 0.5), (2, 1, 0.5, 0.25))


@MODELS.register()
class Feature2Pyramid(nn.Module):
    """Input i is rescaled by ``rescales[i]``: 4 (two 2x2 transposed convs with norm and GELU between),
    2 (one transposed conv), 1 (identity), 0.5 / 0.25 (max pooling)."""

    def __init__(
        self,
        embed_dim: int,
        rescales: Sequence[float] = (4, 2, 1, 0.5),
        norm_cfg: dict | None = dict(type="SyncBN", requires_grad=True),  # noqa: B006 (never mutated)
    ) -> None:
        super().__init__()
        self.rescales = list(rescales)
        order = ORDERS[0] if 4 in self.rescales else ORDERS[1]
        if tuple(self.rescales) != order[: len(self.rescales)]:
            raise ConfigError(
                f"Feature2Pyramid rescales {self.rescales} must be the start of [4, 2, 1, 0.5] or of "
                "[2, 1, 0.5, 0.25] (the order MMSegmentation applies them in)"
            )
        self.upsample_4x = None
        for scale in self.rescales:
            if scale == 4:
                self.upsample_4x = nn.Sequential(
                    nn.ConvTranspose2d(embed_dim, embed_dim, kernel_size=2, stride=2),
                    build_norm(norm_cfg, embed_dim)[1],
                    nn.GELU(),
                    nn.ConvTranspose2d(embed_dim, embed_dim, kernel_size=2, stride=2),
                )
            elif scale == 2:
                self.upsample_2x = nn.Sequential(nn.ConvTranspose2d(embed_dim, embed_dim, kernel_size=2, stride=2))
            elif scale == 1:
                self.identity = nn.Identity()
            elif scale == 0.5:
                self.downsample_2x = nn.MaxPool2d(kernel_size=2, stride=2)
            else:
                self.downsample_4x = nn.MaxPool2d(kernel_size=4, stride=4)
        names = {4: "upsample_4x", 2: "upsample_2x", 1: "identity", 0.5: "downsample_2x", 0.25: "downsample_4x"}
        self.ops = [names[s] for s in self.rescales]

    def forward(self, inputs: Sequence[torch.Tensor]) -> tuple[torch.Tensor, ...]:
        if len(inputs) != len(self.rescales):
            raise ConfigError(
                f"Feature2Pyramid got {len(inputs)} feature maps for rescales {self.rescales}; make the "
                "backbone's out_indices as long as the neck's rescales"
            )
        return tuple(getattr(self, op)(x) for op, x in zip(self.ops, inputs))
