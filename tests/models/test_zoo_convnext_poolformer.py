"""ConvNeXt and PoolFormer (mmpretrain's backbones, built by seglab itself) and layer-wise learning-rate decay,
against MMSegmentation 1.2.2 with mmpretrain 1.2.0 (records in tests/records/zoo/convnext_poolformer_*).

ConvNeXt (layer scale, GRN, 1x1-conv pointwise layers, pooled output) and PoolFormer give mmpretrain's outputs
for the same weights; LearningRateDecayOptimizerConstructor gives MMSegmentation's parameter groups; a tiny
model of each family learns with its published optimiser; a shipped config of each family trains from
``seglab train`` (ConvNeXt's under its AmpOptimWrapper).

Every config's key/shape list and the fresh-initialisation statistics are checked in test_zoo_keys.py.
"""

from __future__ import annotations

import copy

import pytest
import torch

from seglab import Config
from seglab.cli import main
from seglab.engine.layer_decay import learning_rate_decay_groups
from seglab.engine.optim import build_optim_wrapper
from seglab.errors import ConfigError
from seglab.models.builder import build_on_meta
from seglab.registry import MODELS

from .zoo_parity import (
    HEAD,
    RECORDS,
    assert_tiny_model_learns,
    config_path,
    data_options,
    read_record,
    recorded_state,
)

FIXTURES = read_record("convnext_poolformer_fixtures.json.gz")
del FIXTURES["recorder"]  # the script that re-makes the record, not a case
DECAY = read_record("convnext_poolformer_decay.json.gz")
CONVNEXT_TINY = "convnext/convnext-tiny_upernet_8xb2-amp-160k_ade20k-512x512"
POOLFORMER_S12 = "poolformer/fpn_poolformer_s12_8xb4-40k_ade20k-512x512"


# ------------------------------------------------------------------------------------------ numeric fixtures
@pytest.fixture(scope="module")
def fixture_tensors() -> dict:
    return torch.load(RECORDS / "convnext_poolformer_fixtures.pt", weights_only=True)


@pytest.mark.parametrize("name", sorted(FIXTURES))
def test_backbone_outputs_match_mmpretrain_for_the_same_weights(name, fixture_tensors):
    case = FIXTURES[name]
    backbone = MODELS.build(dict(type=case["type"], **copy.deepcopy(case["kwargs"]))).eval()
    state = backbone.state_dict()
    assert [[k, list(v.shape)] for k, v in state.items()] == case["keys"]
    backbone.load_state_dict(recorded_state(case, fixture_tensors[f"{name}/state"], state), strict=True)
    with torch.no_grad():
        outs = backbone(fixture_tensors[f"{name}/input"])
    assert [list(o.shape) for o in outs] == case["output_shapes"]
    for i, out in enumerate(outs):
        ref = fixture_tensors[f"{name}/out/{i}"]
        err, scale = (out - ref).abs().max().item(), ref.abs().max().item()
        assert err <= 1e-4 * scale, f"output {i}: max error {err:.3g}, max |reference| {scale:.3g}"


# ------------------------------------------------------------------------------------------ layer-wise lr decay
def shrunk_convnext(backbone_extra: dict) -> torch.nn.Module:
    """The ConvNeXt-T UPerNet config with the recorded small backbone (its stage 2 has 7 blocks: 3 layer ids)."""
    model = copy.deepcopy(Config.fromfile(config_path(CONVNEXT_TINY)).model)
    model["backbone"] = dict(DECAY["backbone"], **backbone_extra)
    model["decode_head"].update(in_channels=[4, 8, 8, 8], channels=8)
    model["auxiliary_head"].update(in_channels=8, channels=8)
    return build_on_meta(model)


@pytest.mark.parametrize("case", sorted(DECAY["cases"]))
def test_layer_decay_groups_equal_mmsegmentations(case):
    rec = DECAY["cases"][case]
    groups = learning_rate_decay_groups(shrunk_convnext(rec["backbone"]), rec["lr"], rec["wd"], rec["paramwise_cfg"])
    ours = [[g["group_name"], g["lr_scale"], g["lr"], g["weight_decay"], g["param_names"]] for g in groups]
    assert [g[:4] for g in ours] == [g[:4] for g in rec["groups"]]  # name, lr scale, lr, weight decay
    assert ours == rec["groups"]  # and the same parameters in each, in the same order


