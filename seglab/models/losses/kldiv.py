"""KL-divergence between two logit maps at a temperature (knowledge distillation), as MMSegmentation 1.2.2.

Both maps are softened by ``softmax(x / temperature)`` and compared with ``torch.nn.functional.kl_div``
exactly as MMSegmentation calls it (the input probabilities, not their logarithm), scaled by temperature².
``reduction='mean'``/``'sum'`` reduce per image: the result has one value per image.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from seglab.errors import ConfigError
from seglab.models.losses.base import SegLoss
from seglab.registry import MODELS


@MODELS.register()
class KLDivLoss(SegLoss):
    def __init__(self, temperature: float = 1.0, reduction: str = "mean", loss_name: str = "loss_kld") -> None:
        super().__init__(loss_name=loss_name, reduction=reduction)
        if isinstance(temperature, bool) or not isinstance(temperature, int | float) or temperature == 0:
            raise ConfigError(f"KLDivLoss: temperature must be a non-zero number, got {temperature!r}")
        self.temperature = float(temperature)

    def compute(self, seg_logits, seg_label, weight, ignore_index, reduction, avg_factor) -> torch.Tensor:
        if seg_label.shape != seg_logits.shape:
            raise ConfigError(
                f"KLDivLoss compares two logit maps of the same shape (a student's and a teacher's); got "
                f"{tuple(seg_logits.shape)} and {tuple(seg_label.shape)}. It cannot be a head's loss_decode."
            )
        t = self.temperature
        inputs = F.softmax(seg_logits / t, dim=1)
        target = F.softmax(seg_label.float() / t, dim=1)
        loss = F.kl_div(inputs, target, reduction="none", log_target=False) * t**2
        if reduction == "sum":
            return loss.flatten(1).sum(1)
        if reduction == "mean":
            return loss.flatten(1).mean(1)
        return loss
