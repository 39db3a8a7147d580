"""Pre-trained sources of Swin: the original URLs (hash-checked) and the Swin authors' weights on the Hub in the
transformers layout (``microsoft/swin-*``, revisions pinned where verified), with the key map from transformers' Swin
(``swin.*`` in a classifier, ``backbone.*`` inside ``UperNetForSemanticSegmentation``) to MMSegmentation's
``SwinTransformer``: query/key/value fused, and the patch-merging tensors reordered from the authors' 2x2
concatenation (top-left, bottom-left, top-right, bottom-right) to the unfold order MMSegmentation uses.
"""

from __future__ import annotations

import torch

from seglab.fileio.hub import HubFile
from seglab.fileio.sources import PretrainedSource, register

_BLOCK = r"encoder\.layers\.(\d+)\.blocks\.(\d+)\."
_ATTN = r"stages.\1.blocks.\2.attn.w_msa."
SWIN_RULES = (
    (r"embeddings\.patch_embeddings\.projection\.(weight|bias)", r"patch_embed.projection.\1"),
    (r"embeddings\.norm\.(weight|bias)", r"patch_embed.norm.\1"),
    (_BLOCK + r"layernorm_before\.(weight|bias)", r"stages.\1.blocks.\2.norm1.\3"),
    (_BLOCK + r"layernorm_after\.(weight|bias)", r"stages.\1.blocks.\2.norm2.\3"),
    (_BLOCK + r"attention\.self\.relative_position_bias_table", _ATTN + "relative_position_bias_table"),
    (_BLOCK + r"attention\.self\.(query|key|value)\.(weight|bias)", _ATTN + r"\3.\4"),
    (_BLOCK + r"attention\.output\.dense\.(weight|bias)", _ATTN + r"proj.\3"),
    (_BLOCK + r"intermediate\.dense\.(weight|bias)", r"stages.\1.blocks.\2.ffn.layers.0.0.\3"),
    (_BLOCK + r"output\.dense\.(weight|bias)", r"stages.\1.blocks.\2.ffn.layers.1.\3"),
    (r"encoder\.layers\.(\d+)\.downsample\.(norm|reduction)\.(weight|bias)", r"stages.\1.downsample.\2.\3"),
    (r"hidden_states_norms\.stage1\.(weight|bias)", r"norm0.\1"),
    (r"hidden_states_norms\.stage2\.(weight|bias)", r"norm1.\1"),
    (r"hidden_states_norms\.stage3\.(weight|bias)", r"norm2.\1"),
    (r"hidden_states_norms\.stage4\.(weight|bias)", r"norm3.\1"),
)
_MERGE_ORDER = [0, 2, 1, 3]  # authors' (x00, x10, x01, x11) -> unfold's (x00, x01, x10, x11)


