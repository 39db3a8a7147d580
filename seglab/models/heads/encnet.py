"""EncNet's head (``EncHead``): context encoding with an optional semantic-encoding (SE) loss."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from seglab.errors import ConfigError
from seglab.models.heads.decode_head import BaseDecodeHead, stack_labels
from seglab.models.layers import ConvModule, build_norm, resize
from seglab.models.layers.encoding import Encoding
from seglab.registry import MODELS

SE_LOSS = dict(type="CrossEntropyLoss", use_sigmoid=True, loss_weight=0.2)


def encoding_norm(norm_cfg: dict | None, channels: int) -> nn.Module:
    """The norm after the Encoding layer, on (N, num_codes, C): MMSegmentation's 2d -> 1d renaming
    (BN -> BN1d, IN -> IN1d, BN2d -> BN1d; BN1d without a norm_cfg). SyncBN, which MMCV builds as torch's
    any-dimension SyncBatchNorm, is a BatchNorm1d here, synchronised under DDP like every SyncBN."""
    cfg = dict(norm_cfg) if norm_cfg is not None else dict(type="BN1d")
    norm_type = cfg.get("type")
    if norm_type in ("BN", "IN"):
        cfg["type"] = norm_type + "1d"
    elif norm_type == "SyncBN":
        cfg["type"] = "BN1d"
    elif isinstance(norm_type, str):
        cfg["type"] = norm_type.replace("2d", "1d")
    layer = build_norm(cfg, channels)[1]
    if norm_type == "SyncBN":
        layer._seglab_sync = True
    return layer


class EncModule(nn.Module):
    """Encodes the features into ``num_codes`` residual codes (``encoding``: Encoding, 1d norm, ReLU), averages
    them into one context vector, and rescales the channels by its sigmoid gate (``fc``): x + x * gamma."""

    def __init__(
        self, in_channels: int, num_codes: int, conv_cfg: dict | None, norm_cfg: dict | None, act_cfg: dict | None
    ) -> None:
        super().__init__()
        self.encoding_project = ConvModule(
            in_channels, in_channels, 1, conv_cfg=conv_cfg, norm_cfg=norm_cfg, act_cfg=act_cfg
        )
        self.encoding = nn.Sequential(
            Encoding(in_channels, num_codes), encoding_norm(norm_cfg, num_codes), nn.ReLU(inplace=True)
        )
        self.fc = nn.Sequential(nn.Linear(in_channels, in_channels), nn.Sigmoid())

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        encoded = self.encoding(self.encoding_project(x)).mean(dim=1)  # (N, C)
        gamma = self.fc(encoded).view(x.shape[0], x.shape[1], 1, 1)
        return encoded, F.relu(x + x * gamma)


@MODELS.register()
class EncHead(BaseDecodeHead):
    """``bottleneck`` on the last selected level (optionally fused with 1x1 ``lateral_convs`` of the others by
    ``fusion``), ``enc_module``, classifier. With ``use_se_loss`` the head also predicts which classes an image
    contains (``se_layer`` on the context vector), trained by ``loss_se_decode`` and reported as ``loss_se``;
    ``forward`` then returns (logits, se_logits) and ``predict`` uses the logits only."""

    def __init__(
        self,
        num_codes: int = 32,
        use_se_loss: bool = True,
        add_lateral: bool = False,
        loss_se_decode: dict = SE_LOSS,  # never mutated
        **kwargs,
    ) -> None:
        transform = kwargs.pop("input_transform", "multiple_select")
        if transform != "multiple_select":
            raise ConfigError(
                f"EncHead always uses input_transform='multiple_select'; remove input_transform={transform!r}"
            )
        super().__init__(input_transform="multiple_select", **kwargs)
        self.use_se_loss, self.add_lateral, self.num_codes = use_se_loss, add_lateral, num_codes
        conv_args = dict(conv_cfg=self.conv_cfg, norm_cfg=self.norm_cfg, act_cfg=self.act_cfg)
        self.bottleneck = ConvModule(self.in_channels[-1], self.channels, 3, padding=1, **conv_args)
        if add_lateral:
            self.lateral_convs = nn.ModuleList(
                ConvModule(c, self.channels, 1, **conv_args) for c in self.in_channels[:-1]
            )
            self.fusion = ConvModule(len(self.in_channels) * self.channels, self.channels, 3, padding=1, **conv_args)
        self.enc_module = EncModule(self.channels, num_codes, self.conv_cfg, self.norm_cfg, self.act_cfg)
        if use_se_loss:
            self.loss_se_decode = MODELS.build(loss_se_decode)
            self.se_layer = nn.Linear(self.channels, self.num_classes)

    def forward(self, inputs: Sequence[torch.Tensor]) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        feats = self._transform_inputs(inputs)
        feat = self.bottleneck(feats[-1])
        if self.add_lateral:
            laterals = [
                resize(conv(x), feat.shape[2:], self.align_corners) for conv, x in zip(self.lateral_convs, feats)
            ]
            feat = self.fusion(torch.cat([feat, *laterals], dim=1))
        encoded, out = self.enc_module(feat)
        logits = self.cls_seg(out)
        return (logits, self.se_layer(encoded)) if self.use_se_loss else logits

    def predict(self, inputs: Sequence[torch.Tensor], batch_img_metas: list[dict], test_cfg: dict | None = None):
        out = self.forward(inputs)
        return self.predict_by_feat(out[0] if self.use_se_loss else out, batch_img_metas)

    def loss_by_feat(self, seg_logits, batch_data_samples: list[dict]) -> dict[str, torch.Tensor]:
        if not self.use_se_loss:
            return super().loss_by_feat(seg_logits, batch_data_samples)
        seg_logits, se_logits = seg_logits
        losses = super().loss_by_feat(seg_logits, batch_data_samples)
        present = class_presence(stack_labels(batch_data_samples), self.num_classes)  # (N, num_classes)
        # the presence vector as a one-channel 1 x num_classes "image" whose foreground (label 1) pixels are
        # the present classes: a sigmoid CrossEntropyLoss then computes MMSegmentation's multi-label BCE
        # (mean over images and classes, class_weight as per-class pos_weight)
        n = se_logits.shape[0]
        losses["loss_se"] = self.loss_se_decode(
            se_logits.view(n, 1, 1, self.num_classes), present.view(n, 1, self.num_classes), ignore_index=255
        )
        return losses


def class_presence(labels: torch.Tensor, num_classes: int) -> torch.Tensor:
    """(N, num_classes) long 0/1: which classes each image's (N, H, W) labels contain, ignored values left
    out (MMSegmentation's per-image histogram over 0 .. num_classes - 1)."""
    flat = labels.reshape(labels.shape[0], -1)
    valid = (flat >= 0) & (flat < num_classes)
    present = torch.zeros(flat.shape[0], num_classes + 1, dtype=torch.long, device=labels.device)
    present.scatter_(1, torch.where(valid, flat, num_classes), 1)  # out-of-range values go to a spare column
    return present[:, :num_classes]
