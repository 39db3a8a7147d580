"""The EoMT authors' own checkpoints (github.com/tue-mps/eomt: the ``pytorch_model.bin`` their model zoo links on
the ``tue-mps/*`` Hub repos, or a ``.ckpt`` their training wrote) in seglab's ``EoMT``.

Such a file is the state dict of their Lightning module: ``network.`` is their ``models/eomt.py`` ``EoMT``
(``q``, ``class_head``, ``mask_head.{0,2,4}``, ``upscale.{j}.{conv1,conv2,norm}``, ``attn_mask_probs``) around
their ``models/vit.py`` ``ViT`` (``encoder.pixel_mean/std`` and ``encoder.backbone``), plus the loss's
``criterion.empty_weight``. For DINOv2 the backbone is a timm ViT: seglab's keys but ``reg_token`` and a
position table without a class-token row (seglab's gets zeros there). For DINOv3 it is transformers'
``DINOv3ViTModel`` with ``embeddings`` renamed ``patch_embed`` and ``layer`` renamed ``blocks`` (q/k/v apart,
``layer_scale{1,2}.lambda1``, ``mlp.{up,down}_proj``), read by DINOv3's own transformers map. The authors
publish their DINOv3 models as deltas: the backbone tensors are differences from the pre-trained DINOv3
weights (``model_zoo/dinov3.md``), which ``add_pretrained_base`` adds back from the checkpoint the segmentor's
``delta_base`` names (the config's ``init_cfg`` is dropped whenever a whole checkpoint loads). Pixel statistics
are the data preprocessor's business and are not loaded.

What the Hub repos hold (read off their pages): the model cards load them with transformers'
``EomtForUniversalSegmentation.from_pretrained`` (huggingface.co/tue-mps/ade20k_semantic_eomt_large_512), whose
files ``eomt_hf.py`` converts and which hands this layout here when it meets it; the authors' own
``config.json`` has no ``architectures`` (huggingface.co/tue-mps/coco_instance_eomt_large_640/blob/refs%2Fpr%2F3/
config.json), and their ``model_zoo/*.md`` link ``resolve/main/pytorch_model.bin``, which their code reads as this
layout. The segmentor's ``adapt_checkpoint`` converts such a file however it arrives (file, folder, ``load_from``).
"""

from __future__ import annotations

import logging

import torch
from torch import nn

from seglab.errors import CheckpointError
from seglab.models.backbones.dinov3_weights import transformers_dinov3_to_original
from seglab.models.hub_models import CLASSIFIERS, rename

logger = logging.getLogger("seglab")
BACKBONE = "network.encoder.backbone."
TIMM_RULES = (
    (r"cls_token", "cls_token"),
    (r"reg_token", "register_tokens"),
    (r"patch_embed\.proj\.(weight|bias)", r"patch_embed.proj.\1"),
    (r"blocks\.(\d+)\.(norm1|norm2|attn\.qkv|attn\.proj|mlp\.fc1|mlp\.fc2)\.(weight|bias)", r"blocks.\1.\2.\3"),
    (r"blocks\.(\d+)\.ls(1|2)\.gamma", r"blocks.\1.ls\2.gamma"),
    (r"norm\.(weight|bias)", r"norm.\1"),
)
HEAD_RULES = (
    (r"q\.weight", "query.weight"),
    (r"class_head\.(weight|bias)", r"cls_embed.\1"),
    (r"mask_head\.(0|2|4)\.(weight|bias)", r"mask_embed.\1.\2"),
    (r"upscale\.(\d+)\.(conv1|conv2|norm)\.(weight|bias)", r"upscale.\1.\2.\3"),
    (r"attn_mask_probs", "attn_mask_probs"),
)


def is_authors_layout(state: dict) -> bool:
    """Whether ``state`` holds the authors' Lightning-module keys (``network.encoder.backbone.*``)."""
    return any(key.startswith(BACKBONE) for key in state)


def is_dinov3(state: dict) -> bool:
    """A DINOv3 backbone (transformers' module names) rather than DINOv2's timm ViT."""
    return any(key.startswith(f"{BACKBONE}patch_embed.patch_embeddings.") for key in state)


