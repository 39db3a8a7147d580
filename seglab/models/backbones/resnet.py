"""ResNet backbones (ResNet, ResNetV1c, ResNetV1d) with dilation for dense prediction.

Parameter names match MMSegmentation's (``stem.0``, ``layer1.0.conv1``, ``layer1.0.bn1``,
``layer1.0.downsample.0`` ...), so its checkpoints and ImageNet-pretrained files load as they are.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn
from torch.utils.checkpoint import checkpoint

from seglab.errors import ConfigError
from seglab.models.layers import build_norm
from seglab.registry import MODELS


def conv3x3(inp: int, out: int, stride: int = 1, dilation: int = 1) -> nn.Conv2d:
    return nn.Conv2d(inp, out, 3, stride=stride, padding=dilation, dilation=dilation, bias=False)


class ResidualBlock(nn.Module):
    """relu(residual(x) + shortcut(x)), optionally recomputed in backward (``with_cp``) to save memory."""

    with_cp = False
    # A BaseModule in MMSegmentation, so the init walk reaches it; ResNet sets the zero-init-residual cfg.
    init_cfg: dict | None = None

    def _residual(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.with_cp and x.requires_grad:
            return self.relu(checkpoint(self._residual, x, use_reentrant=False))
        return self.relu(self._residual(x))


class BasicBlock(ResidualBlock):
    expansion = 1

    def __init__(
        self,
        inplanes: int,
        planes: int,
        stride: int = 1,
        dilation: int = 1,
        downsample: nn.Module | None = None,
        norm_cfg: dict | None = None,
        with_cp: bool = False,
    ) -> None:
        super().__init__()
        self.conv1 = conv3x3(inplanes, planes, stride, dilation)
        self.bn1 = build_norm(norm_cfg, planes)[1]
        # MMSegmentation's BasicBlock keeps the second conv undilated; so do we, for weight parity.
        self.conv2 = conv3x3(planes, planes)
        self.bn2 = build_norm(norm_cfg, planes)[1]
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample
        self.with_cp = with_cp

    def _residual(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        identity = x if self.downsample is None else self.downsample(x)
        out += identity  # in place, as MMSegmentation: the norm's backward does not need its output
        return out


class Bottleneck(ResidualBlock):
    expansion = 4

    def __init__(
        self,
        inplanes: int,
        planes: int,
        stride: int = 1,
        dilation: int = 1,
        downsample: nn.Module | None = None,
        norm_cfg: dict | None = None,
        with_cp: bool = False,
        style: str = "pytorch",
    ) -> None:
        super().__init__()
        # 'pytorch' puts the stride on the 3x3 conv, 'caffe' on the first 1x1.
        stride1, stride2 = (1, stride) if style == "pytorch" else (stride, 1)
        self.conv1 = nn.Conv2d(inplanes, planes, 1, stride=stride1, bias=False)
        self.bn1 = build_norm(norm_cfg, planes)[1]
        self.conv2 = conv3x3(planes, planes, stride2, dilation)
        self.bn2 = build_norm(norm_cfg, planes)[1]
        self.conv3 = nn.Conv2d(planes, planes * self.expansion, 1, bias=False)
        self.bn3 = build_norm(norm_cfg, planes * self.expansion)[1]
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample
        self.with_cp = with_cp

    def _residual(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        identity = x if self.downsample is None else self.downsample(x)
        out += identity  # in place, as MMSegmentation: the norm's backward does not need its output
        return out


ARCH = {
    18: (BasicBlock, (2, 2, 2, 2)),
    34: (BasicBlock, (3, 4, 6, 3)),
    50: (Bottleneck, (3, 4, 6, 3)),
    101: (Bottleneck, (3, 4, 23, 3)),
    152: (Bottleneck, (3, 8, 36, 3)),
}


def _check_stages(num_stages, strides, dilations, out_indices, multi_grid, stage_blocks) -> None:
    """MMSegmentation's asserts on the stage settings, as ConfigErrors naming the key."""
    if not 1 <= num_stages <= 4:
        raise ConfigError(f"ResNet num_stages must be 1 to 4, got {num_stages}")
    if len(strides) != num_stages or len(dilations) != num_stages:
        raise ConfigError(
            f"ResNet strides {tuple(strides)} and dilations {tuple(dilations)} need one value per stage "
            f"(num_stages={num_stages})"
        )
    if out_indices and max(out_indices) >= num_stages:
        raise ConfigError(f"ResNet out_indices {tuple(out_indices)} name a stage beyond num_stages={num_stages}")
    if multi_grid is not None and len(multi_grid) < stage_blocks[num_stages - 1]:
        raise ConfigError(
            f"ResNet multi_grid {tuple(multi_grid)} needs one dilation per block of the last stage "
            f"({stage_blocks[num_stages - 1]} blocks)"
        )


