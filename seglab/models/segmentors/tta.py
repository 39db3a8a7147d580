"""Test-time augmentation as a segmentor wrapper, like MMSegmentation's ``SegTTAModel``.

One image's prediction averages the class probabilities of its augmented copies: either the copies a
``TestTimeAug`` pipeline made (``test_step``), or flipped and rescaled copies made here from a loaded image
(``predict_image``, the default of ``seglab test --tta`` and ``inference_model(..., tta=True)``).
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import torch
from torch import nn

from seglab.data.transforms import LoadImageFromFile, PackSegInputs, RandomFlip, Resize, unpack_tta_batch
from seglab.errors import ConfigError
from seglab.models.prediction import logits_to_probabilities, probabilities_to_labels

DEFAULT_TTA_SCALES = (0.5, 0.75, 1.0, 1.25, 1.5, 1.75)


def merge_augmented(model: nn.Module, augmented: Iterable[dict]) -> dict:
    """One image's prediction from its augmented copies (each a one-sample batch): the class
    probabilities are averaged, as MMSegmentation's SegTTAModel does.

    A running sum: each copy's full-resolution logits are dropped once added, so memory stays at the sum
    plus one copy's prediction however many copies there are (same values as summing a list in order)."""
    total: torch.Tensor | None = None
    first: dict = {}
    count = 0
    for batch in augmented:
        out = model.predict(*model.data_preprocessor(batch, training=False))[0]
        probabilities = logits_to_probabilities(out.pop("seg_logits").unsqueeze(0))[0]
        out.pop("pred_sem_seg", None)
        if total is None:
            total, first = probabilities, out
        else:
            total += probabilities
        count += 1
        del out, probabilities
    if total is None:
        raise ConfigError("test-time augmentation produced no augmented copies of the image")
    total /= count
    return {**first, "seg_logits": total, "pred_sem_seg": probabilities_to_labels(total, model.threshold)}


class SegTTAModel(nn.Module):
    """Wraps a segmentor (``module``): every prediction averages flipped and rescaled copies of each image."""

    def __init__(self, module: nn.Module, scales: Sequence[float] = DEFAULT_TTA_SCALES) -> None:
        super().__init__()
        self.module = module
        self.scales = tuple(scales)

    def test_step(self, batch: dict) -> list[dict]:
        """Predictions for a batch collated from a ``TestTimeAug`` pipeline (several copies per image)."""
        return [merge_augmented(self.module, copies) for copies in unpack_tta_batch(batch)]

    @torch.no_grad()
    def predict_image(self, loaded: dict) -> dict:
        """``pred_sem_seg`` and ``seg_logits`` of one loaded image (``img``, ``img_shape``, ``ori_shape``).

        Copies are made one at a time as the average consumes them: one rescaled image exists at once."""

        def copies() -> Iterator[dict]:
            for scale in self.scales:
                for flip in (False, True):
                    sample = Resize(scale_factor=scale, keep_ratio=True)(copy.deepcopy(loaded))
                    packed = PackSegInputs()(RandomFlip(prob=1.0 if flip else 0.0)(sample))
                    yield {"inputs": [packed["inputs"]], "data_samples": [packed["data_samples"]]}

        merged = merge_augmented(self.module, copies())
        return {"pred_sem_seg": merged["pred_sem_seg"], "seg_logits": merged["seg_logits"]}

    def predict_file(self, path: str | Path) -> dict:
        """``predict_image`` of the image file at ``path``."""
        return self.predict_image(LoadImageFromFile()({"img_path": str(path)}))

    def predict_samples(self, samples: list[dict]) -> list[dict]:
        """Each data sample (with its ``img_path``) completed by its prediction from the image file."""
        return [{**sample, **self.predict_file(sample["img_path"])} for sample in samples]
