"""ANNNet, APCNet, DMNet, EMANet and ISANet against MMSegmentation 1.2.2 (records in tests/records/zoo/).

Every shipped config builds MMSegmentation's key -> shape list; ANNHead, APCHead, DMHead, EMAHead, ISAHead
and the shared SelfAttentionBlock give MMSegmentation's outputs for the same weights and inputs (EMAHead
also in training mode, where its bases move); a fresh R50 model of each family starts from MMSegmentation's
weight distributions; a tiny model of each family learns; a shipped config of each family trains from the
command line.

Every config's key/shape list and the fresh-initialisation statistics are checked in test_zoo_keys.py.
"""

from __future__ import annotations

import pytest
import torch

from seglab.cli import main
from seglab.errors import ConfigError
from seglab.models.builder import build_on_meta
from seglab.models.layers.self_attention import SelfAttentionBlock
from seglab.registry import MODELS

from .zoo_parity import (
    RECORDS,
    assert_fixture_outputs,
    assert_tiny_model_learns,
    cli_train_options,
    config_path,
    read_record,
    recorded_state,
    tiny_head,
)

FIXTURES = read_record("attention_a_fixtures.json.gz")
del FIXTURES["recorder"]  # the script that re-makes the record, not a case
NOT_BUILT: dict[str, str] = {}  # every config of the five MMSegmentation folders is shipped and builds


# ------------------------------------------------------------------------------------------ key/shape lists
# ------------------------------------------------------------------------------------------ numeric fixtures
@pytest.fixture(scope="module")
def fixture_tensors() -> dict:
    return torch.load(RECORDS / "attention_a_fixtures.pt", weights_only=True)


HEAD_CASES = sorted(name for name, case in FIXTURES.items() if "inputs" in case)
ATTENTION_CASES = sorted(name for name in FIXTURES if name.startswith("self_attention"))


def assert_close(ours: torch.Tensor, ref: torch.Tensor, what: str) -> None:
    assert ours.shape == ref.shape, what
    err, scale = (ours - ref).abs().max().item(), ref.abs().max().item()
    assert err <= 1e-4 * scale, f"{what}: max error {err:.3g}, max |reference| {scale:.3g}"


def loaded(module: torch.nn.Module, case: dict, tensors: dict, name: str) -> torch.nn.Module:
    state = module.state_dict()
    assert [[k, list(v.shape)] for k, v in state.items()] == case["keys"]
    module.load_state_dict(recorded_state(case, tensors[f"{name}/state"], state), strict=True)
    return module


@pytest.mark.parametrize("name", HEAD_CASES)
def test_outputs_match_mmsegmentation_for_the_same_weights(name, fixture_tensors):
    assert_fixture_outputs(name, FIXTURES[name], fixture_tensors)


@pytest.mark.parametrize("name", ATTENTION_CASES)
def test_self_attention_block_matches_mmsegmentation(name, fixture_tensors):
    case, t = FIXTURES[name], fixture_tensors
    block = loaded(SelfAttentionBlock(**case["kwargs"]), case, t, name).eval()
    with torch.no_grad():
        assert_close(block(t[f"{name}/query"], t[f"{name}/key"]), t[f"{name}/out/0"], name)


def test_ema_head_trains_its_bases_as_mmsegmentation(fixture_tensors):
    """Two train-mode forwards: BN on batch statistics, bases moved by momentum after each."""
    case, t = FIXTURES["ema_train"], fixture_tensors
    head = loaded(MODELS.build(dict(type="EMAHead", **case["kwargs"])), case, t, "ema_train").train()
    inputs = [t[f"ema_train/in/{i}"] for i in range(len(case["input_shapes"]))]
    for step in range(2):
        assert_close(head(inputs).detach(), t[f"ema_train/out/{step}"], f"train forward {step}")
    assert_close(head.ema_module.bases, t["ema_train/bases"], "bases")
    assert_close(head.ema_in_conv.bn.running_mean, t["ema_train/running_mean"], "running_mean")


# ------------------------------------------------------------------------------------------ initialisation
# ------------------------------------------------------------------------------------------ options and mistakes
HEAD_ARGS = dict(channels=4, num_classes=3, in_channels=8, in_index=0)
TWO_LEVELS = dict(HEAD_ARGS, in_channels=[4, 8], in_index=[0, 1])


