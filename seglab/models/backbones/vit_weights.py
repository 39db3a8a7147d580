"""Pre-trained sources of the ViT backbone (Segmenter, SETR, DPT and UPerNet-ViT/DeiT configs): the original
URLs (hash-checked) and timm Hub files, converted on load by ``convert_timm_vit`` (vit.py: vit2mmseg.py's
renaming; the ImageNet ``head`` dropped). The DeiT files are the non-distilled models: no distillation
token, a plain ViT. The configs leave ``patch_bias`` False, as MMSegmentation's, so the files' patch
projection bias is reported unexpected and not loaded, whichever source gives the file.

The SETR, DPT and UPerNet configs name a local ``pretrain/*.pth`` that MMSegmentation's README has users
convert from timm's release; registered here, that name is read from the local file when it exists, else
fetched (Hub, then the original URL, whose timm layout the backbone converts on load too).
"""

from __future__ import annotations

from seglab.fileio.hub import HubFile
from seglab.fileio.sources import PretrainedSource, register
from seglab.models.backbones.vit import convert_timm_vit

_SEGMENTER = "https://download.openmmlab.com/mmsegmentation/v0.5/pretrain/segmenter"
_JX = "https://github.com/rwightman/pytorch-image-models/releases/download/v0.1-vitjx"
_DEIT = "https://dl.fbaipublicfiles.com/deit"
_JX_LARGE_NOTE = (
    "the original Google in21k->in1k ViT-L/16 384 (jx_vit_large_p16_384) has no timm Hub copy; this is the same "
    "architecture trained with the AugReg recipe"
)


# repo -> (commit sha, the Hub page that shows the file at that commit[, the file when not model.safetensors]);
# a repo not here is unpinned
_PINNED = {
    "timm/deit_small_patch16_224.fb_in1k": (
        "38e0e3a79073772ea54733b87885d3d7f6348e8a",
        "https://huggingface.co/timm/deit_small_patch16_224.fb_in1k/tree/38e0e3a79073772ea54733b87885d3d7f6348e8a",
    ),
    "timm/deit_base_patch16_224.fb_in1k": (
        "4c8c236981c8902ea7af4e83b6fe0270812e03d4",
        "https://huggingface.co/timm/deit_base_patch16_224.fb_in1k/tree/4c8c236981c8902ea7af4e83b6fe0270812e03d4",
    ),
    "timm/vit_small_patch16_384.augreg_in21k_ft_in1k": (
        "3fe0b849c2d906a2bbcd18e064f37bc2872aaf69",
        "https://huggingface.co/timm/vit_small_patch16_384.augreg_in21k_ft_in1k/commits/"
        "3fe0b849c2d906a2bbcd18e064f37bc2872aaf69/model.safetensors",
    ),
    # the commit page gives the full sha of main's head (a commit that changes no file); tree/main, head 1c30cbc,
    # lists model.safetensors from "Update model config and README"
    "timm/vit_base_patch16_384.augreg_in21k_ft_in1k": (
        "1c30cbc7ec35e68529522c0c2ac55692f83cff18",
        "https://huggingface.co/timm/vit_base_patch16_384.augreg_in21k_ft_in1k/commit/"
        "1c30cbc7ec35e68529522c0c2ac55692f83cff18",
    ),
    # the only full sha found is the "Add model" commit, before timm added model.safetensors: its pickle file,
    # read by seglab's safe unpickler (the same weights: main's pytorch_model.bin dates from that commit)
    "timm/vit_large_patch16_384.augreg_in21k_ft_in1k": (
        "e7fd2e9f8bba502df847affedc05e1ba1a91ad77",
        "https://huggingface.co/timm/vit_large_patch16_384.augreg_in21k_ft_in1k/tree/"
        "e7fd2e9f8bba502df847affedc05e1ba1a91ad77",
        "pytorch_model.bin",
    ),
}