def test_the_optimizer_gets_the_decayed_groups_and_bad_settings_are_named():
    model = shrunk_convnext({})
    cfg = dict(
        type="AmpOptimWrapper",
        optimizer=dict(type="AdamW", lr=0.0001, betas=(0.9, 0.999), weight_decay=0.05),
        paramwise_cfg={"decay_rate": 0.9, "decay_type": "stage_wise", "num_layers": 12},
        constructor="LearningRateDecayOptimizerConstructor",
        loss_scale="dynamic",
    )
    groups = build_optim_wrapper(model, cfg).param_groups
    expected = {g[0]: (g[2], g[3]) for g in DECAY["cases"]["stage_wise_12"]["groups"]}
    assert {g["group_name"]: (g["lr"], g["weight_decay"]) for g in groups} == expected
    mistakes = {
        "num_layers": (dict(decay_rate=0.9), r"missing \['num_layers'\]"),
        "layer_decay_rate": (dict(layer_decay_rate=0.9, num_layers=6), r"unknown key\(s\) \['layer_decay_rate'\]"),
        "decay_type": (dict(decay_rate=0.9, num_layers=6, decay_type="block_wise"), "no layer rule for a ConvNeXt"),
    }
    for paramwise, message in mistakes.values():
        with pytest.raises(ConfigError, match=message):
            build_optim_wrapper(model, dict(cfg, paramwise_cfg=paramwise))
    with pytest.raises(ConfigError, match="optim_wrapper.constructor 'MyConstructor' is unknown"):
        build_optim_wrapper(model, dict(cfg, constructor="MyConstructor"))


# ------------------------------------------------------------------------------------------ options and mistakes
def test_poolformer_freezes_its_patch_embedding_as_mmpretrain_does():
    backbone = MODELS.build(dict(type="mmpretrain.PoolFormer", arch="s12", out_indices=(0, 2, 4, 6))).train()
    frozen = sorted(n for n, p in backbone.named_parameters() if not p.requires_grad)
    assert frozen == ["patch_embed.proj.bias", "patch_embed.proj.weight"]  # frozen_stages=0 (the default) included
    convnext = MODELS.build(dict(type="ConvNeXt", arch="atto", frozen_stages=2, gap_before_final_norm=False)).train()
    assert not convnext.stages[1].training and convnext.stages[2].training
    assert {n.split(".")[1] for n, p in convnext.named_parameters() if not p.requires_grad} == {"0", "1"}


@pytest.mark.parametrize(
    "cfg,message",
    [
        (dict(type="mmpretrain.ConvNeXt", arch="medium"), "ConvNeXt arch 'medium' is unknown; use one of atto"),
        (dict(type="mmpretrain.ConvNeXt", arch=dict(depths=[1])), r"a dict with keys \['depths', 'channels'\]"),
        (dict(type="mmpretrain.ConvNeXt", out_indices=[4]), r"out_indices \[4\] must lie in \[-4, 3\]"),
        (dict(type="mmpretrain.ConvNeXt", norm_cfg=dict(type="BN")), "ConvNeXt needs dict\\(type='LN2d'"),
        (dict(type="mmpretrain.PoolFormer", arch="s48"), "PoolFormer arch 's48' is unknown; use one of s12"),
        (dict(type="mmpretrain.PoolFormer", fork_feat=True), "unknown key 'fork_feat'"),
    ],
)
def test_user_mistakes_raise_config_error(cfg, message):
    with pytest.raises(ConfigError, match=message):
        build_on_meta(cfg)


