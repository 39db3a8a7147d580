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


# repo -> (commit sha, its Hub page). hrnet_w18_small_v2: the commit page gives the full sha of a README-only
# commit whose tree (tree/main, head bd1000d) lists model.safetensors from "Add model".
_PINNED = {
    "timm/hrnet_w18_small_v2.ms_in1k": (
        "bd1000d6177cb20b3ae43d29524816bbf6c378e3",
        "https://huggingface.co/timm/hrnet_w18_small_v2.ms_in1k/commit/bd1000d6177cb20b3ae43d29524816bbf6c378e3",
    ),
}


def _source(name: str, file: str, repo: str, note: str) -> PretrainedSource:
    revision, page = _PINNED.get(repo, (None, f"https://huggingface.co/{repo}"))
    hub = HubFile(
        repo, "model.safetensors", revision, "timm", "same weights", page, note, verified=revision is not None
    )
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
register(*SOURCES, family="HRNet", parity_test="tests/fileio/test_timm_parity_convnets.py")
