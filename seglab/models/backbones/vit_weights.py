"""Pre-trained sources of ViT (Segmenter): the original URLs (hash-checked), and the Hub repos holding the same or the nearest weights. No converter for the Hub layout
is written yet, so loading uses the original URL; the Hub entries document where the weights live (TODO: pin
their revisions from the Hub pages and add a key map with a parity test).
"""

from __future__ import annotations

from seglab.fileio.hub import HubFile
from seglab.fileio.sources import PretrainedSource, register

SOURCES = [
    PretrainedSource(
        "https://download.openmmlab.com/mmsegmentation/v0.5/pretrain/segmenter/vit_tiny_p16_384_20220308-cce8c795.pth",
        "https://download.openmmlab.com/mmsegmentation/v0.5/pretrain/segmenter/vit_tiny_p16_384_20220308-cce8c795.pth",
        HubFile(
            "timm/vit_tiny_patch16_384.augreg_in21k_ft_in1k",
            "model.safetensors",
            None,
            "timm",
            "same weights",
            "https://huggingface.co/timm/vit_tiny_patch16_384.augreg_in21k_ft_in1k",
            "Segmenter's ViT is timm's AugReg in21k->in1k 384 model",
        ),
    ),
    PretrainedSource(
        "https://download.openmmlab.com/mmsegmentation/v0.5/pretrain/segmenter/vit_small_p16_384_20220308-410f6037.pth",
        "https://download.openmmlab.com/mmsegmentation/v0.5/pretrain/segmenter/vit_small_p16_384_20220308-410f6037.pth",
        HubFile(
            "timm/vit_small_patch16_384.augreg_in21k_ft_in1k",
            "model.safetensors",
            None,
            "timm",
            "same weights",
            "https://huggingface.co/timm/vit_small_patch16_384.augreg_in21k_ft_in1k",
            "Segmenter's ViT is timm's AugReg in21k->in1k 384 model",
        ),
    ),
    PretrainedSource(
        "https://download.openmmlab.com/mmsegmentation/v0.5/pretrain/segmenter/vit_base_p16_384_20220308-96dfe169.pth",
        "https://download.openmmlab.com/mmsegmentation/v0.5/pretrain/segmenter/vit_base_p16_384_20220308-96dfe169.pth",
        HubFile(
            "timm/vit_base_patch16_384.augreg_in21k_ft_in1k",
            "model.safetensors",
            None,
            "timm",
            "same weights",
            "https://huggingface.co/timm/vit_base_patch16_384.augreg_in21k_ft_in1k",
            "Segmenter's ViT is timm's AugReg in21k->in1k 384 model",
        ),
    ),
    PretrainedSource(
        "https://download.openmmlab.com/mmsegmentation/v0.5/pretrain/segmenter/vit_large_p16_384_20220308-d4efb41d.pth",
        "https://download.openmmlab.com/mmsegmentation/v0.5/pretrain/segmenter/vit_large_p16_384_20220308-d4efb41d.pth",
        HubFile(
            "timm/vit_large_patch16_384.augreg_in21k_ft_in1k",
            "model.safetensors",
            None,
            "timm",
            "same weights",
            "https://huggingface.co/timm/vit_large_patch16_384.augreg_in21k_ft_in1k",
            "Segmenter's ViT is timm's AugReg in21k->in1k 384 model",
        ),
    ),
]
register(*SOURCES, family="VisionTransformer")
