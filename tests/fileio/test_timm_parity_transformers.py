"""timm Hub files of the ViT/DeiT and Twins families: the timm model each entry's Hub repo names (random
weights, small width and depth) saved as the Hub serves it, loaded offline through seglab's pre-trained path
into the shipped config's backbone (shrunk to the same sizes), gives timm's features within 1e-4 x max."""

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


def backbone_of(config: str, name: str, **overrides) -> torch.nn.Module:
    """The backbone of ``configs/<config>`` with ``overrides``, pre-trained from ``name``."""
    cfg = dict(Config.fromfile(f"configs/{config}")["model"]["backbone"], **overrides)
    cfg.pop("pretrained", None)
    cfg["init_cfg"] = dict(type="Pretrained", checkpoint=name)
    return MODELS.build(cfg).eval()


def hub_names(family: str) -> list[str]:
    return sorted(name for name, src in KNOWN.items() if src.family == family and src.hub_usable)


def timm_architecture(name: str) -> str:
    """The timm model whose file the entry's Hub repo serves: ``timm/deit_small_patch16_224.fb_in1k`` ->
    ``deit_small_patch16_224``."""
    return KNOWN[name].hub.repo.split("/", 1)[1].split(".", 1)[0]


def short_id(name: str) -> str:
    return name.rsplit("/", 1)[-1]


SEGMENTER = "segmenter/segmenter_vit-t_mask_8xb1-160k_ade20k-512x512.py"


@pytest.mark.parametrize("name", hub_names("VisionTransformer"), ids=short_id)
def test_vit_timm_file_gives_timm_features(name, load_from_hub, one_thread):
    """The file's 2x2 patch grid is the backbone's ``img_size`` grid, so the position embedding is used as
    trained: seglab resizes it bicubically on load and again per input (MMSegmentation's behaviour, checked
    against its records in tests/models/test_zoo_vit.py), and a 2x2 -> 4x4 -> 2x2 round trip is not exact."""
    size = dict(embed_dim=32, depth=2, num_heads=2)
    reference = timm_model(timm_architecture(name), img_size=32, num_classes=5, **size)
    backbone = backbone_of(
        SEGMENTER, name, img_size=(32, 32), embed_dims=32, num_layers=2, num_heads=2, out_indices=(0, 1),
        patch_bias=True,  # the shipped configs leave timm's patch bias out, as MMSegmentation's model does
    )  # fmt: skip
    report = load_from_hub(backbone, name, reference.state_dict())
    assert report.missing == [] and report.unexpected == [] and report.skipped == []
    assert backbone.final_norm and backbone.norm1.eps == reference.norm.eps == 1e-6
    image = torch.randn(1, 3, 32, 32)
    with torch.no_grad():
        raw = reference.forward_intermediates(image, indices=[0, 1], norm=False, intermediates_only=True)
        ours = backbone(image)
        last = reference.norm(raw[1].permute(0, 2, 3, 1)).permute(0, 3, 1, 2)
    # seglab's final norm (timm's closing ``norm``) applies to the last layer only
    assert_close(ours[0], raw[0])
    assert_close(ours[1], last)


TWINS = {"pcpvt": "twins/twins_pcpvt-s_fpn_fpnhead_8xb4-80k_ade20k-512x512.py"}
TWINS["svt"] = "twins/twins_svt-s_fpn_fpnhead_8xb4-80k_ade20k-512x512.py"


def timm_twins_stages(
    reference: torch.nn.Module, image: torch.Tensor, between: torch.nn.ModuleList | None
) -> list[torch.Tensor]:
    """timm's Twins stage by stage (its ``forward_intermediates`` loop), with ``between[i]`` applied to stage
    i's tokens before they are returned and passed on, as MMSegmentation's ``norm_after_stage`` does."""
    x, stages = image, []
    for i, (embed, blocks, peg) in enumerate(zip(reference.patch_embeds, reference.blocks, reference.pos_block)):
        x, hw = embed(x)
        for j, block in enumerate(blocks):
            x = block(x, hw)
            x = peg(x, hw) if j == 0 else x  # the position encoding follows the first block
        x = between[i](x) if between is not None else x
        x = x.reshape(x.shape[0], *hw, -1).permute(0, 3, 1, 2).contiguous()
        stages.append(x)
    return stages


@pytest.mark.parametrize("name", hub_names("Twins"), ids=short_id)
def test_twins_timm_file_gives_timm_features(name, load_from_hub, one_thread):
    """SVT's configs (``norm_after_stage``) put a LayerNorm after every stage that neither the authors' nor
    timm's model has: the file has no weights for it (left at their init) and its output feeds the next
    stage, so the reference runs timm's stages with those norms in between."""
    kind = "svt" if "alt_gvt" in name else "pcpvt"
    assert timm_architecture(name).startswith(f"twins_{kind}_")
    size = dict(embed_dims=[16, 32, 64, 128], num_heads=[1, 2, 4, 8], depths=[2, 2, 2, 2], sr_ratios=[4, 2, 1, 1])
    windows = dict(wss=[4, 4, 2, 2]) if kind == "svt" else {}
    reference = timm_model(timm_architecture(name), num_classes=5, **size, **windows)
    extra = dict(windiow_sizes=windows["wss"]) if windows else {}
    backbone = backbone_of(TWINS[kind], name, **size, **extra)
    assert backbone.norm_after_stage == (kind == "svt")
    report = load_from_hub(backbone, name, reference.state_dict())
    assert report.unexpected == [] and report.skipped == []
    assert all(key.startswith("norm_list.") for key in report.missing)  # not in the original release either
    image = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        ours = backbone(image)
        theirs = timm_twins_stages(reference, image, backbone.norm_list if backbone.norm_after_stage else None)
        if not backbone.norm_after_stage:  # the loop above is timm's own
            plain = reference.forward_intermediates(image, intermediates_only=True)
            for mine, timms in zip(theirs, plain, strict=True):
                assert torch.equal(mine, timms)
    for got, want in zip(ours, theirs, strict=True):
        assert_close(got, want)
