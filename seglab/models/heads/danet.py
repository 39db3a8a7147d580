"""DANet's head: position attention (PAM) and channel attention (CAM) branches, each classified on its
own and, summed, by ``conv_seg`` (MMSegmentation's DAHead).

Training supervises all three outputs: the losses are named ``pam_cam.<loss>``, ``pam.<loss>`` and
``cam.<loss>`` (with their ``acc_seg``), as MMSegmentation names them; prediction uses ``pam_cam`` only.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from seglab.models.heads.decode_head import BaseDecodeHead
from seglab.models.layers import ConvModule
from seglab.models.layers.scale import Scale
from seglab.models.layers.self_attention import SelfAttentionBlock
from seglab.registry import MODELS

OUTPUT_NAMES = ("pam_cam", "pam", "cam")


class PAM(SelfAttentionBlock):
    """Attention over positions: plain 1x1 key/query projections to ``channels``, the value at full width,
    the context scaled by ``gamma`` (0 at first) and added to the input."""

    def __init__(self, in_channels: int, channels: int) -> None:
        super().__init__(
            key_in_channels=in_channels,
            query_in_channels=in_channels,
            channels=channels,
            out_channels=in_channels,
            share_key_query=False,
            query_downsample=None,
            key_downsample=None,
            key_query_num_convs=1,
            value_out_num_convs=1,
            key_query_norm=False,
            value_out_norm=False,
            matmul_norm=False,
            with_out=False,
            conv_cfg=None,
            norm_cfg=None,
            act_cfg=None,
        )
        self.gamma = Scale(0.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        return self.gamma(super().forward(x, x)) + x


class CAM(nn.Module):
    """Attention over channels: softmax of (row max - channel affinity), scaled by ``gamma``, plus input."""

    def __init__(self) -> None:
        super().__init__()
        self.gamma = Scale(0.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        flat = x.flatten(2)  # N, C, HW
        energy = torch.bmm(flat, flat.transpose(1, 2))
        attention = (energy.amax(dim=-1, keepdim=True) - energy).softmax(dim=-1)
        return self.gamma(torch.bmm(attention, flat).reshape(x.shape)) + x


@MODELS.register()
class DAHead(BaseDecodeHead):
    """Both branches: 3x3 ``*_in_conv``, the attention, 3x3 ``*_out_conv``; ``pam_conv_seg`` and
    ``cam_conv_seg`` classify each branch (PyTorch's default init), ``conv_seg`` their sum."""

    def __init__(self, pam_channels: int, **kwargs) -> None:
        super().__init__(**kwargs)
        self.pam_channels = pam_channels
        conv_args = dict(padding=1, conv_cfg=self.conv_cfg, norm_cfg=self.norm_cfg, act_cfg=self.act_cfg)
        self.pam_in_conv = ConvModule(self.in_channels, self.channels, 3, **conv_args)
        self.pam = PAM(self.channels, pam_channels)
        self.pam_out_conv = ConvModule(self.channels, self.channels, 3, **conv_args)
        self.pam_conv_seg = nn.Conv2d(self.channels, self.num_classes, kernel_size=1)
        self.cam_in_conv = ConvModule(self.in_channels, self.channels, 3, **conv_args)
        self.cam = CAM()
        self.cam_out_conv = ConvModule(self.channels, self.channels, 3, **conv_args)
        self.cam_conv_seg = nn.Conv2d(self.channels, self.num_classes, kernel_size=1)

    def _classify(self, conv: nn.Conv2d, feats: torch.Tensor) -> torch.Tensor:
        return conv(self.dropout(feats) if self.dropout is not None else feats)

    def forward(self, inputs: Sequence[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(pam_cam, pam, cam) logits."""
        x = self._transform_inputs(inputs)
        pam_feats = self.pam_out_conv(self.pam(self.pam_in_conv(x)))
        cam_feats = self.cam_out_conv(self.cam(self.cam_in_conv(x)))
        pam_out = self._classify(self.pam_conv_seg, pam_feats)
        cam_out = self._classify(self.cam_conv_seg, cam_feats)
        return self.cls_seg(pam_feats + cam_feats), pam_out, cam_out

    def predict(
        self, inputs: Sequence[torch.Tensor], batch_img_metas: list[dict], test_cfg: dict | None = None
    ) -> torch.Tensor:
        return self.predict_by_feat(self.forward(inputs)[0], batch_img_metas)

    def loss_by_feat(self, seg_logits: Sequence[torch.Tensor], batch_data_samples: list[dict]) -> dict:
        losses = {}
        for name, logits in zip(OUTPUT_NAMES, seg_logits, strict=True):
            for key, value in super().loss_by_feat(logits, batch_data_samples).items():
                losses[f"{name}.{key}"] = value
        return losses
