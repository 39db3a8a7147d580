"""Pre-trained sources of DINOv3 and its transformers key map. The authors' own files are handed out after a
licence form (signed, expiring URLs), so the sources are the Hub repos ``facebook/dinov3-vit{s,b,l}16-pretrain-
lvd1689m`` (gated: accept the licence on the Hub page and log in with ``hf auth login`` first), revisions
unpinned, in the transformers layout.

transformers' ``DINOv3ViTModel``: ``embeddings.{cls_token,mask_token,register_tokens}``, ``embeddings.
patch_embeddings`` (a conv), ``layer.{i}`` (``model.layer.{i}`` in memory in transformers 5) with ``norm1/2``,
``attention.{q,k,v,o}_proj`` (no key bias), ``layer_scale{1,2}.lambda1``, ``mlp.{up,down}_proj`` or the
gated ``mlp.{gate,up,down}_proj``, then ``norm``: in the authors' keys ``storage_tokens``, ``blocks.{i}.attn.qkv``
(zero key bias), ``ls{1,2}.gamma``, ``mlp.fc1/fc2`` or ``mlp.w1/w2/w3``.
"""

from __future__ import annotations

import torch

from seglab.fileio.hub import HubFile
from seglab.fileio.sources import PretrainedSource, register
from seglab.models.backbones.dinov2_weights import fuse_attention_and_swiglu

_LAYER = r"(?:model\.)?layer\.(\d+)\."
DINOV3_RULES = (
    (r"embeddings\.cls_token", "cls_token"),
    (r"embeddings\.mask_token", "mask_token"),
    (r"embeddings\.register_tokens", "storage_tokens"),
    (r"embeddings\.patch_embeddings\.(weight|bias)", r"patch_embed.proj.\1"),
    (_LAYER + r"norm(1|2)\.(weight|bias)", r"blocks.\1.norm\2.\3"),
    (_LAYER + r"layer_scale(1|2)\.lambda1", r"blocks.\1.ls\2.gamma"),
    (_LAYER + r"attention\.(q_proj|k_proj|v_proj)\.(weight|bias)", r"blocks.\1.\2.\3"),
    (_LAYER + r"attention\.o_proj\.(weight|bias)", r"blocks.\1.attn.proj.\2"),
    (_LAYER + r"mlp\.gate_proj\.(weight|bias)", r"blocks.\1.mlp.w1.\2"),
    (_LAYER + r"mlp\.up_proj\.(weight|bias)", r"blocks.\1.mlp.up.\2"),
    (_LAYER + r"mlp\.down_proj\.(weight|bias)", r"blocks.\1.mlp.down.\2"),
    (r"norm\.(weight|bias)", r"norm.\1"),
)


def transformers_dinov3_to_original(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """transformers' DINOv3 ViT tensors in the authors' (and seglab's) keys. The MLP's ``up``/``down`` are
    ``fc1``/``fc2`` of a plain MLP and ``w2``/``w3`` of a gated one (which has a ``gate_proj``)."""
    from seglab.models.hub_models import rename

    out, _ = rename(state, DINOV3_RULES)
    if "mask_token" in out and out["mask_token"].dim() == 3:
        out["mask_token"] = out["mask_token"][0]
    for key in [k for k in out if ".mlp.up." in k or ".mlp.down." in k]:
        gated = key.split(".mlp.")[0] + ".mlp.w1.weight" in out
        new = {"up": "w2" if gated else "fc1", "down": "w3" if gated else "fc2"}[key.split(".")[3]]
        out[key.replace(f".mlp.{key.split('.')[3]}.", f".mlp.{new}.")] = out.pop(key)
    blocks = {int(k.split(".")[1]) for k in out if k.startswith("blocks.")}
    return fuse_attention_and_swiglu(out, max(blocks, default=-1) + 1)


_NOTE = "the DINOv3 authors' LVD-1689M weights (distilled from ViT-7B), transformers layout; gated on the Hub"


def _source(arch: str) -> PretrainedSource:
    repo = f"facebook/dinov3-{arch}16-pretrain-lvd1689m"
    name = f"hf://{repo}/model.safetensors"
    hub = HubFile(
        repo, "model.safetensors", None, "transformers", "same weights", f"https://huggingface.co/{repo}", _NOTE
    )
    return PretrainedSource(
        name, f"https://huggingface.co/{repo}/resolve/main/model.safetensors", hub, transformers_dinov3_to_original
    )


SOURCES = [_source("vits"), _source("vitb"), _source("vitl")]
register(*SOURCES, family="DINOv3", parity_test="tests/models/test_dino.py")
