"""Pre-trained sources of SAN's CLIP (image and text tower in one file): the original URLs (hash-checked) of
MMSegmentation's converted CLIP, and the Hub repos holding OpenAI's same weights in transformers' ``CLIPModel``
layout, read through the key map in ``clip_hf.py`` (to OpenAI's layout; the segmentor's ``adapt_pretrained``
then splits it as clip2mmseg.py does). ``tests/fileio/test_clip_parity.py`` proves the map against transformers.
"""

from __future__ import annotations

from seglab.fileio.hub import HubFile
from seglab.fileio.sources import PretrainedSource, register

from .clip_hf import from_transformers_clip

SOURCES = [
    PretrainedSource(
        "https://download.openmmlab.com/mmsegmentation/v0.5/san/clip_vit-base-patch16-224_3rdparty-d08f8887.pth",
        "https://download.openmmlab.com/mmsegmentation/v0.5/san/clip_vit-base-patch16-224_3rdparty-d08f8887.pth",
        HubFile(
            "openai/clip-vit-base-patch16",
            "pytorch_model.bin",
            "8b66648c6b95eed571f639a83ecfa445ad2f6d98",
            "transformers",
            "same weights",
            "https://huggingface.co/openai/clip-vit-base-patch16/tree/8b66648c6b95eed571f639a83ecfa445ad2f6d98",
            "OpenAI's CLIP ViT-B/16, transformers layout",
            verified=True,
        ),
        from_transformers_clip,
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
            "OpenAI's CLIP ViT-L/14 at 336 px, transformers layout",
        ),
        from_transformers_clip,
    ),
]
register(*SOURCES, family="SAN (CLIP)", parity_test="tests/fileio/test_clip_parity.py")
