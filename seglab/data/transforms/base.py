"""What the transforms share: ``BaseTransform``, ``Compose``, resizing helpers, key checks and optional imports."""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from types import ModuleType
from typing import Any

import cv2
import numpy as np

from seglab.errors import ConfigError, DatasetError, SeglabError, install_hint
from seglab.registry import TRANSFORMS

INTERPOLATION = {
    "nearest": cv2.INTER_NEAREST,
    "bilinear": cv2.INTER_LINEAR,
    "bicubic": cv2.INTER_CUBIC,
    "area": cv2.INTER_AREA,
    "lanczos": cv2.INTER_LANCZOS4,
}


class BaseTransform:
    """What every transform is: a callable from the sample dict to the sample dict (or ``None`` to drop it).

    Central code reads what a transform declares instead of keeping lists of names: ``changes_size`` says
    its output image can have another H×W than its input (resizers, crops, pads, mosaics, 90° turns; a
    wrapper says False and is judged by what it runs), which the pre-flight check uses to ask for batch
    padding; ``IGNORED_ARGS`` (optional) lists accepted-but-ignored arguments with their defaults."""

    changes_size: bool = False

    def __call__(self, results: dict) -> dict | None:
        raise NotImplementedError


class Compose:
    """Apply transforms in order; each is a callable or a config dict (MMCV's ``Compose``).

    A transform that returns ``None`` drops the sample, as in MMCV; a transform that looks up a key
    the sample lacks fails with a ``ConfigError`` naming the transform and the key (a pipeline-order
    mistake) instead of a bare ``KeyError``; any other failure inside a transform (OpenCV refusing an
    array, NumPy broadcasting) becomes a ``DatasetError`` naming the transform, the file and the arrays'
    shapes and dtypes, with the original exception chained for ``--debug``."""

    def __init__(self, transforms: Sequence[Any] | dict | Any | None) -> None:
        if isinstance(transforms, dict) or callable(transforms):
            transforms = [transforms]
        self.transforms = []
        for t in transforms or []:
            if isinstance(t, dict):
                self.transforms.append(TRANSFORMS.build(t))
            elif callable(t):
                self.transforms.append(t)
            else:
                raise ConfigError(f"a pipeline entry must be a transform config dict or a callable, got {t!r}")

    def __iter__(self):
        return iter(self.transforms)

    def __call__(self, results: dict) -> dict | None:
        for transform in self.transforms:
            try:
                results = transform(results)
            except KeyError as err:
                key = err.args[0] if err.args else "?"
                name = type(transform).__name__
                raise ConfigError(
                    f"{name}: the sample has no key {key!r} (it has: {', '.join(map(str, results))}); "
                    f"put the transform that adds {key!r} before {name} in the pipeline"
                ) from None
            except SeglabError:
                raise
            except Exception as err:
                raise DatasetError(
                    f"{type(transform).__name__} failed on {describe_sample(results)}: {type(err).__name__}: "
                    f"{str(err).strip().splitlines()[-1] if str(err).strip() else 'no message'}. Check that file "
                    "('seglab check-data CONFIG') and the transforms before this one; --debug shows the traceback"
                ) from err
            if results is None:
                return None
        return results


def describe_sample(results: dict) -> str:
    """``'a.png' (img 0x5x3 uint8, gt_seg_map 0x5 uint8)``: the file and the arrays a transform saw."""
    path = results.get("img_path") or results.get("seg_map_path") or "an in-memory sample"
    arrays = [
        f"{key} {'x'.join(map(str, value.shape))} {value.dtype}"
        for key, value in results.items()
        if isinstance(value, np.ndarray)
    ]
    return f"'{path}' ({', '.join(arrays)})" if arrays else f"'{path}'"


def need(results: dict, key: str, transform: str, hint: str = "") -> Any:
    """``results[key]``, or one ``ConfigError`` naming the transform, the key and what adds it."""
    if key not in results or results[key] is None:
        extra = f"; {hint}" if hint else ""
        raise ConfigError(f"{transform} needs '{key}' in the sample, which has only {sorted(map(str, results))}{extra}")
    return results[key]


