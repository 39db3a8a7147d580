"""Pre-trained sources of DINOv2: the authors' torch-hub files (``dl.fbaipublicfiles.com/dinov2``, their
layout, which ``DINOv2`` holds as is) and the same weights on the Hub in the transformers layout
(``facebook/dinov2-small|base|large``, pinned to commits read off the Hub), converted by ``transformers_dinov2_to_original``.
The models with 4 registers (``*_reg4_pretrain.pth``, named by the EoMT configs) are on the Hub as transformers'
conversion of the same files (``facebook/dinov2-with-registers-small|base|large``, ``Dinov2WithRegistersModel``;
no commit sha confirmed, so unpinned), read by the same converter.

transformers' layout as the Hub serves it (``Dinov2Model``, ``Dinov2WithRegistersModel``):
``embeddings.{cls_token,register_tokens,mask_token,position_embeddings}``, ``embeddings.patch_embeddings.
projection``, ``encoder.layer.{i}.{norm1,norm2,layer_scale1.lambda1,mlp.fc1,mlp.fc2,mlp.weights_in,
mlp.weights_out}``, ``attention.attention.{query,key,value}`` and ``attention.output.dense``, ``layernorm``;
transformers 5 in memory names the attention ``q_proj/k_proj/v_proj/o_proj`` and the SwiGLU ``gate_proj/
up_proj/down_proj``: both spellings are read.
"""

from __future__ import annotations

import torch

from seglab.fileio.hub import HubFile
from seglab.fileio.sources import PretrainedSource, register

_LAYER = r"(?:encoder\.)?layers?\.(\d+)\."
DINOV2_RULES = (
    (r"embeddings\.cls_token", "cls_token"),
    (r"embeddings\.mask_token", "mask_token"),
    (r"embeddings\.register_tokens", "register_tokens"),
    (r"embeddings\.position_embeddings", "pos_embed"),
    (r"embeddings\.patch_embeddings\.projection\.(weight|bias)", r"patch_embed.proj.\1"),
    (_LAYER + r"norm(1|2)\.(weight|bias)", r"blocks.\1.norm\2.\3"),
    (_LAYER + r"layer_scale(1|2)\.lambda1", r"blocks.\1.ls\2.gamma"),
    (_LAYER + r"attention\.(?:attention\.)?(query|key|value|q_proj|k_proj|v_proj)\.(weight|bias)", r"blocks.\1.\2.\3"),
    (_LAYER + r"attention\.(?:output\.dense|o_proj)\.(weight|bias)", r"blocks.\1.attn.proj.\2"),
    (_LAYER + r"mlp\.fc(1|2)\.(weight|bias)", r"blocks.\1.mlp.fc\2.\3"),
    (_LAYER + r"mlp\.weights_in\.(weight|bias)", r"blocks.\1.mlp.w12.\2"),
    (_LAYER + r"mlp\.(?:weights_out|down_proj)\.(weight|bias)", r"blocks.\1.mlp.w3.\2"),
    (_LAYER + r"mlp\.(gate_proj|up_proj)\.(weight|bias)", r"blocks.\1.\2.\3"),
    (r"(?:layernorm|norm)\.(weight|bias)", r"norm.\1"),
)
_QKV = (("query", "q_proj"), ("key", "k_proj"), ("value", "v_proj"))


def fuse_attention_and_swiglu(out: dict[str, torch.Tensor], num_blocks: int) -> dict[str, torch.Tensor]:
    """Per block: separate query/key/value into the authors' ``attn.qkv`` (a missing bias, e.g. DINOv3's key,
    is zeros) and a split SwiGLU gate/value into ``mlp.w12``; in place, returned."""
    for i in range(num_blocks):
        base = f"blocks.{i}."
        for leaf in ("weight", "bias"):
            parts = [out.pop(f"{base}{a}.{leaf}", None) for a, _ in _QKV]
            parts = [p if p is not None else out.pop(f"{base}{b}.{leaf}", None) for p, (_, b) in zip(parts, _QKV)]
            present = [p for p in parts if p is not None]
            if present:
                parts = [torch.zeros_like(present[0]) if p is None else p for p in parts]
                out[f"{base}attn.qkv.{leaf}"] = torch.cat(parts, dim=0)
            gate, up = out.pop(f"{base}gate_proj.{leaf}", None), out.pop(f"{base}up_proj.{leaf}", None)
            if gate is not None and up is not None:
                out[f"{base}mlp.w12.{leaf}"] = torch.cat((gate, up), dim=0)
    return out