def test_shared_key_query_projection_and_zero_out_projection():
    head = MODELS.build(dict(type="ANNHead", project_channels=3, **TWO_LEVELS))
    apnb = head.context.stages[0]
    assert apnb.query_project is apnb.key_project  # APNB shares it; checkpoints hold both key sets
    out_project = head.fusion.stages[0].out_project  # a plain conv: starts at zero, as in MMSegmentation
    assert out_project.weight.abs().sum() == 0 and out_project.bias.abs().sum() == 0


@pytest.mark.parametrize(
    "cfg,message",
    [
        (dict(type="ANNHead", project_channels=2, **HEAD_ARGS), r"ANNHead needs in_channels=\[low, high\]"),
        (
            dict(type="ANNHead", project_channels=2, input_transform="resize_concat", **TWO_LEVELS),
            "ANNHead always uses input_transform='multiple_select'",
        ),
        (dict(type="ANNHead", project_channels=2, query_scales=(1, 2), **TWO_LEVELS), "only 1 works"),
        (dict(type="APCHead", pool_scales=3, **HEAD_ARGS), "APCHead pool_scales must be a list"),
        (dict(type="DMHead", filter_sizes=[0, 3], **HEAD_ARGS), "DMHead filter_sizes must be a list"),
        (dict(type="EMAHead", ema_channels=4, num_bases=2, num_stages=0, **HEAD_ARGS), "num_stages must be an int"),
        (dict(type="ISAHead", isa_channels=2, down_factor=8, **HEAD_ARGS), "ISAHead down_factor must be two"),
    ],
)
def test_user_mistakes_raise_config_error(cfg, message):
    with pytest.raises(ConfigError, match=message):
        build_on_meta(cfg)


# ------------------------------------------------------------------------------------------ learning
TINY_FAMILIES = {
    "ann": ("ANNHead", tiny_head("ANNHead", "project_channels=8", in_channels="in_channels=[32, 64], in_index=[2, 3]")),
    "apcnet": ("APCHead", tiny_head("APCHead")),
    "dmnet": ("DMHead", tiny_head("DMHead")),
    "emanet": ("EMAHead", tiny_head("EMAHead", "ema_channels=16, num_bases=8, num_stages=3")),
    "isanet": ("ISAHead", tiny_head("ISAHead", "isa_channels=8, down_factor=(4, 4)")),
}


@pytest.mark.parametrize("family", sorted(TINY_FAMILIES))
def test_tiny_model_of_each_family_learns(family, tiny_config, one_thread):
    head_type, fragment = TINY_FAMILIES[family]
    assert_tiny_model_learns(tiny_config, fragment, head_type)


# ------------------------------------------------------------------------------------------ the command line
CLI_CONFIGS = {
    "ann": ("ann/ann_r50-d8_4xb4-80k_ade20k-512x512", ["model.decode_head.in_channels=[64,128]"]),
    "apcnet": ("apcnet/apcnet_r50-d8_4xb4-80k_ade20k-512x512", ["model.decode_head.in_channels=128"]),
    "dmnet": ("dmnet/dmnet_r50-d8_4xb4-80k_ade20k-512x512", ["model.decode_head.in_channels=128"]),
    "emanet": ("emanet/emanet_r50-d8_4xb2-80k_cityscapes-512x1024", ["model.decode_head.in_channels=128"]),
    "isanet": ("isanet/isanet_r50-d8_4xb4-80k_ade20k-512x512", ["model.decode_head.in_channels=128"]),
}
CITYSCAPES_SUFFIXES = [  # the learnable data's suffixes, not Cityscapes'
    f"{loader}.dataset.{key}"
    for loader in ("train_dataloader", "val_dataloader", "test_dataloader")
    for key in ("img_suffix=.jpg", "seg_map_suffix=.png")
]
CLI_HEADS = {
    "ann": ["model.decode_head.project_channels=8"],
    "emanet": ["model.decode_head.ema_channels=16", "model.decode_head.num_bases=8", *CITYSCAPES_SUFFIXES],
    "isanet": ["model.decode_head.isa_channels=8"],
}


@pytest.mark.parametrize("family", sorted(CLI_CONFIGS))
def test_shipped_config_trains_from_the_command_line(family, learnable_data, tmp_path, one_thread):
    config, in_channels = CLI_CONFIGS[family]
    heads = ["model.decode_head.channels=16", "model.auxiliary_head.channels=16", "model.auxiliary_head.in_channels=64"]
    options = cli_train_options(learnable_data, heads + in_channels + CLI_HEADS.get(family, []))
    work = tmp_path / "work"
    assert main(["train", str(config_path(config)), "--work-dir", str(work), "--cfg-options", *options]) == 0
    assert (work / "iter_2.pth").is_file()
