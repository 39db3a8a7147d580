"""Pre-trained sources of SAN's CLIP ViT: the original URLs (hash-checked), and the Hub repos holding the same or the nearest weights. No converter for the Hub layout
is written yet, so loading uses the original URL; the Hub entries document where the weights live (TODO: pin
their revisions from the Hub pages and add a key map with a parity test).
"""

from __future__ import annotations

from seglab.fileio.hub import HubFile
from seglab.fileio.sources import PretrainedSource, register

SOURCES = [
    PretrainedSource(
        "https://download.openmmlab.com/mmsegmentation/v0.5/san/clip_vit-base-patch16-224_3rdparty-d08f8887.pth",
        "https://download.openmmlab.com/mmsegmentation/v0.5/san/clip_vit-base-patch16-224_3rdparty-d08f8887.pth",
        HubFile(
            "openai/clip-vit-base-patch16",
            "pytorch_model.bin",
            None,
            "transformers",
            "same weights",
            "https://huggingface.co/openai/clip-vit-base-patch16",
            "OpenAI's CLIP weights, transformers layout",
        ),
    ),
    PretrainedSource(
        "https://download.openmmlab.com/mmsegmentation/v0.5/san/clip_vit-large-patch14-336_3rdparty-0b5df9cb.pth",
        "https://download.openmmlab.com/mmsegmentation/v0.5/san/clip_vit-large-patch14-336_3rdparty-0b5df9cb.pth",
        HubFile(
            "openai/clip-vit-large-patch14-336",
            "pytorch_model.bin",
            None,
            "transformers",
            "same weights",
            "https://huggingface.co/openai/clip-vit-large-patch14-336",
            "OpenAI's CLIP weights, transformers layout",
        ),
    ),
]
register(*SOURCES, family="SAN (CLIP)")
