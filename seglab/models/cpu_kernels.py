"""The faster CPU kernels a prediction-only model runs: Winograd 3x3 convolutions (``seglab.models.winograd``,
equal up to rounding, a config switch) and channels-last max pooling (``seglab.models.pool_layout``, exact).
``seglab test``, ``seglab infer``, ``seglab benchmark`` and ``inference_model`` all go through here."""

from __future__ import annotations

from torch import nn

from seglab.models.pool_layout import use_channels_last_pooling
from seglab.models.winograd import use_winograd


def use_cpu_kernels(model: nn.Module, winograd: bool) -> tuple[int, int]:
    """Give a CPU prediction-only ``model`` Winograd convolutions (when ``winograd``) and channels-last max
    pooling, in place; returns how many convolutions and poolings."""
    return (use_winograd(model) if winograd else 0), use_channels_last_pooling(model)