def _timm(repo: str, relation: str, note: str) -> HubFile:
    revision, page, *file = _PINNED.get(repo, (None, f"https://huggingface.co/{repo}"))
    filename = file[0] if file else "model.safetensors"
    return HubFile(repo, filename, revision, "timm", relation, page, note, verified=revision is not None)


def _segmenter(size: str, file: str) -> PretrainedSource:
    hub = _timm(
        f"timm/vit_{size}_patch16_384.augreg_in21k_ft_in1k",
        "same weights",
        "Segmenter's ViT is timm's AugReg in21k->in1k 384 model",
    )
    return PretrainedSource(f"{_SEGMENTER}/{file}", f"{_SEGMENTER}/{file}", hub, convert_timm_vit)


_BASE_ORIG = "timm/vit_base_patch16_224.orig_in21k_ft_in1k"
_LARGE_AUGREG = "timm/vit_large_patch16_384.augreg_in21k_ft_in1k"
SOURCES = [
    _segmenter("tiny", "vit_tiny_p16_384_20220308-cce8c795.pth"),
    _segmenter("small", "vit_small_p16_384_20220308-410f6037.pth"),
    _segmenter("base", "vit_base_p16_384_20220308-96dfe169.pth"),
    _segmenter("large", "vit_large_p16_384_20220308-d4efb41d.pth"),
    PretrainedSource(
        "pretrain/jx_vit_large_p16_384-b3be5167.pth",
        f"{_JX}/jx_vit_large_p16_384-b3be5167.pth",
        _timm(_LARGE_AUGREG, "nearest", _JX_LARGE_NOTE),
        convert_timm_vit,
    ),
    PretrainedSource(
        "pretrain/vit_large_p16.pth",
        f"{_JX}/jx_vit_large_p16_384-b3be5167.pth",
        _timm(
            _LARGE_AUGREG, "nearest", "SETR's README converts this file from jx_vit_large_p16_384; " + _JX_LARGE_NOTE
        ),
        convert_timm_vit,
    ),
    PretrainedSource(
        "pretrain/jx_vit_base_p16_224-80ecf9dd.pth",
        f"{_JX}/jx_vit_base_p16_224-80ecf9dd.pth",
        _timm(_BASE_ORIG, "same weights", "the original Google in21k->in1k ViT-B/16 (timm's 'orig' tag)"),
        convert_timm_vit,
    ),
    PretrainedSource(
        "pretrain/vit-b16_p16_224-80ecf9dd.pth",
        f"{_JX}/jx_vit_base_p16_224-80ecf9dd.pth",
        _timm(_BASE_ORIG, "same weights", "DPT's name for jx_vit_base_p16_224 (same hash prefix)"),
        convert_timm_vit,
    ),
    PretrainedSource(
        "pretrain/vit_base_patch16_224.pth",
        f"{_JX}/jx_vit_base_p16_224-80ecf9dd.pth",
        _timm(
            _BASE_ORIG,
            "nearest",
            "MMSegmentation does not say which ViT-B/16 this file was converted from; the original Google "
            "in21k->in1k weights are assumed",
        ),
        convert_timm_vit,
    ),
    PretrainedSource(
        "pretrain/deit_small_patch16_224-cd65a155.pth",
        f"{_DEIT}/deit_small_patch16_224-cd65a155.pth",
        _timm("timm/deit_small_patch16_224.fb_in1k", "same weights", "the DeiT authors' file (not distilled)"),
        convert_timm_vit,
    ),
    PretrainedSource(
        "pretrain/deit_base_patch16_224-b5f2ef4d.pth",
        f"{_DEIT}/deit_base_patch16_224-b5f2ef4d.pth",
        _timm("timm/deit_base_patch16_224.fb_in1k", "same weights", "the DeiT authors' file (not distilled)"),
        convert_timm_vit,
    ),
]
register(*SOURCES, family="VisionTransformer", parity_test="tests/fileio/test_timm_parity_transformers.py")
