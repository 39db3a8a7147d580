"""``EoMT``: the Encoder-only Mask Transformer's segmentor, an ``EncoderDecoder`` whose feature extraction is the
ViT run with the head's query tokens in its last blocks (``EoMTHead.forward_encoder``): there is no neck and no
pixel decoder, and the head's losses, prediction, sliding-window inference and validation losses are
``EncoderDecoder``'s."""

from __future__ import annotations

import torch

from seglab.errors import ConfigError
from seglab.models.segmentors.encoder_decoder import EncoderDecoder
from seglab.registry import MODELS


@MODELS.register()
class EoMT(EncoderDecoder):
    """``backbone`` a ``DINOv2``/``DINOv3`` ViT, ``decode_head`` an ``EoMTHead``; no neck, no auxiliary head."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if self.neck is not None or self.auxiliary_head is not None:
            raise ConfigError("model (EoMT): the queries run inside the ViT; set neck=None and auxiliary_head=None")
        if not hasattr(self.decode_head, "forward_encoder") or not hasattr(self.backbone, "tokens"):
            raise ConfigError(
                f"model (EoMT) needs a DINOv2/DINOv3 backbone and an EoMTHead, got {type(self.backbone).__name__} and "
                f"{type(self.decode_head).__name__}"
            )

    def extract_feat(self, inputs: torch.Tensor) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        """Every prediction's (class logits, mask logits), the final one last."""
        return self.decode_head.forward_encoder(self.backbone, inputs)
