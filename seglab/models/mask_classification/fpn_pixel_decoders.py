"""MaskFormer's pixel decoders (MMDetection's ``PixelDecoder`` and ``TransformerEncoderPixelDecoder``): an
FPN path from the last level down to the first, nearest-neighbour upsampling; ``mask_feature`` is a 3x3
conv of its output. The transformer variant first runs a DETR encoder over the last level."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from seglab.errors import ConfigError
from seglab.models.layers import ConvModule

from .detr_layers import DetrTransformerEncoder
from .positional_encoding import SinePositionalEncoding
from .sub_configs import build_part, caffe2_xavier_, sub_dict


class PixelDecoder(nn.Module):
    """Returns ``(mask_feature, memory)``: memory is the last input level, which the decoder attends to."""

    IGNORED_ARGS = {"init_cfg": None}

    def __init__(
        self,
        in_channels: Sequence[int],
        feat_channels: int,
        out_channels: int,
        norm_cfg: dict | None = dict(type="GN", num_groups=32),  # noqa: B006 (never mutated)
        act_cfg: dict | None = dict(type="ReLU"),  # noqa: B006
        init_cfg: dict | None = None,
    ) -> None:
        super().__init__()
        self.num_inputs = len(in_channels)
        self.use_bias = norm_cfg is None
        self.lateral_convs, self.output_convs = nn.ModuleList(), nn.ModuleList()
        for i in range(self.num_inputs - 1):
            self.lateral_convs.append(
                ConvModule(in_channels[i], feat_channels, 1, bias=self.use_bias, norm_cfg=norm_cfg, act_cfg=None)
            )
            self.output_convs.append(
                ConvModule(
                    feat_channels, feat_channels, 3, padding=1, bias=self.use_bias, norm_cfg=norm_cfg, act_cfg=act_cfg
                )
            )
        self.last_feat_conv: nn.Module | None = ConvModule(
            in_channels[-1], feat_channels, 3, padding=1, bias=self.use_bias, norm_cfg=norm_cfg, act_cfg=act_cfg
        )
        self.mask_feature = nn.Conv2d(feat_channels, out_channels, kernel_size=3, stride=1, padding=1)
        self.init_cfg = None

    @torch.no_grad()
    def init_weights(self) -> None:
        """MMDetection's: caffe2-Xavier on all but the last lateral/output conv pair and on ``mask_feature``
        (its call on ``last_feat_conv``, a ConvModule without a weight of its own, changes nothing)."""
        for i in range(self.num_inputs - 2):
            caffe2_xavier_(self.lateral_convs[i].conv)
            caffe2_xavier_(self.output_convs[i].conv)
        caffe2_xavier_(self.mask_feature)

    def _top(self, feats: Sequence[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        return self.last_feat_conv(feats[-1]), feats[-1]

    def forward(self, feats: Sequence[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        y, memory = self._top(feats)
        for i in range(self.num_inputs - 2, -1, -1):
            lateral = self.lateral_convs[i](feats[i])
            y = self.output_convs[i](lateral + F.interpolate(y, size=lateral.shape[-2:], mode="nearest"))
        return self.mask_feature(y), memory


class TransformerEncoderPixelDecoder(PixelDecoder):
    """``PixelDecoder`` whose top is a DETR encoder over the projected last level (``encoder_in_proj``,
    ``encoder``, ``encoder_out_proj``); memory is the encoder's output."""

    IGNORED_ARGS = {"init_cfg": None}

    def __init__(
        self,
        in_channels: Sequence[int],
        feat_channels: int,
        out_channels: int,
        norm_cfg: dict | None = dict(type="GN", num_groups=32),  # noqa: B006 (never mutated)
        act_cfg: dict | None = dict(type="ReLU"),  # noqa: B006
        encoder: dict | None = None,
        positional_encoding: dict | None = dict(num_feats=128, normalize=True),  # noqa: B006
        init_cfg: dict | None = None,
    ) -> None:
        super().__init__(in_channels, feat_channels, out_channels, norm_cfg, act_cfg)
        self.last_feat_conv = None  # replaced by the encoder path (MMDetection builds, then drops it)
        self.encoder = DetrTransformerEncoder(**sub_dict(encoder, "pixel_decoder.encoder"))
        if self.encoder.embed_dims != feat_channels:
            raise ConfigError(
                f"pixel_decoder: the encoder's embed_dims={self.encoder.embed_dims} must equal "
                f"feat_channels={feat_channels}"
            )
        self.positional_encoding = build_part(
            positional_encoding,
            {"SinePositionalEncoding": SinePositionalEncoding},
            "pixel_decoder.positional_encoding",
            default="SinePositionalEncoding",
        )
        self.encoder_in_proj = nn.Conv2d(in_channels[-1], feat_channels, kernel_size=1)
        self.encoder_out_proj = ConvModule(
            feat_channels, feat_channels, 3, padding=1, bias=self.use_bias, norm_cfg=norm_cfg, act_cfg=act_cfg
        )

    @torch.no_grad()
    def init_weights(self) -> None:
        super().init_weights()
        caffe2_xavier_(self.encoder_in_proj)
        caffe2_xavier_(self.encoder_out_proj.conv)
        for p in self.encoder.parameters():
            if p.dim() > 1:
                nn.init.xavier_uniform_(p)

    def _top(self, feats: Sequence[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        last = feats[-1]
        b, _, h, w = last.shape
        pos = self.positional_encoding(b, h, w, last.device).flatten(2).permute(0, 2, 1)
        tokens = self.encoder_in_proj(last).flatten(2).permute(0, 2, 1)
        memory = self.encoder(tokens, pos).permute(0, 2, 1).reshape(b, self.encoder.embed_dims, h, w)
        return self.encoder_out_proj(memory), memory
