"""Pre-trained sources of PIDNet: the original URLs (hash-checked). No Hub copy of these files is known: they load from the original URL
only (or a local copy of it).
"""

from __future__ import annotations

from seglab.fileio.sources import PretrainedSource, register

SOURCES = [
    PretrainedSource(
        "https://download.openmmlab.com/mmsegmentation/v0.5/pretrain/pidnet/pidnet-s_imagenet1k_20230306-715e6273.pth",
        "https://download.openmmlab.com/mmsegmentation/v0.5/pretrain/pidnet/pidnet-s_imagenet1k_20230306-715e6273.pth",
    ),
    PretrainedSource(
        "https://download.openmmlab.com/mmsegmentation/v0.5/pretrain/pidnet/pidnet-m_imagenet1k_20230306-39893c52.pth",
        "https://download.openmmlab.com/mmsegmentation/v0.5/pretrain/pidnet/pidnet-m_imagenet1k_20230306-39893c52.pth",
    ),
    PretrainedSource(
        "https://download.openmmlab.com/mmsegmentation/v0.5/pretrain/pidnet/pidnet-l_imagenet1k_20230306-67889109.pth",
        "https://download.openmmlab.com/mmsegmentation/v0.5/pretrain/pidnet/pidnet-l_imagenet1k_20230306-67889109.pth",
    ),
]
register(*SOURCES, family="PIDNet")
