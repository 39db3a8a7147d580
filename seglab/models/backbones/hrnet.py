"""HRNet: parallel branches at 1/4 ... 1/32 resolution that keep exchanging information.

A stem (two stride-2 3x3 convs) and one ResNet layer (stage 1) feed stages 2-4; each stage adds a
lower-resolution branch (``transition``) and runs ``num_modules`` HRModules, whose blocks work per branch and
whose ``fuse_layers`` sum every branch into every other (1x1 conv + upsampling from below, strided 3x3 convs
from above). Parameter names follow MMSegmentation's HRNet (``conv1``, ``bn1``, ``layer1``,
``transition1``, ``stage2.0.branches.0.0.conv1``, ``stage2.0.fuse_layers.0.1.0`` ...), so its checkpoints
and the MSRA ImageNet weights load as they are.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from seglab.errors import ConfigError
from seglab.models.backbones.resnet import BasicBlock, Bottleneck, ResNet
from seglab.models.layers import build_norm, resize
from seglab.registry import MODELS

BLOCKS = {"BASIC": BasicBlock, "BOTTLENECK": Bottleneck}
STAGE_KEYS = ("num_modules", "num_branches", "block", "num_blocks", "num_channels")


def _make_layer(block, inplanes: int, planes: int, num_blocks: int, norm_cfg, with_cp: bool) -> nn.Sequential:
    """``num_blocks`` blocks at stride 1 (a 1x1 shortcut when the width changes), as ResNet builds a stage."""
    return ResNet._make_layer(block, inplanes, planes, num_blocks, 1, 1, False, False, norm_cfg, with_cp, "pytorch")


def _conv_bn(cin: int, cout: int, kernel: int, stride: int, norm_cfg, relu: bool) -> nn.Sequential:
    layers = [
        nn.Conv2d(cin, cout, kernel, stride=stride, padding=kernel // 2, bias=False),
        build_norm(norm_cfg, cout)[1],
    ]
    return nn.Sequential(*layers, nn.ReLU(inplace=True)) if relu else nn.Sequential(*layers)


class HRModule(nn.Module):
    """Per-branch blocks, then every output branch ``i`` = relu(sum over branches ``j`` of fuse_layers[i][j]).

    From a lower-resolution branch (``j > i``) the 1x1 conv's output is upsampled by 2**(j-i) and then
    resized to branch ``i``'s size, two bilinear steps as MMSegmentation takes them (they differ at odd sizes)."""

    init_cfg = None  # a BaseModule in MMSegmentation: the init walk enters it

    def __init__(
        self,
        block: type,
        num_blocks: Sequence[int],
        in_channels: list[int],
        num_channels: Sequence[int],
        multiscale_output: bool,
        with_cp: bool,
        norm_cfg: dict | None,
    ) -> None:
        super().__init__()
        self.num_branches = len(num_channels)
        self.branches = nn.ModuleList(
            _make_layer(block, in_channels[i], num_channels[i], num_blocks[i], norm_cfg, with_cp)
            for i in range(self.num_branches)
        )
        self.out_channels = [c * block.expansion for c in num_channels]
        self.fuse_layers = self._make_fuse_layers(multiscale_output, norm_cfg) if self.num_branches > 1 else None
        self.relu = nn.ReLU(inplace=False)

    def _make_fuse_layers(self, multiscale_output: bool, norm_cfg: dict | None) -> nn.ModuleList:
        channels = self.out_channels
        fuse_layers = nn.ModuleList()
        for i in range(self.num_branches if multiscale_output else 1):
            row = nn.ModuleList()
            for j in range(self.num_branches):
                if j > i:
                    row.append(_conv_bn(channels[j], channels[i], 1, 1, norm_cfg, relu=False))
                elif j == i:
                    row.append(None)
                else:  # i - j strided 3x3 convs: the last one changes the width, the others keep it (with a ReLU)
                    steps = [_conv_bn(channels[j], channels[j], 3, 2, norm_cfg, relu=True) for _ in range(i - j - 1)]
                    row.append(nn.Sequential(*steps, _conv_bn(channels[j], channels[i], 3, 2, norm_cfg, relu=False)))
            fuse_layers.append(row)
        return fuse_layers

    def forward(self, x: list[torch.Tensor]) -> list[torch.Tensor]:
        x = [branch(feat) for branch, feat in zip(self.branches, x)]
        if self.fuse_layers is None:
            return x
        outs = []
        for i, row in enumerate(self.fuse_layers):
            y = 0
            for j, layer in enumerate(row):
                if j == i:
                    y = y + x[j]
                elif j > i:
                    up = layer(x[j])
                    # no int(): it would fix the size of a shape-dynamic export at the example's value
                    scaled = [s * 2 ** (j - i) for s in up.shape[-2:]]
                    up = F.interpolate(up, size=scaled, mode="bilinear", align_corners=False)
                    y = y + resize(up, x[i].shape[2:])
                else:
                    y = y + layer(x[j])
            outs.append(self.relu(y))
        return outs


