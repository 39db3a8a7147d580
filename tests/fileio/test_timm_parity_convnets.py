"""timm Hub files of the ConvNeXt, PoolFormer, HRNet, ResNeSt and MobileNet families: timm's model (random
weights, shrunk where timm allows it) saved as the Hub serves it, loaded offline through seglab's pre-trained
path into the shipped config's backbone (shrunk to the same sizes), gives timm's features within 1e-4 x max."""

from __future__ import annotations

import pytest
import torch

from seglab.config import Config
from seglab.fileio.sources import KNOWN, known
from seglab.models.builder import load_weight_tables
from seglab.registry import MODELS

from .conftest import assert_close, install_torchvision_stand_in, timm_model

install_torchvision_stand_in()
pytest.importorskip("timm")
pytest.importorskip("safetensors")
load_weight_tables()


def config_backbone(config: str, **overrides) -> torch.nn.Module:
    """The backbone of ``configs/<config>`` with ``overrides`` (sizes, strides), its pre-trained entry kept."""
    model = Config.fromfile(f"configs/{config}")["model"]
    cfg = dict(model["backbone"], **overrides)
    if model.get("pretrained"):
        cfg["pretrained"] = model["pretrained"]
    return MODELS.build(cfg).eval()


def hub_names(family: str) -> list[str]:
    return sorted(name for name, src in KNOWN.items() if src.family == family and src.hub_usable)


CONVNEXT = "convnext/convnext-tiny_upernet_8xb2-amp-160k_ade20k-512x512.py"


@pytest.mark.parametrize("name", hub_names("ConvNeXt"))
def test_convnext_timm_file_gives_timm_features(name, load_from_hub, one_thread):
    reference = timm_model("convnext_tiny", depths=(1, 1, 2, 1), dims=(8, 16, 32, 64), num_classes=5)
    backbone = config_backbone(
        CONVNEXT,
        arch=dict(depths=[1, 1, 2, 1], channels=[8, 16, 32, 64]),
        init_cfg=dict(type="Pretrained", checkpoint=name, prefix="backbone."),
    )
    report = load_from_hub(backbone, name, reference.state_dict())
    # the classifier file has only the last stage's norm, as OpenMMLab's; norm0-2 keep their init
    assert sorted(report.missing) == [f"norm{i}.{p}" for i in range(3) for p in ("bias", "weight")]
    assert report.unexpected == [] and report.skipped == []
    image = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        ours = backbone(image)
        stages = reference.forward_intermediates(image, intermediates_only=True)
        theirs = [backbone.norm0(stages[0]), backbone.norm1(stages[1]), backbone.norm2(stages[2])]
        theirs.append(reference.head.norm(stages[3]))
    for got, want in zip(ours, theirs, strict=True):
        assert_close(got, want)


POOLFORMER = "poolformer/fpn_poolformer_s12_8xb4-40k_ade20k-512x512.py"


def poolformer_v1(**kwargs) -> torch.nn.Module:
    """timm's PoolFormer v1 (poolformer_s12's settings) at the given depths and widths."""
    from timm.layers import GroupNorm1
    from timm.models.metaformer import MetaFormer, Pooling

    return MetaFormer(
        token_mixers=Pooling, downsample_norm=None, mlp_act=torch.nn.GELU, mlp_bias=True, norm_layers=GroupNorm1,
        layer_scale_init_values=1e-5, res_scale_init_values=None, use_mlp_head=False, **kwargs,
    )  # fmt: skip


@pytest.mark.parametrize("name", hub_names("PoolFormer"))
def test_poolformer_timm_file_gives_timm_features(name, load_from_hub, one_thread):
    reference = timm_model(poolformer_v1, depths=(1, 1, 1, 1), dims=(16, 32, 48, 64), num_classes=5)
    backbone = config_backbone(
        POOLFORMER,
        arch=dict(layers=[1, 1, 1, 1], embed_dims=[16, 32, 48, 64]),
        init_cfg=dict(type="Pretrained", checkpoint=name, prefix="backbone."),
    )
    report = load_from_hub(backbone, name, reference.state_dict())
    assert sorted(report.missing) == [f"norm{i}.{p}" for i in (0, 2, 4) for p in ("bias", "weight")]
    assert report.unexpected == [] and report.skipped == []
    image = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        ours = backbone(image)
        stages = reference.forward_intermediates(image, intermediates_only=True)
        theirs = [backbone.norm0(stages[0]), backbone.norm2(stages[1]), backbone.norm4(stages[2])]
        # timm's classifier applies the original's closing GroupNorm as a LayerNorm after pooling; its tensors
        # are that GroupNorm's, which mmpretrain applies to the feature map (norm6)
        head = reference.head.norm
        theirs.append(torch.nn.functional.group_norm(stages[3], 1, head.weight, head.bias, eps=1e-5))
    for got, want in zip(ours, theirs, strict=True):
        assert_close(got, want)


def test_every_timm_hub_file_of_these_families_is_used():
    """A timm Hub file listed for these families has a key map (else it would not be tried)."""
    for family in ("ConvNeXt", "PoolFormer"):
        sources = [src for src in KNOWN.values() if src.family == family]
        assert sources and all(src.hub_usable for src in sources if src.hub and src.hub.layout == "timm")
    assert known(KNOWN_CONVNEXT_IN22K).hub.relation == "same weights"


KNOWN_CONVNEXT_IN22K = (
    "https://download.openmmlab.com/mmclassification/v0/convnext/downstream/"
    "convnext-base_3rdparty_in21k_20220301-262fd037.pth"
)


