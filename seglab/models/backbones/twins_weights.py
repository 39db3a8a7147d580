"""Pre-trained sources of Twins (PCPVT, SVT): the original URLs (hash-checked) and the timm Hub copies of the
Twins authors' weights. timm keeps the authors' names (``patch_embeds``, ``blocks.i.j.attn.q/kv/proj/sr``,
``pos_block``), so the Hub file converts as the original release does (``convert_original_twins``,
twins2mmseg.py's renaming: packed ``in_proj`` from ``q`` + ``kv``, ``ffn.layers``, ``position_encodings``;
head and closing norm dropped). The SVT configs' ``norm_list`` (``norm_after_stage``: a LayerNorm after each
stage, feeding the next) is MMSegmentation's addition, in no file: it starts at its init, so those
features differ from timm's Twins by design (tests/fileio/test_timm_parity_transformers.py).
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from seglab.fileio.hub import HubFile
from seglab.fileio.sources import PretrainedSource, register


def timm_twins_to_mmseg(kind: str) -> Callable[[dict], dict]:
    """The key map of a timm Twins-``kind`` ('pcpvt' or 'svt') file into MMSegmentation's PCPVT/SVT keys."""

    def convert(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        from seglab.models.backbones.twins import convert_original_twins

        return convert_original_twins(state, kind)

    return convert


_BASE = "https://download.openmmlab.com/mmsegmentation/v0.5/pretrain/twins"
_FILES = {
    ("pcpvt", "small"): "pcpvt_small_20220308-e638c41c.pth",
    ("pcpvt", "base"): "pcpvt_base_20220308-0621964c.pth",
    ("pcpvt", "large"): "pcpvt_large_20220308-37579dc6.pth",
    ("svt", "small"): "alt_gvt_small_20220308-7e1c3695.pth",
    ("svt", "base"): "alt_gvt_base_20220308-1b7eb711.pth",
    ("svt", "large"): "alt_gvt_large_20220308-fb5936f3.pth",
}


# repo -> (commit sha, the Hub page that shows model.safetensors at that commit); a repo not here is unpinned
_PINNED = {
    "timm/twins_pcpvt_base.in1k": (
        "e3b4fd1cb51702e36a58d2ed220f180f9d7c1c91",
        "https://huggingface.co/timm/twins_pcpvt_base.in1k/commit/e3b4fd1cb51702e36a58d2ed220f180f9d7c1c91",
    ),
    "timm/twins_svt_small.in1k": (
        "5edde10cd4eb4cd9426bcb49629b388c57c02c8c",
        "https://huggingface.co/timm/twins_svt_small.in1k/tree/5edde10cd4eb4cd9426bcb49629b388c57c02c8c",
    ),
}


def _source(kind: str, size: str, file: str) -> PretrainedSource:
    repo = f"timm/twins_{kind}_{size}.in1k"
    note = "the Twins authors' weights; timm keeps their names"
    revision, page = _PINNED.get(repo, (None, f"https://huggingface.co/{repo}"))
    hub = HubFile(
        repo, "model.safetensors", revision, "timm", "same weights", page, note, verified=revision is not None
    )
    return PretrainedSource(f"{_BASE}/{file}", f"{_BASE}/{file}", hub, timm_twins_to_mmseg(kind))


SOURCES = [_source(kind, size, file) for (kind, size), file in _FILES.items()]
register(*SOURCES, family="Twins", parity_test="tests/fileio/test_timm_parity_transformers.py")
