"""``Albu``: a pipeline of Albumentations transforms on the image (RGB) and label map."""

from __future__ import annotations

import copy
import inspect
from collections.abc import Sequence

import cv2

from seglab.data.transforms.base import BaseTransform, need_image, optional_import
from seglab.errors import ConfigError
from seglab.registry import TRANSFORMS


@TRANSFORMS.register()
class Albu(BaseTransform):
    """Run Albumentations transforms given as config dicts (``type`` names an Albumentations class;
    ``OneOf``/``Compose`` take nested ``transforms``). ``keymap`` maps sample keys to Albumentations'
    (default ``img -> image``, ``gt_seg_map -> mask``); the image goes in as RGB and comes back BGR.
    Needs ``albumentations`` (``pip install albumentations``, or the ``albu`` extra); its random draws are its own."""

    def __init__(self, transforms: Sequence[dict], keymap: dict | None = None, update_pad_shape: bool = False) -> None:
        self.albu = optional_import("albumentations", "Albu", "albu")
        if isinstance(transforms, dict) or not isinstance(transforms, Sequence):
            raise ConfigError(f"Albu: 'transforms' must be a list of Albumentations configs, got {transforms!r}")
        self.transforms = copy.deepcopy(list(transforms))
        self.aug = self.albu.Compose([self.build(t) for t in self.transforms])
        self.keymap_to_albu = dict(keymap) if keymap else {"img": "image", "gt_seg_map": "mask"}
        self.keymap_back = {v: k for k, v in self.keymap_to_albu.items()}
        self.update_pad_shape = update_pad_shape

    def build(self, cfg: dict) -> object:
        if not isinstance(cfg, dict) or "type" not in cfg:
            raise ConfigError(f"Albu: each transform must be a dict with a 'type', got {cfg!r}")
        args = dict(cfg)
        kind = args.pop("type")
        if isinstance(kind, str):
            if not hasattr(self.albu, kind):
                raise ConfigError(f"Albu: albumentations {self.albu.__version__} has no transform '{kind}'")
            kind = getattr(self.albu, kind)
        elif not inspect.isclass(kind):
            raise ConfigError(f"Albu: 'type' must be an Albumentations class name, got {kind!r}")
        if "transforms" in args:
            args["transforms"] = [self.build(t) for t in args["transforms"]]
        try:
            return kind(**args)
        except (TypeError, ValueError) as err:
            raise ConfigError(f"Albu: cannot build {kind.__name__}({args}): {err}") from None

    def __call__(self, results: dict) -> dict:
        need_image(results, "Albu", ndim=(3,))
        data = {albu_key: results[key] for key, albu_key in self.keymap_to_albu.items() if key in results}
        if "image" not in data:
            raise ConfigError(f"Albu: keymap {self.keymap_to_albu} must map the image key to 'image'")
        bgr = data["image"].shape[2] == 3  # other band counts go to albumentations as they are, band by band
        if bgr:
            data["image"] = cv2.cvtColor(data["image"], cv2.COLOR_BGR2RGB)
        out = self.aug(**data)
        if bgr:
            out["image"] = cv2.cvtColor(out["image"], cv2.COLOR_RGB2BGR)
        for albu_key, value in out.items():
            results[self.keymap_back.get(albu_key, albu_key)] = value
        if self.update_pad_shape:
            results["pad_shape"] = results["img"].shape
        return results
