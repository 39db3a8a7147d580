"""Pre-trained sources of ConvNeXt: the original URLs (hash-checked), and the Hub repos holding the same or the nearest weights. No converter for the Hub layout
is written yet, so loading uses the original URL; the Hub entries document where the weights live (TODO: pin
their revisions from the Hub pages and add a key map with a parity test).
"""

from __future__ import annotations

from seglab.fileio.hub import HubFile
from seglab.fileio.sources import PretrainedSource, register

SOURCES = [
    PretrainedSource(
        "https://download.openmmlab.com/mmclassification/v0/convnext/downstream/convnext-tiny_3rdparty_32xb128-noema_in1k_20220301-795e9634.pth",
        "https://download.openmmlab.com/mmclassification/v0/convnext/downstream/convnext-tiny_3rdparty_32xb128-noema_in1k_20220301-795e9634.pth",
        HubFile(
            "timm/convnext_tiny.fb_in1k",
            "model.safetensors",
            None,
            "timm",
            "same weights",
            "https://huggingface.co/timm/convnext_tiny.fb_in1k",
            "the ConvNeXt authors' weights, timm layout; check EMA vs non-EMA",
        ),
    ),
    PretrainedSource(
        "https://download.openmmlab.com/mmclassification/v0/convnext/downstream/convnext-small_3rdparty_32xb128-noema_in1k_20220301-303e75e3.pth",
        "https://download.openmmlab.com/mmclassification/v0/convnext/downstream/convnext-small_3rdparty_32xb128-noema_in1k_20220301-303e75e3.pth",
        HubFile(
            "timm/convnext_small.fb_in1k",
            "model.safetensors",
            None,
            "timm",
            "same weights",
            "https://huggingface.co/timm/convnext_small.fb_in1k",
            "the ConvNeXt authors' weights, timm layout; check EMA vs non-EMA",
        ),
    ),
    PretrainedSource(
        "https://download.openmmlab.com/mmclassification/v0/convnext/downstream/convnext-base_3rdparty_32xb128-noema_in1k_20220301-2a0ee547.pth",
        "https://download.openmmlab.com/mmclassification/v0/convnext/downstream/convnext-base_3rdparty_32xb128-noema_in1k_20220301-2a0ee547.pth",
        HubFile(
            "timm/convnext_base.fb_in1k",
            "model.safetensors",
            None,
            "timm",
            "same weights",
            "https://huggingface.co/timm/convnext_base.fb_in1k",
            "the ConvNeXt authors' weights, timm layout; check EMA vs non-EMA",
        ),
    ),
    PretrainedSource(
        "https://download.openmmlab.com/mmclassification/v0/convnext/downstream/convnext-base_3rdparty_in21k_20220301-262fd037.pth",
        "https://download.openmmlab.com/mmclassification/v0/convnext/downstream/convnext-base_3rdparty_in21k_20220301-262fd037.pth",
        HubFile(
            "timm/convnext_base.fb_in22k",
            "model.safetensors",
            None,
            "timm",
            "same weights",
            "https://huggingface.co/timm/convnext_base.fb_in22k",
            "the ConvNeXt authors' weights, timm layout",
        ),
    ),
    PretrainedSource(
        "https://download.openmmlab.com/mmclassification/v0/convnext/downstream/convnext-large_3rdparty_in21k_20220301-e6e0ea0a.pth",
        "https://download.openmmlab.com/mmclassification/v0/convnext/downstream/convnext-large_3rdparty_in21k_20220301-e6e0ea0a.pth",
        HubFile(
            "timm/convnext_large.fb_in22k",
            "model.safetensors",
            None,
            "timm",
            "same weights",
            "https://huggingface.co/timm/convnext_large.fb_in22k",
            "the ConvNeXt authors' weights, timm layout",
        ),
    ),
    PretrainedSource(
        "https://download.openmmlab.com/mmclassification/v0/convnext/downstream/convnext-xlarge_3rdparty_in21k_20220301-08aa5ddc.pth",
        "https://download.openmmlab.com/mmclassification/v0/convnext/downstream/convnext-xlarge_3rdparty_in21k_20220301-08aa5ddc.pth",
        HubFile(
            "timm/convnext_xlarge.fb_in22k",
            "model.safetensors",
            None,
            "timm",
            "same weights",
            "https://huggingface.co/timm/convnext_xlarge.fb_in22k",
            "the ConvNeXt authors' weights, timm layout",
        ),
    ),
]
register(*SOURCES, family="ConvNeXt")
