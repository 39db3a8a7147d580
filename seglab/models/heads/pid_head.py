"""PIDHead: PIDNet's three heads and four losses (MMSegmentation's ``PIDHead``, same names and keys).

In training it classifies PIDNet's P, fused and D maps: ``loss_decode`` must list four losses, applied as
MMSegmentation applies them — [0] semantic loss on the P logits (``loss_sem_p``), [1] on the main logits
(``loss_sem_i``), [2] boundary loss on the one-channel D logits against ``gt_edge_map`` (``loss_bd``),
[3] semantic loss on the main logits at pixels the D head calls boundary (sigmoid > 0.8;
``loss_sem_bd``). In eval only the main head runs.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from seglab.errors import ConfigError
from seglab.models.heads.decode_head import BaseDecodeHead, stack_labels
from seglab.models.layers import ConvModule, build_activation, build_norm, resize
from seglab.models.losses.accuracy import accuracy
from seglab.registry import MODELS

BN = dict(type="BN")
RELU = dict(type="ReLU", inplace=True)
BOUNDARY_CONFIDENCE = 0.8


class BasePIDHead(nn.Module):
    """Pre-activation 3x3 conv, then norm + activation, then an optional classifier."""

    def __init__(
        self,
        in_channels: int,
        channels: int,
        norm_cfg: dict | None = BN,
        act_cfg: dict | None = RELU,
        init_cfg: dict | list | None = None,
    ) -> None:
        super().__init__()
        self.init_cfg = init_cfg
        self.conv = ConvModule(
            in_channels, channels, 3, padding=1, norm_cfg=norm_cfg, act_cfg=act_cfg, order=("norm", "act", "conv")
        )
        self.norm = build_norm(norm_cfg, channels)[1]
        self.act = build_activation(act_cfg)

    def forward(self, x: torch.Tensor, cls_seg: nn.Module | None) -> torch.Tensor:
        x = self.act(self.norm(self.conv(x)))
        return cls_seg(x) if cls_seg is not None else x


def kaiming_init(module: nn.Module) -> None:
    """MMSegmentation's PIDHead/DDRHead ``init_weights``: Kaiming fan-out conv weights (biases keep torch's
    default), unit BatchNorm. It replaces MMEngine's, so the head's ``init_cfg`` is never applied."""
    for m in module.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.constant_(m.weight, 1)
            nn.init.constant_(m.bias, 0)


def check_losses(head: BaseDecodeHead, names: Sequence[str]) -> None:
    if len(head.loss_decode) != len(names):
        raise ConfigError(
            f"{type(head).__name__} needs loss_decode as a list of {len(names)} losses ({', '.join(names)}), "
            f"got {len(head.loss_decode)}"
        )


def training_inputs(head: BaseDecodeHead, inputs, count: int, backbone: str) -> Sequence[torch.Tensor]:
    if isinstance(inputs, torch.Tensor) or len(inputs) != count:
        raise ConfigError(
            f"{type(head).__name__} takes the {count} feature maps {backbone} returns in training, "
            f"got {1 if isinstance(inputs, torch.Tensor) else len(inputs)}; use it with the {backbone} backbone"
        )
    return inputs


@MODELS.register()
class PIDHead(BaseDecodeHead):
    """``in_channels`` is the fused map's width (PIDNet's ``channels * 4``); the P and D maps have half."""

    def __init__(
        self,
        in_channels: int,
        channels: int,
        num_classes: int,
        norm_cfg: dict | None = BN,
        act_cfg: dict | None = RELU,
        **kwargs,
    ) -> None:
        super().__init__(in_channels, channels, num_classes=num_classes, norm_cfg=norm_cfg, act_cfg=act_cfg, **kwargs)
        check_losses(self, ("loss_sem_p", "loss_sem_i", "loss_bd", "loss_sem_bd"))
        self.init_cfg = None  # see kaiming_init
        self.i_head = BasePIDHead(in_channels, channels, norm_cfg, act_cfg)
        self.p_head = BasePIDHead(in_channels // 2, channels, norm_cfg, act_cfg)
        self.d_head = BasePIDHead(in_channels // 2, in_channels // 4, norm_cfg)
        self.p_cls_seg = nn.Conv2d(channels, self.out_channels, kernel_size=1)
        self.d_cls_seg = nn.Conv2d(in_channels // 4, 1, kernel_size=1)

    def init_weights(self) -> None:
        kaiming_init(self)

    def forward(self, inputs) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Training: ``(p, fused, d)`` maps -> their logits. Eval: the fused map (or the triple's middle) -> logits."""
        if self.training:
            x_p, x_i, x_d = training_inputs(self, inputs, 3, "PIDNet")
            return self.p_head(x_p, self.p_cls_seg), self.i_head(x_i, self.cls_seg), self.d_head(x_d, self.d_cls_seg)
        x = inputs if isinstance(inputs, torch.Tensor) else inputs[1]
        return self.i_head(x, self.cls_seg)

    def predict(self, inputs, batch_img_metas: list[dict], test_cfg: dict | None = None) -> torch.Tensor:
        logits = self.forward(inputs)
        return self.predict_by_feat(logits[1] if isinstance(logits, tuple) else logits, batch_img_metas)

    def loss_by_feat(self, seg_logits, batch_data_samples: list[dict]) -> dict[str, torch.Tensor]:
        p_logit, i_logit, d_logit = seg_logits
        sem_label = stack_labels(batch_data_samples)
        if any("gt_edge_map" not in s for s in batch_data_samples):
            raise ConfigError(
                "PIDHead needs gt_edge_map in every training sample: add dict(type='GenerateEdge', edge_width=4) "
                "to the train pipeline before PackSegInputs"
            )
        bd_label = torch.stack([s["gt_edge_map"] for s in batch_data_samples])[:, 0].to(sem_label.device).long()
        p_logit = resize(p_logit, sem_label.shape[-2:], self.align_corners)
        i_logit = resize(i_logit, sem_label.shape[-2:], self.align_corners)
        d_logit = resize(d_logit, bd_label.shape[-2:], self.align_corners)
        sem_loss, sem_i_loss, bd_loss, sem_bd_loss = self.loss_decode
        ignore = self.ignore_index
        boundary = torch.sigmoid(d_logit[:, 0]) > BOUNDARY_CONFIDENCE
        sem_bd_label = torch.where(boundary, sem_label, torch.full_like(sem_label, ignore))
        return {
            "loss_sem_p": sem_loss(p_logit, sem_label, ignore_index=ignore),
            "loss_sem_i": sem_i_loss(i_logit, sem_label, ignore_index=ignore),
            "loss_bd": bd_loss(d_logit, bd_label, ignore_index=ignore),
            "loss_sem_bd": sem_bd_loss(i_logit, sem_bd_label, ignore_index=ignore),
            "acc_seg": accuracy(i_logit, sem_label, ignore),
        }
