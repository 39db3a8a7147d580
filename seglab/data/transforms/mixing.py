"""Transforms that paste pixels: cut-out holes, four-image mosaics, depth stripes."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from seglab.data.transforms.base import BaseTransform, check_number, need, need_image, resize, seg_keys
from seglab.errors import ConfigError, DatasetError
from seglab.registry import TRANSFORMS


def _pairs(value: object, name: str) -> list[tuple[float, float]]:
    """One (w, h) pair or a list of them, as a list of candidates."""
    if isinstance(value, Sequence) and len(value) == 2 and all(isinstance(v, int | float) for v in value):
        return [tuple(value)]
    if isinstance(value, Sequence) and value and all(isinstance(v, Sequence) and len(v) == 2 for v in value):
        return [tuple(v) for v in value]
    raise ConfigError(f"RandomCutOut: '{name}' must be (w, h) or a list of (w, h), got {value!r}")


def _fill_values(fill_in: object) -> int:
    """How many values ``fill_in`` holds: 0 for one number (every band), else its length; ConfigError otherwise."""
    if isinstance(fill_in, int | float | np.number) and not isinstance(fill_in, bool):
        return 0
    values = list(fill_in) if isinstance(fill_in, Sequence | np.ndarray) and not isinstance(fill_in, str) else None
    if not values or not all(isinstance(v, int | float | np.number) and not isinstance(v, bool) for v in values):
        raise ConfigError(f"RandomCutOut: 'fill_in' must be a number or a list of numbers, got {fill_in!r}")
    return len(values)


@TRANSFORMS.register()
class RandomCutOut(BaseTransform):
    """With ``prob``, fill ``n_holes`` rectangles (top-left uniform over the image, size from
    ``cutout_shape`` (w, h) pixels or ``cutout_ratio`` of (w, h)) with ``fill_in``, and the labels under
    them with ``seg_fill_in`` when given (else labels are kept). ``fill_in`` is one value per band, or one
    number (or a 1-element list) for every band, so the default (0, 0, 0) fills a 3-band image only."""

    def __init__(
        self,
        prob: float,
        n_holes: int | Sequence[int],
        cutout_shape: Sequence | None = None,
        cutout_ratio: Sequence | None = None,
        fill_in: float | Sequence[float] = (0, 0, 0),
        seg_fill_in: int | None = None,
    ) -> None:
        check_number(prob, "prob", "RandomCutOut", 0, 1)
        if (cutout_shape is None) == (cutout_ratio is None):
            raise ConfigError("RandomCutOut: give exactly one of 'cutout_shape' and 'cutout_ratio'")
        if isinstance(n_holes, int):
            n_holes = (n_holes, n_holes)
        if not (isinstance(n_holes, Sequence) and len(n_holes) == 2 and 0 <= n_holes[0] <= n_holes[1]):
            raise ConfigError(f"RandomCutOut: 'n_holes' must be an int or (min, max), got {n_holes!r}")
        if seg_fill_in is not None and not (isinstance(seg_fill_in, int) and 0 <= seg_fill_in <= 255):
            raise ConfigError(f"RandomCutOut: 'seg_fill_in' must be an int in [0, 255] or None, got {seg_fill_in!r}")
        self.prob = prob
        self.n_holes = tuple(n_holes)
        self.fill_in = fill_in
        self.fill_values = _fill_values(fill_in)
        self.seg_fill_in = seg_fill_in
        self.with_ratio = cutout_ratio is not None
        self.candidates = (
            _pairs(cutout_ratio, "cutout_ratio") if self.with_ratio else _pairs(cutout_shape, "cutout_shape")
        )

    def __call__(self, results: dict) -> dict:
        img = need_image(results, "RandomCutOut", ndim=(3,))
        if self.fill_values not in (0, 1, img.shape[2]):
            raise DatasetError(
                f"RandomCutOut: 'fill_in' has {self.fill_values} values but image "
                f"'{results.get('img_path', '?')}' has {img.shape[2]} bands: give one value per band or one number"
            )
        if not np.random.rand() < self.prob:
            return results
        h, w = img.shape[:2]
        n_holes = np.random.randint(self.n_holes[0], self.n_holes[1] + 1)
        holes = [
            (np.random.randint(0, w), np.random.randint(0, h), np.random.randint(0, len(self.candidates)))
            for _ in range(n_holes)
        ]
        img = img.copy()
        keys = seg_keys(results) if self.seg_fill_in is not None else []
        segs = {key: results[key].copy() for key in keys}
        for x1, y1, index in holes:
            cw, ch = self.candidates[index]
            if self.with_ratio:
                cw, ch = int(cw * w), int(ch * h)
            x2, y2 = np.clip(x1 + cw, 0, w), np.clip(y1 + ch, 0, h)
            img[y1:y2, x1:x2, :] = self.fill_in
            for seg in segs.values():
                seg[y1:y2, x1:x2] = self.seg_fill_in
        results["img"] = img
        results.update(segs)
        return results


@TRANSFORMS.register()
class RandomMosaic(BaseTransform):
    """With ``prob``, tile this sample and the three in ``mix_results`` (which ``MultiImageMixDataset``
    fills, asking ``get_indices``) around a random centre of a 2x ``img_scale`` (h, w) canvas.

    Each image is first shrunk or grown to fit ``img_scale`` keeping its ratio (labels nearest); the
    canvas is ``pad_val``/``seg_pad_val`` where no image lands. ``img_shape``/``ori_shape`` become the
    canvas's (h, w)."""

    changes_size = True

    def __init__(
        self,
        prob: float,
        img_scale: Sequence[int] = (640, 640),
        center_ratio_range: Sequence[float] = (0.5, 1.5),
        pad_val: float = 0,
        seg_pad_val: int = 255,
    ) -> None:
        check_number(prob, "prob", "RandomMosaic", 0, 1)
        if not (
            isinstance(img_scale, Sequence)
            and len(img_scale) == 2
            and all(isinstance(s, int) and s > 0 for s in img_scale)
        ):
            raise ConfigError(f"RandomMosaic: 'img_scale' must be (h, w) of positive ints, got {img_scale!r}")
        self.prob = prob
        self.img_scale = tuple(img_scale)
        self.center_ratio_range = tuple(center_ratio_range)
        self.pad_val = pad_val
        self.seg_pad_val = seg_pad_val

    def get_indices(self, dataset: Sequence) -> list[int]:
        """Three random dataset indices to mix with (``MultiImageMixDataset`` calls this)."""
        return [np.random.randint(0, len(dataset)) for _ in range(3)]

    def __call__(self, results: dict) -> dict:
        if not np.random.rand() < self.prob:
            return results
        mix = need(results, "mix_results", "RandomMosaic", "wrap the dataset in MultiImageMixDataset")
        if len(mix) < 3:
            raise DatasetError(f"RandomMosaic needs 3 samples in 'mix_results', got {len(mix)}")
        patches = [results, *mix[:3]]
        for i, patch in enumerate(patches):
            need_image(patch, "RandomMosaic" if i == 0 else f"RandomMosaic (mix_results[{i - 1}])")
        center = (
            int(np.random.uniform(*self.center_ratio_range) * self.img_scale[1]),
            int(np.random.uniform(*self.center_ratio_range) * self.img_scale[0]),
        )
        keys = seg_keys(results)
        for i, patch in enumerate(patches[1:]):
            for key in keys:
                need(patch, key, f"RandomMosaic (mix_results[{i}])", "every mixed sample needs the same label maps")
        first = results["img"]
        canvas_hw = (self.img_scale[0] * 2, self.img_scale[1] * 2)
        img = np.full(canvas_hw + first.shape[2:], self.pad_val, dtype=first.dtype)
        segs = {key: np.full(canvas_hw, self.seg_pad_val, dtype=results[key].dtype) for key in keys}
        for corner, patch in zip(("top_left", "top_right", "bottom_left", "bottom_right"), patches):
            self.paste(img, patch["img"], corner, center, "bilinear")
            for key in keys:
                self.paste(segs[key], patch[key], corner, center, "nearest")
        results["img"] = img
        results.update(segs)
        results["img_shape"] = img.shape[:2]
        results["ori_shape"] = img.shape[:2]
        return results

    def paste(
        self, canvas: np.ndarray, img: np.ndarray, corner: str, center: tuple[int, int], interpolation: str
    ) -> None:
        """Fit ``img`` into ``img_scale`` and paste the part that falls on the canvas at ``corner``."""
        h, w = img.shape[:2]
        ratio = min(self.img_scale[0] / h, self.img_scale[1] / w)
        # at least one pixel each way (MMSegmentation's OpenCV call fails on a 0-pixel side)
        img = resize(img, (max(int(w * ratio), 1), max(int(h * ratio), 1)), interpolation)
        (px1, py1, px2, py2), (cx1, cy1, cx2, cy2) = self.boxes(corner, center, img.shape[1], img.shape[0])
        canvas[py1:py2, px1:px2] = img[cy1:cy2, cx1:cx2]

    def boxes(self, corner: str, center: tuple[int, int], w: int, h: int) -> tuple[tuple, tuple]:
        """(paste box on the canvas, crop box in the image), each (x1, y1, x2, y2)."""
        cx, cy = center
        max_x, max_y = self.img_scale[1] * 2, self.img_scale[0] * 2
        left = corner.endswith("left")
        top = corner.startswith("top")
        x1, x2 = (max(cx - w, 0), cx) if left else (cx, min(cx + w, max_x))
        y1, y2 = (max(cy - h, 0), cy) if top else (cy, min(cy + h, max_y))
        crop_x1, crop_x2 = (w - (x2 - x1), w) if left else (0, min(w, x2 - x1))
        crop_y1, crop_y2 = (h - (y2 - y1), h) if top else (0, min(y2 - y1, h))
        return (x1, y1, x2, y2), (crop_x1, crop_y1, crop_x2, crop_y2)


