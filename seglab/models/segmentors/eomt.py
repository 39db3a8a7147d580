"""``EoMT``: the Encoder-only Mask Transformer's segmentor, an ``EncoderDecoder`` whose feature extraction is the
ViT run with the head's query tokens in its last blocks (``EoMTHead.forward_encoder``): there is no neck and no
pixel decoder, and the head's losses, prediction, sliding-window inference and validation losses are
``EncoderDecoder``'s. A checkpoint in the authors' own layout (their ``pytorch_model.bin``) is converted when it
loads (``adapt_checkpoint``, ``seglab/models/heads/eomt_authors.py``)."""

from __future__ import annotations

import torch

from seglab.errors import ConfigError
from seglab.models.segmentors.encoder_decoder import EncoderDecoder
from seglab.registry import MODELS


@MODELS.register()
class EoMT(EncoderDecoder):
    """``backbone`` a ``DINOv2``/``DINOv3`` ViT, ``decode_head`` an ``EoMTHead``; no neck, no auxiliary head.
    ``delta_base``: the pre-trained backbone checkpoint that the authors' DINOv3 checkpoints (deltas) are added to
    when they load."""

    def __init__(self, *args, delta_base: str | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.delta_base = delta_base
        if self.neck is not None or self.auxiliary_head is not None:
            raise ConfigError("model (EoMT): the queries run inside the ViT; set neck=None and auxiliary_head=None")
        if not hasattr(self.decode_head, "forward_encoder") or not hasattr(self.backbone, "tokens"):
            raise ConfigError(
                f"model (EoMT) needs a DINOv2/DINOv3 backbone and an EoMTHead, got {type(self.backbone).__name__} and "
                f"{type(self.decode_head).__name__}"
            )

    def adapt_checkpoint(self, state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """``state`` in this model's keys: the EoMT authors' layout converted, anything else unchanged
        (checkpoint loading asks every model for this before it copies tensors)."""
        from seglab.models.heads import eomt_authors

        if not eomt_authors.is_authors_layout(state):
            return state
        return eomt_authors.convert(state, self, self.delta_base)[0]

    def extract_feat(self, inputs: torch.Tensor) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        """Every prediction's (class logits, mask logits), the final one last."""
        return self.decode_head.forward_encoder(self.backbone, inputs)
