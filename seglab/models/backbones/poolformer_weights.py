"""Pre-trained sources of PoolFormer: the original URLs (hash-checked), and the Hub repos holding the same or the nearest weights. No converter for the Hub layout
is written yet, so loading uses the original URL; the Hub entries document where the weights live (TODO: pin
their revisions from the Hub pages and add a key map with a parity test).
"""

from __future__ import annotations

from seglab.fileio.hub import HubFile
from seglab.fileio.sources import PretrainedSource, register

SOURCES = [
    PretrainedSource(
        "https://download.openmmlab.com/mmclassification/v0/poolformer/poolformer-s12_3rdparty_32xb128_in1k_20220414-f8d83051.pth",
        "https://download.openmmlab.com/mmclassification/v0/poolformer/poolformer-s12_3rdparty_32xb128_in1k_20220414-f8d83051.pth",
        HubFile(
            "timm/poolformer_s12.sail_in1k",
            "model.safetensors",
            None,
            "timm",
            "same weights",
            "https://huggingface.co/timm/poolformer_s12.sail_in1k",
            "the PoolFormer authors' (Sea AI Lab) weights, timm layout",
        ),
    ),
    PretrainedSource(
        "https://download.openmmlab.com/mmclassification/v0/poolformer/poolformer-s24_3rdparty_32xb128_in1k_20220414-d7055904.pth",
        "https://download.openmmlab.com/mmclassification/v0/poolformer/poolformer-s24_3rdparty_32xb128_in1k_20220414-d7055904.pth",
        HubFile(
            "timm/poolformer_s24.sail_in1k",
            "model.safetensors",
            None,
            "timm",
            "same weights",
            "https://huggingface.co/timm/poolformer_s24.sail_in1k",
            "the PoolFormer authors' (Sea AI Lab) weights, timm layout",
        ),
    ),
    PretrainedSource(
        "https://download.openmmlab.com/mmclassification/v0/poolformer/poolformer-s36_3rdparty_32xb128_in1k_20220414-d78ff3e8.pth",
        "https://download.openmmlab.com/mmclassification/v0/poolformer/poolformer-s36_3rdparty_32xb128_in1k_20220414-d78ff3e8.pth",
        HubFile(
            "timm/poolformer_s36.sail_in1k",
            "model.safetensors",
            None,
            "timm",
            "same weights",
            "https://huggingface.co/timm/poolformer_s36.sail_in1k",
            "the PoolFormer authors' (Sea AI Lab) weights, timm layout",
        ),
    ),
    PretrainedSource(
        "https://download.openmmlab.com/mmclassification/v0/poolformer/poolformer-m36_3rdparty_32xb128_in1k_20220414-c55e0949.pth",
        "https://download.openmmlab.com/mmclassification/v0/poolformer/poolformer-m36_3rdparty_32xb128_in1k_20220414-c55e0949.pth",
        HubFile(
            "timm/poolformer_m36.sail_in1k",
            "model.safetensors",
            None,
            "timm",
            "same weights",
            "https://huggingface.co/timm/poolformer_m36.sail_in1k",
            "the PoolFormer authors' (Sea AI Lab) weights, timm layout",
        ),
    ),
    PretrainedSource(
        "https://download.openmmlab.com/mmclassification/v0/poolformer/poolformer-m48_3rdparty_32xb128_in1k_20220414-9378f3eb.pth",
        "https://download.openmmlab.com/mmclassification/v0/poolformer/poolformer-m48_3rdparty_32xb128_in1k_20220414-9378f3eb.pth",
        HubFile(
            "timm/poolformer_m48.sail_in1k",
            "model.safetensors",
            None,
            "timm",
            "same weights",
            "https://huggingface.co/timm/poolformer_m48.sail_in1k",
            "the PoolFormer authors' (Sea AI Lab) weights, timm layout",
        ),
    ),
]
register(*SOURCES, family="PoolFormer")