def _check_extra(extra: Mapping) -> dict[str, dict]:
    """MMSegmentation's asserts on ``extra`` as ConfigErrors naming the key."""
    if not isinstance(extra, Mapping) or any(f"stage{i}" not in extra for i in (1, 2, 3, 4)):
        raise ConfigError(
            "HRNet extra must be a dict with stage1, stage2, stage3 and stage4 (see configs/_base_/models/fcn_hr18.py)"
        )
    stages = {}
    for i in (1, 2, 3, 4):
        cfg = extra[f"stage{i}"]
        where = f"HRNet extra.stage{i}"
        missing = [k for k in STAGE_KEYS if k not in cfg]
        unknown = sorted(set(cfg) - set(STAGE_KEYS))
        if missing or unknown:
            raise ConfigError(
                f"{where} needs exactly the keys {list(STAGE_KEYS)}; missing {missing}, unknown {unknown}"
            )
        if cfg["block"] not in BLOCKS:
            raise ConfigError(f"{where}.block must be 'BASIC' or 'BOTTLENECK', got {cfg['block']!r}")
        n = cfg["num_branches"]
        if len(cfg["num_blocks"]) != n or len(cfg["num_channels"]) != n:
            raise ConfigError(
                f"{where}: num_blocks {tuple(cfg['num_blocks'])} and num_channels {tuple(cfg['num_channels'])} "
                f"need one value per branch (num_branches={n})"
            )
        if cfg["num_modules"] < 1:
            raise ConfigError(f"{where}.num_modules must be at least 1, got {cfg['num_modules']}")
        stages[f"stage{i}"] = dict(cfg)
    if stages["stage1"]["num_branches"] != 1 or stages["stage1"]["num_modules"] != 1:
        raise ConfigError("HRNet extra.stage1 is one ResNet layer: its num_branches and num_modules must be 1")
    return stages


