"""EncoderDecoder: backbone (-> neck) -> decode head (+ auxiliary heads), whole or sliding-window inference."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import torch
from torch import nn

from seglab.errors import ConfigError
from seglab.models.heads.decode_head import BaseDecodeHead
from seglab.models.segmentors.base import BaseSegmentor, build_heads
from seglab.models.segmentors.sliding_window import pair, slide_logits
from seglab.models.segmentors.val_loss import head_val_losses, say_no_val_loss, single_forward
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

    def val_step(self, inputs: torch.Tensor, data_samples: list[dict]) -> tuple[list[dict], dict[str, torch.Tensor]]:
        """Predictions and the training loss terms (``decode.*``, ``aux.*``) from one backbone/neck forward
        and one forward per head; predictions only where that is not possible (see ``val_loss.py``)."""
        reason = self._val_loss_problem()
        if reason or not all("gt_sem_seg" in s for s in data_samples):
            if reason:
                say_no_val_loss(reason)
            return self.predict(inputs, data_samples), {}
        pad_shape = tuple(inputs.shape[2:])
        feats = self.extract_feat(inputs)
        out = self.decode_head.forward(feats)
        logits = self.decode_head.predict_by_feat(out, [{**s, "pad_shape": pad_shape} for s in data_samples])
        predictions = [self.postprocess(logits[i : i + 1], s) for i, s in enumerate(data_samples)]
        losses = {f"decode.{k}": v for k, v in head_val_losses(self.decode_head, out, data_samples, pad_shape).items()}
        heads = list(self._auxiliary_heads())
        for i, (name, head) in enumerate(heads):
            if type(head).loss is not BaseDecodeHead.loss:
                say_no_val_loss(f"{name} ({type(head).__name__}) computes its loss from training-mode outputs")
                continue
            prefix = f"aux_{i}." if isinstance(self.auxiliary_head, nn.ModuleList) else "aux."
            aux = head_val_losses(head, head.forward(feats), data_samples, pad_shape)
            losses.update({prefix + k: v for k, v in aux.items()})
        return predictions, losses

    def _val_loss_problem(self) -> str | None:
        """Why ``val_step`` cannot give losses from the prediction's forward, or None."""
        cls = type(self)
        own = (cls.encode_decode, cls.inference, cls.predict, cls.loss)
        if own != (EncoderDecoder.encode_decode, EncoderDecoder.inference, BaseSegmentor.predict, EncoderDecoder.loss):
            return f"{cls.__name__} wires its heads its own way"
        if self.test_cfg.get("mode", "whole") != "whole":
            return "model.test_cfg mode='slide' (the loss comes with whole-image inference only)"
        if not single_forward(self.decode_head):
            return f"{type(self.decode_head).__name__} computes its loss from training-mode outputs"
        return None

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
