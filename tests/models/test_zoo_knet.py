"""K-Net against MMSegmentation 1.2.2 (records in tests/records/zoo/knet_*).

IterativeDecodeHead with an FCN kernel generator, and with a UPerHead generator whose stages switch the
updator and stage options (no sigmoid gates, gate norm, activated outputs, no FFN, 3x3 feature transform,
mask stride 2), gives MMSegmentation's eval outputs for the same weights; in training mode every stage's
logits and the per-stage losses (``loss_ce.s0`` ... as MMSegmentation names them) match for a fixed batch;
a tiny K-Net learns with the published optimiser (AdamW, gradient clipping, linear warm-up); a shipped config
trains from the command line with the segmentor's ``decode.loss_ce.s3`` in its log. Key/shape lists of all
7 configs and the R50 FCN config's init statistics are checked in test_zoo_keys.py.
"""

from __future__ import annotations

import json

import pytest
import torch

from seglab.cli import main
from seglab.errors import ConfigError
from seglab.models.builder import build_on_meta
from seglab.registry import MODELS

from .zoo_parity import (
    DILATED,
    HEAD,
    RECORDS,
    assert_fixture_outputs,
    assert_tiny_model_learns,
    cli_train_options,
    config_path,
    read_record,
    recorded_state,
)

FIXTURES = read_record("knet_fixtures.json.gz")
del FIXTURES["recorder"]  # the script that re-makes the record, not a case
EVAL_CASES = sorted(name for name, case in FIXTURES.items() if case.get("mode") != "train")


@pytest.fixture(scope="module")
def fixture_tensors() -> dict:
    return torch.load(RECORDS / "knet_fixtures.pt", weights_only=True)


@pytest.mark.parametrize("name", EVAL_CASES)
def test_outputs_match_mmsegmentation_for_the_same_weights(name, fixture_tensors, one_thread):
    assert_fixture_outputs(name, FIXTURES[name], fixture_tensors)


def test_training_stages_and_losses_match_mmsegmentation(fixture_tensors, one_thread):
    name = "knet_fcn_losses"
    case, tensors = FIXTURES[name], fixture_tensors
    head = MODELS.build(dict(type=case["type"], **case["kwargs"]))
    head.load_state_dict(recorded_state(case, tensors[f"{name}/state"], head.state_dict()))
    head.train()  # batch statistics; dropout_ratio=0 keeps it deterministic
    inputs = [tensors[f"{case['inputs']}/{i}"] for i in range(len(case["input_shapes"]))]
    samples = [{"gt_sem_seg": label} for label in tensors[f"{name}/labels"]]
    with torch.no_grad():
        stages = head(inputs)
        losses = head.loss(inputs, samples)
    assert len(stages) == len(case["output_shapes"]) == 3  # the generator's and two update stages'
    for i, logits in enumerate(stages):
        ref = tensors[f"{name}/out/{i}"]
        assert (logits - ref).abs().max() <= 1e-4 * ref.abs().max(), f"stage {i}"
    assert list(losses) == list(case["losses"])  # loss_ce.s0, loss_dice.s0, acc_seg.s0, ... loss_ce.s2
    for key, ref in case["losses"].items():
        assert losses[key].item() == pytest.approx(ref, rel=1e-4), key


# ------------------------------------------------------------------------------------------ options and mistakes
UPDATOR = dict(type="KernelUpdator", in_channels=8, feat_channels=8)
STAGE = dict(type="KernelUpdateHead", in_channels=8, out_channels=8, num_heads=2, kernel_updator_cfg=UPDATOR)
GENERATOR = dict(type="FCNHead", in_channels=8, channels=8, num_classes=3)


