"""Pre-trained sources of HRNet-V2: the original URLs (hash-checked) and the timm Hub copies of the HRNet
authors' ImageNet weights, converted on load by ``timm_hrnet_to_mmseg``.

timm keeps the authors' names (``conv1``/``bn1``, ``layer1``, ``transitionN``, ``stageN.i.branches``/
``fuse_layers``), which are MMSegmentation's; only its classification head (``incre_modules``,
``downsamp_modules``, ``final_layer``, ``classifier``), which the segmentation backbone does not have, is
dropped. The same tensors compute slightly different features in the two models, as the original file
does: MMSegmentation upsamples branches bilinearly where they fuse, timm (as the authors' code) nearest.
"""

from __future__ import annotations

import torch

from seglab.fileio.hub import HubFile
from seglab.fileio.sources import THIRD_PARTY, PretrainedSource, register

_HEAD = ("incre_modules.", "downsamp_modules.", "final_layer.", "classifier.")


def timm_hrnet_to_mmseg(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """timm HRNet tensors without its classification head (the rest already has MMSegmentation's names)."""
    return {key: value for key, value in state.items() if not key.startswith(_HEAD)}


def _source(name: str, file: str, repo: str, note: str) -> PretrainedSource:
    hub = HubFile(repo, "model.safetensors", None, "timm", "same weights", f"https://huggingface.co/{repo}", note)
    return PretrainedSource(name, f"{THIRD_PARTY}/{file}", hub, timm_hrnet_to_mmseg)


SOURCES = [
    _source(
        "open-mmlab://msra/hrnetv2_w18_small",
        "hrnetv2_w18_small-b5a04e21.pth",
        "timm/hrnet_w18_small_v2.ms_in1k",
        "the HRNet authors' ImageNet weights (HRNet-Image-Classification), timm layout",
    ),
    _source(
        "open-mmlab://msra/hrnetv2_w18",
        "hrnetv2_w18-00eb2006.pth",
        "timm/hrnet_w18.ms_in1k",
        "the HRNet authors' ImageNet weights, timm layout",
    ),
    _source(
        "open-mmlab://msra/hrnetv2_w48",
        "hrnetv2_w48-d2186c55.pth",
        "timm/hrnet_w48.ms_in1k",
        "the HRNet authors' ImageNet weights, timm layout",
    ),
]
register(*SOURCES, family="HRNet")
