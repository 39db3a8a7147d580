"""ToyBorderCrop: cut a fixed border off the image and its label maps."""

from __future__ import annotations

from seglab.data.transforms.base import BaseTransform
from seglab.registry import TRANSFORMS


@TRANSFORMS.register()
class ToyBorderCrop(BaseTransform):
    """Remove ``border`` pixels from each side. The output is smaller than the input, so the transform
    declares ``changes_size``: seglab's pre-flight check then asks batches for a padding size."""

    changes_size = True

    def __init__(self, border: int = 2) -> None:
        self.border = border

    def __call__(self, results: dict) -> dict:
        b = self.border
        for key in ["img", *results.get("seg_fields", [])]:
            results[key] = results[key][b : results[key].shape[0] - b, b : results[key].shape[1] - b, ...]
        results["img_shape"] = results["img"].shape[:2]
        return results