@TRANSFORMS.register()
class RandomDepthMix(BaseTransform):
    """With ``prob``, paint a random vertical stripe of the image with the depth map (in its original
    units) in every channel — a depth-estimation augmentation."""

    def __init__(self, prob: float = 0.25, mix_scale_ratio: float = 0.75) -> None:
        check_number(prob, "prob", "RandomDepthMix", 0, 1)
        check_number(mix_scale_ratio, "mix_scale_ratio", "RandomDepthMix", 0)
        self.prob = prob
        self.mix_scale_ratio = mix_scale_ratio

    def __call__(self, results: dict) -> dict:
        if np.random.random() > self.prob:
            return results
        h, w = need(results, "img_shape", "RandomDepthMix")[:2]
        left = int(w * np.random.random())
        width_ratio = self.mix_scale_ratio * np.random.random()
        width = int(max(1, (w - left) * width_ratio))
        img = need_image(results, "RandomDepthMix").copy()
        depth = need(results, "gt_depth_map", "RandomDepthMix", "load it first (LoadDepthAnnotation)")
        depth = depth / results.get("depth_rescale_factor", 1)
        stripe = depth[:, left : left + width]
        img[:, left : left + width] = stripe[..., None] if img.ndim == 3 else stripe
        results["img"] = img
        return results
