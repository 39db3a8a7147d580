"""Pre-trained sources of MiT (SegFormer): the original URLs (hash-checked) and the SegFormer authors' ImageNet
weights on the Hub in the transformers layout (``nvidia/mit-b0``...``b5``, revisions unpinned), with the key map
from transformers' ``SegformerModel`` (``segformer.encoder.*``) to MMSegmentation's ``MixVisionTransformer``.
SegFormer's fine-tuned Hub models reuse the same map (``seglab.models.heads.segformer_hf``).
"""

from __future__ import annotations

import torch

from seglab.fileio.hub import HubFile
from seglab.fileio.sources import PretrainedSource, register

_BLOCK = r"block\.(\d+)\.(\d+)\."
MIT_RULES = (
    (r"patch_embeddings\.(\d+)\.proj\.(weight|bias)", r"layers.\1.0.projection.\2"),
    (r"patch_embeddings\.(\d+)\.layer_norm\.(weight|bias)", r"layers.\1.0.norm.\2"),
    (_BLOCK + r"layer_norm_1\.(weight|bias)", r"layers.\1.1.\2.norm1.\3"),
    (_BLOCK + r"layer_norm_2\.(weight|bias)", r"layers.\1.1.\2.norm2.\3"),
    (_BLOCK + r"attention\.output\.dense\.(weight|bias)", r"layers.\1.1.\2.attn.attn.out_proj.\3"),
    (_BLOCK + r"attention\.self\.sr\.(weight|bias)", r"layers.\1.1.\2.attn.sr.\3"),
    (_BLOCK + r"attention\.self\.layer_norm\.(weight|bias)", r"layers.\1.1.\2.attn.norm.\3"),
    (_BLOCK + r"attention\.self\.(query|key|value)\.(weight|bias)", r"layers.\1.1.\2.attn.\3.\4"),
    (_BLOCK + r"mlp\.dense1\.(weight|bias)", r"layers.\1.1.\2.ffn.layers.0.\3"),
    (_BLOCK + r"mlp\.dwconv\.dwconv\.(weight|bias)", r"layers.\1.1.\2.ffn.layers.1.\3"),
    (_BLOCK + r"mlp\.dense2\.(weight|bias)", r"layers.\1.1.\2.ffn.layers.4.\3"),
    (r"layer_norm\.(\d+)\.(weight|bias)", r"layers.\1.2.\2"),
)


def transformers_mit_to_mmseg(
    state: dict[str, torch.Tensor], prefix: str = "segformer.encoder."
) -> tuple[dict[str, torch.Tensor], list[str]]:
    """transformers' MiT encoder tensors (under ``prefix``) in ``MixVisionTransformer``'s keys: query/key/value
    fused into one in-projection, the Mix-FFN's Linear layers as 1x1 convs; and the keys left unconverted."""
    from seglab.models.hub_models import as_conv1x1, fuse_qkv, rename

    out, unmatched = rename(state, MIT_RULES, prefix)
    for key in [k for k in out if k.endswith(".attn.query.weight")]:
        base = key[: -len(".query.weight")]
        fuse_qkv(out, tuple(f"{base}.{name}.{{}}" for name in ("query", "key", "value")), f"{base}.attn")
    for key in [k for k in out if ".ffn.layers." in k and k.endswith("weight")]:
        out[key] = as_conv1x1(out[key])
    return out, unmatched


