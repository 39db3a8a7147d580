"""``MaskClassificationHead``: what the MaskFormer and Mask2Former heads share. Each query predicts a
class (num_classes + 1 for "no object") and a mask; a semantic map is their class-weighted sum.

The base builds the losses and the Hungarian assigner from the config (``train_cfg``), implements the
decode-head protocol (``loss``/``predict``) and turns the last stage's (class, mask) pairs into scores;
a subclass builds its modules and a ``forward`` that returns per-stage lists."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from seglab.errors import ConfigError

from .matched_losses import LOSSES
from .matching import SAMPLERS, HungarianAssigner
from .stage_losses import StageLosses
from .sub_configs import build_part, sub_dict, type_name


class MaskClassificationHead(nn.Module):
    """What MaskFormer and Mask2Former share: the losses from the config, the head protocol, and the
    semantic scores from the last stage's (class, mask) pairs. ``forward`` returns per-stage lists."""

    threshold = None
    stage_losses_type = StageLosses
    TRAIN_KEYS = ("num_points", "oversample_ratio", "importance_sample_ratio", "assigner", "sampler")

    def _build_losses(self, train_cfg, loss_cls, loss_mask, loss_dice) -> StageLosses | None:
        losses = [
            build_part(c, LOSSES, f"decode_head.{n}")
            for c, n in ((loss_cls, "loss_cls"), (loss_mask, "loss_mask"), (loss_dice, "loss_dice"))
        ]
        class_weight = losses[0].class_weight
        if class_weight is not None and len(class_weight) != self.num_classes + 1:
            raise ConfigError(
                f"decode_head.loss_cls.class_weight has {len(class_weight)} entries; it needs num_classes + 1 = "
                f"{self.num_classes + 1} (the last for 'no object')"
            )
        if not train_cfg:
            return None  # MMDetection builds no assigner either: such a head predicts but cannot train
        cfg = sub_dict(train_cfg, "decode_head.train_cfg")
        unknown = sorted(set(cfg) - set(self.TRAIN_KEYS))
        if unknown:
            raise ConfigError(f"decode_head.train_cfg got unknown key(s) {unknown}; it takes {list(self.TRAIN_KEYS)}")
        assigner = build_part(
            cfg.get("assigner"), {"HungarianAssigner": HungarianAssigner}, "decode_head.train_cfg.assigner"
        )
        sampler = cfg.get("sampler", dict(type="MaskPseudoSampler"))
        if type_name(sampler, "decode_head.train_cfg.sampler") not in SAMPLERS:
            raise ConfigError(f"decode_head.train_cfg.sampler must be MaskPseudoSampler, got {sampler.get('type')!r}")
        return self.stage_losses_type(
            self.num_classes,
            assigner,
            *losses,
            cfg.get("num_points", 12544),
            cfg.get("oversample_ratio", 3.0),
            cfg.get("importance_sample_ratio", 0.75),
        )

    def loss(self, inputs, batch_data_samples: list[dict], train_cfg: dict | None = None) -> dict:
        return self.loss_by_feat(self.forward(inputs), batch_data_samples)

    def predict(self, inputs, batch_img_metas: list[dict], test_cfg: dict | None = None) -> torch.Tensor:
        return self.predict_by_feat(self.forward(inputs), batch_img_metas)

    def loss_by_feat(self, outputs: tuple, batch_data_samples: list[dict]) -> dict[str, torch.Tensor]:
        if self.stage_losses is None:
            raise ConfigError(
                f"decode_head ({type(self).__name__}) has no train_cfg: training needs train_cfg=dict("
                "assigner=dict(type='mmdet.HungarianAssigner', match_costs=[...]), ...)"
            )
        return self.stage_losses(*outputs, batch_data_samples, self.ignore_index)

    def predict_by_feat(self, outputs: tuple, batch_img_metas: list[dict]) -> torch.Tensor:
        """(B, num_classes, H, W) scores at the padded size: class probabilities (without "no object")
        times mask probabilities, summed over queries."""
        cls_preds, mask_preds = outputs
        meta = batch_img_metas[0]
        size = tuple(meta.get("pad_shape") or meta["img_shape"])[:2]
        masks = F.interpolate(mask_preds[-1], size=size, mode="bilinear", align_corners=False).sigmoid()
        scores = F.softmax(cls_preds[-1], dim=-1)[..., :-1]
        return torch.einsum("bqc,bqhw->bchw", scores, masks)