# ------------------------------------------------------------------------------------------ learning
LEVELS = "in_channels=[8, 16, 32, 64], in_index=[0, 1, 2, 3]"
TINY_FAMILIES = {
    "convnext": (
        "UPerHead",
        f"""model = dict(auxiliary_head=None,
    backbone=dict(_delete_=True, type='mmpretrain.ConvNeXt', arch=dict(depths=[1, 1, 2, 1], channels=[8, 16, 32, 64]),
        out_indices=[0, 1, 2, 3], drop_path_rate=0.1, layer_scale_init_value=1.0, gap_before_final_norm=False),
    decode_head=dict(_delete_=True, type='UPerHead', {LEVELS}, pool_scales=(1, 2), {HEAD}))""",
    ),
    "poolformer": (
        "FPNHead",
        f"""model = dict(auxiliary_head=None,
    backbone=dict(_delete_=True, type='mmpretrain.PoolFormer', arch=dict(layers=[1, 1, 1, 1],
        embed_dims=[8, 16, 32, 64]), out_indices=(0, 2, 4, 6)),
    neck=dict(type='FPN', in_channels=[8, 16, 32, 64], out_channels=16, num_outs=4),
    decode_head=dict(_delete_=True, type='FPNHead', in_channels=[16] * 4, in_index=[0, 1, 2, 3],
        feature_strides=[4, 8, 16, 32], {HEAD}))""",
    ),
}
# ConvNeXt's published optimiser (AdamW, weight decay 0.05, stage-wise lr decay 0.9) at the tiny tests' lr;
# it comes after zoo_parity's TRAINING lines, which would replace it
LAYER_DECAY = """
optim_wrapper = dict(_delete_=True, type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=0.006, betas=(0.9, 0.999), weight_decay=0.05),
    paramwise_cfg=dict(decay_rate=0.9, decay_type='stage_wise', num_layers=6),
    constructor='LearningRateDecayOptimizerConstructor')
"""


@pytest.mark.parametrize("family", sorted(TINY_FAMILIES))
def test_tiny_model_of_each_family_learns(family, tiny_config, one_thread):
    head_type, fragment = TINY_FAMILIES[family]
    optimiser = LAYER_DECAY if family == "convnext" else ""

    def with_optimiser(max_iters: int, extra: str):
        return tiny_config(max_iters=max_iters, extra=extra + optimiser)

    assert_tiny_model_learns(with_optimiser, fragment, head_type, iters=40)  # seeds 0-3: mIoU 76-88 after 40


# ------------------------------------------------------------------------------------------ the command line
CLI = {
    "convnext": (
        CONVNEXT_TINY,
        [
            "model.backbone.arch={'_delete_':True,'depths':[1,1,2,1],'channels':[8,16,16,16]}",
            "model.decode_head.in_channels=[8,16,16,16]",
            "model.auxiliary_head.in_channels=16",
            "model.auxiliary_head.channels=16",
            "model.test_cfg.crop_size=(64,64)",
            "model.test_cfg.stride=(43,43)",
        ],
    ),
    "poolformer": (
        POOLFORMER_S12,
        [
            "model.backbone.arch={'_delete_':True,'layers':[1,1,1,1],'embed_dims':[8,16,24,32]}",
            "model.neck.in_channels=[8,16,24,32]",
            "model.neck.out_channels=16",
            "model.decode_head.in_channels=[16,16,16,16]",
            "train_dataloader.dataset.times=1",
        ],
    ),
}


@pytest.mark.parametrize("family", sorted(CLI))
def test_shipped_config_trains_from_the_command_line(family, learnable_data, tmp_path, one_thread):
    config, model_options = CLI[family]
    data = data_options(learnable_data)
    if family == "poolformer":  # its train set is a RepeatDataset around the ADE20K dataset
        data = [o.replace("train_dataloader.dataset.", "train_dataloader.dataset.dataset.") for o in data]
    options = [
        "model.backbone.init_cfg=None",
        "model.decode_head.channels=16",
        *model_options,
        "train_cfg.max_iters=2",
        "train_cfg.val_interval=2",
        "default_hooks.logger.interval=1",
        "default_hooks.checkpoint.interval=2",
        *data,
    ]
    work = tmp_path / "work"
    assert main(["train", str(config_path(config)), "--work-dir", str(work), "--cfg-options", *options]) == 0
    assert (work / "iter_2.pth").is_file()
    log = next(work.glob("*/*.log")).read_text()
    assert "custom_imports: 'mmpretrain.models' is not imported; seglab provides" in log  # nothing to install
    assert "bfloat16 autocast measured" in log or "--amp" in log  # AmpOptimWrapper on CPU: measured, then chosen
    if family == "convnext":
        assert "layer-wise lr decay (stage_wise, rate 0.9, 6 layers): 12 parameter groups" in log
