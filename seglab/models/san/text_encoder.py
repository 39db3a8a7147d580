"""``CLIPTextEncoder``: class names -> one normalised CLIP text embedding per class (prompt-averaged).

Each class name fills every prompt template ('vild': 14 of them); the embeddings of the end tokens are
projected, normalised and averaged over templates. With ``cat_bg`` a learned background embedding is
appended (the "no object" class). The result is multiplied by ``exp(logit_scale)``. Parameter names are
OpenAI CLIP's text tower in MMSegmentation's layout (``transformer.{i}`` as MMCV transformer layers).
The encoder is frozen and, with ``cache_feature``, encodes each class list once.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from seglab.errors import ConfigError
from seglab.models.layers.conv_module import build_norm
from seglab.registry import MODELS

from .clip_layer import CLIPLayer
from .tokenizer import tokenize

TEMPLATES = {
    "vild": [
        "a photo of a {}.", "This is a photo of a {}", "There is a {} in the scene", "There is the {} in the scene",
        "a photo of a {} in the scene", "a photo of a small {}.", "a photo of a medium {}.",
        "a photo of a large {}.", "This is a photo of a small {}.", "This is a photo of a medium {}.",
        "This is a photo of a large {}.", "There is a small {} in the scene.",
        "There is a medium {} in the scene.", "There is a large {} in the scene.",
    ],
}  # fmt: skip
# MMSegmentation's dataset aliases -> the dataset class whose class names are the vocabulary
DATASET_CLASSES = {
    **dict.fromkeys(("voc", "pascal_voc", "voc12", "voc12aug"), "voc:PascalVOCDataset"),
    **dict.fromkeys(("pcontext", "pascal_context", "voc2010"), "pascal_context:PascalContextDataset59"),
    **dict.fromkeys(("ade", "ade20k"), "ade:ADE20KDataset"),
    **dict.fromkeys(("cityscapes",), "cityscapes:CityscapesDataset"),
    **dict.fromkeys(
        ("cocostuff", "cocostuff10k", "cocostuff164k", "coco-stuff", "coco-stuff10k", "coco-stuff164k",
         "coco_stuff", "coco_stuff10k", "coco_stuff164k"),
        "coco_stuff:COCOStuffDataset",
    ),
}  # fmt: skip


def dataset_class_names(name: str) -> list[str]:
    """The class names MMSegmentation's ``get_classes(name)`` gives, without a leading 'background'."""
    if name not in DATASET_CLASSES:
        raise ConfigError(
            f"text_encoder.dataset_name={name!r} is not known; use one of {sorted(DATASET_CLASSES)} or set "
            "text_encoder.vocabulary=[class names] instead"
        )
    module, cls = DATASET_CLASSES[name].split(":")
    dataset = getattr(__import__(f"seglab.data.datasets.{module}", fromlist=[cls]), cls)
    names = list(dataset.METAINFO["classes"])
    return names[1:] if names[0] == "background" else names


