"""DANet, DNLNet, GCNet, NonLocalNet and CCNet against MMSegmentation 1.2.2 (records in tests/records/zoo/).

Every shipped config builds MMSegmentation's key -> shape list; DAHead, DNLHead, GCHead, NLHead (all four
non-local modes) and CCHead give MMSegmentation's outputs for the same weights and inputs; criss-cross
attention also equals a direct loop over its definition and passes gradcheck; DAHead's three outputs are
supervised under MMSegmentation's loss names; a fresh R50 model of each family starts from MMSegmentation's
weight distributions; a tiny model with each head learns; a shipped config of each family trains from the
command line.

Every config's key/shape list and the fresh-initialisation statistics are checked in test_zoo_keys.py.
"""

from __future__ import annotations

import pytest
import torch

from seglab.cli import main
from seglab.errors import ConfigError
from seglab.models.builder import build_on_meta
from seglab.models.layers.criss_cross import CrissCrossAttention
from seglab.registry import MODELS

from .zoo_parity import (
    RECORDS,
    assert_fixture_outputs,
    assert_tiny_model_learns,
    cli_train_options,
    config_path,
    read_record,
    tiny_head,
)

FIXTURES = read_record("attention_b_fixtures.json.gz")
del FIXTURES["recorder"]  # the script that re-makes the record, not a case
NOT_BUILT: dict[str, str] = {}  # every config of the five MMSegmentation folders is shipped and builds


# ------------------------------------------------------------------------------------------ key/shape lists
# ------------------------------------------------------------------------------------------ numeric fixtures
@pytest.fixture(scope="module")
def fixture_tensors() -> dict:
    return torch.load(RECORDS / "attention_b_fixtures.pt", weights_only=True)


@pytest.mark.parametrize("name", sorted(FIXTURES))
def test_outputs_match_mmsegmentation_for_the_same_weights(name, fixture_tensors):
    assert_fixture_outputs(name, FIXTURES[name], fixture_tensors)


def criss_cross_by_definition(cca: CrissCrossAttention, x: torch.Tensor) -> torch.Tensor:
    """Position (h, w) attends, in one softmax, to its whole row and to the rest of its column."""
    query, key, value = cca.query_conv(x), cca.key_conv(x), cca.value_conv(x)
    n, _, height, width = x.shape
    out = torch.zeros_like(value)
    for b in range(n):
        for h in range(height):
            for w in range(width):
                others = [(i, w) for i in range(height) if i != h] + [(h, j) for j in range(width)]
                energy = torch.stack([query[b, :, h, w] @ key[b, :, i, j] for i, j in others])
                weights = energy.softmax(dim=0)
                out[b, :, h, w] = sum(a * value[b, :, i, j] for a, (i, j) in zip(weights, others))
    return cca.gamma.scale * out + x


def random_criss_cross(channels: int) -> CrissCrossAttention:
    torch.manual_seed(0)
    cca = CrissCrossAttention(channels).double()
    with torch.no_grad():
        for p in cca.parameters():
            p.normal_(0, 0.5)
    return cca


def test_criss_cross_attention_equals_its_definition(one_thread):
    cca = random_criss_cross(16)
    x = torch.randn(2, 16, 4, 5, dtype=torch.float64)
    assert torch.allclose(cca(x), criss_cross_by_definition(cca, x), atol=1e-10)


def test_criss_cross_attention_passes_gradcheck(one_thread):
    cca = random_criss_cross(8)  # query/key of one channel keep the full Jacobian small (~400 columns)
    names = [name for name, _ in cca.named_parameters()]

    def run(x, *params):
        return torch.func.functional_call(cca, dict(zip(names, params)), (x,))

    x = torch.randn(1, 8, 3, 4, dtype=torch.float64, requires_grad=True)
    params = [p.detach().clone().requires_grad_() for p in cca.parameters()]
    assert torch.autograd.gradcheck(run, (x, *params))