def merge_to_unfold_order(tensor: torch.Tensor) -> torch.Tensor:
    """A patch-merging tensor over 4*C inputs from the authors' [quadrant, channel] order to nn.Unfold's
    [channel, quadrant] order (the last axis for a reduction weight, the only axis for the norm)."""
    lead, width = tensor.shape[:-1], tensor.shape[-1]
    quadrants = tensor.reshape(*lead, 4, width // 4)[..., _MERGE_ORDER, :]
    return quadrants.transpose(-1, -2).reshape(*lead, width)


def transformers_swin_to_mmseg(
    state: dict[str, torch.Tensor], prefix: str = "swin."
) -> tuple[dict[str, torch.Tensor], list[str]]:
    """transformers' Swin tensors (under ``prefix``) in ``SwinTransformer``'s keys; and the keys left over."""
    from seglab.models.hub_models import fuse_qkv, rename

    out, unmatched = rename(state, SWIN_RULES, prefix)
    for key in [k for k in out if k.endswith(".w_msa.query.weight")]:
        base = key[: -len("query.weight")]
        fuse_qkv(out, tuple(f"{base}{name}.{{}}" for name in ("query", "key", "value")), f"{base}qkv")
        for leaf in ("weight", "bias"):  # nn.MultiheadAttention's names -> Swin's qkv Linear
            if f"{base}qkv.in_proj_{leaf}" in out:
                out[f"{base}qkv.{leaf}"] = out.pop(f"{base}qkv.in_proj_{leaf}")
    for key in [k for k in out if ".downsample." in k]:
        out[key] = merge_to_unfold_order(out[key])
    return out, unmatched


def _from_transformers(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """An ImageNet Swin from the Hub (``SwinForImageClassification``; its final norm and classifier dropped)."""
    return transformers_swin_to_mmseg(state)[0]


_PRETRAIN = "https://download.openmmlab.com/mmsegmentation/v0.5/pretrain/swin/"
_HF = "https://huggingface.co"


def _swin(file: str, repo: str, revision: str | None, page: str = "") -> PretrainedSource:
    """An original Swin file and the authors' ``microsoft/swin-*`` copy of it in the transformers layout; a
    pinned revision is cited by its tree page unless ``page`` names the page that showed it."""
    url = _PRETRAIN + file
    page = page or (f"{_HF}/{repo}/tree/{revision}" if revision else f"{_HF}/{repo}")
    note = "the Swin authors' release, transformers layout"
    hub = HubFile(repo, "pytorch_model.bin", revision, "transformers", "same weights", page, note, revision is not None)
    return PretrainedSource(url, url, hub, _from_transformers)


_T, _L = "microsoft/swin-tiny-patch4-window7-224", "microsoft/swin-large-patch4-window7-224-in22k"
_B22K = "microsoft/swin-base-patch4-window7-224-in22k"
SOURCES = [
    _swin("swin_tiny_patch4_window7_224_20220317-1cdeb081.pth", _T, "466da6dc48d9ea0905d48d73d74331cfa3906054"),
    _swin("swin_tiny_patch4_window7_224_20220308-f41b89d3.pth", _T, "466da6dc48d9ea0905d48d73d74331cfa3906054"),
    _swin(
        "swin_small_patch4_window7_224_20220317-7ba6d6dd.pth",
        "microsoft/swin-small-patch4-window7-224",
        "cfd52a4540878357edb854d72da6aadc694aefa2",
    ),
    _swin(
        "swin_base_patch4_window7_224_20220317-e9b98025.pth",
        "microsoft/swin-base-patch4-window7-224",
        "2c296f77a5e9a99899cd2c9e3fb0182a4198a153",
    ),
    _swin(
        "swin_base_patch4_window7_224_22k_20220317-4f79f7c0.pth",
        _B22K,
        "14620aedef9a932661843863bbaf1a0360162ad4",
        f"{_HF}/{_B22K}/commits/14620aedef9a932661843863bbaf1a0360162ad4/pytorch_model.bin",
    ),
    _swin(
        "swin_base_patch4_window12_384_20220317-55b0104a.pth",
        "microsoft/swin-base-patch4-window12-384",
        "7e1199fe04c46bbc455eddf85b25d01c1ae10b02",
    ),
    _swin(
        "swin_base_patch4_window12_384_22k_20220317-e5c09f74.pth",
        "microsoft/swin-base-patch4-window12-384-in22k",
        "c2c8cfc218cfcf3f43091c4476137ed4f2fed9a2",
    ),
    _swin("swin_large_patch4_window7_224_22k_20220412-aeecf2aa.pth", _L, "7a3b792eb1cfa157d6653d4fe3c4c3058d6a3a71"),
    _swin("swin_large_patch4_window7_224_22k_20220308-d5bdebaf.pth", _L, "7a3b792eb1cfa157d6653d4fe3c4c3058d6a3a71"),
    _swin(
        "swin_large_patch4_window12_384_22k_20220412-6580f57d.pth",
        "microsoft/swin-large-patch4-window12-384-in22k",
        "d135695e1c8182d429860e6aa52f514a926b0b51",
    ),
]
register(*SOURCES, family="SwinTransformer", parity_test="tests/models/test_hub_backbones.py")
