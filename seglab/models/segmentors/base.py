"""What every segmentor offers the engine: ``forward(mode=...)``, and the facts the runner,
pre-flight and inference ask for (``num_classes``, ``out_channels``, ``ignore_index``, ``threshold``,
``dataset_meta``) instead of reading the config's layout.

Predictions come back per image as ``{**sample, 'seg_logits': (C,H,W), 'pred_sem_seg': (H,W)}`` at the
original image size, with padding cropped and flips undone.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch
from torch import nn

from seglab.errors import ConfigError
from seglab.models.layers import resize
from seglab.models.prediction import logits_to_labels
from seglab.models.segmentors.val_loss import say_no_val_loss
from seglab.registry import MODELS

FLIP_DIMS = {"horizontal": (3,), "vertical": (2,), "diagonal": (2, 3)}


class BaseSegmentor(nn.Module):
    """Holds the data preprocessor; subclasses define ``loss``, ``encode_decode`` and ``inference``."""

    def __init__(self, data_preprocessor: dict | None = None, init_cfg: dict | list | None = None) -> None:
        super().__init__()
        self.data_preprocessor = MODELS.build(data_preprocessor or dict(type="SegDataPreProcessor"))
        self.init_cfg = init_cfg
        self.dataset_meta: dict | None = None  # classes and palette, set by the runner or init_model

    # ------------------------------------------------------------------ what the engine asks
    def heads(self) -> Iterator[tuple[str, nn.Module]]:
        """(config path, head) of every head that predicts classes, the main one first."""
        raise NotImplementedError

    @property
    def main_head(self) -> nn.Module:
        return next(iter(self.heads()))[1]

    @property
    def num_classes(self) -> int:
        return self.main_head.num_classes

    @property
    def out_channels(self) -> int:
        return self.main_head.out_channels

    @property
    def align_corners(self) -> bool:
        return self.main_head.align_corners

    @property
    def threshold(self) -> float | None:
        return self.main_head.threshold

    @property
    def ignore_index(self) -> int:
        return self.main_head.ignore_index

    def class_names(self) -> tuple[str, ...]:
        classes = (self.dataset_meta or {}).get("classes")
        return tuple(classes) if classes else tuple(str(i) for i in range(self.num_classes))

    def check_heads_agree(self) -> None:
        """Every head predicts the main head's classes; fail at build time naming the odd one out."""
        (main_name, main), *others = list(self.heads())
        for name, head in others:
            # an auxiliary head with its own targets (STDCHead's boundaries) sets predicts_classes = False
            if getattr(head, "predicts_classes", True) and head.num_classes != main.num_classes:
                raise ConfigError(
                    f"{name}.num_classes={head.num_classes} but {main_name}.num_classes={main.num_classes}; "
                    "set both to the number of classes"
                )

    # ------------------------------------------------------------------ entry points
    def forward(self, inputs: torch.Tensor, data_samples: list[dict] | None = None, mode: str = "tensor"):
        """``mode='loss'`` -> dict of losses; ``'predict'`` -> samples with predictions; ``'tensor'`` -> logits."""
        if mode == "loss":
            return self.loss(inputs, data_samples)
        if mode == "predict":
            return self.predict(inputs, data_samples)
        if mode == "tensor":
            return self.encode_decode(inputs)
        raise ValueError(f"unknown forward mode '{mode}'; use 'loss', 'predict' or 'tensor'")

    def loss(self, inputs: torch.Tensor, data_samples: list[dict]) -> dict[str, torch.Tensor]:
        raise NotImplementedError

    def encode_decode(self, inputs: torch.Tensor, batch_img_metas: list[dict] | None = None) -> torch.Tensor:
        raise NotImplementedError

    def inference(self, inputs: torch.Tensor, batch_img_metas: list[dict] | None = None) -> torch.Tensor:
        raise NotImplementedError

    def predict(self, inputs: torch.Tensor, data_samples: list[dict] | None = None) -> list[dict]:
        """Per image: ``seg_logits`` (C,H,W) and ``pred_sem_seg`` (H,W) at the original image size."""
        samples = data_samples or [{} for _ in range(inputs.shape[0])]
        metas = [{**s, "pad_shape": tuple(inputs.shape[2:])} for s in samples]
        logits = self.inference(inputs, metas)
        return [self.postprocess(logits[i : i + 1], s) for i, s in enumerate(samples)]

    def val_step(self, inputs: torch.Tensor, data_samples: list[dict]) -> tuple[list[dict], dict[str, torch.Tensor]]:
        """(predictions as ``predict``, loss terms against ``gt_sem_seg`` from the same forward). This base
        gives no loss terms, and logs that once; ``EncoderDecoder`` gives them (``val_loss.py``)."""
        say_no_val_loss(f"{type(self).__name__} computes its losses only in training")
        return self.predict(inputs, data_samples), {}

    def postprocess(self, logit: torch.Tensor, sample: dict) -> dict:
        h, w = sample.get("img_shape", logit.shape[-2:])
        logit = logit[:, :, :h, :w]
        if sample.get("flip"):
            logit = logit.flip(FLIP_DIMS[sample.get("flip_direction", "horizontal")])
        logit = resize(logit, sample.get("ori_shape", (h, w)), self.align_corners)[0]
        return {**sample, "seg_logits": logit, "pred_sem_seg": logits_to_labels(logit, self.threshold)}


def build_heads(cfg: dict | list | None, name: str) -> nn.Module | nn.ModuleList | None:
    """One head from a dict, a ModuleList from a list, nothing from None (names the key on errors)."""
    if cfg is None or cfg == []:
        return None
    if isinstance(cfg, dict):
        return MODELS.build(cfg)
    if isinstance(cfg, list | tuple):
        return nn.ModuleList(MODELS.build(c) for c in cfg)
    raise ConfigError(f"{name} must be a dict or a list of dicts, got {type(cfg).__name__}")
