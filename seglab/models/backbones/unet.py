"""UNet (Ronneberger et al., 2015) as MMSegmentation builds it, for its medical-imaging configs.

Keys match MMSegmentation's (``encoder.<i>.<j>.convs.<k>.conv``, ``decoder.<i>.upsample...``,
``decoder.<i>.conv_block.convs.<k>``), so its checkpoints load as they are. The output is the deepest
encoder feature followed by every decoder stage's output, coarse to fine: ``num_stages`` levels, the last
at the input's resolution (heads pick one with ``in_index``, 4 for the five-stage configs).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from seglab.errors import ConfigError
from seglab.models.layers.up_conv import BasicConvBlock, UpConvBlock
from seglab.registry import MODELS


def _check_lengths(num_stages: int, **settings: Sequence) -> None:
    """MMSegmentation's length asserts, as ConfigErrors naming the key: encoder settings have one value per
    stage, decoder settings (``dec_*``, ``downsamples``) one per stage after the first."""
    for name, value in settings.items():
        wanted = num_stages if name in ("strides", "enc_num_convs", "enc_dilations") else num_stages - 1
        if len(value) != wanted:
            raise ConfigError(
                f"UNet {name}={tuple(value)} needs {wanted} values with num_stages={num_stages} "
                f"({'one per stage' if wanted == num_stages else 'one per stage after the first'})"
            )


@MODELS.register()
class UNet(nn.Module):
    """Encoder stage i (i > 0) halves the resolution by max-pooling (``downsamples[i-1]``) or by a stride-2
    first conv (``strides[i] == 2``) and doubles the channels (``base_channels * 2**i``); decoder stage i
    upsamples (``upsample_cfg``: ``InterpConv`` or ``DeconvModule``) only where the encoder downsampled."""

    def __init__(
        self,
        in_channels: int = 3,
        base_channels: int = 64,
        num_stages: int = 5,
        strides: Sequence[int] = (1, 1, 1, 1, 1),
        enc_num_convs: Sequence[int] = (2, 2, 2, 2, 2),
        dec_num_convs: Sequence[int] = (2, 2, 2, 2),
        downsamples: Sequence[bool] = (True, True, True, True),
        enc_dilations: Sequence[int] = (1, 1, 1, 1, 1),
        dec_dilations: Sequence[int] = (1, 1, 1, 1),
        with_cp: bool = False,
        conv_cfg: dict | None = None,
        norm_cfg: dict | None = dict(type="BN"),  # noqa: B006 (never mutated)
        act_cfg: dict | None = dict(type="ReLU"),  # noqa: B006
        upsample_cfg: dict | None = dict(type="InterpConv"),  # noqa: B006
        norm_eval: bool = False,
        dcn: dict | None = None,
        plugins: list | None = None,
        pretrained: str | None = None,
        init_cfg: dict | list | None = None,
    ) -> None:
        super().__init__()
        for name, value in (("dcn", dcn), ("plugins", plugins)):
            if value is not None:
                raise ConfigError(f"UNet option '{name}' is not implemented (as in MMSegmentation); remove it")
        _check_lengths(
            num_stages,
            strides=strides,
            enc_num_convs=enc_num_convs,
            dec_num_convs=dec_num_convs,
            downsamples=downsamples,
            enc_dilations=enc_dilations,
            dec_dilations=dec_dilations,
        )
        if any(s not in (1, 2) for s in strides):
            raise ConfigError(f"UNet strides={tuple(strides)} must each be 1 or 2")
        self._set_init_cfg(init_cfg, pretrained)
        self.num_stages = num_stages
        self.strides = tuple(strides)
        self.downsamples = tuple(downsamples)
        self.norm_eval = norm_eval
        self.base_channels = base_channels
        layer_args = dict(with_cp=with_cp, conv_cfg=conv_cfg, norm_cfg=norm_cfg, act_cfg=act_cfg)
        self.encoder = nn.ModuleList()
        self.decoder = nn.ModuleList()
        for i in range(num_stages):
            stage: list[nn.Module] = []
            if i > 0:
                pooled = strides[i] == 1 and downsamples[i - 1]
                if pooled:
                    stage.append(nn.MaxPool2d(kernel_size=2))
                halves = strides[i] != 1 or downsamples[i - 1]
                self.decoder.append(
                    UpConvBlock(
                        BasicConvBlock,
                        base_channels * 2**i,
                        base_channels * 2 ** (i - 1),
                        base_channels * 2 ** (i - 1),
                        num_convs=dec_num_convs[i - 1],
                        dilation=dec_dilations[i - 1],
                        upsample_cfg=upsample_cfg if halves else None,
                        **layer_args,
                    )
                )
            stage.append(
                BasicConvBlock(
                    in_channels,
                    base_channels * 2**i,
                    num_convs=enc_num_convs[i],
                    stride=strides[i],
                    dilation=enc_dilations[i],
                    **layer_args,
                )
            )
            self.encoder.append(nn.Sequential(*stage))
            in_channels = base_channels * 2**i

    def _set_init_cfg(self, init_cfg: dict | list | None, pretrained: str | None) -> None:
        """MMSegmentation's default: He-normal Conv2d weights, unit norms (a DeconvModule's transposed conv
        keeps torch's own init, as there); ``pretrained`` or a given ``init_cfg`` replaces it."""
        if init_cfg and pretrained:
            raise ConfigError("UNet: give init_cfg or pretrained, not both (init_cfg=dict(type='Pretrained', ...))")
        if pretrained is not None and not isinstance(pretrained, str):
            raise ConfigError(f"UNet pretrained must be a checkpoint path or URL, got {pretrained!r}")
        if pretrained:
            self.init_cfg = dict(type="Pretrained", checkpoint=pretrained)
        elif init_cfg is not None:
            self.init_cfg = init_cfg
        else:
            self.init_cfg = [
                dict(type="Kaiming", layer="Conv2d"),
                dict(type="Constant", val=1, layer=["_BatchNorm", "GroupNorm"]),
            ]

    @property
    def downsample_rate(self) -> int:
        """How much the encoder shrinks its input: the input's sides must be multiples of it."""
        halvings = sum(1 for i in range(1, self.num_stages) if self.strides[i] == 2 or self.downsamples[i - 1])
        return 2**halvings

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        h, w = x.shape[-2:]
        rate = self.downsample_rate
        if not torch.compiler.is_exporting() and (int(h) % rate or int(w) % rate):
            raise ConfigError(
                f"UNet input size {(int(h), int(w))} is not a multiple of its downsample rate {rate}: make the "
                f"test Resize scale, model.test_cfg.crop_size or data_preprocessor size/size_divisor multiples of {rate}"
            )
        skips = []
        for stage in self.encoder:
            x = stage(x)
            skips.append(x)
        outs = [x]
        for i in reversed(range(len(self.decoder))):
            x = self.decoder[i](skips[i], x)
            outs.append(x)
        return tuple(outs)

    def train(self, mode: bool = True) -> UNet:
        super().train(mode)
        if mode and self.norm_eval:
            for module in self.modules():
                if isinstance(module, nn.modules.batchnorm._BatchNorm):
                    module.eval()
        return self
