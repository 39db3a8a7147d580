"""Pre-trained sources of ResNeSt: the original URLs (hash-checked) and the timm Hub copies of the ResNeSt
authors' weights, converted on load by the ResNet family's key map.

timm builds ResNeSt as a ResNet-D with split-attention bottlenecks, and its names are MMSegmentation's
(``layerN.M.conv2.conv/bn0/fc1/bn1/fc2``, average-pool shortcuts ``downsample.0/1/2``) except the deep stem
(``conv1.0/1/3/4/6`` + ``bn1`` -> ``stem.0/1/3/4/6/7``); the classifier ``fc`` is dropped. timm's
``resnest101e``/``resnest200e`` have the 64-wide deep stem of the authors' ResNeSt-101/200 (MMSegmentation's
``stem_channels=128``); ``resnest50d`` the 32-wide one (``stem_channels=64``).
"""

from __future__ import annotations

from seglab.fileio.hub import HubFile
from seglab.fileio.sources import THIRD_PARTY, PretrainedSource, register
from seglab.models.backbones.resnet_weights import timm_resnet_to_mmseg

# repo -> (commit sha, the Hub page that shows model.safetensors at that commit); a repo not here is unpinned
_PINNED = {
    "timm/resnest200e.in1k": (
        "dd5409ed34c8471cff7823b938fa8a34ff439f46",
        "https://huggingface.co/timm/resnest200e.in1k/commit/dd5409ed34c8471cff7823b938fa8a34ff439f46",
    ),
}


def _source(depth: int, file: str, repo: str) -> PretrainedSource:
    note = "the ResNeSt authors' weights, timm layout"
    revision, page = _PINNED.get(repo, (None, f"https://huggingface.co/{repo}"))
    hub = HubFile(
        repo, "model.safetensors", revision, "timm", "same weights", page, note, verified=revision is not None
    )
    return PretrainedSource(f"open-mmlab://resnest{depth}", f"{THIRD_PARTY}/{file}", hub, timm_resnet_to_mmseg)


SOURCES = [
    _source(50, "resnest50_d2-7497a55b.pth", "timm/resnest50d.in1k"),
    _source(101, "resnest101_d2-f3b931b2.pth", "timm/resnest101e.in1k"),
    _source(200, "resnest200_d2-ca88e41f.pth", "timm/resnest200e.in1k"),
]
register(*SOURCES, family="ResNeSt", parity_test="tests/fileio/test_timm_parity_convnets.py")
