"""Pre-trained sources of MobileNetV3: the original URLs (hash-checked), and the Hub repos holding the same or the nearest weights. No converter for the Hub layout
is written yet, so loading uses the original URL; the Hub entries document where the weights live (TODO: pin
their revisions from the Hub pages and add a key map with a parity test).
"""

from __future__ import annotations

from seglab.fileio.hub import HubFile
from seglab.fileio.sources import PretrainedSource, register

SOURCES = [
    PretrainedSource(
        "open-mmlab://contrib/mobilenet_v3_large",
        "https://download.openmmlab.com/pretrain/third_party/mobilenet_v3_large-bc2c3fd3.pth",
        HubFile(
            "timm/mobilenetv3_large_100.ra_in1k",
            "model.safetensors",
            None,
            "timm",
            "nearest",
            "https://huggingface.co/timm/mobilenetv3_large_100.ra_in1k",
            "same architecture, a different training run",
        ),
    ),
    PretrainedSource(
        "open-mmlab://contrib/mobilenet_v3_small",
        "https://download.openmmlab.com/pretrain/third_party/mobilenet_v3_small-47085aa1.pth",
        HubFile(
            "timm/mobilenetv3_small_100.lamb_in1k",
            "model.safetensors",
            None,
            "timm",
            "nearest",
            "https://huggingface.co/timm/mobilenetv3_small_100.lamb_in1k",
            "same architecture, a different training run",
        ),
    ),
]
register(*SOURCES, family="MobileNetV3")
