"""Pre-trained sources of Swin: the original URLs (hash-checked), and the Hub repos holding the same or the nearest weights. No converter for the Hub layout
is written yet, so loading uses the original URL; the Hub entries document where the weights live (TODO: pin
their revisions from the Hub pages and add a key map with a parity test).
"""

from __future__ import annotations

from seglab.fileio.hub import HubFile
from seglab.fileio.sources import PretrainedSource, register

SOURCES = [
    PretrainedSource(
        "https://download.openmmlab.com/mmsegmentation/v0.5/pretrain/swin/swin_tiny_patch4_window7_224_20220317-1cdeb081.pth",
        "https://download.openmmlab.com/mmsegmentation/v0.5/pretrain/swin/swin_tiny_patch4_window7_224_20220317-1cdeb081.pth",
        HubFile(
            "microsoft/swin-tiny-patch4-window7-224",
            "pytorch_model.bin",
            None,
            "transformers",
            "same weights",
            "https://huggingface.co/microsoft/swin-tiny-patch4-window7-224",
            "the Swin authors' release, transformers layout",
        ),
    ),
    PretrainedSource(
        "https://download.openmmlab.com/mmsegmentation/v0.5/pretrain/swin/swin_tiny_patch4_window7_224_20220308-f41b89d3.pth",
        "https://download.openmmlab.com/mmsegmentation/v0.5/pretrain/swin/swin_tiny_patch4_window7_224_20220308-f41b89d3.pth",
        HubFile(
            "microsoft/swin-tiny-patch4-window7-224",
            "pytorch_model.bin",
            None,
            "transformers",
            "same weights",
            "https://huggingface.co/microsoft/swin-tiny-patch4-window7-224",
            "the Swin authors' release, transformers layout",
        ),
    ),
    PretrainedSource(
        "https://download.openmmlab.com/mmsegmentation/v0.5/pretrain/swin/swin_small_patch4_window7_224_20220317-7ba6d6dd.pth",
        "https://download.openmmlab.com/mmsegmentation/v0.5/pretrain/swin/swin_small_patch4_window7_224_20220317-7ba6d6dd.pth",
        HubFile(
            "microsoft/swin-small-patch4-window7-224",
            "pytorch_model.bin",
            None,
            "transformers",
            "same weights",
            "https://huggingface.co/microsoft/swin-small-patch4-window7-224",
            "the Swin authors' release, transformers layout",
        ),
    ),
    PretrainedSource(
        "https://download.openmmlab.com/mmsegmentation/v0.5/pretrain/swin/swin_base_patch4_window7_224_20220317-e9b98025.pth",
        "https://download.openmmlab.com/mmsegmentation/v0.5/pretrain/swin/swin_base_patch4_window7_224_20220317-e9b98025.pth",
        HubFile(
            "microsoft/swin-base-patch4-window7-224",
            "pytorch_model.bin",
            None,
            "transformers",
            "same weights",
            "https://huggingface.co/microsoft/swin-base-patch4-window7-224",
            "the Swin authors' release, transformers layout",
        ),
    ),
    PretrainedSource(
        "https://download.openmmlab.com/mmsegmentation/v0.5/pretrain/swin/swin_base_patch4_window7_224_22k_20220317-4f79f7c0.pth",
        "https://download.openmmlab.com/mmsegmentation/v0.5/pretrain/swin/swin_base_patch4_window7_224_22k_20220317-4f79f7c0.pth",
        HubFile(
            "microsoft/swin-base-patch4-window7-224-in22k",
            "pytorch_model.bin",
            None,
            "transformers",
            "same weights",
            "https://huggingface.co/microsoft/swin-base-patch4-window7-224-in22k",
            "the Swin authors' release, transformers layout",
        ),
    ),
    PretrainedSource(
        "https://download.openmmlab.com/mmsegmentation/v0.5/pretrain/swin/swin_base_patch4_window12_384_20220317-55b0104a.pth",
        "https://download.openmmlab.com/mmsegmentation/v0.5/pretrain/swin/swin_base_patch4_window12_384_20220317-55b0104a.pth",
        HubFile(
            "microsoft/swin-base-patch4-window12-384",
            "pytorch_model.bin",
            None,
            "transformers",
            "same weights",
            "https://huggingface.co/microsoft/swin-base-patch4-window12-384",
            "the Swin authors' release, transformers layout",
        ),
    ),
    PretrainedSource(
        "https://download.openmmlab.com/mmsegmentation/v0.5/pretrain/swin/swin_base_patch4_window12_384_22k_20220317-e5c09f74.pth",
        "https://download.openmmlab.com/mmsegmentation/v0.5/pretrain/swin/swin_base_patch4_window12_384_22k_20220317-e5c09f74.pth",
        HubFile(
            "microsoft/swin-base-patch4-window12-384-in22k",
            "pytorch_model.bin",
            None,
            "transformers",
            "same weights",
            "https://huggingface.co/microsoft/swin-base-patch4-window12-384-in22k",
            "the Swin authors' release, transformers layout",
        ),
    ),
    PretrainedSource(
        "https://download.openmmlab.com/mmsegmentation/v0.5/pretrain/swin/swin_large_patch4_window7_224_22k_20220412-aeecf2aa.pth",
        "https://download.openmmlab.com/mmsegmentation/v0.5/pretrain/swin/swin_large_patch4_window7_224_22k_20220412-aeecf2aa.pth",
        HubFile(
            "microsoft/swin-large-patch4-window7-224-in22k",
            "pytorch_model.bin",
            None,
            "transformers",
            "same weights",
            "https://huggingface.co/microsoft/swin-large-patch4-window7-224-in22k",
            "the Swin authors' release, transformers layout",
        ),
    ),
    PretrainedSource(
        "https://download.openmmlab.com/mmsegmentation/v0.5/pretrain/swin/swin_large_patch4_window7_224_22k_20220308-d5bdebaf.pth",
        "https://download.openmmlab.com/mmsegmentation/v0.5/pretrain/swin/swin_large_patch4_window7_224_22k_20220308-d5bdebaf.pth",
        HubFile(
            "microsoft/swin-large-patch4-window7-224-in22k",
            "pytorch_model.bin",
            None,
            "transformers",
            "same weights",
            "https://huggingface.co/microsoft/swin-large-patch4-window7-224-in22k",
            "the Swin authors' release, transformers layout",
        ),
    ),
    PretrainedSource(
        "https://download.openmmlab.com/mmsegmentation/v0.5/pretrain/swin/swin_large_patch4_window12_384_22k_20220412-6580f57d.pth",
        "https://download.openmmlab.com/mmsegmentation/v0.5/pretrain/swin/swin_large_patch4_window12_384_22k_20220412-6580f57d.pth",
        HubFile(
            "microsoft/swin-large-patch4-window12-384-in22k",
            "pytorch_model.bin",
            None,
            "transformers",
            "same weights",
            "https://huggingface.co/microsoft/swin-large-patch4-window12-384-in22k",
            "the Swin authors' release, transformers layout",
        ),
    ),
]
register(*SOURCES, family="SwinTransformer")
