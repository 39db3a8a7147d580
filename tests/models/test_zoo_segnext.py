"""SegNeXt against MMSegmentation 1.2.2 (records in tests/records/zoo/segnext_*).

MSCAN (odd input sizes, other strip kernels, 3 stages, GN/ReLU) and LightHamHead give MMSegmentation's outputs
for the same weights. The head's NMF draws random bases at every forward (rand_init=True, all published
configs): those fixtures were recorded with torch.manual_seed(seed) right before the forward, and seglab draws
the same bases from the same seed; with rand_init=False the recorded ``bases`` buffer is loaded. Every
NMF update is differentiated, as in MMSegmentation; a tiny MSCAN + LightHamHead learns with the
published optimiser; a shipped config trains from the command line. Key/shape lists and init statistics are
checked in test_zoo_keys.py.
"""

from __future__ import annotations

import pytest
import torch

from seglab.errors import ConfigError
from seglab.models.builder import build_on_meta
from seglab.models.heads.ham_head import NMF2D
from seglab.registry import MODELS

from .zoo_parity import (
    HEAD,
    RECORDS,
    assert_fixture_outputs,
    assert_tiny_model_learns,
    assert_trains_two_iterations,
    read_record,
    recorded_state,
)

FIXTURES = read_record("segnext_fixtures.json.gz")
del FIXTURES["recorder"]  # the script that re-makes the record, not a case


@pytest.fixture(scope="module")
def fixture_tensors() -> dict:
    return torch.load(RECORDS / "segnext_fixtures.pt", weights_only=True)


def seeded_outputs(case: dict, tensors: dict, name: str, seed: int) -> torch.Tensor:
    """The head with the recorded weights, in the recorded mode, run right after torch.manual_seed(seed)."""
    module = MODELS.build(dict(type=case["type"], **case["kwargs"])).train(case.get("mode") == "train")
    module.load_state_dict(recorded_state(case, tensors[f"{name}/state"], module.state_dict()))
    inputs = [tensors[f"{case['inputs']}/{i}"] for i in range(len(case["input_shapes"]))]
    torch.manual_seed(seed)
    with torch.no_grad():
        return module(inputs)


@pytest.mark.parametrize("name", sorted(FIXTURES))
def test_outputs_match_mmsegmentation_for_the_same_weights(name, fixture_tensors, one_thread):
    case = FIXTURES[name]
    if "seed" not in case:  # MSCAN, and the head with its recorded fixed bases
        assert_fixture_outputs(name, case, fixture_tensors)
        return
    ref = fixture_tensors[f"{name}/out/0"]
    out = seeded_outputs(case, fixture_tensors, name, case["seed"])
    assert (out - ref).abs().max() <= 1e-4 * ref.abs().max()
    other = seeded_outputs(case, fixture_tensors, name, case["seed"] + 1)  # the draw matters: the test sees it
    assert (other - ref).abs().max() > 1e-3 * ref.abs().max()


def test_gradients_flow_through_every_nmf_update_as_in_mmsegmentation():
    """MMSegmentation differentiates every multiplicative update (the original's one-step rule would not pass
    this: its gradient is not the derivative of the forward); checked against finite differences."""
    nmf = NMF2D(6, dict(MD_S=2, MD_R=2, train_steps=3, rand_init=False)).double()
    x = (torch.rand(1, 6, 3, 4, dtype=torch.float64) + 0.1).requires_grad_()
    assert torch.autograd.gradcheck(nmf, (x,), eps=1e-6, atol=1e-5)


# ------------------------------------------------------------------------------------------ options and mistakes
HEAD_ARGS = dict(in_channels=[8, 16], in_index=[2, 3], channels=8, num_classes=3)