def _from_transformers(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """An ImageNet MiT from the Hub (``SegformerForImageClassification``: encoder + classifier, dropped)."""
    return transformers_mit_to_mmseg(state)[0]


SOURCES = [
    PretrainedSource(
        "https://download.openmmlab.com/mmsegmentation/v0.5/pretrain/segformer/mit_b0_20220624-7e0fe6dd.pth",
        "https://download.openmmlab.com/mmsegmentation/v0.5/pretrain/segformer/mit_b0_20220624-7e0fe6dd.pth",
        HubFile(
            "nvidia/mit-b0",
            "pytorch_model.bin",
            "80983a413c30d36a39c20203974ae7807835e2b4",
            "transformers",
            "same weights",
            "https://huggingface.co/nvidia/mit-b0/tree/80983a413c30d36a39c20203974ae7807835e2b4",
            "the SegFormer authors' ImageNet MiT-B0, transformers layout",
            verified=True,
        ),
        _from_transformers,
    ),
    PretrainedSource(
        "https://download.openmmlab.com/mmsegmentation/v0.5/pretrain/segformer/mit_b1_20220624-02e5a6a1.pth",
        "https://download.openmmlab.com/mmsegmentation/v0.5/pretrain/segformer/mit_b1_20220624-02e5a6a1.pth",
        HubFile(
            "nvidia/mit-b1",
            "pytorch_model.bin",
            "86a4bd3191dc468c7aaee735230fe6cc38c59ac5",
            "transformers",
            "same weights",
            "https://huggingface.co/nvidia/mit-b1/tree/86a4bd3191dc468c7aaee735230fe6cc38c59ac5",
            "the SegFormer authors' ImageNet MiT-B1, transformers layout",
            verified=True,
        ),
        _from_transformers,
    ),
    PretrainedSource(
        "https://download.openmmlab.com/mmsegmentation/v0.5/pretrain/segformer/mit_b2_20220624-66e8bf70.pth",
        "https://download.openmmlab.com/mmsegmentation/v0.5/pretrain/segformer/mit_b2_20220624-66e8bf70.pth",
        HubFile(
            "nvidia/mit-b2",
            "pytorch_model.bin",
            "d03ed0e783852a5df18f84d6ec13707bf164a33e",
            "transformers",
            "same weights",
            "https://huggingface.co/nvidia/mit-b2/tree/d03ed0e783852a5df18f84d6ec13707bf164a33e",
            "the SegFormer authors' ImageNet MiT-B2, transformers layout",
            verified=True,
        ),
        _from_transformers,
    ),
    PretrainedSource(
        "https://download.openmmlab.com/mmsegmentation/v0.5/pretrain/segformer/mit_b3_20220624-13b1141c.pth",
        "https://download.openmmlab.com/mmsegmentation/v0.5/pretrain/segformer/mit_b3_20220624-13b1141c.pth",
        HubFile(
            "nvidia/mit-b3",
            "pytorch_model.bin",
            "9632fd0a0e98d80e0f52e62cd2816a196b8605bb",
            "transformers",
            "same weights",
            "https://huggingface.co/nvidia/mit-b3/tree/9632fd0a0e98d80e0f52e62cd2816a196b8605bb",
            "the SegFormer authors' ImageNet MiT-B3, transformers layout",
            verified=True,
        ),
        _from_transformers,
    ),
    PretrainedSource(
        "https://download.openmmlab.com/mmsegmentation/v0.5/pretrain/segformer/mit_b4_20220624-d588d980.pth",
        "https://download.openmmlab.com/mmsegmentation/v0.5/pretrain/segformer/mit_b4_20220624-d588d980.pth",
        HubFile(
            "nvidia/mit-b4",
            "pytorch_model.bin",
            "3844ddaa13d9ce98816bacb904688a5284f164af",
            "transformers",
            "same weights",
            "https://huggingface.co/nvidia/mit-b4/tree/3844ddaa13d9ce98816bacb904688a5284f164af",
            "the SegFormer authors' ImageNet MiT-B4, transformers layout",
            verified=True,
        ),
        _from_transformers,
    ),
    PretrainedSource(
        "https://download.openmmlab.com/mmsegmentation/v0.5/pretrain/segformer/mit_b5_20220624-658746d9.pth",
        "https://download.openmmlab.com/mmsegmentation/v0.5/pretrain/segformer/mit_b5_20220624-658746d9.pth",
        HubFile(
            "nvidia/mit-b5",
            "pytorch_model.bin",
            "23cb7f840d082981d2450387e89f14100fbaeb87",
            "transformers",
            "same weights",
            "https://huggingface.co/nvidia/mit-b5/tree/23cb7f840d082981d2450387e89f14100fbaeb87",
            "the SegFormer authors' ImageNet MiT-B5, transformers layout",
            verified=True,
        ),
        _from_transformers,
    ),
]
register(*SOURCES, family="MixVisionTransformer", parity_test="tests/models/test_hub_backbones.py")