def need_image(results: dict, transform: str, ndim: tuple[int, ...] = (2, 3)) -> np.ndarray:
    """The sample's image, checked to be an array of one of the ``ndim`` ranks."""
    img = need(results, "img", transform, "load it first (LoadImageFromFile)")
    if not isinstance(img, np.ndarray) or img.ndim not in ndim:
        shape = getattr(img, "shape", type(img).__name__)
        raise DatasetError(f"{transform}: 'img' must be a {' or '.join(map(str, ndim))}-D array, got {shape}")
    if img.size == 0:  # OpenCV hangs or fails obscurely on empty images (CLAHE never returns)
        raise DatasetError(
            f"{transform}: the image of {describe_sample(results)} is empty; check the file, or a crop or "
            "resize earlier in the pipeline"
        )
    return img


def optional_import(module: str, transform: str, extra: str) -> ModuleType:
    """Import an optional dependency when a transform is built, or fail naming the package and the extra."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise ConfigError(
            f"{transform} needs the package '{module}', which is not installed: " + install_hint(module, extra)
        ) from None


def check_number(value: Any, name: str, transform: str, low: float | None = None, high: float | None = None) -> None:
    """A ``ConfigError`` unless ``value`` is a real number within [low, high]."""
    ok = isinstance(value, int | float | np.number) and not isinstance(value, bool)
    if ok and low is not None and value < low:
        ok = False
    if ok and high is not None and value > high:
        ok = False
    if not ok:
        bounds = (
            f" in [{low}, {high}]"
            if low is not None and high is not None
            else (f" >= {low}" if low is not None else "")
        )
        raise ConfigError(f"{transform}: '{name}' must be a number{bounds}, got {value!r}")


def check_pair(value: Any, name: str, transform: str, kind: type | tuple = (int, float)) -> tuple:
    """A 2-sequence of numbers as a tuple, or a ``ConfigError`` naming the argument."""
    if not (isinstance(value, Sequence) and not isinstance(value, str) and len(value) == 2) or not all(
        isinstance(v, kind) and not isinstance(v, bool) for v in value
    ):
        raise ConfigError(f"{transform}: '{name}' must be a pair of numbers, got {value!r}")
    return tuple(value)


def check_size(value: Any, name: str, transform: str, minimum: int = 1) -> tuple[int, int]:
    """An int (both sides) or a pair of ints >= ``minimum`` as a tuple, or a ``ConfigError`` naming the argument."""
    pair = (value, value) if isinstance(value, int) and not isinstance(value, bool) else value
    if not (
        isinstance(pair, Sequence)
        and not isinstance(pair, str)
        and len(pair) == 2
        and all(isinstance(v, int) and not isinstance(v, bool) and v >= minimum for v in pair)
    ):
        raise ConfigError(f"{transform}: '{name}' must be an int or a pair of ints >= {minimum}, got {value!r}")
    return tuple(pair)


def check_choice(value: Any, name: str, transform: str, choices: Sequence[str]) -> str:
    if value not in choices:
        raise ConfigError(f"{transform}: '{name}' must be one of {list(choices)}, got {value!r}")
    return value


def seg_keys(results: dict) -> list[str]:
    return [k for k in results.get("seg_fields", []) if k in results]


def rescale_size(w: int, h: int, scale: Sequence[float]) -> tuple[int, int]:
    """Largest (w, h) that fits ``scale``'s long and short edge while keeping the aspect ratio."""
    long_edge, short_edge = max(scale), min(scale)
    factor = min(long_edge / max(h, w), short_edge / min(h, w))
    return int(w * factor + 0.5), int(h * factor + 0.5)


def scale_size(w: int, h: int, factor: float | Sequence[float]) -> tuple[int, int]:
    """(w, h) times a factor (one, or (fx, fy)), rounded as MMCV's ``_scale_size``."""
    fx, fy = (factor, factor) if isinstance(factor, int | float) else factor
    return int(w * float(fx) + 0.5), int(h * float(fy) + 0.5)


def resize(img: np.ndarray, size: tuple[int, int], interpolation: str) -> np.ndarray:
    """cv2.resize to ``size`` = (w, h) with a named interpolation."""
    return cv2.resize(img, size, interpolation=INTERPOLATION[interpolation])


def border_value(value: float | Sequence[float]) -> tuple[float, ...]:
    """OpenCV border value: one number means every channel."""
    return tuple(float(v) for v in value) if isinstance(value, Sequence) else (float(value),) * 4


def store_image(results: dict, img: np.ndarray, to_float32: bool = False) -> dict:
    """What every image loader ends with: ``img`` (as float32 when asked) and its ``img_shape``/``ori_shape``."""
    results["img"] = img.astype(np.float32) if to_float32 else img
    results["img_shape"] = img.shape[:2]
    results["ori_shape"] = img.shape[:2]
    return results
