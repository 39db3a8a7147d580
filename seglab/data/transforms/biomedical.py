"""3-D medical volumes: loaders (NIfTI through ``nibabel``, ``.npy``) and crop / pad / flip.

Volumes are N x Z x Y x X (N modalities) and label maps Z x Y x X, as MMSegmentation lays them out:
NIfTI stores X, Y, Z, so its arrays are transposed on load; ``to_xyz=True`` transposes back."""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np

from seglab.data.transforms.base import BaseTransform, check_number, need
from seglab.data.transforms.loading import check_backend, read_array
from seglab.errors import ConfigError, DatasetError
from seglab.registry import TRANSFORMS


class _BiomedicalLoader(BaseTransform):
    IGNORED_ARGS = {"backend_args": None}

    def __init__(
        self,
        decode_backend: str = "nifti",
        to_xyz: bool = False,
        to_float32: bool = True,
        backend_args: dict | None = None,
    ) -> None:
        self.decode_backend = check_backend(decode_backend, type(self).__name__)
        self.to_xyz = to_xyz
        self.to_float32 = to_float32

    def flip_axes(self, data: np.ndarray, order: tuple[int, ...]) -> np.ndarray:
        """NIfTI's X, Y, Z to Z, Y, X, then back if ``to_xyz`` (the two cancel out, as upstream)."""
        if self.decode_backend == "nifti":
            data = data.transpose(order)
        if self.to_xyz:
            data = data.transpose(order)
        return data

    def read(self, results: dict, key: str, ndim: tuple[int, ...]) -> np.ndarray:
        name = type(self).__name__
        data = read_array(need(results, key, name), self.decode_backend, name)
        if not isinstance(data, np.ndarray) or data.ndim not in ndim:
            shape = getattr(data, "shape", type(data).__name__)
            raise DatasetError(
                f"{name}: '{results[key]}' holds {shape}; expected a {' or '.join(map(str, ndim))}-D array"
            )
        return data


@TRANSFORMS.register()
class LoadBiomedicalImageFromFile(_BiomedicalLoader):
    """Read ``img_path`` as N x Z x Y x X (a 3-D volume gets N = 1), float32 unless ``to_float32=False``."""

    def __call__(self, results: dict) -> dict:
        img = self.read(results, "img_path", (3, 4))
        if self.to_float32:
            img = img.astype(np.float32)
        if img.ndim == 3:
            img = img[None]
        img = self.flip_axes(img, (0, 3, 2, 1))
        results["img"] = img
        results["img_shape"] = img.shape[1:]
        results["ori_shape"] = img.shape[1:]
        return results


@TRANSFORMS.register()
class LoadBiomedicalAnnotation(_BiomedicalLoader):
    """Read ``seg_map_path`` as a Z x Y x X label volume into ``gt_seg_map`` (float32 by default, as upstream)."""

    def __call__(self, results: dict) -> dict:
        seg = self.read(results, "seg_map_path", (3,))
        if self.to_float32:
            seg = seg.astype(np.float32)
        results["gt_seg_map"] = self.flip_axes(seg, (2, 1, 0))
        return results


@TRANSFORMS.register()
class LoadBiomedicalData(_BiomedicalLoader):
    """Read one N x ... array whose last entry along N is the label volume (``with_seg``) and the others the image."""

    IGNORED_ARGS = {"backend_args": None}

    def __init__(
        self,
        with_seg: bool = False,
        decode_backend: str = "numpy",
        to_xyz: bool = False,
        backend_args: dict | None = None,
    ) -> None:
        super().__init__(decode_backend=decode_backend, to_xyz=to_xyz, to_float32=False, backend_args=backend_args)
        self.with_seg = with_seg

    def __call__(self, results: dict) -> dict:
        data = self.read(results, "img_path", (4,))
        img = self.flip_axes(data[:-1], (0, 3, 2, 1))
        results["img"] = img
        results["img_shape"] = img.shape[1:]
        results["ori_shape"] = img.shape[1:]
        if self.with_seg:
            results["gt_seg_map"] = self.flip_axes(data[-1], (2, 1, 0))
        return results


