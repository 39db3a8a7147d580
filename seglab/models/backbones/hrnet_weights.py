"""Pre-trained sources of HRNet-V2: the original URLs (hash-checked), and the Hub repos holding the same or the nearest weights. No converter for the Hub layout
is written yet, so loading uses the original URL; the Hub entries document where the weights live (TODO: pin
their revisions from the Hub pages and add a key map with a parity test).
"""

from __future__ import annotations

from seglab.fileio.hub import HubFile
from seglab.fileio.sources import PretrainedSource, register

SOURCES = [
    PretrainedSource(
        "open-mmlab://msra/hrnetv2_w18_small",
        "https://download.openmmlab.com/pretrain/third_party/hrnetv2_w18_small-b5a04e21.pth",
        HubFile(
            "timm/hrnet_w18_small_v2.ms_in1k",
            "model.safetensors",
            None,
            "timm",
            "same weights",
            "https://huggingface.co/timm/hrnet_w18_small_v2.ms_in1k",
            "the HRNet authors' ImageNet weights (HRNet-Image-Classification), timm layout",
        ),
    ),
    PretrainedSource(
        "open-mmlab://msra/hrnetv2_w18",
        "https://download.openmmlab.com/pretrain/third_party/hrnetv2_w18-00eb2006.pth",
        HubFile(
            "timm/hrnet_w18.ms_in1k",
            "model.safetensors",
            None,
            "timm",
            "same weights",
            "https://huggingface.co/timm/hrnet_w18.ms_in1k",
            "the HRNet authors' ImageNet weights, timm layout",
        ),
    ),
    PretrainedSource(
        "open-mmlab://msra/hrnetv2_w48",
        "https://download.openmmlab.com/pretrain/third_party/hrnetv2_w48-d2186c55.pth",
        HubFile(
            "timm/hrnet_w48.ms_in1k",
            "model.safetensors",
            None,
            "timm",
            "same weights",
            "https://huggingface.co/timm/hrnet_w48.ms_in1k",
            "the HRNet authors' ImageNet weights, timm layout",
        ),
    ),
]
register(*SOURCES, family="HRNet")
