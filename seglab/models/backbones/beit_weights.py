"""Pre-trained sources of BEiT: the configs name a local ``pretrain/beit_*_patch16_224_pt22k_ft22k.pth``, which
MMSegmentation's README has users convert with beit2mmseg.py from Microsoft's release (self-supervised on
ImageNet-22K, then fine-tuned on it). Registered here, that name is read from the local file when it exists, else
fetched: timm's Hub copy of the same weights, then Microsoft's original URL (the URL timm and the BEiT README
cite). Both are in the original layout (timm's BEiT keeps the authors' names: ``blocks.{i}.norm1``,
``attn.qkv`` with ``q_bias``/``v_bias``, ``gamma_1/2``, ``mlp.fc1/fc2``), converted by ``convert_original_beit``
as beit2mmseg.py converts it; the ImageNet ``head``, ``fc_norm`` and index buffers find no place and are dropped.
"""

from __future__ import annotations

from seglab.fileio.hub import HubFile
from seglab.fileio.sources import PretrainedSource, register
from seglab.models.backbones.beit import convert_original_beit

_URL = "https://conversationhub.blob.core.windows.net/beit-share-public/beit"
_NOTE = "the BEiT authors' ImageNet-22K pre-trained, ImageNet-22K fine-tuned file, timm's copy (the authors' key names)"

# repo -> (commit sha, the Hub page that shows model.safetensors at that commit); a repo not here is unpinned
_PINNED = {
    "timm/beit_base_patch16_224.in22k_ft_in22k": (
        "3ee92c240f0cae6b6b73cb3bb954596f05fd28e9",
        "https://huggingface.co/timm/beit_base_patch16_224.in22k_ft_in22k/commit/"
        "3ee92c240f0cae6b6b73cb3bb954596f05fd28e9",
    ),
}


def _source(size: str) -> PretrainedSource:
    file = f"beit_{size}_patch16_224_pt22k_ft22k.pth"
    repo = f"timm/beit_{size}_patch16_224.in22k_ft_in22k"
    revision, page = _PINNED.get(repo, (None, f"https://huggingface.co/{repo}"))
    hub = HubFile(
        repo, "model.safetensors", revision, "timm", "same weights", page, _NOTE, verified=revision is not None
    )
    return PretrainedSource(f"pretrain/{file}", f"{_URL}/{file}", hub, convert_original_beit)


SOURCES = [_source("base"), _source("large")]
register(*SOURCES, family="BEiT", parity_test="tests/fileio/test_timm_parity_beit_mae.py")
