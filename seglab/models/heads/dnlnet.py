"""DNLNet's head: an FCN head with a disentangled non-local block between its two convs (MMSegmentation's
DNLHead).

The disentangled block whitens the pairwise term (query and key embeddings minus their means over the
positions, similarities divided by ``temperature``) and adds a unary term: one context vector from a
softmax over ``conv_mask``'s map, the same for every position.
"""

from __future__ import annotations

import torch
from torch import nn

from seglab.models.heads.fcn import BlockFCNHead
from seglab.models.layers.non_local import NonLocal2d
from seglab.registry import MODELS


class DisentangledNonLocal2d(NonLocal2d):
    """``NonLocal2d`` with whitened pairwise weights and a unary term (``conv_mask``, default init)."""

    def __init__(self, *args, temperature: float, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.temperature = temperature
        self.conv_mask = nn.Conv2d(self.in_channels, 1, kernel_size=1)

    def embedded_gaussian(self, theta_x: torch.Tensor, phi_x: torch.Tensor) -> torch.Tensor:
        weight = torch.matmul(theta_x, phi_x)
        if self.use_scale:
            weight = weight / theta_x.shape[-1] ** 0.5
        return (weight / self.temperature).softmax(dim=-1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n = x.shape[0]
        g_x, theta_x, phi_x = self.embed(x)
        if self.mode == "gaussian":
            # theta is x itself here, and MMSegmentation whitens it in place: the unary term and the
            # residual then see x minus its per-channel mean over the positions
            x = x - x.mean(dim=(2, 3), keepdim=True)
            theta_x = x.reshape(n, self.in_channels, -1).transpose(1, 2)
        else:
            theta_x = theta_x - theta_x.mean(dim=-2, keepdim=True)
        phi_x = phi_x - phi_x.mean(dim=-1, keepdim=True)
        y = self.aggregate(getattr(self, self.mode)(theta_x, phi_x), g_x, x)
        unary_mask = self.conv_mask(x).reshape(n, 1, -1).softmax(dim=-1)  # N, 1, HW
        unary = torch.matmul(unary_mask, g_x).reshape(n, self.inter_channels, 1, 1)
        return x + self.conv_out(y + unary)


@MODELS.register()
class DNLHead(BlockFCNHead):
    """``dnl_block``: a ``DisentangledNonLocal2d`` on ``channels`` with ``reduction``, ``use_scale``,
    ``mode`` and ``temperature``; its ``conv_out`` takes the head's ``norm_cfg``."""

    def __init__(
        self,
        reduction: int = 2,
        use_scale: bool = True,
        mode: str = "embedded_gaussian",
        temperature: float = 0.05,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        self.reduction, self.use_scale, self.mode, self.temperature = reduction, use_scale, mode, temperature
        self.dnl_block = DisentangledNonLocal2d(
            self.channels,
            reduction,
            use_scale,
            conv_cfg=self.conv_cfg,
            norm_cfg=self.norm_cfg,
            mode=mode,
            temperature=temperature,
        )

    def apply_block(self, feats: torch.Tensor) -> torch.Tensor:
        return self.dnl_block(feats)