def transformers_dinov2_to_original(state: dict[str, torch.Tensor], prefix: str = "") -> dict[str, torch.Tensor]:
    """transformers' DINOv2 tensors (under ``prefix``, e.g. ``dinov2.``) in the authors' (and seglab's) keys;
    the ImageNet classifier of ``Dinov2ForImageClassification`` and any other key no rule reads are left out."""
    from seglab.models.hub_models import rename

    if not prefix and any(k.startswith("dinov2.") for k in state):
        prefix = "dinov2."
    out, _ = rename(state, DINOV2_RULES, prefix)
    if "mask_token" in out and out["mask_token"].dim() == 3:
        out["mask_token"] = out["mask_token"][0]
    blocks = {int(k.split(".")[1]) for k in out if k.startswith("blocks.")}
    return fuse_attention_and_swiglu(out, max(blocks, default=-1) + 1)


_URL = "https://dl.fbaipublicfiles.com/dinov2"
_NOTE = "the DINOv2 authors' LVD-142M weights (distilled from ViT-g), transformers layout"
_REG_NOTE = (
    "the DINOv2 authors' LVD-142M weights with 4 register tokens, transformers layout "
    "(convert_dinov2_with_registers_to_hf.py converts torch hub's dinov2_vit*14_reg)"
)


# repo -> (commit sha, the Hub page that shows model.safetensors at that commit). The large one is the commit of
# the pull request that added the file (refs/pr/3); no page shows the sha of its merge into main.
_PINNED = {
    "facebook/dinov2-small": (
        "150c8e7bb7cef2d30ec31b13a517af14840ee3f7",
        "https://huggingface.co/facebook/dinov2-small/commit/150c8e7bb7cef2d30ec31b13a517af14840ee3f7",
    ),
    "facebook/dinov2-base": (
        "c73891fc3a90e8fe9ffead361cec7058e0319f03",
        "https://huggingface.co/facebook/dinov2-base/tree/c73891fc3a90e8fe9ffead361cec7058e0319f03",
    ),
    "facebook/dinov2-large": (
        "4dc741a35f1f859959ae2dcacfb99c0d331caa6b",
        "https://huggingface.co/facebook/dinov2-large/commit/4dc741a35f1f859959ae2dcacfb99c0d331caa6b",
    ),
}


def _source(arch: str, repo: str, registers: bool = False) -> PretrainedSource:
    url = f"{_URL}/dinov2_{arch}14/dinov2_{arch}14{'_reg4' if registers else ''}_pretrain.pth"
    revision, page = _PINNED.get(repo, (None, f"https://huggingface.co/{repo}"))
    note = _REG_NOTE if registers else _NOTE
    hub = HubFile(
        repo, "model.safetensors", revision, "transformers", "same weights", page, note, verified=revision is not None
    )
    return PretrainedSource(url, url, hub, transformers_dinov2_to_original)


SOURCES = [
    _source("vits", "facebook/dinov2-small"),
    _source("vitb", "facebook/dinov2-base"),
    _source("vitl", "facebook/dinov2-large"),
    _source("vits", "facebook/dinov2-with-registers-small", registers=True),
    _source("vitb", "facebook/dinov2-with-registers-base", registers=True),
    _source("vitl", "facebook/dinov2-with-registers-large", registers=True),
]
register(*SOURCES, family="DINOv2", parity_test="tests/models/test_dino.py")