@MODELS.register()
class CLIPTextEncoder(nn.Module):
    """Takes no input: ``forward()`` returns (num_classes [+1], output_dims) scaled class embeddings."""

    def __init__(
        self,
        dataset_name: str | None = None,
        vocabulary: list[str] | None = None,
        templates: str | list[str] = "vild",
        total_vocab_size: int = 49408,
        context_length: int = 77,
        embed_dims: int = 512,
        num_layers: int = 12,
        num_heads: int = 8,
        mlp_ratio: int = 4,
        output_dims: int = 512,
        cache_feature: bool = True,
        cat_bg: bool = True,
        norm_cfg: dict | None = None,
        init_cfg: dict | None = None,
    ) -> None:
        super().__init__()
        if (dataset_name is None) == (vocabulary is None):
            raise ConfigError("text_encoder needs exactly one of dataset_name and vocabulary (a list of class names)")
        if isinstance(templates, str) and templates not in TEMPLATES:
            raise ConfigError(f"text_encoder.templates={templates!r}; use one of {sorted(TEMPLATES)} or a list")
        self.templates = list(TEMPLATES[templates] if isinstance(templates, str) else templates)
        self.class_names = dataset_class_names(dataset_name) if dataset_name else list(vocabulary)
        self.dataset_name, self.vocabulary, self.init_cfg = dataset_name, vocabulary, init_cfg
        self.context_length = context_length
        self.token_embedding = nn.Embedding(total_vocab_size, embed_dims)
        # CLIP's own initialisation (MMSegmentation leaves torch.empty memory until the checkpoint loads)
        self.positional_embedding = nn.Parameter(torch.randn(context_length, embed_dims) * 0.01)
        self.text_projection = nn.Parameter(torch.randn(embed_dims, output_dims) * embed_dims**-0.5)
        self.logit_scale = nn.Parameter(torch.ones([]) * math.log(1 / 0.07))
        self.transformer = nn.ModuleList(
            CLIPLayer(embed_dims, num_heads, mlp_ratio * embed_dims, norm_cfg=dict(type="LN"))
            for _ in range(num_layers)
        )
        causal = torch.full((context_length, context_length), float("-inf")).triu_(1)
        self.register_buffer("attn_mask", causal, persistent=False)
        self.ln_final = build_norm(norm_cfg or dict(type="LN"), embed_dims, postfix="_final")[1]
        self.cache_feature, self.cat_bg = cache_feature, cat_bg
        self.cache: dict[str, torch.Tensor] = {}
        for p in self.parameters():
            p.requires_grad = False
        if cat_bg:  # built after freezing: the background embedding learns
            self.bg_embed = nn.Parameter(torch.randn(1, output_dims))

    def init_weights(self) -> None:
        """MMSegmentation's background embedding, N(0, output_dims^-0.5); the rest comes from the pre-trained
        checkpoint. MMSegmentation leaves the position embedding and text projection uninitialised
        (``torch.empty``); they start as OpenAI CLIP starts them (std 0.01 and embed_dims^-0.5)."""
        nn.init.normal_(self.positional_embedding, std=0.01)
        nn.init.normal_(self.text_projection, std=self.text_projection.shape[0] ** -0.5)
        if self.cat_bg:
            nn.init.normal_(self.bg_embed, std=self.bg_embed.shape[1] ** -0.5)

    @torch.no_grad()
    def encode_text(self, text: torch.Tensor, normalize: bool = False) -> torch.Tensor:
        """(N, context_length) ids -> (N, output_dims): the end token's (highest id) final feature."""
        x = self.token_embedding(text.to(self.token_embedding.weight.device)) + self.positional_embedding
        x = x.permute(1, 0, 2)
        for layer in self.transformer:
            x = layer(x, attn_mask=self.attn_mask)
        x = self.ln_final(x.permute(1, 0, 2))
        x = x[torch.arange(x.shape[0]), text.argmax(dim=-1)] @ self.text_projection
        return F.normalize(x, dim=-1) if normalize else x

    def template_encode(self, names: list[str]) -> torch.Tensor:
        per_template = [
            self.encode_text(tokenize([t.format(n) for n in names], self.context_length), normalize=True)
            for t in self.templates
        ]
        embed = torch.stack(per_template).mean(dim=0)
        return embed / embed.norm(dim=-1, keepdim=True)

    def forward(self) -> torch.Tensor:
        names = self.class_names
        if self.cache_feature:
            missing = [n for n in names if n not in self.cache]
            if missing:
                self.cache.update(zip(missing, self.template_encode(missing), strict=True))
            embeds = torch.stack([self.cache[n] for n in names])
        else:
            embeds = self.template_encode(names)
        if self.cat_bg:
            embeds = F.normalize(torch.cat([embeds, self.bg_embed]), p=2, dim=-1)
        return self.logit_scale.exp() * embeds

    def _load_from_state_dict(self, *args, **kwargs) -> None:
        self.cache.clear()  # new weights: the cached embeddings are stale (a mode change keeps them, as MMSeg)
        super()._load_from_state_dict(*args, **kwargs)

    def _apply(self, fn, *args, **kwargs):
        self.cache.clear()  # a move to another device or dtype
        return super()._apply(fn, *args, **kwargs)