def _volume(results: dict, transform: str) -> np.ndarray:
    img = need(results, "img", transform, "load it first (LoadBiomedicalImageFromFile)")
    if not isinstance(img, np.ndarray) or img.ndim != 4:
        raise DatasetError(
            f"{transform}: 'img' must be an N x Z x Y x X array, got shape {getattr(img, 'shape', None)}"
        )
    return img


def _triple(value: int | Sequence[int], name: str, transform: str) -> tuple[int, int, int]:
    value = (value,) * 3 if isinstance(value, int) else value
    if not (isinstance(value, Sequence) and len(value) == 3 and all(isinstance(v, int) and v > 0 for v in value)):
        raise ConfigError(f"{transform}: '{name}' must be a positive int or (z, y, x), got {value!r}")
    return tuple(value)


@TRANSFORMS.register()
class BioMedical3DRandomCrop(BaseTransform):
    """Crop ``crop_shape`` (z, y, x) from image and labels; with ``keep_foreground`` the crop is centred
    (as far as the borders allow) on a random voxel of a random foreground class (nnU-Net's sampling)."""

    changes_size = True

    def __init__(self, crop_shape: int | Sequence[int], keep_foreground: bool = True) -> None:
        self.crop_shape = _triple(crop_shape, "crop_shape", "BioMedical3DRandomCrop")
        self.keep_foreground = keep_foreground

    @staticmethod
    def random_foreground_voxel(seg: np.ndarray) -> np.ndarray | None:
        """A voxel of a random non-zero class, drawn as MMSegmentation draws it (same RNG calls)."""
        class_locs, foreground = {}, []
        for c in np.unique(seg):
            if c == 0:
                continue
            locs = np.argwhere(seg == c)
            n = max(min(10000, len(locs)), int(np.ceil(len(locs) * 0.01)))
            class_locs[c] = locs[np.random.choice(len(locs), n, replace=False)]
            foreground.append(c)
        if not foreground:
            return None
        voxels = class_locs[np.random.choice(foreground)]
        return voxels[np.random.choice(len(voxels))]

    def margins(self, results: dict, seg: np.ndarray) -> tuple[int, int, int]:
        full = tuple(max(s - c, 0) for s, c in zip(seg.shape, self.crop_shape))
        if not self.keep_foreground:
            return full
        voxel = self.random_foreground_voxel(seg)
        if voxel is None:
            warnings.warn(f"case does not contain any foreground classes: {results.get('img_path')}", stacklevel=2)
            return full
        return tuple(max(0, min(s - c, max(0, int(v) - c // 2))) for v, s, c in zip(voxel, seg.shape, self.crop_shape))

    def __call__(self, results: dict) -> dict:
        img = _volume(results, "BioMedical3DRandomCrop")
        seg = need(results, "gt_seg_map", "BioMedical3DRandomCrop", "load labels first (LoadBiomedicalAnnotation)")
        if seg.shape != img.shape[1:]:
            raise DatasetError(f"BioMedical3DRandomCrop: gt_seg_map {seg.shape} does not match img {img.shape[1:]}")
        offsets = [np.random.randint(0, m + 1) for m in self.margins(results, seg)]
        box = tuple(slice(o, o + c) for o, c in zip(offsets, self.crop_shape))
        results["img"] = img[(slice(None), *box)]
        results["img_shape"] = results["img"].shape[1:]
        results["gt_seg_map"] = seg[box]
        return results


@TRANSFORMS.register()
class BioMedical3DPad(BaseTransform):
    """Pad image (``pad_val``) and labels (``seg_pad_val``) evenly on both sides up to ``pad_shape`` (z, y, x).

    MMSegmentation 1.2.2 pads X to ``pad_shape[2]`` minus the *Y* size and empties the label map
    (``[1:]`` of a 1-long axis); seglab pads X by its own size and keeps the labels."""

    changes_size = True

    def __init__(self, pad_shape: Sequence[int], pad_val: float = 0.0, seg_pad_val: int = 0) -> None:
        self.pad_shape = _triple(pad_shape, "pad_shape", "BioMedical3DPad")
        check_number(pad_val, "pad_val", "BioMedical3DPad")
        check_number(seg_pad_val, "seg_pad_val", "BioMedical3DPad")
        self.pad_val = pad_val
        self.seg_pad_val = seg_pad_val

    def pad(self, volume: np.ndarray, value: float) -> np.ndarray:
        widths = [(0, 0)]
        for size, target in zip(volume.shape[1:], self.pad_shape):
            extra = max(target - size, 0)
            widths.append((extra // 2, extra - extra // 2))
        return np.pad(volume, widths, mode="constant", constant_values=value)

    def __call__(self, results: dict) -> dict:
        results["img"] = self.pad(_volume(results, "BioMedical3DPad"), self.pad_val)
        results["pad_shape"] = results["img"].shape[1:]
        if results.get("gt_seg_map") is not None:
            results["gt_seg_map"] = self.pad(results["gt_seg_map"][None], self.seg_pad_val)[0]
        return results


@TRANSFORMS.register()
class BioMedical3DRandomFlip(BaseTransform):
    """Flip along each of ``axes`` (0, 1, 2 = Z, Y, X of the volume) with probability ``prob`` each,
    image and labels together; ``swap_label_pairs`` exchanges left/right classes after a flip.

    A sample that already has ``do_flip`` is flipped that way (to undo or repeat a flip)."""

    def __init__(
        self, prob: float, axes: Sequence[int], swap_label_pairs: Sequence[Sequence[int]] | None = None
    ) -> None:
        check_number(prob, "prob", "BioMedical3DRandomFlip", 0, 1)
        if axes is not None and not (isinstance(axes, Sequence) and all(a in (0, 1, 2) for a in axes)):
            raise ConfigError(f"BioMedical3DRandomFlip: 'axes' must be a tuple of 0, 1, 2, got {axes!r}")
        self.prob = prob
        self.axes = None if axes is None else tuple(axes)
        self.swap_label_pairs = swap_label_pairs

    def draw(self, img: np.ndarray) -> tuple[bool, bool, bool]:
        """Which of the three axes to flip; draws only for listed axes, in MMSegmentation's order."""
        if self.axes is None:
            return False, False, False
        flips = [a in self.axes and np.random.rand() < self.prob for a in (0, 1)]
        flips.append(img.ndim == 4 and 2 in self.axes and np.random.rand() < self.prob)
        return tuple(bool(f) for f in flips)

    @staticmethod
    def flip(volume: np.ndarray, direction: Sequence[bool]) -> np.ndarray:
        axes = tuple(i + 1 for i, d in enumerate(direction) if d and i + 1 < volume.ndim)
        return np.flip(volume, axes).copy() if axes else volume

    def swap(self, seg: np.ndarray) -> np.ndarray:
        out = seg.copy()
        for first, second in self.swap_label_pairs:
            out[seg == first] = second
            out[seg == second] = first
        return out

    def __call__(self, results: dict) -> dict:
        img = need(results, "img", "BioMedical3DRandomFlip")
        if "do_flip" not in results:
            results["do_flip"] = self.draw(img)
        results.setdefault("flip_axes", self.axes)
        results["img"] = self.flip(img, results["do_flip"])
        seg = results.get("gt_seg_map")
        if seg is not None:
            added = seg.shape != img.shape
            seg = self.flip(seg[None] if added else seg, results["do_flip"])
            seg = seg[0] if added or seg.shape[0] == 1 else seg
            results["gt_seg_map"] = self.swap(seg) if self.swap_label_pairs is not None else seg
        return results
