"""Pre-trained sources of ResNeXt: the original URLs (hash-checked). No Hub copy of these files is known: they load from the original URL
only (or a local copy of it).
"""

from __future__ import annotations

from seglab.fileio.sources import PretrainedSource, register

SOURCES = [
    PretrainedSource(
        "open-mmlab://resnext50_32x4d",
        "https://download.openmmlab.com/pretrain/third_party/resnext50-32x4d-0ab1a123.pth",
    ),
    PretrainedSource(
        "open-mmlab://resnext101_32x4d",
        "https://download.openmmlab.com/pretrain/third_party/resnext101_32x4d-a5af3160.pth",
    ),
    PretrainedSource(
        "open-mmlab://resnext101_64x4d",
        "https://download.openmmlab.com/pretrain/third_party/resnext101_64x4d-ee2c6f71.pth",
    ),
]
register(*SOURCES, family="ResNeXt")
