"""The faster CPU kernels a prediction-only model runs: Winograd 3x3 convolutions (``seglab.models.winograd``,
equal up to rounding, a config switch), widely dilated depthwise convolutions as shifted sums
(``seglab.models.dilated_depthwise``, equal up to rounding) and channels-last max pooling
(``seglab.models.pool_layout``, exact). ``seglab test``, ``seglab infer``, ``seglab benchmark`` and
``inference_model`` all go through here."""

from __future__ import annotations

from typing import NamedTuple

from torch import nn

from seglab.models.dilated_depthwise import use_dilated_depthwise
from seglab.models.pool_layout import use_channels_last_pooling
from seglab.models.winograd import use_winograd


class CpuKernels(NamedTuple):
    """How many layers of a model took each kernel."""

    winograd: int
    dilated_depthwise: int
    pooling: int


def use_cpu_kernels(model: nn.Module, winograd: bool) -> CpuKernels:
    """Give a CPU prediction-only ``model`` Winograd convolutions (when ``winograd``), shifted-sum dilated
    depthwise convolutions and channels-last max pooling, in place; returns how many layers took each."""
    return CpuKernels(
        use_winograd(model) if winograd else 0, use_dilated_depthwise(model), use_channels_last_pooling(model)
    )