@MODELS.register()
class ResNet(nn.Module):
    """ResNet with per-stage ``strides``/``dilations``; ``deep_stem`` and ``avg_down`` give V1c/V1d.

    ``contract_dilation`` halves the first block's dilation of a dilated stage; ``multi_grid`` gives the
    last stage's blocks their own dilations (DeepLabV3's multi-grid), both as MMSegmentation does."""

    # meaningful only with dcn, which fails with a clear message when set
    IGNORED_ARGS = {"stage_with_dcn": (False, False, False, False)}
    # blocks per stage when a subclass brings its own depth table (ResNeSt-200 has no ResNet twin)
    _stage_blocks: tuple[int, ...] = ()

    def __init__(
        self,
        depth: int,
        in_channels: int = 3,
        stem_channels: int = 64,
        base_channels: int = 64,
        num_stages: int = 4,
        strides: Sequence[int] = (1, 2, 2, 2),
        dilations: Sequence[int] = (1, 1, 1, 1),
        out_indices: Sequence[int] = (0, 1, 2, 3),
        style: str = "pytorch",
        deep_stem: bool = False,
        avg_down: bool = False,
        frozen_stages: int = -1,
        conv_cfg: dict | None = None,
        norm_cfg: dict | None = dict(type="BN", requires_grad=True),  # noqa: B006
        norm_eval: bool = False,
        dcn: dict | None = None,
        stage_with_dcn: Sequence[bool] = (False, False, False, False),
        plugins: list | None = None,
        multi_grid: Sequence[int] | None = None,
        contract_dilation: bool = False,
        with_cp: bool = False,
        zero_init_residual: bool = True,
        pretrained: str | None = None,
        init_cfg: dict | None = None,
    ) -> None:
        super().__init__()
        if depth not in ARCH:
            raise ConfigError(f"ResNet depth {depth} is not one of {sorted(ARCH)}")
        for name, value in (("dcn", dcn), ("plugins", plugins), ("conv_cfg", conv_cfg)):
            if value:
                raise ConfigError(f"ResNet option '{name}' is not supported by seglab yet; remove it from the config")
        if style not in ("pytorch", "caffe"):
            raise ConfigError(f"ResNet style must be 'pytorch' or 'caffe', got '{style}'")
        block, stage_blocks = ARCH[depth]
        stage_blocks = self._stage_blocks or stage_blocks
        _check_stages(num_stages, strides, dilations, out_indices, multi_grid, stage_blocks)
        self.depth = depth
        self.out_indices = tuple(out_indices)
        self.frozen_stages = frozen_stages
        self.norm_eval = norm_eval
        self.deep_stem = deep_stem
        block_init_cfg = self._set_init_cfg(init_cfg, pretrained, zero_init_residual, block)
        self._build_stem(in_channels, stem_channels, norm_cfg)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        inplanes = stem_channels
        self.res_layers: list[str] = []
        for i in range(num_stages):
            planes = base_channels * 2**i
            layer = self._make_layer(
                block,
                inplanes,
                planes,
                stage_blocks[i],
                strides[i],
                dilations[i],
                avg_down,
                contract_dilation,
                norm_cfg,
                with_cp,
                style,
                multi_grid if i == num_stages - 1 else None,  # MMSegmentation: the last stage only
            )
            inplanes = planes * block.expansion
            layer.init_cfg = None  # MMSegmentation's ResLayer is a BaseModule: the init walk enters it
            for res_block in layer:
                res_block.init_cfg = block_init_cfg
            name = f"layer{i + 1}"
            self.add_module(name, layer)
            self.res_layers.append(name)
        self.feat_dim = inplanes
        self._freeze_stages()

    def _set_init_cfg(
        self, init_cfg: dict | list | None, pretrained: str | None, zero_init_residual: bool, block: type
    ) -> dict | None:
        """MMSegmentation's defaults, applied by ``seglab.models.weight_init`` when the model is built:
        He-normal convs and unit norms, and (``zero_init_residual``) each block's last norm at zero so a
        block starts as the identity. A given ``init_cfg`` or ``pretrained`` replaces all of it.
        Returns the blocks' ``init_cfg``."""
        if init_cfg and pretrained:
            raise ConfigError("ResNet: give init_cfg or pretrained, not both (init_cfg=dict(type='Pretrained', ...))")
        if pretrained is not None and not isinstance(pretrained, str):
            raise ConfigError(f"ResNet pretrained must be a checkpoint path or URL, got {pretrained!r}")
        if pretrained:
            self.init_cfg = dict(type="Pretrained", checkpoint=pretrained)
            return None
        if init_cfg is not None:
            self.init_cfg = init_cfg
            return None
        self.init_cfg = [
            dict(type="Kaiming", layer="Conv2d"),
            dict(type="Constant", val=1, layer=["_BatchNorm", "GroupNorm"]),
        ]
        if not zero_init_residual:
            return None
        last_norm = "bn3" if block is Bottleneck else "bn2"  # MMSegmentation names them norm3/norm2 (properties)
        return dict(type="Constant", val=0, override=dict(name=last_norm))

    def _build_stem(self, in_channels: int, stem_channels: int, norm_cfg: dict | None) -> None:
        if self.deep_stem:
            half = stem_channels // 2
            layers: list[nn.Module] = []
            for cin, cout, stride in ((in_channels, half, 2), (half, half, 1), (half, stem_channels, 1)):
                layers += [
                    nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False),
                    build_norm(norm_cfg, cout)[1],
                    nn.ReLU(inplace=True),
                ]
            self.stem = nn.Sequential(*layers)
        else:
            self.conv1 = nn.Conv2d(in_channels, stem_channels, 7, stride=2, padding=3, bias=False)
            self.bn1 = build_norm(norm_cfg, stem_channels)[1]
            self.relu = nn.ReLU(inplace=True)

    @staticmethod
    def _make_layer(
        block,
        inplanes,
        planes,
        num_blocks,
        stride,
        dilation,
        avg_down,
        contract_dilation,
        norm_cfg,
        with_cp,
        style,
        multi_grid=None,
    ) -> nn.Sequential:
        """One stage. Block i is dilated by ``multi_grid[i]`` when given, else by ``dilation``; with
        ``contract_dilation`` (and no multi-grid) the first block uses half of a dilation above 1."""
        downsample = None
        if stride != 1 or inplanes != planes * block.expansion:
            parts: list[nn.Module] = []
            conv_stride = stride
            if avg_down:
                conv_stride = 1
                parts.append(nn.AvgPool2d(stride, stride, ceil_mode=True, count_include_pad=False))
            parts += [
                nn.Conv2d(inplanes, planes * block.expansion, 1, stride=conv_stride, bias=False),
                build_norm(norm_cfg, planes * block.expansion)[1],
            ]
            downsample = nn.Sequential(*parts)
        if multi_grid is not None:
            dilations = list(multi_grid)
        else:
            dilations = [dilation] * num_blocks
            if contract_dilation and dilation > 1:
                dilations[0] = dilation // 2
        extra = {"style": style} if block is Bottleneck else {}
        blocks = [block(inplanes, planes, stride, dilations[0], downsample, norm_cfg, with_cp, **extra)]
        inplanes = planes * block.expansion
        blocks += [
            block(inplanes, planes, 1, dilations[i], None, norm_cfg, with_cp, **extra) for i in range(1, num_blocks)
        ]
        return nn.Sequential(*blocks)

    def _stem_modules(self) -> list[nn.Module]:
        return [self.stem] if self.deep_stem else [self.conv1, self.bn1]

    def _freeze_stages(self) -> None:
        if self.frozen_stages < 0:
            return
        modules = self._stem_modules() + [getattr(self, f"layer{i}") for i in range(1, self.frozen_stages + 1)]
        for module in modules:
            module.eval()
            for param in module.parameters():
                param.requires_grad = False

    def train(self, mode: bool = True) -> ResNet:
        super().train(mode)
        self._freeze_stages()
        if mode and self.norm_eval:
            for module in self.modules():
                if isinstance(module, nn.modules.batchnorm._BatchNorm):
                    module.eval()
        return self

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        x = self.stem(x) if self.deep_stem else self.relu(self.bn1(self.conv1(x)))
        x = self.maxpool(x)
        outs = []
        for i, name in enumerate(self.res_layers):
            x = getattr(self, name)(x)
            if i in self.out_indices:
                outs.append(x)
        return tuple(outs)


@MODELS.register()
class ResNetV1c(ResNet):
    """ResNet with a deep 3x3 stem: the backbone of MMSegmentation's *_r50-d8 models."""

    def __init__(self, **kwargs) -> None:
        super().__init__(deep_stem=True, avg_down=False, **kwargs)


@MODELS.register()
class ResNetV1d(ResNet):
    """ResNetV1c plus average-pool downsampling in the shortcut."""

    def __init__(self, **kwargs) -> None:
        super().__init__(deep_stem=True, avg_down=True, **kwargs)
