"""EMANet's head (Expectation-Maximization Attention): features are reconstructed from a few bases found
by EM iterations; the bases start from a running buffer (``ema_module.bases``) that training updates with
momentum, as in MMSegmentation (so a checkpoint's ``bases`` load and evolve the same way)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from seglab import dist
from seglab.errors import ConfigError
from seglab.models.heads.decode_head import BaseDecodeHead
from seglab.models.layers import ConvModule
from seglab.registry import MODELS


class EMAModule(nn.Module):
    """``num_stages`` EM iterations (no gradient) from the ``bases`` buffer (1, channels, num_bases):
    E-step softmax responsibilities over bases, M-step L1-normalised weighted means, L2-normalised bases;
    returns the features rebuilt from bases and responsibilities. In training the batch-mean bases
    (averaged over processes) move ``bases`` by ``momentum``."""

    def __init__(self, channels: int, num_bases: int, num_stages: int, momentum: float) -> None:
        super().__init__()
        if not isinstance(num_stages, int) or num_stages < 1:
            raise ConfigError(f"EMAHead num_stages must be an int >= 1, got {num_stages!r}")
        self.num_bases, self.num_stages, self.momentum = num_bases, num_stages, momentum
        bases = torch.zeros(1, channels, num_bases).normal_(0, math.sqrt(2.0 / num_bases))
        self.register_buffer("bases", F.normalize(bases, dim=1, p=2))

    def forward(self, feats: torch.Tensor) -> torch.Tensor:
        n, c, h, w = feats.shape
        feats = feats.reshape(n, c, h * w)
        bases = self.bases.repeat(n, 1, 1)  # N, C, K
        with torch.no_grad():
            for _ in range(self.num_stages):
                attention = torch.einsum("bcn,bck->bnk", feats, bases).softmax(dim=2)  # N, HW, K
                weights = F.normalize(attention, dim=1, p=1)
                bases = F.normalize(torch.einsum("bcn,bnk->bck", feats, weights), dim=1, p=2)
        recon = torch.einsum("bck,bnk->bcn", bases, attention).reshape(n, c, h, w)
        if self.training:
            mean = bases.mean(dim=0, keepdim=True)
            if dist.is_distributed():
                mean = dist.all_reduce_sum(mean / dist.world_size())
            mean = F.normalize(mean, dim=1, p=2)
            self.bases = (1 - self.momentum) * self.bases + self.momentum * mean
        return recon


@MODELS.register()
class EMAHead(BaseDecodeHead):
    """``ema_in_conv`` (3x3) -> frozen linear ``ema_mid_conv`` (1x1, maps the ReLU output to all reals) ->
    EMA reconstruction -> ReLU -> ``ema_out_conv`` (1x1, no act) + identity -> ReLU -> ``bottleneck``
    (3x3); with ``concat_input`` the input is concatenated and fused by ``conv_cat`` before the classifier."""

    def __init__(
        self,
        ema_channels: int,
        num_bases: int,
        num_stages: int,
        concat_input: bool = True,
        momentum: float = 0.1,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        self.ema_channels, self.num_bases, self.num_stages = ema_channels, num_bases, num_stages
        self.concat_input, self.momentum = concat_input, momentum
        self.ema_module = EMAModule(ema_channels, num_bases, num_stages, momentum)
        convs = dict(conv_cfg=self.conv_cfg, norm_cfg=self.norm_cfg, act_cfg=self.act_cfg)
        self.ema_in_conv = ConvModule(self.in_channels, ema_channels, 3, padding=1, **convs)
        self.ema_mid_conv = ConvModule(
            ema_channels, ema_channels, 1, conv_cfg=self.conv_cfg, norm_cfg=None, act_cfg=None
        )
        self.ema_mid_conv.requires_grad_(False)
        self.ema_out_conv = ConvModule(
            ema_channels, ema_channels, 1, conv_cfg=self.conv_cfg, norm_cfg=self.norm_cfg, act_cfg=None
        )
        self.bottleneck = ConvModule(ema_channels, self.channels, 3, padding=1, **convs)
        if concat_input:
            self.conv_cat = ConvModule(self.in_channels + self.channels, self.channels, 3, padding=1, **convs)

    def forward(self, inputs: Sequence[torch.Tensor]) -> torch.Tensor:
        x = self._transform_inputs(inputs)
        identity = self.ema_in_conv(x)
        recon = F.relu(self.ema_module(self.ema_mid_conv(identity)))
        out = self.bottleneck(F.relu(identity + self.ema_out_conv(recon)))
        if self.concat_input:
            out = self.conv_cat(torch.cat([x, out], dim=1))
        return self.cls_seg(out)
