"""What ``seglab test`` does to its model before the test loop, so the pass does less work.

The model a test run builds is only ever evaluated, so it is folded in place (``seglab.models.fold_bn``): each
BatchNorm that directly follows a convolution goes into that convolution's weights, learnt from one forward of
the test set's first image, and ``train()`` on it raises. The checkpoint file is never written. On a 2-core CPU
(``benchmarks/fold_speed.py``) a folded DeepLabV3+ forward took about 2% (R18-D8) to 6-8% (R50-D8) less time.
``test_cfg=dict(type='TestLoop', fold_bn=False)`` keeps the model as it is. On x86-64 CPUs its large 3x3
convolutions then run through Winograd's algorithm (``seglab.models.winograd``; 1.2-2.0x faster forwards there,
logits equal up to rounding) unless ``test_cfg.winograd=False``, and its max pooling runs in channels-last
layout (the same values, ``seglab.models.pool_layout``) and its depthwise convolutions with a dilation of 7 or
more as sums of shifted maps (``seglab.models.dilated_depthwise``), unless the config compiles the model; and
freed memory is kept for the next image (``seglab.freed_memory``). The loop itself runs under
``torch.inference_mode`` and, with ``seglab test --amp``, under autocast (``engine/amp.py`` picks the dtype).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from typing import Any

import torch
from torch import nn

from seglab.data.loader import pseudo_collate
from seglab.freed_memory import SWITCH, keep_freed_memory
from seglab.models.cpu_kernels import use_cpu_kernels
from seglab.models.fold_bn import fold_batchnorm
from seglab.openmp_spinning import openmp_spinning

logger = logging.getLogger("seglab")


TRACE_SIDE = 96  # the folding trace sees the first image subsampled to about this short side


def fold_for_test(model: nn.Module, dataset: Any, amp_dtype: torch.dtype | None = None) -> int:
    """Fold ``model``'s BatchNorms in place, tracing one forward of ``dataset[0]`` subsampled to a short side of
    about ``TRACE_SIDE`` pixels (the same layers run at any size, at a fraction of the cost; the image as it is
    if a model cannot take the smaller one); returns how many folded. A dataset whose samples hold several
    augmented copies (a TestTimeAug pipeline) is left unfolded."""
    model.eval()
    sample = dataset[0]
    if isinstance(sample.get("inputs"), list):
        return 0

    def tracing(example: dict) -> Any:
        def run_example(traced: nn.Module) -> Any:
            with test_precision(amp_dtype, next(traced.parameters()).device):
                return traced.predict(*traced.data_preprocessor(pseudo_collate([example]), training=False))

        return run_example

    small = subsampled(sample, TRACE_SIDE)
    try:
        fold_batchnorm(model, tracing(small), inplace=True)
    except Exception as error:  # noqa: BLE001 - any failure of the small forward: trace the image as it is
        if small is sample:
            raise
        logger.debug(f"test: folding traced the first image at full size ({type(error).__name__}: {error})")
        fold_batchnorm(model, tracing(sample), inplace=True)
    folded = model._seglab_bn_folded
    logger.info(f"test: {folded} BatchNorm layer(s) folded into the convolution before them (test_cfg.fold_bn)")
    return folded


def subsampled(sample: dict, side: int) -> dict:
    """``sample`` with every k-th row and column of its image, k the largest step that leaves a short side of at
    least ``side`` pixels (the sample itself where that is 1); its metadata unchanged."""
    inputs = sample["inputs"]
    step = min(inputs.shape[-2:]) // side if isinstance(inputs, torch.Tensor) and inputs.dim() == 3 else 1
    if step <= 1:
        return sample
    return {**sample, "inputs": inputs[:, ::step, ::step].contiguous()}


def cpu_kernels_for_test(model: nn.Module, winograd: bool) -> None:
    """On CPU: large 3x3 convolutions through Winograd's algorithm (when ``winograd``), widely dilated depthwise
    ones as shifted sums, max pooling in channels-last layout (exact; ``seglab.models.pool_layout``)."""
    kernels = use_cpu_kernels(model, winograd)
    if kernels.winograd:
        logger.info(
            f"test: {kernels.winograd} 3x3 convolution(s) take Winograd's algorithm on CPU where their maps are "
            f"large enough (test_cfg.winograd); idle OpenMP threads: {openmp_spinning()}"
        )
    if kernels.dilated_depthwise:
        logger.info(
            f"test: {kernels.dilated_depthwise} depthwise convolution(s) with dilation >= 7 run as sums of shifted "
            "maps on CPU (equal up to rounding)"
        )
    if kernels.pooling:
        logger.info(
            f"test: {kernels.pooling} max pooling layer(s) pool in channels-last layout on CPU (the same values)"
        )


def keep_freed_memory_for_test() -> None:
    """On CPU: freed memory stays in the process for the next image's tensors (``seglab.freed_memory``)."""
    if keep_freed_memory():
        logger.info(f"test: freed CPU memory is kept for reuse, sparing page faults ({SWITCH}=0 turns this off)")


@contextlib.contextmanager
def test_precision(amp_dtype: torch.dtype | None, device: torch.device) -> Iterator[None]:
    """``torch.inference_mode``, and autocast to ``amp_dtype`` when one is given."""
    with (
        torch.inference_mode(),
        torch.autocast(device.type, dtype=amp_dtype or torch.bfloat16, enabled=bool(amp_dtype)),
    ):
        yield
