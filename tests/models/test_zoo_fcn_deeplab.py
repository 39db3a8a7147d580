"""FCN, DeepLabV3 and DeepLabV3+ against MMSegmentation 1.2.2 (records in tests/records/zoo/fcn_deeplab_*).

Every shipped config of the three folders builds MMSegmentation's key -> shape list; FCNHead (dilated),
DepthwiseSeparableFCNHead, ASPPHead and DepthwiseSeparableASPPHead give MMSegmentation's outputs for the same
weights and inputs; a tiny model with a depthwise-separable FCN head, two losses (cross-entropy + Lovasz) and
the OHEM pixel sampler learns; a shipped config with multi-grid and the OHEM sampler trains from the CLI; the
ASPP heads' bottleneck split for prediction gives the features of the concatenating path.

Every config's key/shape list and the fresh-initialisation statistics are checked in test_zoo_keys.py.
"""

from __future__ import annotations

import pytest
import torch

from seglab import Config
from seglab.cli import main
from seglab.fileio.checkpoint import TORCHVISION_URLS
from seglab.registry import MODELS

from .zoo_parity import (
    DILATED,
    NORM,
    RECORDS,
    assert_fixture_outputs,
    assert_tiny_model_learns,
    cli_train_options,
    config_path,
    read_record,
    shipped_configs,
)

FIXTURES = read_record("fcn_deeplab_fixtures.json.gz")
del FIXTURES["recorder"]  # the script that re-makes the record, not a case
SHIPPED = shipped_configs(("fcn", "deeplabv3", "deeplabv3plus"))
# Configs MMSegmentation 1.2.2 cannot build: none in these folders (all 137 of its files build on the meta device).
NOT_BUILT: dict[str, str] = {}


# ------------------------------------------------------------------------------------------ key/shape lists


def test_torchvision_style_configs_name_a_known_download():
    """r18b/r50b/r101b configs use type='ResNet' with ``torchvision://resnetNN``, resolved as open-mmlab:// names."""
    from seglab.fileio.sources import known

    for name in (n for n in SHIPPED if "b-d" in n.split("_")[1]):
        model = Config.fromfile(config_path(name)).model
        assert model.backbone.type == "ResNet"
        assert known(model.pretrained) is not None, model.pretrained
        assert model.pretrained.removeprefix("torchvision://") in TORCHVISION_URLS


# ------------------------------------------------------------------------------------------ numeric fixtures
@pytest.fixture(scope="module")
def fixture_tensors() -> dict:
    return torch.load(RECORDS / "fcn_deeplab_fixtures.pt", weights_only=True)


@pytest.mark.parametrize("name", sorted(FIXTURES))
def test_outputs_match_mmsegmentation_for_the_same_weights(name, fixture_tensors):
    assert_fixture_outputs(name, FIXTURES[name], fixture_tensors)


# ------------------------------------------------------------------------------------------ initialisation
# ------------------------------------------------------------------------------------------ learning
LOSSES = (
    "loss_decode=[dict(type='CrossEntropyLoss', class_weight=[0.5, 1.0, 1.0]), "
    "dict(type='LovaszLoss', reduction='none', loss_weight=0.5)]"
)
SAMPLER = "sampler=dict(type='OHEMPixelSampler', thresh=0.7, min_kept=256)"


def test_tiny_separable_fcn_with_two_losses_and_ohem_learns(tiny_config, one_thread):
    fragment = (
        f"model = dict({DILATED}, auxiliary_head=None, decode_head=dict(_delete_=True, "
        f"type='DepthwiseSeparableFCNHead', in_channels=64, in_index=3, channels=16, num_classes=3, "
        f"{NORM}, {LOSSES}, {SAMPLER}))"
    )
    assert_tiny_model_learns(tiny_config, fragment, "DepthwiseSeparableFCNHead")


# ------------------------------------------------------------------------------------------ the command line
def test_shipped_ohem_multigrid_config_trains_from_the_command_line(learnable_data, tmp_path, one_thread):
    """DeepLabV3 R101-D16 with multi-grid and the loss-ranked OHEM sampler, at ResNet-18 width 16."""
    work = tmp_path / "work"
    model = [
        "model.backbone.multi_grid=None",  # (1, 2, 4) needs ResNet-101's 3 last-stage blocks; R18 has 2
        "model.decode_head.in_channels=128",
        "model.decode_head.channels=16",
        "model.auxiliary_head.in_channels=64",
        "model.auxiliary_head.channels=16",
    ]
    suffixes = [
        f"{loader}.dataset.{key}"
        for loader in ("train_dataloader", "val_dataloader", "test_dataloader")
        for key in ("img_suffix=.jpg", "seg_map_suffix=.png")  # the learnable data's, not Cityscapes'
    ]
    config = config_path("deeplabv3/deeplabv3_r101-d16-mg124_4xb2-40k_cityscapes-512x1024")
    assert (
        main(
            [
                "train",
                str(config),
                "--work-dir",
                str(work),
                "--cfg-options",
                *cli_train_options(learnable_data, model) + suffixes,
            ]
        )
        == 0
    )
    assert (work / "iter_2.pth").is_file()


# ------------------------------------------------------------------------------------------ the split bottleneck
@pytest.mark.parametrize("head_type", ["ASPPHead", "DepthwiseSeparableASPPHead"])
@pytest.mark.parametrize("size", [(9, 13), (1, 5)])
def test_predicting_splits_the_bottleneck_and_gives_the_same_features(head_type, size):
    """Without gradients the image-pooling channels skip the 3x3 bottleneck convolution (their share is summed
    per border case); the features equal the concatenating path's, for a batch of two different images and a map
    one pixel high; the branch weights kept aside follow an optimizer step; a hook on the bottleneck keeps the
    concatenating path."""
    extra = dict(c1_in_channels=4, c1_channels=4) if head_type.startswith("Depthwise") else {}
    head = MODELS.build(
        dict(type=head_type, in_channels=16, in_index=3, channels=8, dilations=(1, 2), num_classes=3,
             norm_cfg=dict(type="BN"), **extra)
    ).eval()  # fmt: skip
    generator = torch.Generator().manual_seed(0)
    for module in head.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-0.5, 0.5, generator=generator)
            module.running_var.uniform_(0.5, 2.0, generator=generator)
    shapes = [(4, size[0] * 2, size[1] * 2), (4, *size), (8, *size), (16, *size)]
    inputs = [torch.randn(2, *shape, generator=generator) for shape in shapes]
    for _ in range(2):
        concatenated = head(inputs)  # gradients on: the concatenating path
        with torch.no_grad():
            split = head(inputs)
        assert "_seglab_branch_weight" in head.__dict__
        assert (split - concatenated).abs().max() <= 1e-5 * concatenated.abs().max()
        concatenated.sum().backward()
        torch.optim.SGD(head.parameters(), lr=0.5).step()  # in place: the kept branch weights must follow
    seen = []
    head.bottleneck.conv.register_forward_hook(lambda module, args, out: seen.append(args[0].shape[1]))
    with torch.no_grad():
        head(inputs)  # a hook on the bottleneck sees it called, with every channel
    assert seen == [8 * 3]
