"""Transforms that run other transforms: a random choice, a random application, test-time augmentation."""

from __future__ import annotations

import copy
import itertools
from collections.abc import Sequence
from typing import Any

import numpy as np

from seglab.data.transforms.base import BaseTransform, Compose
from seglab.errors import ConfigError, DatasetError
from seglab.registry import TRANSFORMS


@TRANSFORMS.register()
class RandomChoice(BaseTransform):
    """Run one of several sub-pipelines, picked with ``np.random.choice`` (uniform, or by ``prob``)."""

    def __init__(self, transforms: Sequence[Any], prob: Sequence[float] | None = None) -> None:
        if not isinstance(transforms, Sequence) or not transforms:
            raise ConfigError("RandomChoice: 'transforms' must be a non-empty list of transforms or transform lists")
        if prob is not None:
            if len(prob) != len(transforms):
                raise ConfigError(f"RandomChoice: 'prob' has {len(prob)} values for {len(transforms)} choices")
            if abs(sum(prob) - 1) > 1e-6 or min(prob) < 0:
                raise ConfigError(f"RandomChoice: 'prob' must be non-negative and sum to 1, got {list(prob)}")
        self.prob = None if prob is None else list(prob)
        self.transforms = [Compose(t) for t in transforms]

    def __iter__(self):
        return iter(self.transforms)

    def __call__(self, results: dict) -> dict | None:
        index = np.random.choice(np.arange(len(self.transforms)), p=self.prob)
        return self.transforms[index](results)


@TRANSFORMS.register()
class RandomApply(BaseTransform):
    """Run ``transforms`` with probability ``prob`` (one ``np.random.rand`` draw), else pass through."""

    def __init__(self, transforms: Any, prob: float = 0.5) -> None:
        if not (isinstance(prob, int | float) and 0 <= prob <= 1):
            raise ConfigError(f"RandomApply: 'prob' must be in [0, 1], got {prob!r}")
        self.prob = prob
        self.transforms = Compose(transforms)

    def __call__(self, results: dict) -> dict | None:
        return self.transforms(results) if np.random.rand() < self.prob else results


@TRANSFORMS.register()
class TestTimeAug(BaseTransform):
    """Every combination of one transform from each list of ``transforms`` (MMCV's semantics).

    ``[[Resize 0.5, Resize 1.0], [Flip 0, Flip 1], [LoadAnnotations], [PackSegInputs]]`` gives four
    pipelines; each runs on its own copy of the sample, and the result is one dict whose every key
    holds the list of the four outputs (``{'inputs': [...4], 'data_samples': [...4]}``)."""

    __test__ = False  # not a pytest test class

    def __init__(self, transforms: Sequence[Sequence[Any]]) -> None:
        if not isinstance(transforms, Sequence) or not transforms:
            raise ConfigError("TestTimeAug: 'transforms' must be a non-empty list of transform lists")
        stages = []
        for i, stage in enumerate(transforms):
            if isinstance(stage, dict) or not isinstance(stage, Sequence) or not stage:
                raise ConfigError(
                    f"TestTimeAug: transforms[{i}] must be a non-empty list of alternatives, got {stage!r}; "
                    "wrap a single transform in a list: [dict(type='PackSegInputs')]"
                )
            stages.append(Compose(stage).transforms)
        self.subroutines = [Compose(list(chain)) for chain in itertools.product(*stages)]

    def __call__(self, results: dict) -> dict:
        outputs = []
        for subroutine in self.subroutines:
            out = subroutine(copy.deepcopy(results))
            if not isinstance(out, dict):
                raise DatasetError(
                    f"TestTimeAug: the pipeline {[type(t).__name__ for t in subroutine]} returned {out!r}, not a sample"
                )
            outputs.append(out)
        return {key: [out[key] for out in outputs] for key in outputs[0]}


def unpack_tta_batch(batch: dict) -> list[list[dict]]:
    """Split a collated batch of ``TestTimeAug`` samples into, per image, its one-augmentation batches.

    ``{'inputs': [[a1, a2], [b1, b2]], 'data_samples': [[...], [...]]}`` becomes
    ``[[{'inputs': [a1], 'data_samples': [da1]}, {... a2}], [{... b1}, {... b2}]]``: each small batch goes
    through the data preprocessor and ``predict`` as usual, and the predictions of one image are merged."""
    per_image = []
    for inputs, samples in zip(batch["inputs"], batch["data_samples"]):
        if not isinstance(inputs, list):
            raise DatasetError("unpack_tta_batch: the batch was not made by a TestTimeAug pipeline")
        per_image.append([{"inputs": [x], "data_samples": [s]} for x, s in zip(inputs, samples)])
    return per_image
