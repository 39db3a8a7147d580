"""Pre-trained sources of ResNeSt: the original URLs (hash-checked), and the Hub repos holding the same or the nearest weights. No converter for the Hub layout
is written yet, so loading uses the original URL; the Hub entries document where the weights live (TODO: pin
their revisions from the Hub pages and add a key map with a parity test).
"""

from __future__ import annotations

from seglab.fileio.hub import HubFile
from seglab.fileio.sources import PretrainedSource, register

SOURCES = [
    PretrainedSource(
        "open-mmlab://resnest50",
        "https://download.openmmlab.com/pretrain/third_party/resnest50_d2-7497a55b.pth",
        HubFile(
            "timm/resnest50d.in1k",
            "model.safetensors",
            None,
            "timm",
            "same weights",
            "https://huggingface.co/timm/resnest50d.in1k",
            "the ResNeSt authors' weights, timm layout",
        ),
    ),
    PretrainedSource(
        "open-mmlab://resnest101",
        "https://download.openmmlab.com/pretrain/third_party/resnest101_d2-f3b931b2.pth",
        HubFile(
            "timm/resnest101e.in1k",
            "model.safetensors",
            None,
            "timm",
            "same weights",
            "https://huggingface.co/timm/resnest101e.in1k",
            "the ResNeSt authors' weights, timm layout",
        ),
    ),
    PretrainedSource(
        "open-mmlab://resnest200",
        "https://download.openmmlab.com/pretrain/third_party/resnest200_d2-ca88e41f.pth",
        HubFile(
            "timm/resnest200e.in1k",
            "model.safetensors",
            None,
            "timm",
            "same weights",
            "https://huggingface.co/timm/resnest200e.in1k",
            "the ResNeSt authors' weights, timm layout",
        ),
    ),
]
register(*SOURCES, family="ResNeSt")
