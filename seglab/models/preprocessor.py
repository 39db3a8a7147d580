"""SegDataPreProcessor: uint8 images -> normalised float batch, labels padded to match."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from seglab.errors import ConfigError
from seglab.registry import MODELS


def check_band_count(model: nn.Module) -> None:
    """One line, before any training or loading, when ``mean``/``std`` do not have one value per input band
    (the ``in_channels`` of the backbone's first convolution)."""
    pre, backbone = getattr(model, "data_preprocessor", None), getattr(model, "backbone", None)
    if not isinstance(pre, SegDataPreProcessor) or not pre.normalize or not isinstance(backbone, nn.Module):
        return
    conv = next((m for m in backbone.modules() if isinstance(m, nn.Conv2d)), None)
    if conv is not None and conv.in_channels != pre.mean.numel():
        raise ConfigError(
            f"model.data_preprocessor.mean/std have {pre.mean.numel()} values but model.backbone.in_channels is "
            f"{conv.in_channels}: give one mean and one std per band ('seglab check-data' prints them per band)"
        )


@MODELS.register()
class SegDataPreProcessor(nn.Module):
    """Normalise with ``mean``/``std`` (after ``bgr_to_rgb``), pad bottom/right to ``size`` (h, w)
    or a multiple of ``size_divisor``, and stack.

    Unlike MMSegmentation, a batch whose images already agree in size needs neither ``size`` nor
    ``size_divisor``, and a multiple of ``size_divisor`` is not padded further."""

    def __init__(
        self,
        mean: Sequence[float] | None = None,
        std: Sequence[float] | None = None,
        size: Sequence[int] | None = None,
        size_divisor: int | None = None,
        pad_val: float = 0,
        seg_pad_val: int = 255,
        bgr_to_rgb: bool = False,
        rgb_to_bgr: bool = False,
        batch_augments: list | None = None,
        test_cfg: dict | None = None,
    ) -> None:
        super().__init__()
        if bgr_to_rgb and rgb_to_bgr:
            raise ConfigError("data_preprocessor: set bgr_to_rgb or rgb_to_bgr, not both")
        if batch_augments:
            raise ConfigError("data_preprocessor.batch_augments is not supported yet; remove it")
        if (mean is None) != (std is None):
            raise ConfigError("data_preprocessor: give both mean and std, or neither")
        if mean is not None and len(mean) != len(std):
            raise ConfigError(
                f"model.data_preprocessor.mean has {len(mean)} values but model.data_preprocessor.std has "
                f"{len(std)}: give one of each per image band"
            )
        self.normalize = mean is not None
        if self.normalize:
            self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(-1, 1, 1), persistent=False)
            self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(-1, 1, 1), persistent=False)
        self.size = tuple(size) if size is not None else None
        self.size_divisor = size_divisor
        self.pad_val = pad_val
        self.seg_pad_val = seg_pad_val
        self.swap_channels = bgr_to_rgb or rgb_to_bgr
        self.test_cfg = dict(test_cfg or {})

    def target_size(self, shapes: list[tuple[int, int]], training: bool) -> tuple[int, int]:
        size = self.size if training else self.test_cfg.get("size")
        divisor = self.size_divisor if training else self.test_cfg.get("size_divisor")
        h = max(s[0] for s in shapes)
        w = max(s[1] for s in shapes)
        if size is not None:
            h, w = max(h, size[0]), max(w, size[1])
        elif divisor:
            h, w = -(-h // divisor) * divisor, -(-w // divisor) * divisor
        elif training and len(set(shapes)) > 1:
            raise ConfigError(
                f"images in a training batch differ in size ({sorted(set(shapes))[:3]}) and "
                "model.data_preprocessor sets neither 'size' nor 'size_divisor': add size=crop_size "
                "(e.g. size=(512, 512)) to model.data_preprocessor"
            )
        return h, w

    def forward(self, data: dict, training: bool = False) -> tuple[torch.Tensor, list[dict]]:
        device = self.mean.device if self.normalize else torch.device("cpu")
        samples = [dict(s) for s in data.get("data_samples") or [{} for _ in data["inputs"]]]
        images = []
        for img in data["inputs"]:
            img = img.to(device, non_blocking=True)
            if self.swap_channels and img.shape[0] == 3:
                img = img.flip(0)
            img = img.float()
            if self.normalize and img.shape[0] != self.mean.numel():
                raise ConfigError(
                    f"the image has {img.shape[0]} band(s) but model.data_preprocessor.mean/std have "
                    f"{self.mean.numel()} values: give one mean and one std per band"
                )
            if self.normalize:
                img = (img - self.mean) / self.std
            images.append(img)
        shapes = [tuple(img.shape[-2:]) for img in images]
        h, w = self.target_size(shapes, training)
        batch = []
        for img, sample in zip(images, samples):
            pad_h, pad_w = h - img.shape[-2], w - img.shape[-1]
            batch.append(F.pad(img, (0, pad_w, 0, pad_h), value=self.pad_val) if pad_h or pad_w else img)
            sample["img_shape"] = tuple(img.shape[-2:])
            sample["pad_shape"] = (h, w)
            for key in ("gt_sem_seg", "gt_edge_map"):  # PIDNet's edge targets pad as the labels do (MMSeg too)
                if key in sample:
                    gt = sample[key].to(device)
                    gt_pad_h, gt_pad_w = h - gt.shape[-2], w - gt.shape[-1]
                    sample[key] = F.pad(gt, (0, gt_pad_w, 0, gt_pad_h), value=self.seg_pad_val) if training else gt
        return torch.stack(batch), samples
