"""timm Hub files of the BEiT and MAE families: the timm model each entry's Hub repo names (random weights, small
width and depth) saved as the Hub serves it, loaded offline through seglab's pre-trained path into the shipped
config's backbone (shrunk to the same sizes), gives timm's block outputs within 1e-4 x max. Both tables convert
with ``convert_original_beit``, which assumes timm kept the authors' key names; these tests hold it to that."""

from __future__ import annotations

import pytest
import torch

from seglab.config import Config
from seglab.fileio.sources import KNOWN
from seglab.models.builder import load_weight_tables
from seglab.registry import MODELS

from .conftest import assert_close, install_torchvision_stand_in, timm_model

install_torchvision_stand_in()
pytest.importorskip("timm")
pytest.importorskip("safetensors")
load_weight_tables()

BEIT = {
    "pretrain/beit_base_patch16_224_pt22k_ft22k.pth": "beit/beit-base_upernet_8xb2-160k_ade20k-640x640.py",
    "pretrain/beit_large_patch16_224_pt22k_ft22k.pth": "beit/beit-large_upernet_8xb1-amp-160k_ade20k-640x640.py",
}
MAE = {"./pretrain/mae_pretrain_vit_base_mmcls.pth": "mae/mae-base_upernet_8xb2-amp-160k_ade20k-512x512.py"}
SIZE = dict(embed_dim=32, depth=4, num_heads=2)  # timm's names; seglab's below
SHRUNK = dict(img_size=(64, 64), embed_dims=32, num_layers=4, num_heads=2, out_indices=(0, 1, 2, 3))


def hub_names(family: str) -> list[str]:
    return sorted(name for name, src in KNOWN.items() if src.family == family and src.hub_usable)


def short_id(name: str) -> str:
    return name.rsplit("/", 1)[-1]


def backbone_of(config: str, name: str, **overrides) -> torch.nn.Module:
    """The backbone of ``configs/<config>`` with ``overrides``, pre-trained from ``name``, which must be the
    file the config itself names (``model.pretrained``)."""
    model = Config.fromfile(f"configs/{config}")["model"]
    assert model["pretrained"] == name, (config, model["pretrained"])
    cfg = dict(model["backbone"], **overrides)
    cfg.pop("pretrained", None)
    cfg["init_cfg"] = dict(type="Pretrained", checkpoint=name)
    return MODELS.build(cfg).eval()


def random_reference(tagged: str, **kwargs) -> torch.nn.Module:
    """timm's ``tagged`` model (its pretrained config's defaults, e.g. the MAE file's ``num_classes=0``) with
    every parameter random: ``timm_model`` randomises norms and layer scales, and here the tensors timm starts
    at zero or one value (q/v biases, relative-position tables, class token, position embedding, biases) too."""
    model = timm_model(tagged, **kwargs)
    generator = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for param in model.parameters():
            if param.numel() > 1 and param.unique().numel() == 1:
                param.copy_(torch.randn(param.shape, generator=generator) * 0.5)
    assert not [n for n, p in model.named_parameters() if p.numel() > 1 and p.unique().numel() == 1]
    assert set(model.state_dict()) == {n for n, _ in model.named_parameters()}  # no persistent buffers to fill
    return model.eval()


def index_buffers(depth: int) -> list[str]:
    """The backbone's relative-position index buffers: computed by the model, dropped from every file."""
    return [f"layers.{i}.attn.relative_position_index" for i in range(depth)]


def block_outputs(reference: torch.nn.Module, image: torch.Tensor, indices: list[int]) -> list[torch.Tensor]:
    """timm's patch tokens after the blocks ``indices`` as NCHW maps, without its closing norm: neither shipped
    config sets ``final_norm``, so seglab returns the raw block outputs."""
    return reference.forward_intermediates(image, indices=indices, norm=False, intermediates_only=True)


@pytest.mark.parametrize("name", hub_names("BEiT"), ids=short_id)
def test_beit_timm_file_gives_timm_features(name, load_from_hub, one_thread):
    """timm's ``beit_*_patch16_224`` as its entry builds it (relative-position bias per block, no absolute
    position embedding, layer scales, q/v biases, average pooling with ``fc_norm``), at the backbone's
    ``img_size`` so the tables load as trained (no resize)."""
    from timm.models.beit import Beit

    tagged = KNOWN[name].hub.repo.split("/", 1)[1]
    reference = random_reference(tagged, img_size=64, **SIZE)
    assert isinstance(reference, Beit) and reference.pos_embed is None
    assert all(block.attn.relative_position_bias_table is not None for block in reference.blocks)
    assert all(block.gamma_1 is not None and block.attn.q_bias is not None for block in reference.blocks)
    backbone = backbone_of(BEIT[name], name, **SHRUNK)
    assert not backbone.final_norm and backbone.layers[0].ln1.eps == reference.blocks[0].norm1.eps == 1e-6
    report = load_from_hub(backbone, name, reference.state_dict())
    assert report.skipped == [] and sorted(report.missing) == index_buffers(SIZE["depth"])
    # the ImageNet-22K classifier and its pooled-feature norm have no place in a segmentation backbone
    assert sorted(report.unexpected) == ["fc_norm.bias", "fc_norm.weight", "head.bias", "head.weight"]
    assert_blocks_match(backbone, reference)


@pytest.mark.parametrize("name", hub_names("MAE"), ids=short_id)
def test_mae_timm_file_gives_timm_features(name, load_from_hub, one_thread):
    """timm's ``vit_base_patch16_224.mae``: a plain ViT (q/k/v biases, learned position embedding over the class
    token and the grid, no layer scales, no relative-position tables, closing ``norm``, no classifier). The
    backbone's layer scales stay at the config's ``init_values=1.0`` and its tables at zero (MAE's tables are
    not initialised), which is what timm's blocks compute."""
    from timm.models.vision_transformer import VisionTransformer

    tagged = KNOWN[name].hub.repo.split("/", 1)[1]
    reference = random_reference(tagged, img_size=64, **SIZE)
    assert isinstance(reference, VisionTransformer) and reference.num_classes == 0
    assert reference.global_pool == "token" and reference.pos_embed.shape[1] == 1 + 16
    backbone = backbone_of(MAE[name], name, **SHRUNK)
    assert not backbone.final_norm and backbone.layers[0].gamma_1.eq(1.0).all()
    report = load_from_hub(backbone, name, reference.state_dict())
    # timm's closing norm: the config sets no final_norm, so it has no place (as with Meta's file in MMSegmentation)
    assert report.skipped == [] and sorted(report.unexpected) == ["norm.bias", "norm.weight"]
    # not in Meta's file either: MMSegmentation leaves them at their start values too
    kept = sorted(
        f"layers.{i}.{key}"
        for i in range(SIZE["depth"])
        for key in ("gamma_1", "gamma_2", "attn.relative_position_bias_table")
    )
    assert sorted(report.missing) == sorted(kept + index_buffers(SIZE["depth"]))
    assert_blocks_match(backbone, reference)


def assert_blocks_match(backbone, reference) -> None:
    """Every block the backbone returns equals timm's output of that block on one random 64x64 image."""
    image = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        ours = backbone(image)
        theirs = block_outputs(reference, image, list(backbone.out_indices))
    for got, want in zip(ours, theirs, strict=True):
        assert_close(got, want)