@MODELS.register()
class HRNet(nn.Module):
    """HRNet with MMSegmentation's ``extra`` stage settings; returns one feature map per final branch
    (only the highest-resolution one with ``multiscale_output=False``).

    A transition into an existing branch whose width changes reads that branch (MMSegmentation 1.2.2 reads
    the last branch there, which fails or mixes resolutions; no published config has such a change)."""

    # MMSegmentation 1.2.2 never applies it: its check `not hasattr(self, 'init_cfg')` is always False
    IGNORED_ARGS = {"zero_init_residual": False}

    def __init__(
        self,
        extra: dict,
        in_channels: int = 3,
        conv_cfg: dict | None = None,
        norm_cfg: dict | None = dict(type="BN", requires_grad=True),  # noqa: B006
        norm_eval: bool = False,
        with_cp: bool = False,
        frozen_stages: int = -1,
        zero_init_residual: bool = False,
        multiscale_output: bool = True,
        pretrained: str | None = None,
        init_cfg: dict | list | None = None,
    ) -> None:
        super().__init__()
        if conv_cfg:
            raise ConfigError("HRNet option 'conv_cfg' is not supported by seglab yet; remove it from the config")
        if init_cfg and pretrained:
            raise ConfigError("HRNet: give init_cfg or pretrained, not both (init_cfg=dict(type='Pretrained', ...))")
        if pretrained is not None and not isinstance(pretrained, str):
            raise ConfigError(f"HRNet pretrained must be a checkpoint path or URL, got {pretrained!r}")
        if pretrained:
            self.init_cfg = dict(type="Pretrained", checkpoint=pretrained)
        elif init_cfg is not None:
            self.init_cfg = init_cfg
        else:  # MMSegmentation's default: He-normal convs, unit norms
            self.init_cfg = [
                dict(type="Kaiming", layer="Conv2d"),
                dict(type="Constant", val=1, layer=["_BatchNorm", "GroupNorm"]),
            ]
        stages = _check_extra(extra)
        if frozen_stages > 4:
            raise ConfigError(f"HRNet frozen_stages must be -1 to 4, got {frozen_stages}")
        self.norm_eval = norm_eval
        self.frozen_stages = frozen_stages
        self.conv1 = nn.Conv2d(in_channels, 64, 3, stride=2, padding=1, bias=False)
        self.norm1_name, norm1 = build_norm(norm_cfg, 64, postfix=1)
        self.add_module(self.norm1_name, norm1)
        self.conv2 = nn.Conv2d(64, 64, 3, stride=2, padding=1, bias=False)
        self.norm2_name, norm2 = build_norm(norm_cfg, 64, postfix=2)
        self.add_module(self.norm2_name, norm2)
        self.relu = nn.ReLU(inplace=True)

        stage1 = stages["stage1"]
        block = BLOCKS[stage1["block"]]
        self.layer1 = _make_layer(block, 64, stage1["num_channels"][0], stage1["num_blocks"][0], norm_cfg, with_cp)
        channels = [stage1["num_channels"][0] * block.expansion]
        for i in (2, 3, 4):
            cfg = stages[f"stage{i}"]
            block = BLOCKS[cfg["block"]]
            wanted = [c * block.expansion for c in cfg["num_channels"]]
            self.add_module(f"transition{i - 1}", self._make_transition(channels, wanted, norm_cfg))
            modules = []
            for m in range(cfg["num_modules"]):
                # multiscale_output=False: the last module of stage 4 outputs the highest resolution only
                multiscale = multiscale_output or not (i == 4 and m == cfg["num_modules"] - 1)
                modules.append(
                    HRModule(block, cfg["num_blocks"], wanted, cfg["num_channels"], multiscale, with_cp, norm_cfg)
                )
            stage = nn.Sequential(*modules)
            stage.init_cfg = None  # MMEngine's Sequential: the init walk enters it
            self.add_module(f"stage{i}", stage)
            channels = wanted
        self._freeze_stages()

    @property
    def norm1(self) -> nn.Module:
        return getattr(self, self.norm1_name)

    @property
    def norm2(self) -> nn.Module:
        return getattr(self, self.norm2_name)

    @staticmethod
    def _make_transition(previous: list[int], current: list[int], norm_cfg: dict | None) -> nn.ModuleList:
        """Existing branches: a 3x3 conv where the width changes, else nothing; each new branch: strided
        3x3 convs from the lowest-resolution branch, one per halving."""
        layers = nn.ModuleList()
        for i, cout in enumerate(current):
            if i < len(previous):
                layers.append(_conv_bn(previous[i], cout, 3, 1, norm_cfg, relu=True) if cout != previous[i] else None)
                continue
            steps = i + 1 - len(previous)
            cin = previous[-1]
            layers.append(
                nn.Sequential(
                    *(_conv_bn(cin, cout if k == steps - 1 else cin, 3, 2, norm_cfg, relu=True) for k in range(steps))
                )
            )
        return layers

    def _frozen_modules(self) -> list[nn.Module]:
        if self.frozen_stages < 0:
            return []
        modules = [self.conv1, self.norm1, self.conv2, self.norm2]
        for i in range(1, self.frozen_stages + 1):
            modules.append(self.layer1 if i == 1 else getattr(self, f"stage{i}"))
            modules.append(getattr(self, f"transition{min(i, 3)}"))  # MMSegmentation: stage 4 has none of its own
        return modules

    def _freeze_stages(self) -> None:
        for module in self._frozen_modules():
            module.eval()
            for param in module.parameters():
                param.requires_grad = False

    def train(self, mode: bool = True) -> HRNet:
        super().train(mode)
        self._freeze_stages()
        if mode and self.norm_eval:
            for module in self.modules():
                if isinstance(module, nn.modules.batchnorm._BatchNorm):
                    module.eval()
        return self

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        x = self.relu(self.norm1(self.conv1(x)))
        x = self.relu(self.norm2(self.conv2(x)))
        feats = [self.layer1(x)]
        for i in (1, 2, 3):
            transition = getattr(self, f"transition{i}")
            feats = [
                feats[b] if layer is None else layer(feats[b] if b < len(feats) else feats[-1])
                for b, layer in enumerate(transition)
            ]
            feats = getattr(self, f"stage{i + 1}")(feats)
        return tuple(feats)