@pytest.mark.parametrize(
    "cfg,message",
    [
        (dict(type="MSCAN", num_stages=5), r"num_stages=5 needs that many entries in \{'embed_dims': 4"),
        (dict(type="MSCAN", attention_kernel_paddings=[2, [0, 3]]), "has 4 entries but attention_kernel_paddings 2"),
        (dict(type="MSCAN", attention_kernel_sizes=[5, 7, 11, 21]), "entries after the first must be pairs"),
        (dict(type="MSCAN", pretrained="a.pth", init_cfg={"type": "Pretrained"}), "not both"),
        (dict(type="LightHamHead", ham_kwargs=dict(MD_D=512), **HEAD_ARGS), r"unknown key\(s\) \['MD_D'\]"),
        (dict(type="LightHamHead", ham_channels=10, ham_kwargs=dict(MD_S=3), **HEAD_ARGS), "MD_S=3 must divide"),
        (dict(type="LightHamHead", input_transform="resize_concat", **HEAD_ARGS), "always uses input_transform"),
    ],
)
def test_user_mistakes_raise_config_error(cfg, message):
    with pytest.raises(ConfigError, match=message):
        build_on_meta(cfg)


def test_drop_path_grows_with_depth_as_mmsegmentation():
    model = build_on_meta(dict(type="MSCAN", depths=[1, 1, 1, 2], drop_path_rate=0.3))
    rates = [getattr(b.drop_path, "drop_prob", 0.0) for i in range(1, 5) for b in getattr(model, f"block{i}")]
    assert rates == pytest.approx([0.0, 0.075, 0.15, 0.225, 0.3])


# ------------------------------------------------------------------------------------------ learning
TINY_SEGNEXT = f"""
model = dict(
    backbone=dict(_delete_=True, type='MSCAN', embed_dims=[8, 16, 32, 32], depths=[1, 1, 1, 1],
                  mlp_ratios=[4, 4, 2, 2], drop_path_rate=0.1, norm_cfg=dict(type='BN', requires_grad=True)),
    auxiliary_head=None,
    decode_head=dict(_delete_=True, type='LightHamHead', in_channels=[16, 32, 32], in_index=[1, 2, 3],
                     ham_channels=16, ham_kwargs=dict(MD_R=8), {HEAD}))
"""
# the published recipe (AdamW, no decay on norms, x10 lr on the head, linear warm-up then poly decay), with a
# learning rate and schedule for 60 iterations instead of 160k (seeds 0-3: mIoU 80-81 at lr 0.003; 47-71 at 0.001)
PUBLISHED_TRAINING = """
optim_wrapper = dict(_delete_=True, type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=0.003, betas=(0.9, 0.999), weight_decay=0.01),
    paramwise_cfg=dict(custom_keys={'pos_block': dict(decay_mult=0.), 'norm': dict(decay_mult=0.),
                                    'head': dict(lr_mult=10.)}))
param_scheduler = [dict(type='LinearLR', start_factor=1e-6, by_epoch=False, begin=0, end=10),
                   dict(type='PolyLR', eta_min=0.0, power=1.0, begin=10, end=60, by_epoch=False)]
"""


# read by tests/test_export.py's zoo sweep: with rand_init=True the graph holds a RandomUniform (ONNX Runtime
# draws its own bases, 4.2 off PyTorch's logits of max 19), so the exported tiny model keeps one fixed set
TINY_FAMILIES = {"segnext": ("LightHamHead", TINY_SEGNEXT.replace("dict(MD_R=8)", "dict(MD_R=8, rand_init=False)"))}


def test_tiny_segnext_learns_with_the_published_optimiser(tiny_config, one_thread):
    assert_tiny_model_learns(tiny_config, TINY_SEGNEXT, "LightHamHead", training=PUBLISHED_TRAINING)


# ------------------------------------------------------------------------------------------ the command line
def test_shipped_config_trains_from_the_command_line(learnable_data, tmp_path, one_thread):
    config = "segnext/segnext_mscan-t_1xb16-adamw-160k_ade20k-512x512"
    options = [
        "model.backbone.init_cfg=None",  # the published ImageNet weights are a download
        "model.backbone.embed_dims=[8,16,32,32]",
        "model.backbone.depths=[1,1,1,1]",
        "model.decode_head.in_channels=[16,32,32]",
        "model.decode_head.channels=32",  # GN with 32 groups
        "model.decode_head.ham_channels=32",
    ]
    work = tmp_path / "work"
    assert_trains_two_iterations(config, options, learnable_data, work)