# ------------------------------------------------------------------------------------------ DAHead's outputs
def test_dahead_supervises_three_outputs_under_mmsegmentations_names_and_predicts_with_pam_cam():
    torch.manual_seed(0)
    head = MODELS.build(dict(type="DAHead", in_channels=8, channels=8, pam_channels=4, num_classes=3))
    feats = [torch.randn(2, 8, 6, 6)]
    samples = [{"gt_sem_seg": torch.randint(0, 3, (1, 12, 12))} for _ in range(2)]
    losses = head.loss(feats, samples, {})
    assert sorted(losses) == sorted(f"{p}.{k}" for p in ("pam_cam", "pam", "cam") for k in ("loss_ce", "acc_seg"))
    head.eval()
    with torch.no_grad():
        pam_cam = head.forward(feats)[0]
        logits = head.predict(feats, [{"img_shape": (12, 12)}] * 2, {})
    assert torch.equal(logits, torch.nn.functional.interpolate(pam_cam, (12, 12), mode="bilinear"))


# ------------------------------------------------------------------------------------------ initialisation
# ------------------------------------------------------------------------------------------ user mistakes
HEAD_ARGS = dict(in_channels=8, channels=8, num_classes=3)


@pytest.mark.parametrize(
    "cfg,message",
    [
        (dict(type="NLHead", num_convs=1, **HEAD_ARGS), "NLHead always has num_convs=2"),
        (dict(type="NLHead", mode="cosine", **HEAD_ARGS), "NonLocal2d mode must be one of"),
        (dict(type="GCHead", pooling_type="max", **HEAD_ARGS), "pooling_type must be 'att' or 'avg'"),
        (dict(type="GCHead", fusion_types="channel_add", **HEAD_ARGS), "fusion_types must be a non-empty tuple"),
        (dict(type="GCHead", fusion_types=("channel_sub",), **HEAD_ARGS), "fusion_types may hold"),
        (dict(type="GCHead", ratio=0.1, **HEAD_ARGS), "ratio=0.1 leaves no channel"),
        (dict(type="CCHead", in_channels=8, channels=4, num_classes=3), "CCHead needs channels >= 8"),
        (dict(type="CCHead", recurrence=-1, **HEAD_ARGS), "recurrence must be an int >= 0"),
    ],
)
def test_user_mistakes_raise_config_error(cfg, message):
    with pytest.raises(ConfigError, match=message):
        build_on_meta(cfg)


# ------------------------------------------------------------------------------------------ learning
TINY_HEADS = {"DAHead": "pam_channels=8", "DNLHead": "", "GCHead": "", "NLHead": "", "CCHead": ""}


@pytest.mark.parametrize("head_type", sorted(TINY_HEADS))
def test_tiny_model_with_each_head_learns(head_type, tiny_config, one_thread):
    assert_tiny_model_learns(tiny_config, tiny_head(head_type, TINY_HEADS[head_type]), head_type)


# ------------------------------------------------------------------------------------------ the command line
CLI_CONFIGS = {
    "danet": "danet/danet_r50-d8_4xb4-80k_ade20k-512x512",
    "dnlnet": "dnlnet/dnl_r50-d8_4xb4-80k_ade20k-512x512",
    "gcnet": "gcnet/gcnet_r50-d8_4xb4-80k_ade20k-512x512",
    "nonlocal_net": "nonlocal_net/nonlocal_r50-d8_4xb4-80k_ade20k-512x512",
    "ccnet": "ccnet/ccnet_r50-d8_4xb4-80k_ade20k-512x512",
}
CLI_MODEL = [
    "model.decode_head.in_channels=128",
    "model.decode_head.channels=16",
    "model.auxiliary_head.in_channels=64",
    "model.auxiliary_head.channels=16",
]


@pytest.mark.parametrize("family", sorted(CLI_CONFIGS))
def test_shipped_config_trains_from_the_command_line(family, learnable_data, tmp_path, one_thread):
    work = tmp_path / "work"
    extra = ["model.decode_head.pam_channels=8"] if family == "danet" else []
    options = cli_train_options(learnable_data, CLI_MODEL + extra)
    assert (
        main(["train", str(config_path(CLI_CONFIGS[family])), "--work-dir", str(work), "--cfg-options", *options]) == 0
    )
    assert (work / "iter_2.pth").is_file()
