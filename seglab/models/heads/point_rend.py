"""PointRend's head: re-predicts the most uncertain points of the previous stage's logits from fine features.

Training picks points by uncertainty-weighted importance sampling (random, so not bitwise MMSegmentation's);
testing upsamples the coarse logits ``subdivision_steps`` times by ``scale_factor`` and replaces the
``subdivision_num_points`` most uncertain values with the head's predictions (deterministic). Points are in
[0, 1] x [0, 1] image coordinates and sampled as MMCV's ``point_sample`` does.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from seglab.errors import ConfigError
from seglab.models.heads.decode_head import BaseCascadeDecodeHead, stack_labels
from seglab.models.layers import build_activation
from seglab.models.layers.point_sample import point_sample
from seglab.models.losses.accuracy import accuracy
from seglab.registry import MODELS

TRAIN_KEYS = ("num_points", "oversample_ratio", "importance_sample_ratio")
TEST_KEYS = ("subdivision_steps", "subdivision_num_points", "scale_factor")


def calculate_uncertainty(seg_logits: torch.Tensor) -> torch.Tensor:
    """(N, 1, ...) minus the margin between the two largest logits: highest where the classes are closest."""
    top2 = torch.topk(seg_logits, k=2, dim=1)[0]
    return (top2[:, 1] - top2[:, 0]).unsqueeze(1)


class PointFC(nn.Module):
    """MMCV's ConvModule with ``conv_cfg=dict(type='Conv1d')`` and no norm: 1x1 Conv1d + activation
    (children ``conv``/``activate``, so the keys are ``fcs.0.conv.weight`` ...); Kaiming fan-out init."""

    def __init__(self, in_channels: int, out_channels: int, act_cfg: dict | None) -> None:
        super().__init__()
        self.conv = nn.Conv1d(in_channels, out_channels, 1)
        self.activate = build_activation(act_cfg, inplace=True)
        leaky = isinstance(self.activate, nn.LeakyReLU)
        slope = self.activate.negative_slope if leaky else 0
        nonlinearity = "leaky_relu" if leaky else "relu"
        nn.init.kaiming_normal_(self.conv.weight, a=slope, mode="fan_out", nonlinearity=nonlinearity)
        nn.init.zeros_(self.conv.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv(x)
        return x if self.activate is None else self.activate(x)


def _settings(cfg: dict | None, keys: tuple[str, ...], where: str) -> list:
    cfg = cfg or {}
    missing = [k for k in keys if k not in cfg]
    if missing:
        raise ConfigError(f"PointHead needs model.{where} to set {', '.join(keys)}; missing {', '.join(missing)}")
    return [cfg[k] for k in keys]


@MODELS.register()
class PointHead(BaseCascadeDecodeHead):
    """``num_fcs`` shared point-wise layers over [fine features, coarse logits] at each point, then ``fc_seg``;
    with ``coarse_pred_each_layer`` the coarse logits are appended again after every layer.
    ``input_transform`` is always 'multiple_select' (``in_channels``/``in_index`` are lists)."""

    uses_conv_seg = False

    def __init__(
        self,
        num_fcs: int = 3,
        coarse_pred_each_layer: bool = True,
        conv_cfg: dict | None = dict(type="Conv1d"),  # noqa: B006 (never mutated)
        norm_cfg: dict | None = None,
        act_cfg: dict | None = dict(type="ReLU", inplace=False),  # noqa: B006
        **kwargs,
    ) -> None:
        for key in ("input_transform", "init_cfg"):
            if key in kwargs:
                raise ConfigError(f"PointHead sets {key} itself (as MMSegmentation's does); remove the key")
        if dict(conv_cfg or {}).get("type") != "Conv1d":
            raise ConfigError(
                f"PointHead conv_cfg must be dict(type='Conv1d') (its layers are point-wise), got {conv_cfg}"
            )
        if norm_cfg is not None:
            raise ConfigError("PointHead norm_cfg must be None: its point-wise layers have no norm in seglab")
        super().__init__(
            input_transform="multiple_select",
            conv_cfg=conv_cfg,
            norm_cfg=norm_cfg,
            act_cfg=act_cfg,
            init_cfg=dict(type="Normal", std=0.01, override=dict(name="fc_seg")),
            **kwargs,
        )
        self.num_fcs = num_fcs
        self.coarse_pred_each_layer = coarse_pred_each_layer
        extra = self.num_classes if coarse_pred_each_layer else 0
        fc_in = sum(self.in_channels) + self.num_classes
        self.fcs = nn.ModuleList()
        for _ in range(num_fcs):
            self.fcs.append(PointFC(fc_in, self.channels, act_cfg))
            fc_in = self.channels + extra
        self.fc_seg = nn.Conv1d(fc_in, self.num_classes, 1)
        if self.dropout is not None:  # point features are (N, C, P): element-wise dropout, not channel-wise
            self.dropout = nn.Dropout(self.dropout.p)

    def cls_seg(self, feat: torch.Tensor) -> torch.Tensor:
        if self.dropout is not None:
            feat = self.dropout(feat)
        return self.fc_seg(feat)

    def forward(self, fine_grained_point_feats: torch.Tensor, coarse_point_feats: torch.Tensor) -> torch.Tensor:
        """(N, num_classes, P) logits from (N, sum(in_channels), P) features and (N, num_classes, P) logits."""
        x = torch.cat([fine_grained_point_feats, coarse_point_feats], dim=1)
        for fc in self.fcs:
            x = fc(x)
            if self.coarse_pred_each_layer:
                x = torch.cat([x, coarse_point_feats], dim=1)
        return self.cls_seg(x)

    def _point_logits(self, inputs, prev_output: torch.Tensor, points: torch.Tensor) -> torch.Tensor:
        fine = [point_sample(x, points, self.align_corners) for x in self._transform_inputs(inputs)]
        coarse = point_sample(prev_output, points, self.align_corners)
        return self.forward(torch.cat(fine, dim=1), coarse)

    # ------------------------------------------------------------------ training
    def loss(
        self,
        inputs: Sequence[torch.Tensor],
        prev_output: torch.Tensor,
        batch_data_samples: list[dict],
        train_cfg: dict | None = None,
    ) -> dict[str, torch.Tensor]:
        with torch.no_grad():
            points = self.get_points_train(prev_output, train_cfg)
        return self.loss_by_feat(self._point_logits(inputs, prev_output, points), points, batch_data_samples)

    def loss_by_feat(self, point_logits: torch.Tensor, points: torch.Tensor, batch_data_samples: list[dict]) -> dict:
        """Losses named ``point<loss_name>`` (``pointloss_ce``) and ``acc_point``, on the labels at the points."""
        labels = stack_labels(batch_data_samples).unsqueeze(1).float()
        point_labels = point_sample(labels, points, self.align_corners, mode="nearest").squeeze(1).long()
        losses = self.named_losses(point_logits, point_labels, prefix="point")
        # accuracy reads (N, C, H, W) logits: the points as a P x 1 image
        losses["acc_point"] = accuracy(point_logits.unsqueeze(3), point_labels.unsqueeze(2), self.ignore_index)
        return losses

    def get_points_train(self, seg_logits: torch.Tensor, cfg: dict | None) -> torch.Tensor:
        """(N, num_points, 2): the most uncertain ``importance_sample_ratio`` of ``oversample_ratio`` times as
        many random points, topped up with uniformly random ones."""
        num_points, oversample_ratio, importance_ratio = _settings(cfg, TRAIN_KEYS, "train_cfg")
        if oversample_ratio < 1 or not 0 <= importance_ratio <= 1:
            raise ConfigError(
                f"PointHead train_cfg needs oversample_ratio >= 1 and 0 <= importance_sample_ratio <= 1, got "
                f"{oversample_ratio} and {importance_ratio}"
            )
        batch = seg_logits.shape[0]
        candidates = torch.rand(batch, int(num_points * oversample_ratio), 2, device=seg_logits.device)
        uncertainty = calculate_uncertainty(point_sample(seg_logits, candidates))[:, 0]
        num_uncertain = int(importance_ratio * num_points)
        idx = torch.topk(uncertainty, k=num_uncertain, dim=1)[1]
        points = torch.gather(candidates, 1, idx.unsqueeze(2).expand(-1, -1, 2))
        if num_points > num_uncertain:
            extra = torch.rand(batch, num_points - num_uncertain, 2, device=seg_logits.device)
            points = torch.cat([points, extra], dim=1)
        return points

    # ------------------------------------------------------------------ inference
    def predict(
        self,
        inputs: Sequence[torch.Tensor],
        prev_output: torch.Tensor,
        batch_img_metas: list[dict],
        test_cfg: dict | None = None,
    ) -> torch.Tensor:
        steps, num_points, scale_factor = _settings(test_cfg, TEST_KEYS, "test_cfg")
        logits = prev_output.clone()
        for _ in range(steps):
            logits = F.interpolate(logits, scale_factor=scale_factor, mode="bilinear", align_corners=self.align_corners)
            n, c, h, w = logits.shape
            indices, points = self.get_points_test(logits, num_points)
            point_logits = self._point_logits(inputs, prev_output, points)
            logits = logits.reshape(n, c, h * w).scatter(2, indices.unsqueeze(1).expand(-1, c, -1), point_logits)
            logits = logits.view(n, c, h, w)
        return self.predict_by_feat(logits, batch_img_metas)

    @staticmethod
    def get_points_test(seg_logits: torch.Tensor, num_points: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Flat indices (N, P) of the ``num_points`` most uncertain pixels and their centres in [0, 1]^2."""
        uncertainty = calculate_uncertainty(seg_logits)
        n, _, h, w = uncertainty.shape
        indices = uncertainty.view(n, h * w).topk(min(h * w, num_points), dim=1)[1]
        w_step, h_step = 1.0 / w, 1.0 / h  # MMSegmentation's arithmetic, for the same float32 coordinates
        x = w_step / 2.0 + (indices % w).float() * w_step
        y = h_step / 2.0 + torch.div(indices, w, rounding_mode="floor").float() * h_step
        return indices, torch.stack([x, y], dim=2)
