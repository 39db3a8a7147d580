"""CascadeEncoderDecoder: ``num_stages`` heads, each refining the previous one's output (OCRNet, PointRend)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import torch
from torch import nn

from seglab.errors import ConfigError
from seglab.models.heads.decode_head import BaseCascadeDecodeHead
from seglab.models.segmentors.encoder_decoder import EncoderDecoder
from seglab.registry import MODELS


@MODELS.register()
class CascadeEncoderDecoder(EncoderDecoder):
    """``decode_head`` is a list of ``num_stages`` heads; stage ``i > 0`` receives stage ``i-1``'s output.
    Loss names are prefixed ``decode_0.``, ``decode_1.`` ...; the last stage predicts."""

    def __init__(self, num_stages: int, **kwargs) -> None:
        self.num_stages = num_stages
        super().__init__(**kwargs)

    def _init_decode_head(self, decode_head: Sequence[dict]) -> None:
        if not isinstance(decode_head, list | tuple) or len(decode_head) != self.num_stages:
            raise ConfigError(
                f"CascadeEncoderDecoder with num_stages={self.num_stages} needs model.decode_head as a list of "
                f"{self.num_stages} heads"
            )
        self.decode_head = nn.ModuleList(MODELS.build(cfg) for cfg in decode_head)
        for i, head in enumerate(self.decode_head):
            if i > 0 and not isinstance(head, BaseCascadeDecodeHead):
                raise ConfigError(
                    f"model.decode_head[{i}] ({type(head).__name__}) cannot be a later cascade stage: stages after "
                    "the first refine the previous stage's output (OCRHead, PointHead ...)"
                )

    def heads(self) -> Iterator[tuple[str, nn.Module]]:
        last = self.num_stages - 1
        yield f"model.decode_head[{last}]", self.decode_head[last]
        for i in range(last):
            yield f"model.decode_head[{i}]", self.decode_head[i]
        yield from self._auxiliary_heads()

    def _stage_outputs(self, feats) -> torch.Tensor:
        """The output of every stage but the last, fed forward."""
        out = self.decode_head[0](feats)
        for i in range(1, self.num_stages - 1):
            out = self.decode_head[i](feats, out)
        return out

    def encode_decode(self, inputs: torch.Tensor, batch_img_metas: list[dict] | None = None) -> torch.Tensor:
        metas = batch_img_metas or [{"pad_shape": tuple(inputs.shape[2:])}] * inputs.shape[0]
        feats = self.extract_feat(inputs)
        return self.decode_head[-1].predict(feats, self._stage_outputs(feats), metas, self.test_cfg)

    def _decode_head_loss(self, feats, data_samples: list[dict]) -> dict[str, torch.Tensor]:
        losses = {f"decode_0.{k}": v for k, v in self.decode_head[0].loss(feats, data_samples, self.train_cfg).items()}
        prev = None
        for i in range(1, self.num_stages):
            prev = self.decode_head[0](feats) if i == 1 else self.decode_head[i - 1](feats, prev)
            stage = self.decode_head[i].loss(feats, prev, data_samples, self.train_cfg)
            losses.update({f"decode_{i}.{k}": v for k, v in stage.items()})
        return losses
