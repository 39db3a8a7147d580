"""Pre-trained sources of MiT (SegFormer): the original URLs (hash-checked), and the Hub repos holding the same or the nearest weights. No converter for the Hub layout
is written yet, so loading uses the original URL; the Hub entries document where the weights live (TODO: pin
their revisions from the Hub pages and add a key map with a parity test).
"""

from __future__ import annotations

from seglab.fileio.hub import HubFile
from seglab.fileio.sources import PretrainedSource, register

SOURCES = [
    PretrainedSource(
        "https://download.openmmlab.com/mmsegmentation/v0.5/pretrain/segformer/mit_b0_20220624-7e0fe6dd.pth",
        "https://download.openmmlab.com/mmsegmentation/v0.5/pretrain/segformer/mit_b0_20220624-7e0fe6dd.pth",
        HubFile(
            "nvidia/mit-b0",
            "pytorch_model.bin",
            None,
            "transformers",
            "same weights",
            "https://huggingface.co/nvidia/mit-b0",
            "the SegFormer authors' ImageNet MiT-B0, transformers layout",
        ),
    ),
    PretrainedSource(
        "https://download.openmmlab.com/mmsegmentation/v0.5/pretrain/segformer/mit_b1_20220624-02e5a6a1.pth",
        "https://download.openmmlab.com/mmsegmentation/v0.5/pretrain/segformer/mit_b1_20220624-02e5a6a1.pth",
        HubFile(
            "nvidia/mit-b1",
            "pytorch_model.bin",
            None,
            "transformers",
            "same weights",
            "https://huggingface.co/nvidia/mit-b1",
            "the SegFormer authors' ImageNet MiT-B1, transformers layout",
        ),
    ),
    PretrainedSource(
        "https://download.openmmlab.com/mmsegmentation/v0.5/pretrain/segformer/mit_b2_20220624-66e8bf70.pth",
        "https://download.openmmlab.com/mmsegmentation/v0.5/pretrain/segformer/mit_b2_20220624-66e8bf70.pth",
        HubFile(
            "nvidia/mit-b2",
            "pytorch_model.bin",
            None,
            "transformers",
            "same weights",
            "https://huggingface.co/nvidia/mit-b2",
            "the SegFormer authors' ImageNet MiT-B2, transformers layout",
        ),
    ),
    PretrainedSource(
        "https://download.openmmlab.com/mmsegmentation/v0.5/pretrain/segformer/mit_b3_20220624-13b1141c.pth",
        "https://download.openmmlab.com/mmsegmentation/v0.5/pretrain/segformer/mit_b3_20220624-13b1141c.pth",
        HubFile(
            "nvidia/mit-b3",
            "pytorch_model.bin",
            None,
            "transformers",
            "same weights",
            "https://huggingface.co/nvidia/mit-b3",
            "the SegFormer authors' ImageNet MiT-B3, transformers layout",
        ),
    ),
    PretrainedSource(
        "https://download.openmmlab.com/mmsegmentation/v0.5/pretrain/segformer/mit_b4_20220624-d588d980.pth",
        "https://download.openmmlab.com/mmsegmentation/v0.5/pretrain/segformer/mit_b4_20220624-d588d980.pth",
        HubFile(
            "nvidia/mit-b4",
            "pytorch_model.bin",
            None,
            "transformers",
            "same weights",
            "https://huggingface.co/nvidia/mit-b4",
            "the SegFormer authors' ImageNet MiT-B4, transformers layout",
        ),
    ),
    PretrainedSource(
        "https://download.openmmlab.com/mmsegmentation/v0.5/pretrain/segformer/mit_b5_20220624-658746d9.pth",
        "https://download.openmmlab.com/mmsegmentation/v0.5/pretrain/segformer/mit_b5_20220624-658746d9.pth",
        HubFile(
            "nvidia/mit-b5",
            "pytorch_model.bin",
            None,
            "transformers",
            "same weights",
            "https://huggingface.co/nvidia/mit-b5",
            "the SegFormer authors' ImageNet MiT-B5, transformers layout",
        ),
    ),
]
register(*SOURCES, family="MixVisionTransformer")
