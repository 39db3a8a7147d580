"""DDRHead: DDRNet's main head and its stage-3 auxiliary head (MMSegmentation's ``DDRHead``, same keys).

In training it classifies DDRNet's output (``loss_context``, ``loss_decode[0]``) and its stage-3 spatial
map (``loss_spatial``, ``loss_decode[1]``; the published configs weigh it 0.4); in eval only the main head runs.
"""

from __future__ import annotations

import torch
from torch import nn

from seglab.models.heads.decode_head import BaseDecodeHead, stack_labels
from seglab.models.heads.pid_head import check_losses, kaiming_init, training_inputs
from seglab.models.layers import ConvModule, build_activation, build_norm, resize
from seglab.models.losses.accuracy import accuracy
from seglab.registry import MODELS

BN = dict(type="BN")
RELU = dict(type="ReLU", inplace=True)


@MODELS.register()
class DDRHead(BaseDecodeHead):
    """``in_channels`` is the output's width (DDRNet's ``channels * 4``); the stage-3 map has half."""

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
        check_losses(self, ("loss_context", "loss_spatial"))
        self.init_cfg = None  # MMSegmentation's init_weights replaces it (see pid_head.kaiming_init)
        self.head = self._make_base_head(self.in_channels, self.channels)
        self.aux_head = self._make_base_head(self.in_channels // 2, self.channels)
        self.aux_cls_seg = nn.Conv2d(self.channels, self.out_channels, kernel_size=1)

    def _make_base_head(self, in_channels: int, channels: int) -> nn.Sequential:
        """Pre-activation 3x3 conv, then norm + activation."""
        conv = ConvModule(
            in_channels,
            channels,
            3,
            padding=1,
            norm_cfg=self.norm_cfg,
            act_cfg=self.act_cfg,
            order=("norm", "act", "conv"),
        )
        return nn.Sequential(conv, build_norm(self.norm_cfg, channels)[1], build_activation(self.act_cfg))

    def init_weights(self) -> None:
        kaiming_init(self)

    def forward(self, inputs) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """Training: ``(stage-3 map, output)`` -> ``(main logits, auxiliary logits)``. Eval: the output -> logits."""
        if self.training:
            c3_feat, c5_feat = training_inputs(self, inputs, 2, "DDRNet")
            return self.cls_seg(self.head(c5_feat)), self.aux_cls_seg(self.aux_head(c3_feat))
        x = inputs if isinstance(inputs, torch.Tensor) else inputs[-1]
        return self.cls_seg(self.head(x))

    def predict(self, inputs, batch_img_metas: list[dict], test_cfg: dict | None = None) -> torch.Tensor:
        logits = self.forward(inputs)
        return self.predict_by_feat(logits[0] if isinstance(logits, tuple) else logits, batch_img_metas)

    def loss_by_feat(self, seg_logits, batch_data_samples: list[dict]) -> dict[str, torch.Tensor]:
        label = stack_labels(batch_data_samples)
        context_logit, spatial_logit = (resize(x, label.shape[-2:], self.align_corners) for x in seg_logits)
        context_loss, spatial_loss = self.loss_decode
        return {
            "loss_context": context_loss(context_logit, label, ignore_index=self.ignore_index),
            "loss_spatial": spatial_loss(spatial_logit, label, ignore_index=self.ignore_index),
            "acc_seg": accuracy(context_logit, label, self.ignore_index),
        }
