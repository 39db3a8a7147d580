"""PSPNet, UPerNet and Semantic FPN against MMSegmentation 1.2.2 (records in tests/records/zoo/).

Every shipped config builds MMSegmentation's key -> shape list; PSPHead, UPerHead, FPN and FPNHead give
MMSegmentation's outputs for the same weights and inputs; a fresh R50 model of each family starts from
MMSegmentation's weight distributions; a tiny model of each family learns; a shipped config of each family
trains from the command line.

Every config's key/shape list and the fresh-initialisation statistics are checked in test_zoo_keys.py.
"""

from __future__ import annotations

import pytest
import torch

from seglab.cli import main
from seglab.errors import ConfigError
from seglab.models.builder import build_on_meta
from seglab.registry import MODELS

from .zoo_parity import (
    DILATED,
    HEAD,
    LEVELS,
    PYRAMID,
    RECORDS,
    assert_fixture_outputs,
    assert_tiny_model_learns,
    cli_train_options,
    config_path,
    read_record,
)

FIXTURES = read_record("psp_uper_fpn_fixtures.json.gz")
del FIXTURES["recorder"]  # the script that re-makes the record, not a case


# ------------------------------------------------------------------------------------------ key/shape lists
# ------------------------------------------------------------------------------------------ numeric fixtures
@pytest.fixture(scope="module")
def fixture_tensors() -> dict:
    return torch.load(RECORDS / "psp_uper_fpn_fixtures.pt", weights_only=True)


@pytest.mark.parametrize("name", sorted(FIXTURES))
def test_outputs_match_mmsegmentation_for_the_same_weights(name, fixture_tensors):
    assert_fixture_outputs(name, FIXTURES[name], fixture_tensors)


# ------------------------------------------------------------------------------------------ initialisation
# ------------------------------------------------------------------------------------------ options and mistakes
def test_resnet_multi_grid_and_contract_dilation_as_mmsegmentation():
    def last_stage(**kwargs) -> list[int]:
        cfg = dict(type="ResNetV1c", depth=50, base_channels=4, stem_channels=4, dilations=(1, 1, 1, 4), **kwargs)
        return [block.conv2.dilation[0] for block in build_on_meta(cfg).layer4]

    assert last_stage() == [4, 4, 4]
    assert last_stage(contract_dilation=True) == [2, 4, 4]  # the first block of a dilated stage: half
    assert last_stage(contract_dilation=True, multi_grid=(1, 2, 4)) == [1, 2, 4]  # multi-grid wins, last stage only


HEAD_ARGS = dict(channels=4, num_classes=3)
LEVEL_ARGS = dict(HEAD_ARGS, in_channels=[4, 8], in_index=[0, 1])


@pytest.mark.parametrize(
    "cfg,message",
    [
        (dict(type="PSPHead", in_channels=8, pool_scales=6, **HEAD_ARGS), "PSPHead pool_scales must be a list"),
        (dict(type="UPerHead", input_transform="resize_concat", **LEVEL_ARGS), "UPerHead always uses input_transform"),
        (dict(type="FPNHead", feature_strides=[4], **LEVEL_ARGS), r"feature_strides \[4\] need one stride per"),
        (dict(type="FPNHead", feature_strides=[8, 4], **LEVEL_ARGS), "must start with the finest"),
        (dict(type="FPN", in_channels=[4, 8], out_channels=4, num_outs=1), "num_outs=1 is fewer than the input levels"),
        (dict(type="FPN", in_channels=[4, 8], out_channels=4, num_outs=2, add_extra_convs="on_top"), "add_extra_convs"),
        (dict(type="FPN", in_channels=[4, 8], out_channels=4, num_outs=3, end_level=2), "end_level=2 must be"),
        (
            dict(type="FPN", in_channels=[4], out_channels=4, num_outs=1, upsample_cfg=dict(size=3)),
            "upsample_cfg takes",
        ),
        (dict(type="ResNet", depth=50, multi_grid=(1, 2)), r"multi_grid \(1, 2\) needs one dilation per block"),
    ],
)
def test_user_mistakes_raise_config_error(cfg, message):
    with pytest.raises(ConfigError, match=message):
        build_on_meta(cfg)


def test_fpn_names_a_level_count_mismatch():
    fpn = MODELS.build(dict(type="FPN", in_channels=[4, 8], out_channels=4, num_outs=2))
    with pytest.raises(ConfigError, match="FPN got 3 feature levels but in_channels lists 2"):
        fpn([torch.zeros(1, 4, 8, 8), torch.zeros(1, 8, 4, 4), torch.zeros(1, 8, 2, 2)])


# ------------------------------------------------------------------------------------------ learning
TINY_FAMILIES = {
    "pspnet": (
        "PSPHead",
        f"model = dict({DILATED}, auxiliary_head=None, decode_head=dict(_delete_=True, type='PSPHead', in_channels=64, in_index=3, {HEAD}))",
    ),
    "upernet": (
        "UPerHead",
        f"model = dict({PYRAMID}, auxiliary_head=None, decode_head=dict(_delete_=True, type='UPerHead', {LEVELS}, {HEAD}))",
    ),
    "sem_fpn": (
        "FPNHead",
        f"""model = dict({PYRAMID}, auxiliary_head=None, neck=dict(type='FPN', in_channels=[8, 16, 32, 64], out_channels=16, num_outs=4),
    decode_head=dict(_delete_=True, type='FPNHead', in_channels=[16] * 4, in_index=[0, 1, 2, 3],
        feature_strides=[4, 8, 16, 32], {HEAD}))""",
    ),
}


@pytest.mark.parametrize("family", sorted(TINY_FAMILIES))
def test_tiny_model_of_each_family_learns(family, tiny_config, one_thread):
    head_type, fragment = TINY_FAMILIES[family]
    assert_tiny_model_learns(tiny_config, fragment, head_type)


# ------------------------------------------------------------------------------------------ the command line
CLI_CONFIGS = {
    "pspnet": "pspnet/pspnet_r50-d8_4xb4-80k_ade20k-512x512",
    "upernet": "upernet/upernet_r18_4xb4-80k_ade20k-512x512",
    "sem_fpn": "sem_fpn/fpn_r50_4xb4-160k_ade20k-512x512",
}
CLI_MODELS = {
    "pspnet": ["model.decode_head.in_channels=128", "model.auxiliary_head.in_channels=64"],
    "upernet": ["model.decode_head.in_channels=[16,32,64,128]", "model.auxiliary_head.in_channels=64"],
    "sem_fpn": [
        "model.neck.in_channels=[16,32,64,128]",
        "model.neck.out_channels=16",
        "model.decode_head.in_channels=[16,16,16,16]",
    ],
}


@pytest.mark.parametrize("family", sorted(CLI_CONFIGS))
def test_shipped_config_trains_from_the_command_line(family, learnable_data, tmp_path, one_thread):
    work = tmp_path / "work"
    heads = ["model.decode_head.channels=16"] + (["model.auxiliary_head.channels=16"] if family != "sem_fpn" else [])
    options = cli_train_options(learnable_data, heads + CLI_MODELS[family])
    assert (
        main(["train", str(config_path(CLI_CONFIGS[family])), "--work-dir", str(work), "--cfg-options", *options]) == 0
    )
    assert (work / "iter_2.pth").is_file()
