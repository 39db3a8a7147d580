"""ERFNet (Romera et al., "Efficient Residual Factorized ConvNet for Real-time Semantic Segmentation"), as
MMSegmentation builds it: same type name, arguments and parameter keys (``encoder.0.conv``,
``encoder.3.convs_layers.0``, ``decoder.0.conv`` ...), so its Cityscapes checkpoint loads as it is.

An encoder of down-sampler blocks and factorised (3x1 then 1x3) residual blocks, and a decoder of transposed
convolutions and more residual blocks; the single output is at half the input resolution."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from seglab.errors import ConfigError
from seglab.models.layers import build_activation, build_norm, resize
from seglab.registry import MODELS

# MMSegmentation's blocks use these whatever ERFNet's own norm_cfg/act_cfg say
BLOCK_NORM = dict(type="BN", eps=1e-3)
RELU = dict(type="ReLU")


class DownsamplerBlock(nn.Module):
    """A stride-2 3x3 conv (``out - in`` channels) beside a 2x2 max pool of the input, concatenated, then
    norm + activation. On odd sizes the pooled map is one smaller and is resized (bilinear) to the conv's."""

    def __init__(
        self, in_channels: int, out_channels: int, norm_cfg: dict | None = BLOCK_NORM, act_cfg: dict | None = RELU
    ) -> None:
        super().__init__()
        if out_channels <= in_channels:
            raise ConfigError(
                f"ERFNet enc_downsample_channels must grow from stage to stage (and above in_channels): "
                f"a down-sampler from {in_channels} to {out_channels} channels has no channels for its conv"
            )
        self.conv = nn.Conv2d(in_channels, out_channels - in_channels, 3, stride=2, padding=1)
        self.pool = nn.MaxPool2d(kernel_size=2, stride=2)
        self.bn = build_norm(norm_cfg, out_channels)[1]
        self.act = build_activation(act_cfg)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        conv = self.conv(x)
        pooled = resize(self.pool(x), conv.shape[2:], align_corners=False)
        return self.act(self.bn(torch.cat([conv, pooled], 1)))


class NonBottleneck1d(nn.Module):
    """Residual block of ``num_conv_layer`` factorised 3x3 convs (3x1 then 1x3, the later ones dilated).

    ``convs_layers`` lists conv, act, conv, norm, act | dropout per factorised conv, in MMSegmentation's order
    (its indices are the checkpoint keys); the activation is one shared module."""

    def __init__(
        self,
        channels: int,
        drop_rate: float = 0,
        dilation: int = 1,
        num_conv_layer: int = 2,
        norm_cfg: dict | None = BLOCK_NORM,
        act_cfg: dict | None = RELU,
    ) -> None:
        super().__init__()
        self.act = build_activation(act_cfg)
        layers: list[nn.Module] = []
        for i in range(num_conv_layer):
            d = 1 if i == 0 else dilation
            layers += [
                nn.Conv2d(channels, channels, (3, 1), padding=(d, 0), dilation=(d, 1)),
                self.act,
                nn.Conv2d(channels, channels, (1, 3), padding=(0, d), dilation=(1, d)),
                build_norm(norm_cfg, channels)[1],
                self.act if i == 0 else nn.Dropout(p=drop_rate),
            ]
        self.convs_layers = nn.ModuleList(layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = x
        for layer in self.convs_layers:
            out = layer(out)
        return self.act(out + x)


class UpsamplerBlock(nn.Module):
    """A stride-2 3x3 transposed conv (exactly doubling the size), norm, activation."""

    def __init__(
        self, in_channels: int, out_channels: int, norm_cfg: dict | None = BLOCK_NORM, act_cfg: dict | None = RELU
    ) -> None:
        super().__init__()
        self.conv = nn.ConvTranspose2d(in_channels, out_channels, 3, stride=2, padding=1, output_padding=1)
        self.bn = build_norm(norm_cfg, out_channels)[1]
        self.act = build_activation(act_cfg)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.bn(self.conv(x)))


