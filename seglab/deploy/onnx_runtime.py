"""``seglab infer --backend onnxruntime``: label maps from an exported ``.onnx`` file.

Each image goes the PyTorch path's way: the test pipeline stored in the file's metadata (a fixed-size
graph instead resizes to its input size), the graph, then logits resized to the original size with the
model's ``align_corners`` and turned into labels by the same function. A graph with argmax inside gives
labels at its input size; they are resized to the original size by nearest neighbour.
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import torch

from seglab.data.transforms import Compose, Resize
from seglab.deploy.common import INPUT_NAME, METADATA_KEYS, require
from seglab.errors import ConfigError
from seglab.models.layers import resize
from seglab.models.prediction import logits_to_labels


class OnnxSegmentor:
    """An exported model with its metadata; ``predict_labels(bgr_image)`` -> (H, W) int64 labels."""

    def __init__(self, path: str | Path, device: str = "cpu") -> None:
        ort = require("onnxruntime")
        path = Path(path)
        if not path.is_file():
            raise ConfigError(f"ONNX model '{path}' not found")
        providers = ["CPUExecutionProvider"]
        if device.startswith("cuda") and "CUDAExecutionProvider" in ort.get_available_providers():
            providers.insert(0, "CUDAExecutionProvider")
        try:
            self.session = ort.InferenceSession(str(path), providers=providers)
        except Exception as err:  # onnxruntime's own error types; the user needs the file and the reason
            raise ConfigError(f"onnxruntime cannot load '{path}': {str(err).splitlines()[0]}") from None
        props = self.session.get_modelmeta().custom_metadata_map
        missing = [k for k in METADATA_KEYS if k not in props]
        if missing:
            raise ConfigError(f"'{path}' has no seglab metadata ({', '.join(missing)}); export it with 'seglab export'")
        self.meta = {k: json.loads(props[k]) for k in METADATA_KEYS}
        self.dataset_meta = {"classes": tuple(self.meta["classes"]), "palette": self.meta["palette"]}
        size = self.meta["input_size"]
        if size:  # a fixed graph: every image is resized to its input size
            self.pipeline = Compose([Resize(scale=(size[1], size[0]), keep_ratio=False)])
        else:
            self.pipeline = Compose([dict(step) for step in self.meta["test_pipeline"]])

    def predict_labels(self, img: np.ndarray) -> np.ndarray:
        """(H, W) class indices for one HxWx3 BGR image at its own size."""
        ori_h, ori_w = img.shape[:2]
        sample = self.pipeline({"img": img, "img_shape": (ori_h, ori_w), "ori_shape": (ori_h, ori_w)})
        batch = np.ascontiguousarray(sample["img"].transpose(2, 0, 1)[None], dtype=np.float32)
        try:
            out = self.session.run(None, {INPUT_NAME: batch})[0]
        except Exception as err:  # onnxruntime's own error types
            raise ConfigError(
                f"onnxruntime failed on a {batch.shape} input: {str(err).splitlines()[0][:300]}"
            ) from None
        if self.meta["argmax"]:
            labels = out[0]
            if labels.shape != (ori_h, ori_w):
                labels = cv2.resize(labels.astype(np.int32), (ori_w, ori_h), interpolation=cv2.INTER_NEAREST)
            return labels.astype(np.int64)
        logits = resize(torch.from_numpy(out), (ori_h, ori_w), self.meta["align_corners"])[0]
        return logits_to_labels(logits, self.meta["threshold"]).numpy()
