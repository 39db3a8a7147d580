"""What ``seglab test`` does to its model before the test loop, so the pass does less work.

The model a test run builds is only ever evaluated, so it is folded in place (``seglab.models.fold_bn``): each
BatchNorm that directly follows a convolution goes into that convolution's weights, learnt from one forward of
the test set's first image, and ``train()`` on it raises. The checkpoint file is never written. On a 2-core CPU
(``benchmarks/fold_speed.py``) a folded DeepLabV3+ forward took about 2% (R18-D8) to 6-8% (R50-D8) less time.
``test_cfg=dict(type='TestLoop', fold_bn=False)`` keeps the model as it is. On CPU its large 3x3 convolutions
then run through Winograd's algorithm (``seglab.models.winograd``; 1.2-1.9x faster forwards there, logits equal
up to rounding) unless ``test_cfg.winograd=False``, or the config compiles the model. The loop itself runs under
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
from seglab.models.fold_bn import fold_batchnorm
from seglab.models.winograd import use_winograd

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


def winograd_for_test(model: nn.Module) -> int:
    """Run ``model``'s large 3x3 convolutions through Winograd's algorithm on CPU; returns how many."""
    count = use_winograd(model)
    if count:
        logger.info(f"test: {count} 3x3 convolution(s) use Winograd's algorithm on CPU (test_cfg.winograd)")
    return count


@contextlib.contextmanager
def test_precision(amp_dtype: torch.dtype | None, device: torch.device) -> Iterator[None]:
    """``torch.inference_mode``, and autocast to ``amp_dtype`` when one is given."""
    with (
        torch.inference_mode(),
        torch.autocast(device.type, dtype=amp_dtype or torch.bfloat16, enabled=bool(amp_dtype)),
    ):
        yield
