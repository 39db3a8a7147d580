"""What every decode head shares: input selection, the classifier, losses and accuracy."""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import torch
from torch import nn

from seglab.errors import ConfigError
from seglab.models.layers import resize
from seglab.models.losses import accuracy
from seglab.registry import MODELS


class BaseDecodeHead(nn.Module):
    """Selects backbone features (``in_index``), computes features, classifies with ``conv_seg``.

    Loss names in the returned dict are the losses' ``loss_name`` plus ``acc_seg``; the segmentor
    prefixes them (``decode.loss_ce``, ``aux.acc_seg``)."""

    def __init__(
        self,
        in_channels: int | Sequence[int],
        channels: int,
        *,
        num_classes: int,
        out_channels: int | None = None,
        threshold: float | None = None,
        dropout_ratio: float = 0.1,
        conv_cfg: dict | None = None,
        norm_cfg: dict | None = None,
        act_cfg: dict | None = dict(type="ReLU"),  # noqa: B006
        in_index: int | Sequence[int] = -1,
        input_transform: str | None = None,
        loss_decode: dict | Sequence[dict] = dict(type="CrossEntropyLoss", use_sigmoid=False, loss_weight=1.0),  # noqa: B006
        ignore_index: int = 255,
        sampler: dict | None = None,
        align_corners: bool = False,
        init_cfg: dict | None = None,
    ) -> None:
        super().__init__()
        if sampler is not None:
            raise ConfigError("decode head 'sampler' (OHEM pixel sampling) is not supported yet; set sampler=None")
        if out_channels is None:
            out_channels = num_classes
        if out_channels not in (num_classes, 1):
            raise ConfigError(
                f"out_channels={out_channels} must equal num_classes={num_classes}, or be 1 for binary segmentation"
            )
        if out_channels == 1 and threshold is None:
            threshold = 0.3
            warnings.warn("out_channels=1 without threshold: using threshold=0.3", stacklevel=2)
        self.num_classes = num_classes
        self.out_channels = out_channels
        self.threshold = threshold
        self.channels = channels
        self.conv_cfg, self.norm_cfg, self.act_cfg = conv_cfg, norm_cfg, act_cfg
        self.input_transform = input_transform
        self.in_index = in_index
        self.ignore_index = ignore_index
        self.align_corners = align_corners
        if input_transform == "resize_concat":
            self.in_channels = sum(in_channels)
        else:
            self.in_channels = in_channels
        losses = [loss_decode] if isinstance(loss_decode, dict) else list(loss_decode)
        self.loss_decode = nn.ModuleList(MODELS.build(cfg) for cfg in losses)
        self.conv_seg = nn.Conv2d(channels, out_channels, kernel_size=1)
        nn.init.normal_(self.conv_seg.weight, std=0.01)
        nn.init.zeros_(self.conv_seg.bias)
        self.dropout = nn.Dropout2d(dropout_ratio) if dropout_ratio > 0 else None

    def _transform_inputs(self, inputs: Sequence[torch.Tensor]) -> torch.Tensor | list[torch.Tensor]:
        if self.input_transform == "resize_concat":
            picked = [inputs[i] for i in self.in_index]
            size = picked[0].shape[2:]
            return torch.cat([resize(x, size, self.align_corners) for x in picked], dim=1)
        if self.input_transform == "multiple_select":
            return [inputs[i] for i in self.in_index]
        return inputs[self.in_index]

    def cls_seg(self, feat: torch.Tensor) -> torch.Tensor:
        if self.dropout is not None:
            feat = self.dropout(feat)
        return self.conv_seg(feat)

    def loss(self, inputs: Sequence[torch.Tensor], labels: torch.Tensor) -> dict[str, torch.Tensor]:
        """Losses of this head against ``labels`` (N,H,W) at input resolution."""
        logits = resize(self(inputs), labels.shape[-2:], self.align_corners)
        losses: dict[str, torch.Tensor] = {}
        for loss_fn in self.loss_decode:
            value = loss_fn(logits, labels, ignore_index=self.ignore_index)
            losses[loss_fn.loss_name] = losses.get(loss_fn.loss_name, 0) + value
        losses["acc_seg"] = accuracy(logits, labels, self.ignore_index)
        return losses
