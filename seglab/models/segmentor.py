"""EncoderDecoder: backbone -> decode head (+ auxiliary heads), with whole or sliding inference."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from seglab.errors import ConfigError
from seglab.models.layers import resize
from seglab.registry import MODELS


@MODELS.register()
class EncoderDecoder(nn.Module):
    """The segmentor of every model family here; ``data_preprocessor`` turns loader batches into tensors."""

    def __init__(
        self,
        backbone: dict,
        decode_head: dict,
        neck: dict | None = None,
        auxiliary_head: dict | Sequence[dict] | None = None,
        train_cfg: dict | None = None,
        test_cfg: dict | None = None,
        data_preprocessor: dict | None = None,
        pretrained: str | None = None,
        init_cfg: dict | None = None,
    ) -> None:
        super().__init__()
        if neck is not None:
            raise ConfigError("model.neck is not supported yet; the shipped model families use none")
        self.data_preprocessor = MODELS.build(data_preprocessor or dict(type="SegDataPreProcessor"))
        backbone = dict(backbone)
        if pretrained is not None:
            backbone["init_cfg"] = dict(type="Pretrained", checkpoint=pretrained)
        self.backbone = MODELS.build(backbone)
        self.decode_head = MODELS.build(decode_head)
        if isinstance(auxiliary_head, dict):
            self.auxiliary_head = MODELS.build(auxiliary_head)
        elif auxiliary_head:
            self.auxiliary_head = nn.ModuleList(MODELS.build(h) for h in auxiliary_head)
        else:
            self.auxiliary_head = None
        self.align_corners = self.decode_head.align_corners
        self.num_classes = self.decode_head.num_classes
        self.out_channels = self.decode_head.out_channels
        self.train_cfg = dict(train_cfg or {})
        self.test_cfg = dict(test_cfg or dict(mode="whole"))
        if self.test_cfg.get("mode", "whole") not in ("whole", "slide"):
            raise ConfigError(f"model.test_cfg.mode must be 'whole' or 'slide', got {self.test_cfg.get('mode')!r}")

    def extract_feat(self, inputs: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return self.backbone(inputs)

    def encode_decode(self, inputs: torch.Tensor) -> torch.Tensor:
        """Logits at the input's resolution."""
        return resize(self.decode_head(self.extract_feat(inputs)), inputs.shape[2:], self.align_corners)

    def forward(self, inputs: torch.Tensor, data_samples: list[dict] | None = None, mode: str = "tensor"):
        """``mode='loss'`` -> dict of losses; ``'predict'`` -> samples with predictions; ``'tensor'`` -> logits."""
        if mode == "loss":
            return self.loss(inputs, data_samples)
        if mode == "predict":
            return self.predict(inputs, data_samples)
        return self.encode_decode(inputs)

    def loss(self, inputs: torch.Tensor, data_samples: list[dict]) -> dict[str, torch.Tensor]:
        labels = torch.stack([s["gt_sem_seg"] for s in data_samples])[:, 0].long()
        feats = self.extract_feat(inputs)
        losses = {f"decode.{k}": v for k, v in self.decode_head.loss(feats, labels).items()}
        if isinstance(self.auxiliary_head, nn.ModuleList):
            for i, head in enumerate(self.auxiliary_head):
                losses.update({f"aux_{i}.{k}": v for k, v in head.loss(feats, labels).items()})
        elif self.auxiliary_head is not None:
            losses.update({f"aux.{k}": v for k, v in self.auxiliary_head.loss(feats, labels).items()})
        return losses

    def inference(self, inputs: torch.Tensor) -> torch.Tensor:
        if self.test_cfg.get("mode", "whole") == "slide":
            return self.slide_inference(inputs)
        return self.encode_decode(inputs)

    def slide_inference(self, inputs: torch.Tensor) -> torch.Tensor:
        """Average logits of overlapping ``crop_size`` windows taken every ``stride`` pixels."""
        if "crop_size" not in self.test_cfg or "stride" not in self.test_cfg:
            raise ConfigError("model.test_cfg mode='slide' needs crop_size=(h, w) and stride=(h, w)")
        h_stride, w_stride = self.test_cfg["stride"]
        h_crop, w_crop = self.test_cfg["crop_size"]
        n, _, h_img, w_img = inputs.shape
        h_grids = max(h_img - h_crop + h_stride - 1, 0) // h_stride + 1
        w_grids = max(w_img - w_crop + w_stride - 1, 0) // w_stride + 1
        logits = inputs.new_zeros((n, self.out_channels, h_img, w_img))
        counts = inputs.new_zeros((n, 1, h_img, w_img))
        for h_idx in range(h_grids):
            for w_idx in range(w_grids):
                y2 = min(h_idx * h_stride + h_crop, h_img)
                x2 = min(w_idx * w_stride + w_crop, w_img)
                y1, x1 = max(y2 - h_crop, 0), max(x2 - w_crop, 0)
                crop = self.encode_decode(inputs[:, :, y1:y2, x1:x2])
                logits += F.pad(crop, (x1, w_img - x2, y1, h_img - y2))
                counts[:, :, y1:y2, x1:x2] += 1
        return logits / counts

    def predict(self, inputs: torch.Tensor, data_samples: list[dict] | None = None) -> list[dict]:
        """Per image: ``seg_logits`` (C,H,W) and ``pred_sem_seg`` (H,W) at the original image size."""
        samples = data_samples or [{} for _ in range(inputs.shape[0])]
        logits = self.inference(inputs)
        return [self.postprocess(logits[i : i + 1], s) for i, s in enumerate(samples)]

    def postprocess(self, logit: torch.Tensor, sample: dict) -> dict:
        h, w = sample.get("img_shape", logit.shape[-2:])
        logit = logit[:, :, :h, :w]
        if sample.get("flip"):
            direction = sample.get("flip_direction", "horizontal")
            dims = {"horizontal": (3,), "vertical": (2,), "diagonal": (2, 3)}[direction]
            logit = logit.flip(dims)
        logit = resize(logit, sample.get("ori_shape", (h, w)), self.align_corners)[0]
        if self.out_channels == 1:
            pred = (logit.sigmoid() > self.decode_head.threshold).long()[0]
        else:
            pred = logit.argmax(dim=0)
        return {**sample, "seg_logits": logit, "pred_sem_seg": pred}