def convert_backbone(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The ``network.encoder.backbone.*`` tensors in seglab's ``DINOv2``/``DINOv3`` keys (no prefix)."""
    inner = {k[len(BACKBONE) :]: v for k, v in state.items() if k.startswith(BACKBONE)}
    if is_dinov3(state):
        names = {k: k.replace("patch_embed.", "embeddings.", 1) if k.startswith("patch_embed.") else k for k in inner}
        names = {k: n.replace("blocks.", "layer.", 1) if n.startswith("blocks.") else n for k, n in names.items()}
        out = transformers_dinov3_to_original({names[k]: v for k, v in inner.items()})
        return {k: v for k, v in out.items() if k != "mask_token"}
    out, _ = rename(inner, TIMM_RULES)
    pos = inner.get("pos_embed")
    if pos is not None:  # timm's DINOv2 register models keep no position for the class token
        out["pos_embed"] = torch.cat((pos.new_zeros(1, 1, pos.shape[-1]), pos), dim=1)
    return out


def convert(
    state: dict[str, torch.Tensor], model: nn.Module, delta_base: str | None = None
) -> tuple[dict[str, torch.Tensor], list[str]]:
    """(the authors' checkpoint in ``model``'s keys, the authors' keys not converted). A DINOv3 checkpoint is
    taken as the deltas the authors publish and gets the pre-trained backbone ``delta_base`` added; a backbone
    whose shapes differ from the config's model is one CheckpointError."""
    backbone = convert_backbone(state)
    network = {k[len("network.") :]: v for k, v in state.items() if k.startswith("network.")}
    head, unmatched = rename(network, HEAD_RULES)
    out = {f"backbone.{k}": v for k, v in backbone.items()} | {f"decode_head.{k}": v for k, v in head.items()}
    check_fits(out, model)
    if is_dinov3(state):
        out = add_pretrained_base(out, model.backbone, delta_base)
        # the authors evaluate these with masked attention off; their delta loading leaves this buffer at 1 + x
        out["decode_head.attn_mask_probs"] = torch.zeros_like(model.decode_head.attn_mask_probs)
    dropped = [f"network.{k}" for k in unmatched if not k.startswith("encoder.backbone.")]
    dropped += [k for k in state if not k.startswith("network.")]  # the loss's criterion.empty_weight
    logger.info(f"converted {len(out)} tensors from the EoMT authors' layout; not loaded: {', '.join(dropped)}")
    return out, dropped


def check_fits(converted: dict[str, torch.Tensor], model: nn.Module) -> None:
    """One CheckpointError when the checkpoint's backbone or queries differ in shape from the config's model
    (another ViT size, another query count); a different class count only skips the classifier, as usual."""
    own = model.state_dict()
    wrong = [
        k
        for k, v in converted.items()
        if k in own and own[k].shape != v.shape and not k.split(".", 1)[-1].startswith(CLASSIFIERS)
    ]
    missing = [k for k in own if k.startswith("backbone.blocks.") and k not in converted and "bias_mask" not in k]
    if wrong or missing:
        example = (
            f"{wrong[0]} is {tuple(converted[wrong[0]].shape)} there, {tuple(own[wrong[0]].shape)} here"
            if wrong
            else f"{missing[0]} is not in the checkpoint"
        )
        raise CheckpointError(
            f"the EoMT authors' checkpoint does not fit the config's model ({len(wrong)} tensors differ in shape, "
            f"{len(missing)} backbone tensors missing, e.g. {example}): use the config of that model size"
        )


def add_pretrained_base(
    converted: dict[str, torch.Tensor], backbone: nn.Module, source: str | None
) -> dict[str, torch.Tensor]:
    """The delta backbone tensors plus the pre-trained weights in ``source`` (the DINOv3 release they were
    fine-tuned from), as the authors' ``delta_weights`` loading adds them."""
    from seglab.fileio.checkpoint import read_pretrained

    if not source:
        raise CheckpointError(
            "this EoMT authors' DINOv3 checkpoint holds backbone deltas (differences from the pre-trained DINOv3 "
            "weights): set model.delta_base to those weights (hf://facebook/dinov3-vitl16-pretrain-lvd1689m/"
            "model.safetensors for EoMT-L; accept its licence on the Hub and run 'hf auth login')"
        )
    base = backbone.adapt_pretrained(read_pretrained(str(source)))
    out = dict(converted)
    for key, delta in converted.items():
        name = key[len("backbone.") :]
        if key.startswith("backbone.") and name in base:
            if base[name].shape != delta.shape:
                raise CheckpointError(
                    f"{source}: {name} is {tuple(base[name].shape)}, the EoMT checkpoint's delta "
                    f"{tuple(delta.shape)}: name the DINOv3 weights that model was fine-tuned from"
                )
            out[key] = delta + base[name].to(delta.dtype)
    logger.info(f"added the pre-trained backbone {source} to the EoMT checkpoint's DINOv3 deltas")
    return out
