"""``MultimodalEncoderDecoder``: open-vocabulary segmentation from an image encoder (CLIP's ViT), a text
encoder (class names -> embeddings) and a decode head that takes (image, image features, class
embeddings). With ``asymetric_input`` the image encoder sees the image scaled by ``encoder_resolution``
while the head sees it whole. ``pretrained`` is one checkpoint for the whole model (MMSegmentation's
converted CLIP: ``image_encoder.*``, ``text_encoder.*``, ``decode_head.rec_with_attnbias.*``, or OpenAI's
original CLIP file, converted on loading)."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import torch
import torch.nn.functional as F
from torch import nn

from seglab.errors import ConfigError
from seglab.models.segmentors.base import BaseSegmentor
from seglab.models.segmentors.encoder_decoder import TEST_MODES, EncoderDecoder
from seglab.registry import MODELS

from .convert import convert_openai_clip, is_openai_clip

logger = logging.getLogger("seglab")


@MODELS.register()
class MultimodalEncoderDecoder(EncoderDecoder):
    """Whole or sliding-window inference as EncoderDecoder; losses are the head's, prefixed ``decode.``."""

    def __init__(
        self,
        image_encoder: dict,
        text_encoder: dict,
        decode_head: dict,
        train_cfg: dict | None = None,
        test_cfg: dict | None = None,
        data_preprocessor: dict | None = None,
        pretrained: str | None = None,
        asymetric_input: bool = True,
        encoder_resolution: float | None = None,
        init_cfg: dict | list | None = None,
    ) -> None:
        if pretrained is not None and init_cfg is not None:
            raise ConfigError("set model.pretrained or model.init_cfg, not both")
        BaseSegmentor.__init__(self, data_preprocessor, init_cfg)
        if pretrained is not None:  # MMSegmentation gives each part the same file ('Pretrained_Part')
            self.init_cfg = dict(type="Pretrained", checkpoint=pretrained)
        if asymetric_input and encoder_resolution is None:
            raise ConfigError("model.asymetric_input=True needs model.encoder_resolution (e.g. 0.5)")
        self.asymetric_input, self.encoder_resolution = asymetric_input, encoder_resolution
        self.image_encoder = MODELS.build(image_encoder)
        self.text_encoder = MODELS.build(text_encoder)
        self._init_decode_head(decode_head)
        self.auxiliary_head = None
        self.neck = None
        self.train_cfg = dict(train_cfg or {})
        self.test_cfg = dict(test_cfg or dict(mode="whole"))
        if self.test_cfg.get("mode", "whole") not in TEST_MODES:
            raise ConfigError(f"model.test_cfg.mode must be 'whole' or 'slide', got {self.test_cfg.get('mode')!r}")

    def adapt_pretrained(self, state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """OpenAI's own CLIP file converts as clip2mmseg.py would, split after the image encoder's layers."""
        if not is_openai_clip(state):
            return state
        logger.info("converted the original OpenAI CLIP layout (clip2mmseg.py's conversion)")
        return convert_openai_clip(state, visual_split=len(self.image_encoder.layers))

    def heads(self) -> Iterator[tuple[str, nn.Module]]:
        yield "model.decode_head", self.decode_head

    def extract_feat(self, inputs: torch.Tensor) -> tuple:
        """The image encoder's features of the (scaled) image."""
        if self.asymetric_input:
            inputs = F.interpolate(inputs, scale_factor=self.encoder_resolution, mode="bilinear")
        return self.image_encoder(inputs)

    def loss(self, inputs: torch.Tensor, data_samples: list[dict]) -> dict[str, torch.Tensor]:
        head_inputs = [inputs, self.extract_feat(inputs), self.text_encoder()]
        return {f"decode.{k}": v for k, v in self.decode_head.loss(head_inputs, data_samples, self.train_cfg).items()}

    def encode_decode(self, inputs: torch.Tensor, batch_img_metas: list[dict] | None = None) -> torch.Tensor:
        metas = batch_img_metas or [{"pad_shape": tuple(inputs.shape[2:])}] * inputs.shape[0]
        head_inputs = [inputs, self.extract_feat(inputs), self.text_encoder()]
        return self.decode_head.predict(head_inputs, metas, self.test_cfg)
