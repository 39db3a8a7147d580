"""PSANet's head: point-wise spatial attention (``PSAHead``), with MMSegmentation's arguments and keys."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from seglab.errors import ConfigError
from seglab.models.heads.decode_head import BaseDecodeHead
from seglab.models.layers import ConvModule
from seglab.models.layers.psa_mask import PSAMask
from seglab.registry import MODELS

PSA_TYPES = ("collect", "distribute", "bi-direction")


@MODELS.register()
class PSAHead(BaseDecodeHead):
    """Each pixel predicts a ``mask_size`` window of attention (``attention``) over a ``shrink_factor``-smaller
    map; ``PSAMask`` spreads it to a pixel-to-pixel map that aggregates the reduced features ('collect': what a
    pixel gathers, 'distribute': what it sends, 'bi-direction': both, from ``reduce``/``reduce_p``). ``compact``
    reads the attention as an (H*W, H*W) map directly. ``proj`` back to ``in_channels`` and ``bottleneck`` over
    the input and the attended features, then the classifier."""

    def __init__(
        self,
        mask_size: Sequence[int],
        psa_type: str = "bi-direction",
        compact: bool = False,
        shrink_factor: int = 2,
        normalization_factor: float | None = 1.0,
        psa_softmax: bool = True,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        if psa_type not in PSA_TYPES:
            raise ConfigError(f"PSAHead psa_type must be one of {PSA_TYPES}, got {psa_type!r}")
        if not isinstance(shrink_factor, int) or shrink_factor < 1:
            raise ConfigError(f"PSAHead shrink_factor must be a positive int, got {shrink_factor!r}")
        if isinstance(mask_size, int) or len(mask_size) != 2:
            raise ConfigError(f"PSAHead mask_size must be (height, width), e.g. (97, 97), got {mask_size!r}")
        self.psa_type, self.compact, self.shrink_factor = psa_type, compact, shrink_factor
        self.mask_size = tuple(mask_size)
        mask_h, mask_w = self.mask_size
        self.psa_softmax = psa_softmax
        self.normalization_factor = mask_h * mask_w if normalization_factor is None else normalization_factor
        conv_args = dict(conv_cfg=self.conv_cfg, norm_cfg=self.norm_cfg, act_cfg=self.act_cfg)

        def attention() -> nn.Sequential:
            return nn.Sequential(
                ConvModule(self.channels, self.channels, 1, **conv_args),
                nn.Conv2d(self.channels, mask_h * mask_w, kernel_size=1, bias=False),
            )

        self.reduce = ConvModule(self.in_channels, self.channels, 1, **conv_args)
        self.attention = attention()
        if psa_type == "bi-direction":
            self.reduce_p = ConvModule(self.in_channels, self.channels, 1, **conv_args)
            self.attention_p = attention()
            self.psamask_collect = PSAMask("collect", self.mask_size)
            self.psamask_distribute = PSAMask("distribute", self.mask_size)
        else:
            self.psamask = PSAMask(psa_type, self.mask_size)
        branches = 2 if psa_type == "bi-direction" else 1
        # a 1x1 conv with padding 1, as MMSegmentation has it: the map grows by 2 and is resized back below
        self.proj = ConvModule(self.channels * branches, self.in_channels, 1, padding=1, **conv_args)
        self.bottleneck = ConvModule(self.in_channels * 2, self.channels, 3, padding=1, **conv_args)

    def _shrink(self, feats: list[torch.Tensor]) -> tuple[list[torch.Tensor], bool]:
        """Downsample by ``shrink_factor`` as MMSegmentation does: rounding up with aligned corners when both
        sides are indivisible, else rounding down; returns the align_corners used (also for the way back)."""
        h, w = feats[0].shape[2:]
        factor = self.shrink_factor
        if factor == 1:
            return feats, self.align_corners
        if h % factor and w % factor:
            size, align = ((h - 1) // factor + 1, (w - 1) // factor + 1), True
        else:
            size, align = (h // factor, w // factor), False
        return [F.interpolate(x, size=size, mode="bilinear", align_corners=align) for x in feats], align

    def _dense_attention(self, y: torch.Tensor, mask: PSAMask, transpose_compact: bool) -> torch.Tensor:
        """The (N, H*W, H, W) attention: ``mask`` spreads the windows, or (``compact``) ``y`` already is the
        map, transposed for the branches MMSegmentation transposes."""
        n, _, h, w = y.shape
        if self.compact:
            if y.shape[1] != h * w:
                raise ConfigError(
                    f"PSAHead compact=True needs mask_size to cover the shrunk feature map exactly: "
                    f"mask_size {self.mask_size} gives {y.shape[1]} cells for a {h}x{w} map"
                )
            if transpose_compact:
                y = y.view(n, h * w, h * w).transpose(1, 2).reshape(n, h * w, h, w)
        else:
            y = mask(y)
        return F.softmax(y, dim=1) if self.psa_softmax else y

    def _aggregate(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        out = torch.bmm(x.reshape(n, c, h * w), y.reshape(n, h * w, h * w))
        return out.view(n, c, h, w) * (1.0 / self.normalization_factor)

    def forward(self, inputs: Sequence[torch.Tensor]) -> torch.Tensor:
        x = self._transform_inputs(inputs)
        if self.psa_type == "bi-direction":
            (x_col, x_dis), align = self._shrink([self.reduce(x), self.reduce_p(x)])
            # compact: the collect map is read as is and the distribute map transposed, as in MMSegmentation
            y_col = self._dense_attention(self.attention(x_col), self.psamask_collect, False)
            y_dis = self._dense_attention(self.attention_p(x_dis), self.psamask_distribute, True)
            out = torch.cat([self._aggregate(x_col, y_col), self._aggregate(x_dis, y_dis)], dim=1)
        else:
            (reduced,), align = self._shrink([self.reduce(x)])
            y = self._dense_attention(self.attention(reduced), self.psamask, self.psa_type == "collect")
            out = self._aggregate(reduced, y)
        out = F.interpolate(self.proj(out), size=x.shape[2:], mode="bilinear", align_corners=align)
        return self.cls_seg(self.bottleneck(torch.cat([x, out], dim=1)))
