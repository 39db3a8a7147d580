"""Pre-trained sources of DDRNet: the original URLs (hash-checked). No Hub copy of these files is known: they load from the original URL
only (or a local copy of it).
"""

from __future__ import annotations

from seglab.fileio.sources import PretrainedSource, register

SOURCES = [
    PretrainedSource(
        "https://download.openmmlab.com/mmsegmentation/v0.5/ddrnet/pretrain/ddrnet23s-in1kpre_3rdparty-1ccac5b1.pth",
        "https://download.openmmlab.com/mmsegmentation/v0.5/ddrnet/pretrain/ddrnet23s-in1kpre_3rdparty-1ccac5b1.pth",
    ),
    PretrainedSource(
        "https://download.openmmlab.com/mmsegmentation/v0.5/ddrnet/pretrain/ddrnet23-in1kpre_3rdparty-9ca29f62.pth",
        "https://download.openmmlab.com/mmsegmentation/v0.5/ddrnet/pretrain/ddrnet23-in1kpre_3rdparty-9ca29f62.pth",
    ),
]
register(*SOURCES, family="DDRNet")