def _check_lengths(
    enc_downsample: Sequence[int],
    enc_stages: Sequence[int],
    enc_dilations: Sequence[int],
    enc_channels: Sequence[int],
    dec_upsample: Sequence[int],
    dec_stages: Sequence[int],
    dec_channels: Sequence[int],
) -> None:
    """MMSegmentation's assertions, as one message naming the keys that disagree."""
    n = len(enc_downsample)
    pairs = [
        ("enc_stage_non_bottlenecks", enc_stages, n - 1),
        ("enc_non_bottleneck_channels", enc_channels, n - 1),
        ("dec_upsample_channels", dec_upsample, n - 1),
        ("dec_stages_non_bottleneck", dec_stages, len(dec_upsample)),
        ("dec_non_bottleneck_channels", dec_channels, len(dec_upsample)),
    ]
    for key, value, wanted in pairs:
        if len(value) != wanted:
            raise ConfigError(
                f"ERFNet {key}={tuple(value)} needs {wanted} entries (enc_downsample_channels has {n} down-samplers, "
                f"dec_upsample_channels {len(dec_upsample)} up-samplers)"
            )
    if n < 2 or not enc_dilations or enc_stages[-1] % len(enc_dilations):
        raise ConfigError(
            f"ERFNet enc_stage_non_bottlenecks[-1]={enc_stages[-1] if enc_stages else None} must be a multiple of "
            f"the {len(enc_dilations)} enc_non_bottleneck_dilations (the last stage cycles through them), with at "
            "least two down-samplers"
        )


@MODELS.register()
class ERFNet(nn.Module):
    """ERFNet backbone; returns ``(features,)`` at half resolution with ``dec_non_bottleneck_channels[-1]``
    channels. Encoder blocks use ``dropout_ratio``; decoder blocks none.

    As in MMSegmentation, ``conv_cfg``/``norm_cfg``/``act_cfg`` do not reach the blocks (they always use
    BN with eps 1e-3 and ReLU), and ``enc_non_bottleneck_channels``/``dec_upsample_channels`` only count stages
    (the down-samplers' and ``dec_non_bottleneck_channels``' widths are the ones built)."""

    IGNORED_ARGS = {"conv_cfg": None, "norm_cfg": dict(type="BN", requires_grad=True), "act_cfg": dict(type="ReLU")}

    def __init__(
        self,
        in_channels: int = 3,
        enc_downsample_channels: Sequence[int] = (16, 64, 128),
        enc_stage_non_bottlenecks: Sequence[int] = (5, 8),
        enc_non_bottleneck_dilations: Sequence[int] = (2, 4, 8, 16),
        enc_non_bottleneck_channels: Sequence[int] = (64, 128),
        dec_upsample_channels: Sequence[int] = (64, 16),
        dec_stages_non_bottleneck: Sequence[int] = (2, 2),
        dec_non_bottleneck_channels: Sequence[int] = (64, 16),
        dropout_ratio: float = 0.1,
        conv_cfg: dict | None = None,
        norm_cfg: dict | None = dict(type="BN", requires_grad=True),  # noqa: B006 (never mutated)
        act_cfg: dict | None = RELU,
        init_cfg: dict | list | None = None,
    ) -> None:
        super().__init__()
        _check_lengths(
            enc_downsample_channels,
            enc_stage_non_bottlenecks,
            enc_non_bottleneck_dilations,
            enc_non_bottleneck_channels,
            dec_upsample_channels,
            dec_stages_non_bottleneck,
            dec_non_bottleneck_channels,
        )
        self.init_cfg = init_cfg
        self.dropout_ratio = dropout_ratio
        widths = [in_channels, *enc_downsample_channels]
        encoder: list[nn.Module] = [DownsamplerBlock(widths[0], widths[1])]
        for i in range(1, len(enc_downsample_channels)):
            channels = widths[i + 1]
            encoder.append(DownsamplerBlock(widths[i], channels))
            if i < len(enc_downsample_channels) - 1:
                dilations = [1] * enc_stage_non_bottlenecks[i - 1]
            else:  # the last stage cycles through the dilations
                repeats = enc_stage_non_bottlenecks[-1] // len(enc_non_bottleneck_dilations)
                dilations = list(enc_non_bottleneck_dilations) * repeats
            encoder += [NonBottleneck1d(channels, dropout_ratio, d) for d in dilations]
        self.encoder = nn.ModuleList(encoder)
        decoder: list[nn.Module] = []
        channels = enc_downsample_channels[-1]
        for blocks, out_channels in zip(dec_stages_non_bottleneck, dec_non_bottleneck_channels, strict=True):
            decoder.append(UpsamplerBlock(channels, out_channels))
            decoder += [NonBottleneck1d(out_channels) for _ in range(blocks)]
            channels = out_channels
        self.decoder = nn.ModuleList(decoder)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor]:
        for block in self.encoder:
            x = block(x)
        for block in self.decoder:
            x = block(x)
        return (x,)