def timm_hrnet_stages(reference: torch.nn.Module, image: torch.Tensor) -> list[torch.Tensor]:
    x = reference.act1(reference.bn1(reference.conv1(image)))
    return reference.stages(reference.act2(reference.bn2(reference.conv2(x))))


@pytest.mark.parametrize("name", hub_names("HRNet"))
def test_hrnet_timm_file_gives_timm_features(name, load_from_hub, one_thread):
    from timm.models.hrnet import cfg_cls

    reference = timm_model("hrnet_w18_small", num_classes=5)
    for module in reference.modules():  # the one computational difference: MMSegmentation fuses branches
        if isinstance(module, torch.nn.Upsample):  # upsampled bilinearly, timm (as the authors) nearest
            module.mode, module.align_corners = "bilinear", False
    extra = {}  # timm's HRNet-W18-small-v1 sizes, written as MMSegmentation's ``extra``
    for stage in ("stage1", "stage2", "stage3", "stage4"):
        spec = dict(cfg_cls["hrnet_w18_small"][stage])
        spec.pop("fuse_method")
        extra[stage] = dict(spec, block=spec.pop("block_type"))
    backbone = config_backbone("hrnet/fcn_hr18s_4xb2-40k_cityscapes-512x1024.py", extra=extra, norm_cfg=dict(type="BN"))
    assert backbone.init_cfg["checkpoint"] == "open-mmlab://msra/hrnetv2_w18_small"  # the config's own source
    backbone.init_cfg["checkpoint"] = name
    report = load_from_hub(backbone, name, reference.state_dict())
    assert report.missing == [] and report.unexpected == [] and report.skipped == []
    image = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        for got, want in zip(backbone(image), timm_hrnet_stages(reference, image), strict=True):
            assert_close(got, want)


@pytest.mark.parametrize("name", hub_names("ResNeSt"))
def test_resnest_timm_file_gives_timm_features(name, load_from_hub, one_thread):
    stem_width = 32 if name.endswith("resnest50") else 64  # resnest50d vs resnest101e/200e
    reference = timm_model("resnest50d", layers=[1, 1, 1, 1], stem_width=stem_width, num_classes=5)
    backbone = config_backbone(
        "resnest/resnest_s101-d8_fcn_4xb2-80k_cityscapes-512x1024.py",
        depth=50, stem_channels=2 * stem_width, strides=(1, 2, 2, 2), dilations=(1, 1, 1, 1), norm_cfg=dict(type="BN"),
    )  # fmt: skip
    for stage in (backbone.layer1, backbone.layer2, backbone.layer3, backbone.layer4):
        del stage[1:]  # one block per stage, as the timm model
    backbone.init_cfg["checkpoint"] = name
    report = load_from_hub(backbone, name, reference.state_dict())
    assert report.missing == [] and report.unexpected == [] and report.skipped == []
    image = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        theirs = reference.forward_intermediates(image, indices=4, intermediates_only=True)
        for got, want in zip(backbone(image), theirs, strict=True):
            assert_close(got, want)


def test_mobilenet_v2_timm_file_gives_timm_features(load_from_hub, one_thread):
    name = "mmcls://mobilenet_v2"
    reference = timm_model("mobilenetv2_100", num_classes=5)
    backbone = config_backbone(
        "mobilenet_v2/mobilenet-v2-d8_fcn_4xb2-80k_cityscapes-512x1024.py",
        strides=(1, 2, 2, 2, 1, 2, 1),
        dilations=(1,) * 7,
        norm_cfg=dict(type="BN"),
    )  # fmt: skip  (timm's strides; the config dilates the last stages)
    report = load_from_hub(backbone, name, reference.state_dict())
    assert report.missing == [] and report.unexpected == [] and report.skipped == []
    image = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        x, theirs = reference.bn1(reference.conv_stem(image)), []
        for i, stage in enumerate(reference.blocks):
            x = stage(x)
            if i in (1, 2, 4, 6):
                theirs.append(x)
        for got, want in zip(backbone(image), theirs, strict=True):
            assert_close(got, want)


@pytest.mark.parametrize("arch", ["large", "small"])
def test_mobilenet_v3_timm_file_loads_every_tensor_and_gives_timm_features_before_the_dilation(
    arch, load_from_hub, one_thread
):
    """Every tensor loads, shapes equal; features compared up to the layers the seglab backbone dilates
    (output stride 8, as MMSegmentation's), where timm's strides still apply."""
    name = f"open-mmlab://contrib/mobilenet_v3_{arch}"
    reference = timm_model(f"tf_mobilenetv3_{arch}_100", num_classes=5)
    config = "mobilenet-v3-d8" + ("-s" if arch == "small" else "") + "_lraspp_4xb4-320k_cityscapes-512x1024.py"
    last_undilated = {"large": 6, "small": 3}[arch]
    backbone = config_backbone(
        f"mobilenet_v3/{config}", out_indices=tuple(range(last_undilated + 1)), norm_cfg=dict(type="BN", eps=0.001)
    )
    report = load_from_hub(backbone, name, reference.state_dict())
    assert report.missing == [] and report.unexpected == [] and report.skipped == []
    image = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        x, theirs = reference.bn1(reference.conv_stem(image)), []
        theirs.append(x)
        for stage in reference.blocks:
            for block in stage:
                x = block(x)
                theirs.append(x)
        for got, want in zip(backbone(image), theirs[: last_undilated + 1], strict=True):
            assert_close(got, want)
