"""Pre-trained sources of Twins (PCPVT, SVT): the original URLs (hash-checked), and the Hub repos holding the same or the nearest weights. No converter for the Hub layout
is written yet, so loading uses the original URL; the Hub entries document where the weights live (TODO: pin
their revisions from the Hub pages and add a key map with a parity test).
"""

from __future__ import annotations

from seglab.fileio.hub import HubFile
from seglab.fileio.sources import PretrainedSource, register

SOURCES = [
    PretrainedSource(
        "https://download.openmmlab.com/mmsegmentation/v0.5/pretrain/twins/pcpvt_small_20220308-e638c41c.pth",
        "https://download.openmmlab.com/mmsegmentation/v0.5/pretrain/twins/pcpvt_small_20220308-e638c41c.pth",
        HubFile(
            "timm/twins_pcpvt_small.in1k",
            "model.safetensors",
            None,
            "timm",
            "same weights",
            "https://huggingface.co/timm/twins_pcpvt_small.in1k",
            "the Twins authors' weights, timm layout",
        ),
    ),
    PretrainedSource(
        "https://download.openmmlab.com/mmsegmentation/v0.5/pretrain/twins/pcpvt_base_20220308-0621964c.pth",
        "https://download.openmmlab.com/mmsegmentation/v0.5/pretrain/twins/pcpvt_base_20220308-0621964c.pth",
        HubFile(
            "timm/twins_pcpvt_base.in1k",
            "model.safetensors",
            None,
            "timm",
            "same weights",
            "https://huggingface.co/timm/twins_pcpvt_base.in1k",
            "the Twins authors' weights, timm layout",
        ),
    ),
    PretrainedSource(
        "https://download.openmmlab.com/mmsegmentation/v0.5/pretrain/twins/pcpvt_large_20220308-37579dc6.pth",
        "https://download.openmmlab.com/mmsegmentation/v0.5/pretrain/twins/pcpvt_large_20220308-37579dc6.pth",
        HubFile(
            "timm/twins_pcpvt_large.in1k",
            "model.safetensors",
            None,
            "timm",
            "same weights",
            "https://huggingface.co/timm/twins_pcpvt_large.in1k",
            "the Twins authors' weights, timm layout",
        ),
    ),
    PretrainedSource(
        "https://download.openmmlab.com/mmsegmentation/v0.5/pretrain/twins/alt_gvt_small_20220308-7e1c3695.pth",
        "https://download.openmmlab.com/mmsegmentation/v0.5/pretrain/twins/alt_gvt_small_20220308-7e1c3695.pth",
        HubFile(
            "timm/twins_svt_small.in1k",
            "model.safetensors",
            None,
            "timm",
            "same weights",
            "https://huggingface.co/timm/twins_svt_small.in1k",
            "the Twins authors' weights, timm layout",
        ),
    ),
    PretrainedSource(
        "https://download.openmmlab.com/mmsegmentation/v0.5/pretrain/twins/alt_gvt_base_20220308-1b7eb711.pth",
        "https://download.openmmlab.com/mmsegmentation/v0.5/pretrain/twins/alt_gvt_base_20220308-1b7eb711.pth",
        HubFile(
            "timm/twins_svt_base.in1k",
            "model.safetensors",
            None,
            "timm",
            "same weights",
            "https://huggingface.co/timm/twins_svt_base.in1k",
            "the Twins authors' weights, timm layout",
        ),
    ),
    PretrainedSource(
        "https://download.openmmlab.com/mmsegmentation/v0.5/pretrain/twins/alt_gvt_large_20220308-fb5936f3.pth",
        "https://download.openmmlab.com/mmsegmentation/v0.5/pretrain/twins/alt_gvt_large_20220308-fb5936f3.pth",
        HubFile(
            "timm/twins_svt_large.in1k",
            "model.safetensors",
            None,
            "timm",
            "same weights",
            "https://huggingface.co/timm/twins_svt_large.in1k",
            "the Twins authors' weights, timm layout",
        ),
    ),
]
register(*SOURCES, family="Twins")
