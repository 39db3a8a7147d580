"""The head protocol every segmentor relies on, and the base of per-pixel-logit heads.

Protocol (MMSegmentation 1.x's own terms), what a segmentor may call or read on a head:
- ``forward(inputs)``: the head's raw output from backbone/neck features;
- ``loss(inputs, batch_data_samples, train_cfg) -> dict``: named losses (``loss_ce``, ``acc_seg`` ...),
  built on ``loss_by_feat(forward(inputs), batch_data_samples)``;
- ``predict(inputs, batch_img_metas, test_cfg) -> Tensor``: (N, out_channels, H, W) logits at the
  batch's padded size, built on ``predict_by_feat(forward(inputs), batch_img_metas)``;
- attributes ``num_classes``, ``out_channels``, ``threshold``, ``ignore_index``, ``align_corners``.
A head whose output is not dense logits (query-based mask classification) overrides
``loss_by_feat``/``predict_by_feat`` only, and sets ``uses_conv_seg = False`` to skip the classifier.
Cascade stages (OCR, PointRend) subclass ``BaseCascadeDecodeHead``: every call also takes the
previous stage's output.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import torch
from torch import nn

from seglab.errors import ConfigError
from seglab.models.layers import resize
from seglab.models.losses.accuracy import accuracy
from seglab.models.samplers import build_pixel_sampler
from seglab.registry import MODELS

DEFAULT_INIT = dict(type="Normal", std=0.01, override=dict(name="conv_seg"))
INPUT_TRANSFORMS = (None, "resize_concat", "multiple_select")


class BaseDecodeHead(nn.Module):
    """Selects features (``in_index``/``input_transform``), runs the subclass's ``forward``, and
    classifies with ``cls_seg`` (dropout + 1x1 ``conv_seg``); losses from ``loss_decode``."""

    uses_conv_seg = True

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
        init_cfg: dict | list | None = DEFAULT_INIT,  # noqa: B006 (never mutated)
    ) -> None:
        super().__init__()
        if out_channels is None:
            out_channels = num_classes
        if out_channels not in (num_classes, 1):
            raise ConfigError(
                f"out_channels={out_channels} must equal num_classes={num_classes}, or be 1 for binary segmentation"
            )
        if out_channels == 1 and threshold is None:
            threshold = 0.3
            warnings.warn("out_channels=1 without threshold: using threshold=0.3", stacklevel=2)
        if input_transform not in INPUT_TRANSFORMS:
            raise ConfigError(f"input_transform must be one of {INPUT_TRANSFORMS}, got '{input_transform}'")
        if input_transform is not None and not (
            isinstance(in_channels, Sequence) and isinstance(in_index, Sequence) and len(in_channels) == len(in_index)
        ):
            raise ConfigError(
                f"input_transform='{input_transform}' needs in_channels and in_index as lists of the same length"
            )
        self.num_classes = num_classes
        self.out_channels = out_channels
        self.threshold = threshold
        self.channels = channels
        self.conv_cfg, self.norm_cfg, self.act_cfg = conv_cfg, norm_cfg, act_cfg
        self.input_transform = input_transform
        self.in_index = in_index
        self.ignore_index = ignore_index
        self.align_corners = align_corners
        self.in_channels = sum(in_channels) if input_transform == "resize_concat" else in_channels
        self.init_cfg = init_cfg
        losses = [loss_decode] if isinstance(loss_decode, dict) else list(loss_decode)
        self.loss_decode = nn.ModuleList(MODELS.build(cfg) for cfg in losses)
        self.sampler = build_pixel_sampler(sampler, context=self) if sampler is not None else None
        if self.uses_conv_seg:
            # initialised by init_cfg (Normal std 0.01 by default) when the model's init walk reaches the head
            self.conv_seg = nn.Conv2d(channels, out_channels, kernel_size=1)
        self.dropout = nn.Dropout2d(dropout_ratio) if dropout_ratio > 0 else None

    # ------------------------------------------------------------------ features in, logits out
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

    def forward(self, inputs: Sequence[torch.Tensor]) -> torch.Tensor:
        raise NotImplementedError(f"{type(self).__name__} must implement forward(inputs)")

    # ------------------------------------------------------------------ the protocol
    def loss(
        self, inputs: Sequence[torch.Tensor], batch_data_samples: list[dict], train_cfg: dict | None = None
    ) -> dict[str, torch.Tensor]:
        return self.loss_by_feat(self.forward(inputs), batch_data_samples)

    def predict(
        self, inputs: Sequence[torch.Tensor], batch_img_metas: list[dict], test_cfg: dict | None = None
    ) -> torch.Tensor:
        return self.predict_by_feat(self.forward(inputs), batch_img_metas)

    def loss_by_feat(self, seg_logits: torch.Tensor, batch_data_samples: list[dict]) -> dict[str, torch.Tensor]:
        """Per-pixel losses and ``acc_seg`` against the labels, with logits resized to the label size."""
        labels = stack_labels(batch_data_samples)
        seg_logits = resize(seg_logits, labels.shape[-2:], self.align_corners)
        seg_weight = self.sampler.sample(seg_logits, labels) if self.sampler is not None else None
        losses = self.named_losses(seg_logits, labels, weight=seg_weight)
        losses["acc_seg"] = accuracy(seg_logits, labels, self.ignore_index, self.threshold)
        return losses

    def named_losses(
        self, logits: torch.Tensor, labels: torch.Tensor, weight: torch.Tensor | None = None, prefix: str = ""
    ) -> dict[str, torch.Tensor]:
        """Each ``loss_decode`` entry under ``prefix + loss_name``; entries sharing a name add up."""
        losses: dict[str, torch.Tensor] = {}
        for loss_fn in self.loss_decode:
            name = prefix + loss_fn.loss_name
            value = loss_fn(logits, labels, weight=weight, ignore_index=self.ignore_index)
            losses[name] = losses[name] + value if name in losses else value
        return losses

    def predict_by_feat(self, seg_logits: torch.Tensor, batch_img_metas: list[dict]) -> torch.Tensor:
        """Logits resized to the batch's padded size (``pad_shape``, else ``img_shape``)."""
        meta = batch_img_metas[0]
        size = meta.get("pad_shape") or meta.get("img_shape")
        return resize(seg_logits, tuple(size)[:2], self.align_corners)


class BaseCascadeDecodeHead(BaseDecodeHead):
    """A later stage of ``CascadeEncoderDecoder``: refines the previous stage's output."""

    def forward(self, inputs: Sequence[torch.Tensor], prev_output: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError(f"{type(self).__name__} must implement forward(inputs, prev_output)")

    def loss(
        self,
        inputs: Sequence[torch.Tensor],
        prev_output: torch.Tensor,
        batch_data_samples: list[dict],
        train_cfg: dict | None = None,
    ) -> dict[str, torch.Tensor]:
        return self.loss_by_feat(self.forward(inputs, prev_output), batch_data_samples)

    def predict(
        self,
        inputs: Sequence[torch.Tensor],
        prev_output: torch.Tensor,
        batch_img_metas: list[dict],
        test_cfg: dict | None = None,
    ) -> torch.Tensor:
        return self.predict_by_feat(self.forward(inputs, prev_output), batch_img_metas)


def stack_labels(batch_data_samples: list[dict]) -> torch.Tensor:
    """(N,H,W) long labels from the samples' ``gt_sem_seg`` (1,H,W)."""
    return torch.stack([s["gt_sem_seg"] for s in batch_data_samples])[:, 0].long()
