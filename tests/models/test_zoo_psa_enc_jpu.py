"""PSANet, EncNet and FastFCN against MMSegmentation 1.2.2 (records in tests/records/zoo/).

Every shipped config builds MMSegmentation's key -> shape list; PSAHead, EncHead and JPU give MMSegmentation's
outputs for the same weights and inputs; a fresh R50 model of each family starts from MMSegmentation's weight
distributions; the PSA mask op equals its definition (values and gradients); EncHead's SE loss and prediction
follow MMSegmentation's; a tiny model of each family learns; a shipped config of each family trains from the
command line.

Every config's key/shape list and the fresh-initialisation statistics are checked in test_zoo_keys.py.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from seglab.cli import main
from seglab.errors import ConfigError
from seglab.models.builder import build_on_meta
from seglab.models.heads.encnet import class_presence
from seglab.models.layers.psa_mask import psa_mask
from seglab.registry import MODELS

from .zoo_parity import (
    HEAD,
    NORM,
    RECORDS,
    assert_fixture_outputs,
    assert_tiny_model_learns,
    cli_train_options,
    config_path,
    read_record,
    tiny_head,
)

FIXTURES = read_record("psa_enc_jpu_fixtures.json.gz")
del FIXTURES["recorder"]  # the script that re-makes the record, not a case


# ------------------------------------------------------------------------------------------ key/shape lists
# ------------------------------------------------------------------------------------------ numeric fixtures
@pytest.fixture(scope="module")
def fixture_tensors() -> dict:
    return torch.load(RECORDS / "psa_enc_jpu_fixtures.pt", weights_only=True)


@pytest.mark.parametrize("name", sorted(FIXTURES))
def test_outputs_match_mmsegmentation_for_the_same_weights(name, fixture_tensors):
    assert_fixture_outputs(name, FIXTURES[name], fixture_tensors)


# ------------------------------------------------------------------------------------------ initialisation
# ------------------------------------------------------------------------------------------ the PSA mask op
def psa_mask_by_definition(x: torch.Tensor, psa_type: str, mask_h: int, mask_w: int) -> torch.Tensor:
    """Pixel p's window cell (i, j) points at q = p + (i - half_h, j - half_w); 'collect' writes the cell's
    value to out[q, p], 'distribute' to out[p, q]; targets outside the map are dropped."""
    n, _, h, w = x.shape
    out = torch.zeros(n, h * w, h, w, dtype=x.dtype)
    for ph in range(h):
        for pw in range(w):
            for i in range(mask_h):
                for j in range(mask_w):
                    qh, qw = ph + i - (mask_h - 1) // 2, pw + j - (mask_w - 1) // 2
                    if 0 <= qh < h and 0 <= qw < w:
                        value = x[:, i * mask_w + j, ph, pw]
                        if psa_type == "collect":
                            out[:, qh * w + qw, ph, pw] = value
                        else:
                            out[:, ph * w + pw, qh, qw] = value
    return out


SHAPES = [(5, 4, 3, 3), (3, 6, 9, 7), (4, 4, 2, 6), (1, 1, 3, 1)]  # map h, w; window h, w (odd/even/larger)


@pytest.mark.parametrize("psa_type", ["collect", "distribute"])
@pytest.mark.parametrize("h,w,mask_h,mask_w", SHAPES)
def test_psa_mask_equals_its_definition(psa_type, h, w, mask_h, mask_w):
    x = torch.randn(2, mask_h * mask_w, h, w)
    assert torch.equal(psa_mask(x, psa_type, (mask_h, mask_w)), psa_mask_by_definition(x, psa_type, mask_h, mask_w))


@pytest.mark.parametrize("psa_type", ["collect", "distribute"])
def test_psa_mask_gradients(psa_type):
    x = torch.randn(2, 6, 4, 3, dtype=torch.double, requires_grad=True)
    assert torch.autograd.gradcheck(lambda t: psa_mask(t, psa_type, (3, 2)), (x,))


# ------------------------------------------------------------------------------------------ EncHead
def test_class_presence_ignores_out_of_range_labels():
    labels = torch.tensor([[[0, 2], [255, 2]], [[1, 1], [1, 3]]])
    assert class_presence(labels, 3).tolist() == [[1, 0, 1], [0, 1, 0]]


ENC = dict(type="EncHead", in_channels=[4, 8], in_index=[0, 1], channels=4, num_classes=3, num_codes=2)


def test_enc_head_se_loss_and_prediction_as_mmsegmentation():
    torch.manual_seed(0)
    head = MODELS.build(ENC)
    feats = [torch.randn(2, 4, 8, 8), torch.randn(2, 8, 4, 4)]
    labels = torch.tensor([0, 1, 255, 0]).repeat(2, 8, 2)
    labels[1] = 2
    samples = [{"gt_sem_seg": labels[i : i + 1]} for i in range(2)]
    losses = head.loss(feats, samples, {})
    assert sorted(losses) == ["acc_seg", "loss_ce", "loss_se"]
    _, se_logits = head(feats)
    present = torch.tensor([[1.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    expected = 0.2 * F.binary_cross_entropy_with_logits(se_logits, present)  # mean over images and classes
    assert torch.allclose(losses["loss_se"], expected)
    head.eval()
    with torch.no_grad():
        logits = head.predict(feats, [{"img_shape": (4, 4)}] * 2, {})  # the logits' own size
        assert torch.equal(logits, head(feats)[0])  # the SE branch plays no part in prediction


# ------------------------------------------------------------------------------------------ options and mistakes
HEAD_ARGS = dict(channels=4, num_classes=3, in_channels=8)


@pytest.mark.parametrize(
    "cfg,message",
    [
        (dict(type="PSAHead", mask_size=(3, 3), psa_type="both", **HEAD_ARGS), "PSAHead psa_type must be one of"),
        (dict(type="PSAHead", mask_size=9, **HEAD_ARGS), r"mask_size must be \(height, width\)"),
        ({**ENC, "input_transform": "resize_concat"}, "EncHead always uses input_transform"),
        (dict(type="JPU", in_channels=(4, 8), end_level=3), "JPU start_level=0, end_level=3 must pick"),
    ],
)
def test_user_mistakes_raise_config_error(cfg, message):
    with pytest.raises(ConfigError, match=message):
        build_on_meta(cfg)


def test_psa_compact_mask_must_cover_the_map():
    head = MODELS.build(dict(type="PSAHead", mask_size=(3, 3), compact=True, **HEAD_ARGS))
    with pytest.raises(ConfigError, match=r"compact=True needs mask_size to cover .* 9 cells for a 4x4 map"):
        head([torch.zeros(1, 8, 8, 8)])


def test_jpu_names_a_level_count_mismatch():
    jpu = MODELS.build(dict(type="JPU", in_channels=(4, 8), mid_channels=4))
    with pytest.raises(ConfigError, match="JPU got 3 feature levels but in_channels lists 2"):
        jpu([torch.zeros(1, 4, 8, 8), torch.zeros(1, 8, 4, 4), torch.zeros(1, 8, 2, 2)])


# ------------------------------------------------------------------------------------------ learning
PYRAMID_LEVELS = "stem_channels=8, base_channels=8, dilations=(1, 1, 1, 1), strides=(1, 2, 2, 2)"  # 8 .. 64 ch
TINY_FAMILIES = {
    # 64 px input, stride 8: an 8x8 map shrunk to 4x4, which a 7x7 window covers
    "psanet": ("PSAHead", tiny_head("PSAHead", "mask_size=(7, 7)")),
    "encnet": (
        "EncHead",
        tiny_head("EncHead", "num_codes=8, use_se_loss=True", in_channels="in_channels=[32, 64], in_index=[2, 3]"),
    ),
    "fastfcn": (
        "PSPHead",
        # strides 8, 16, 32 into JPU; its 4 x 8-channel map at stride 8 into the PSP head
        f"""model = dict(backbone=dict({PYRAMID_LEVELS}, out_indices=(1, 2, 3)), auxiliary_head=None,
    neck=dict(type='JPU', in_channels=(16, 32, 64), mid_channels=8, {NORM}),
    decode_head=dict(_delete_=True, type='PSPHead', in_channels=32, in_index=2, {HEAD}))""",
    ),
}


@pytest.mark.parametrize("family", sorted(TINY_FAMILIES))
def test_tiny_model_of_each_family_learns(family, tiny_config, one_thread):
    head_type, fragment = TINY_FAMILIES[family]
    assert_tiny_model_learns(tiny_config, fragment, head_type)


# ------------------------------------------------------------------------------------------ the command line
CLI_CONFIGS = {
    "psanet": "psanet/psanet_r50-d8_4xb4-80k_ade20k-512x512",
    "encnet": "encnet/encnet_r50-d8_4xb4-80k_ade20k-512x512",
    "fastfcn": "fastfcn/fastfcn_r50-d32_jpu_enc_4xb4-80k_ade20k-512x512",
}
CLI_MODELS = {  # a ResNet-18 of width 16: levels of 16, 32, 64, 128 channels
    "psanet": ["model.decode_head.in_channels=128", "model.decode_head.mask_size=(7,7)"],
    "encnet": ["model.decode_head.in_channels=[32,64,128]", "model.decode_head.num_codes=8"],
    "fastfcn": [
        "model.neck.in_channels=(32,64,128)",
        "model.neck.mid_channels=16",
        "model.decode_head.in_channels=[32,64,64]",
        "model.decode_head.num_codes=8",
    ],
}


@pytest.mark.parametrize("family", sorted(CLI_CONFIGS))
def test_shipped_config_trains_from_the_command_line(family, learnable_data, tmp_path, one_thread):
    work = tmp_path / "work"
    heads = ["model.decode_head.channels=16", "model.auxiliary_head.channels=16", "model.auxiliary_head.in_channels=64"]
    options = cli_train_options(learnable_data, heads + CLI_MODELS[family])
    assert (
        main(["train", str(config_path(CLI_CONFIGS[family])), "--work-dir", str(work), "--cfg-options", *options]) == 0
    )
    assert (work / "iter_2.pth").is_file()
