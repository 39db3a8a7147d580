"""What ``seglab test`` does to its model before the test loop, so the pass does less work.

The model a test run builds is only ever evaluated, so it is folded in place (``seglab.models.fold_bn``): each
BatchNorm that directly follows a convolution goes into that convolution's weights, learnt from one forward of
the test set's first image, and ``train()`` on it raises. The checkpoint file is never written. On a 2-core CPU
(``benchmarks/fold_speed.py``) a folded DeepLabV3+ forward took about 2% (R18-D8) to 6-8% (R50-D8) less time.
``test_cfg=dict(type='TestLoop', fold_bn=False)`` keeps the model as it is. On x86-64 CPUs its large 3x3
convolutions then run through Winograd's algorithm (``seglab.models.winograd``; 1.2-2.0x faster forwards there,
logits equal up to rounding) unless ``test_cfg.winograd=False``, and its max pooling runs in channels-last
layout (the same values, ``seglab.models.pool_layout``), unless the config compiles the model. The loop
itself runs under ``torch.inference_mode`` and, with ``seglab test --amp``, under autocast (``engine/amp.py``
picks the dtype).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from typing import Any

import torch
from torch import nn

from seglab.data.loader import pseudo_collate
from seglab.models.cpu_kernels import use_cpu_kernels
from seglab.models.fold_bn import fold_batchnorm

logger = logging.getLogger("seglab")


def fold_for_test(model: nn.Module, dataset: Any, amp_dtype: torch.dtype | None = None) -> int:
    """Fold ``model``'s BatchNorms in place, tracing one forward of ``dataset[0]``; returns how many folded.
    A dataset whose samples hold several augmented copies (a TestTimeAug pipeline) is left unfolded."""
    model.eval()
    sample = dataset[0]
    if isinstance(sample.get("inputs"), list):
        return 0

    def run_example(traced: nn.Module) -> Any:
        with test_precision(amp_dtype, next(traced.parameters()).device):
            return traced.predict(*traced.data_preprocessor(pseudo_collate([sample]), training=False))

    _, _ = fold_batchnorm(model, run_example, inplace=True)
    folded = model._seglab_bn_folded
    logger.info(f"test: {folded} BatchNorm layer(s) folded into the convolution before them (test_cfg.fold_bn)")
    return folded


def cpu_kernels_for_test(model: nn.Module, winograd: bool) -> None:
    """On CPU: large 3x3 convolutions through Winograd's algorithm (when ``winograd``), max pooling in
    channels-last layout (exact; ``seglab.models.pool_layout``)."""
    convs, pools = use_cpu_kernels(model, winograd)
    if convs:
        logger.info(
            f"test: {convs} 3x3 convolution(s) take Winograd's algorithm on CPU where their maps are large enough "
            "(test_cfg.winograd)"
        )
    if pools:
        logger.info(f"test: {pools} max pooling layer(s) pool in channels-last layout on CPU (the same values)")


@contextlib.contextmanager
def test_precision(amp_dtype: torch.dtype | None, device: torch.device) -> Iterator[None]:
    """``torch.inference_mode``, and autocast to ``amp_dtype`` when one is given."""
    with (
        torch.inference_mode(),
        torch.autocast(device.type, dtype=amp_dtype or torch.bfloat16, enabled=bool(amp_dtype)),
    ):
        yield
