"""Pre-trained sources of MobileNetV2: the original URLs (hash-checked), and the Hub repos holding the same or the nearest weights. No converter for the Hub layout
is written yet, so loading uses the original URL; the Hub entries document where the weights live (TODO: pin
their revisions from the Hub pages and add a key map with a parity test).
"""

from __future__ import annotations

from seglab.fileio.hub import HubFile
from seglab.fileio.sources import PretrainedSource, register

SOURCES = [
    PretrainedSource(
        "mmcls://mobilenet_v2",
        "https://download.openmmlab.com/mmclassification/v0/mobilenet_v2/mobilenet_v2_batch256_imagenet_20200708-3b2dc3af.pth",
        HubFile(
            "timm/mobilenetv2_100.ra_in1k",
            "model.safetensors",
            None,
            "timm",
            "nearest",
            "https://huggingface.co/timm/mobilenetv2_100.ra_in1k",
            "same architecture, timm's RandAugment training instead of mmcls's",
        ),
    ),
]
register(*SOURCES, family="MobileNetV2")
