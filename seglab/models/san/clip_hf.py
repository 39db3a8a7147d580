"""transformers' ``CLIPModel`` (the layout of the Hub repos ``openai/clip-vit-*``: ``vision_model.*``,
``text_model.*``, ``visual_projection``, ``text_projection``, ``logit_scale``) in OpenAI's original CLIP keys
(``visual.*``, ``transformer.resblocks.*``, ``token_embedding`` ...). SAN's segmentor then splits that state
into its image encoder, recognition layers and text encoder as clip2mmseg.py does (``convert.py``), so the
split follows the config's layer count instead of being fixed here. Nothing here imports transformers."""

from __future__ import annotations

import torch

from seglab.errors import CheckpointError

# one encoder layer; \1 is the layer index, so the layer's own groups start at \2
_LAYER = (
    (r"layer_norm(1|2)\.(weight|bias)", r"ln_\2.\3"),
    (r"self_attn\.(q|k|v)_proj\.(weight|bias)", r"attn.\2_proj.\3"),  # fused into in_proj below
    (r"self_attn\.out_proj\.(weight|bias)", r"attn.out_proj.\2"),
    (r"mlp\.fc1\.(weight|bias)", r"mlp.c_fc.\2"),
    (r"mlp\.fc2\.(weight|bias)", r"mlp.c_proj.\2"),
)
_TOWERS = (
    (r"vision_model\.encoder\.layers\.(\d+)\.", r"visual.transformer.resblocks.\1."),
    (r"text_model\.encoder\.layers\.(\d+)\.", r"transformer.resblocks.\1."),
)
CLIP_RULES = (
    (r"vision_model\.embeddings\.class_embedding", "visual.class_embedding"),
    (r"vision_model\.embeddings\.patch_embedding\.weight", "visual.conv1.weight"),
    (r"vision_model\.embeddings\.position_embedding\.weight", "visual.positional_embedding"),
    (r"vision_model\.pre_layrnorm\.(weight|bias)", r"visual.ln_pre.\1"),  # transformers' own spelling
    (r"vision_model\.post_layernorm\.(weight|bias)", r"visual.ln_post.\1"),
    (r"text_model\.embeddings\.token_embedding\.weight", "token_embedding.weight"),
    (r"text_model\.embeddings\.position_embedding\.weight", "positional_embedding"),
    (r"text_model\.final_layer_norm\.(weight|bias)", r"ln_final.\1"),
    (r"visual_projection\.weight", "visual.proj"),  # a Linear (out, in); OpenAI keeps the matrix (in, out)
    (r"text_projection\.weight", "text_projection"),  # likewise
    (r"logit_scale", "logit_scale"),
    *((tower + old, new_tower + new) for tower, new_tower in _TOWERS for old, new in _LAYER),
)


def transformers_clip_to_openai(state: dict[str, torch.Tensor]) -> tuple[dict[str, torch.Tensor], list[str]]:
    """``CLIPModel`` tensors in OpenAI CLIP's keys: each layer's query/key/value projections concatenated into
    ``attn.in_proj_weight``/``in_proj_bias`` (nn.MultiheadAttention's order q, k, v), both projections
    transposed into matrices; and the keys no rule knows (the ``position_ids`` buffers older files hold)."""
    from seglab.models.hub_models import fuse_qkv, rename

    out, unmatched = rename(state, CLIP_RULES)
    for key in [k for k in out if k.endswith(".attn.q_proj.weight")]:
        base = key[: -len(".q_proj.weight")]
        fuse_qkv(out, tuple(f"{base}.{name}_proj.{{}}" for name in "qkv"), base)
    for key in ("visual.proj", "text_projection"):
        if key in out:
            out[key] = out[key].t().contiguous()
    return out, unmatched


def from_transformers_clip(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """A Hub ``openai/clip-vit-*`` file for SAN (the pre-trained source's key map): OpenAI's layout, which
    ``MultimodalEncoderDecoder.adapt_pretrained`` recognises and splits; a file that is no CLIPModel fails."""
    out, _ = transformers_clip_to_openai(state)
    if "visual.conv1.weight" not in out or not any(k.startswith("transformer.resblocks.") for k in out):
        keys = ", ".join(list(state)[:5]) or "none"
        raise CheckpointError(
            f"the Hub file is not a transformers CLIPModel with both towers (first keys: {keys}); SAN needs the "
            "image and the text tower, as openai/clip-vit-base-patch16 holds them"
        )
    return out
