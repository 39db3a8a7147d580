"""EncoderDecoder: backbone (-> neck) -> decode head (+ auxiliary heads), whole or sliding-window inference."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import torch
from torch import nn

from seglab.errors import ConfigError
from seglab.models.segmentors.base import BaseSegmentor, build_heads
from seglab.models.segmentors.sliding_window import pair, slide_logits
from seglab.registry import MODELS

TEST_MODES = ("whole", "slide")


@MODELS.register()
class EncoderDecoder(BaseSegmentor):
    """Loss names are the heads' prefixed with ``decode.`` and ``aux.`` (``aux_0.`` ... for a list)."""

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
        init_cfg: dict | list | None = None,
    ) -> None:
        super().__init__(data_preprocessor, init_cfg)
        backbone = dict(backbone)
        if pretrained is not None:
            if backbone.get("pretrained") is not None:
                raise ConfigError("set model.pretrained or model.backbone.pretrained, not both")
            backbone["pretrained"] = pretrained
        self.backbone = MODELS.build(backbone)
        self.neck = MODELS.build(neck) if neck is not None else None
        self._init_decode_head(decode_head)
        self.auxiliary_head = build_heads(auxiliary_head, "model.auxiliary_head")
        self.train_cfg = dict(train_cfg or {})
        self.test_cfg = dict(test_cfg or dict(mode="whole"))
        if self.test_cfg.get("mode", "whole") not in TEST_MODES:
            raise ConfigError(f"model.test_cfg.mode must be 'whole' or 'slide', got {self.test_cfg.get('mode')!r}")
        self.check_heads_agree()

    def _init_decode_head(self, decode_head: dict) -> None:
        if not isinstance(decode_head, dict):
            raise ConfigError("model.decode_head must be a dict (a list of heads needs type='CascadeEncoderDecoder')")
        self.decode_head = MODELS.build(decode_head)

    @property
    def with_neck(self) -> bool:
        return self.neck is not None

    @property
    def with_auxiliary_head(self) -> bool:
        return self.auxiliary_head is not None

    def heads(self) -> Iterator[tuple[str, nn.Module]]:
        yield "model.decode_head", self.decode_head
        yield from self._auxiliary_heads()

    def _auxiliary_heads(self) -> Iterator[tuple[str, nn.Module]]:
        if isinstance(self.auxiliary_head, nn.ModuleList):
            for i, head in enumerate(self.auxiliary_head):
                yield f"model.auxiliary_head[{i}]", head
        elif self.auxiliary_head is not None:
            yield "model.auxiliary_head", self.auxiliary_head

    # ------------------------------------------------------------------ training
    def extract_feat(self, inputs: torch.Tensor) -> tuple[torch.Tensor, ...]:
        feats = self.backbone(inputs)
        return self.neck(feats) if self.neck is not None else feats

    def loss(self, inputs: torch.Tensor, data_samples: list[dict]) -> dict[str, torch.Tensor]:
        feats = self.extract_feat(inputs)
        losses = self._decode_head_loss(feats, data_samples)
        losses.update(self._auxiliary_loss(feats, data_samples))
        return losses

    def _decode_head_loss(self, feats, data_samples: list[dict]) -> dict[str, torch.Tensor]:
        return {f"decode.{k}": v for k, v in self.decode_head.loss(feats, data_samples, self.train_cfg).items()}

    def _auxiliary_loss(self, feats, data_samples: list[dict]) -> dict[str, torch.Tensor]:
        losses: dict[str, torch.Tensor] = {}
        if isinstance(self.auxiliary_head, nn.ModuleList):
            for i, head in enumerate(self.auxiliary_head):
                losses.update({f"aux_{i}.{k}": v for k, v in head.loss(feats, data_samples, self.train_cfg).items()})
        elif self.auxiliary_head is not None:
            aux = self.auxiliary_head.loss(feats, data_samples, self.train_cfg)
            losses.update({f"aux.{k}": v for k, v in aux.items()})
        return losses

    # ------------------------------------------------------------------ inference
    def encode_decode(self, inputs: torch.Tensor, batch_img_metas: list[dict] | None = None) -> torch.Tensor:
        """Logits at the input's (padded) resolution."""
        metas = batch_img_metas or [{"pad_shape": tuple(inputs.shape[2:])}] * inputs.shape[0]
        return self.decode_head.predict(self.extract_feat(inputs), metas, self.test_cfg)

    def inference(self, inputs: torch.Tensor, batch_img_metas: list[dict] | None = None) -> torch.Tensor:
        if self.test_cfg.get("mode", "whole") == "slide":
            return self.slide_inference(inputs)
        return self.encode_decode(inputs, batch_img_metas)

    def slide_inference(self, inputs: torch.Tensor) -> torch.Tensor:
        """Average logits of overlapping ``crop_size`` windows taken every ``stride`` pixels, accumulated in
        place (``sliding_window.slide_logits``); ``test_cfg.slide_batch_size`` windows (default 1, as
        MMSegmentation) run per forward, which bounds memory at the output plus one window batch."""
        if "crop_size" not in self.test_cfg or "stride" not in self.test_cfg:
            raise ConfigError("model.test_cfg mode='slide' needs crop_size=(h, w) and stride=(h, w)")
        crop = pair(self.test_cfg["crop_size"], "crop_size")
        stride = pair(self.test_cfg["stride"], "stride")
        batch_size = self.test_cfg.get("slide_batch_size", 1)
        if not isinstance(batch_size, int) or batch_size < 1:
            raise ConfigError(f"model.test_cfg.slide_batch_size must be an int >= 1, got {batch_size!r}")

        def encode(crops: torch.Tensor) -> torch.Tensor:
            return self.encode_decode(crops, [{"pad_shape": tuple(crops.shape[2:])}] * crops.shape[0])

        return slide_logits(encode, inputs, self.out_channels, crop, stride, batch_size)