@pytest.mark.parametrize(
    "cfg,message",
    [
        (dict(type="KernelUpdator", in_channels=8, feat_channels=4), "feat_channels=4 must equal in_channels=8"),
        (dict(STAGE, out_channels=4), "out_channels=4 must equal in_channels=8"),
        (dict(STAGE, kernel_updator_cfg=dict(type="DynamicConv")), "type 'DynamicConv' is not supported"),
        (
            dict(type="IterativeDecodeHead", num_stages=2, kernel_generate_head=GENERATOR, kernel_update_head=[STAGE]),
            "num_stages=2 needs a kernel_update_head list of 2 dicts",
        ),
        (
            dict(
                type="IterativeDecodeHead",
                num_stages=1,
                kernel_generate_head=dict(GENERATOR, channels=4),
                kernel_update_head=[STAGE],
            ),
            r"kernel_update_head\[0\] has in_channels=8.*use in_channels=4",
        ),
    ],
)
def test_user_mistakes_raise_config_error(cfg, message):
    with pytest.raises(ConfigError, match=message):
        build_on_meta(cfg)


# ------------------------------------------------------------------------------------------ learning
def knet_stages(count: int) -> str:
    stage = (
        "dict(type='KernelUpdateHead', num_classes=3, num_heads=2, num_mask_fcs=1, feedforward_channels=32, "
        "in_channels=16, out_channels=16, feat_transform_cfg=dict(conv_cfg=dict(type='Conv2d'), act_cfg=None), "
        "kernel_updator_cfg=dict(type='KernelUpdator', in_channels=8, feat_channels=8, out_channels=8))"
    )
    return f"[{', '.join([stage] * count)}]"


TINY_FAMILIES = {
    "knet": (
        "IterativeDecodeHead",
        f"""model = dict({DILATED}, auxiliary_head=None, decode_head=dict(_delete_=True, type='IterativeDecodeHead',
    num_stages=2, kernel_update_head={knet_stages(2)},
    kernel_generate_head=dict(type='FCNHead', in_channels=64, in_index=3, num_convs=1, {HEAD})))""",
    ),
}
# the published recipe (AdamW, weight decay 5e-4, gradient clipping at norm 1, linear warm-up then steps), with a
# learning rate and schedule for 60 iterations instead of 80k
PUBLISHED_TRAINING = """
optim_wrapper = dict(_delete_=True, type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=0.006, weight_decay=0.0005), clip_grad=dict(max_norm=1, norm_type=2))
param_scheduler = [dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=10),
                   dict(type='MultiStepLR', begin=10, end=60, milestones=[45, 54], by_epoch=False)]
"""


def test_tiny_knet_learns_with_the_published_optimiser(tiny_config, one_thread):
    head_type, fragment = TINY_FAMILIES["knet"]
    assert_tiny_model_learns(tiny_config, fragment, head_type, training=PUBLISHED_TRAINING)


# ------------------------------------------------------------------------------------------ the command line
def test_shipped_config_trains_from_the_command_line(learnable_data, tmp_path, one_thread):
    config = "knet/knet-s3_r50-d8_fcn_8xb2-adamw-80k_ade20k-512x512"
    stages = [
        f"model.decode_head.kernel_update_head.{i}.{key}"
        for i in range(3)
        for key in ("in_channels=16", "out_channels=16", "feedforward_channels=32", "num_heads=2")
    ]
    options = [
        "model.decode_head.kernel_generate_head.in_channels=128",
        "model.decode_head.kernel_generate_head.channels=16",
        "model.auxiliary_head.in_channels=64",
        "model.auxiliary_head.channels=16",
        *stages,
        *(
            f"model.decode_head.kernel_update_head.{i}.kernel_updator_cfg.{k}=8"
            for i in range(3)
            for k in ("in_channels", "feat_channels", "out_channels")
        ),
    ]
    work = tmp_path / "work"
    args = ["train", str(config_path(config)), "--work-dir", str(work), "--cfg-options"]
    assert main(args + cli_train_options(learnable_data, options)) == 0
    assert (work / "iter_2.pth").is_file()
    scalars = [json.loads(line) for line in next(work.rglob("scalars.json")).read_text().splitlines()]
    logged = set().union(*scalars)
    assert {"decode.loss_ce.s0", "decode.loss_ce.s3", "decode.acc_seg.s3", "aux.loss_ce"} <= logged
