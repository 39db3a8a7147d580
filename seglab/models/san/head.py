"""``SideAdapterCLIPHead``: SAN's decode head. Inputs are (image, CLIP features, class embeddings); the
side adapter proposes masks and attention biases, the recognition layers turn each proposal into a CLIP
embedding, and its dot products with the class embeddings (num_classes + background) are the class
logits. Training matches proposals to the image's classes (Hungarian, on points) at the last layer and at
``deep_supervision_idxs`` (losses ``d{idx}.loss_*``), as MMSegmentation does."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from seglab.errors import ConfigError
from seglab.models.mask_classification.matched_losses import MatchedCrossEntropyLoss, MatchedDiceLoss
from seglab.models.mask_classification.matching import HungarianAssigner
from seglab.models.mask_classification.sub_configs import build_part, sub_dict
from seglab.registry import MODELS

from .recognition import RecWithAttnbias
from .side_adapter import SideAdapterNetwork
from .training_losses import SANLosses

LOSS_NAMES = {"loss_cls_ce": "CrossEntropyLoss", "loss_mask_ce": "CrossEntropyLoss", "loss_mask_dice": "DiceLoss"}


def build_san_loss(cfg: dict, where: str):
    """One of ``loss_decode``'s entries (MMSegmentation's losses, told apart by ``loss_name``)."""
    cfg = sub_dict(cfg, where)
    name = cfg.pop("loss_name", None)
    if LOSS_NAMES.get(name) != cfg.get("type", "").split(".")[-1]:
        raise ConfigError(f"{where}: SAN takes {LOSS_NAMES} (loss_name: type), got {name!r}: {cfg.get('type')!r}")
    if name == "loss_mask_dice" and cfg.pop("ignore_index", 255) is not None:
        raise ConfigError(f"{where}: loss_mask_dice needs ignore_index=None (it scores point samples, not classes)")
    if name == "loss_cls_ce" and cfg.get("use_sigmoid"):
        raise ConfigError(f"{where}: loss_cls_ce must be a softmax CrossEntropyLoss (use_sigmoid=False)")
    known = {"CrossEntropyLoss": MatchedCrossEntropyLoss, "DiceLoss": MatchedDiceLoss}
    return name, build_part(cfg, known, where)


@MODELS.register()
class SideAdapterCLIPHead(nn.Module):
    """``side_adapter_network`` (learns) and ``rec_with_attnbias`` (CLIP's last layers, frozen)."""

    threshold = None
    IGNORED_ARGS = {"dropout_ratio": 0.1, "in_index": -1, "input_transform": None, "sampler": None}

    def __init__(
        self,
        num_classes: int,
        san_cfg: dict,
        maskgen_cfg: dict,
        deep_supervision_idxs: Sequence[int],
        train_cfg: dict | None = None,
        align_corners: bool = False,
        ignore_index: int = 255,
        loss_decode: dict | Sequence[dict] | None = None,
        dropout_ratio: float = 0.1,
        in_index: int = -1,
        input_transform: str | None = None,
        sampler: dict | None = None,
        init_cfg: dict | None = None,
    ) -> None:
        super().__init__()
        san_cfg, maskgen_cfg = (
            sub_dict(san_cfg, "decode_head.san_cfg"),
            sub_dict(maskgen_cfg, "decode_head.maskgen_cfg"),
        )
        if san_cfg.get("num_queries", 100) != maskgen_cfg.get("sos_token_num", 100):
            raise ConfigError("decode_head: san_cfg.num_queries must equal maskgen_cfg.sos_token_num")
        self.num_classes = self.out_channels = num_classes
        self.align_corners, self.ignore_index, self.init_cfg = align_corners, ignore_index, init_cfg
        self.side_adapter_network = SideAdapterNetwork(**san_cfg)
        self.rec_with_attnbias = RecWithAttnbias(**maskgen_cfg)
        self.deep_supervision_idxs = list(deep_supervision_idxs)
        losses = [loss_decode] if isinstance(loss_decode, dict) else list(loss_decode or [])
        self.losses = dict(build_san_loss(c, f"decode_head.loss_decode[{i}]") for i, c in enumerate(losses))
        self.san_losses = None
        if train_cfg:
            cfg = sub_dict(train_cfg, "decode_head.train_cfg")
            missing = sorted(set(LOSS_NAMES) - set(self.losses))
            if missing:
                raise ConfigError(f"decode_head.loss_decode needs entries with loss_name {missing} to train")
            assigner = build_part(
                cfg.get("assigner"), {"HungarianAssigner": HungarianAssigner}, "decode_head.train_cfg.assigner"
            )
            self.san_losses = SANLosses(
                num_classes, assigner, self.losses["loss_cls_ce"], self.losses["loss_mask_ce"],
                self.losses["loss_mask_dice"], cfg.get("num_points", 12544), cfg.get("oversample_ratio", 3.0),
                cfg.get("importance_sample_ratio", 0.75),
            )  # fmt: skip

    def init_weights(self) -> None:
        self.side_adapter_network.init_weights()

    def forward(self, inputs: Sequence, deep_supervision_idxs: Sequence[int] = ()) -> tuple[list, list]:
        """(mask logits (B, Q, H/p, W/p), class logits (B, Q, num_classes + 1)) per supervised layer."""
        image, clip_features, class_embeds = inputs
        masks, biases = self.side_adapter_network(image, clip_features, deep_supervision_idxs)
        embeds = [self.rec_with_attnbias(bias, clip_features[-1]) for bias in biases]
        return masks, [torch.einsum("bqc,nc->bqn", e, class_embeds) for e in embeds]

    def predict(self, inputs: Sequence, batch_img_metas: list[dict], test_cfg: dict | None = None) -> torch.Tensor:
        masks, logits = self.forward(inputs, [])
        return self.predict_by_feat([masks[-1], logits[-1]], batch_img_metas)

    def predict_by_feat(self, seg_logits: Sequence[torch.Tensor], batch_img_metas: list[dict]) -> torch.Tensor:
        """Background-free class probabilities times mask probabilities, summed over queries."""
        meta = batch_img_metas[0]
        size = tuple(meta.get("pad_shape") or meta["img_shape"])[:2]
        masks = F.interpolate(seg_logits[0], size=size, mode="bilinear", align_corners=False).sigmoid()
        scores = F.softmax(seg_logits[1], dim=-1)[..., :-1]
        return torch.einsum("bqc,bqhw->bchw", scores, masks)

    def loss(self, inputs: Sequence, batch_data_samples: list[dict], train_cfg: dict | None = None) -> dict:
        if self.san_losses is None:
            raise ConfigError(
                "decode_head (SideAdapterCLIPHead) has no train_cfg: training needs train_cfg=dict(assigner=...)"
            )
        weight = self.losses["loss_cls_ce"].class_weight
        if weight is not None and len(weight) != self.num_classes + 1:
            # MMSegmentation's VOC and Pascal-Context SAN configs inherit COCO-Stuff's 172 weights: they build
            # and predict, and fail here (in MMSegmentation too, inside torch)
            raise ConfigError(
                f"decode_head.loss_decode (loss_cls_ce) class_weight has {len(weight)} entries; training needs "
                f"num_classes + 1 = {self.num_classes + 1} (the last for 'no object'): set it, e.g. "
                f"[1.0] * {self.num_classes} + [0.1]"
            )
        masks, logits = self.forward(inputs, self.deep_supervision_idxs)
        return self.san_losses(logits, masks, batch_data_samples, self.ignore_index, self.deep_supervision_idxs)
