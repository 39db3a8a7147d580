"""Shared layers against facts recorded from MMCV 2.1 / MMSegmentation 1.2.2 (tests/records/layers):
state_dict keys and shapes, eval outputs for recorded weights, norm/activation builders, DropPath, errors."""

from __future__ import annotations

import functools
import json
import warnings

import pytest
import torch
from torch import nn

from seglab.errors import ConfigError
from seglab.models.layers import (
    FFN,
    PPM,
    ConvModule,
    DepthwiseSeparableConvModule,
    DropPath,
    MultiheadAttention,
    PatchEmbed,
    PatchMerging,
    build_activation,
    build_norm,
    drop_path,
    nchw_to_nlc,
    nlc_to_nchw,
)

from ..conftest import REPO

RECORDS = REPO / "tests" / "records" / "layers"
RECORD = json.loads((RECORDS / "keys.json").read_text())
CASES = RECORD["cases"]
BLOCKS = {
    cls.__name__: cls
    for cls in (ConvModule, DepthwiseSeparableConvModule, MultiheadAttention, FFN, PatchEmbed, PatchMerging, PPM)
}


@functools.cache
def fixture(family: str) -> dict[str, torch.Tensor]:
    return torch.load(RECORDS / f"{family}.pt", weights_only=True)


def build(case: dict) -> nn.Module:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # e.g. the 'circular' notice
        return BLOCKS[case["block"]](**case["kwargs"])


def close(ours: torch.Tensor, ref: torch.Tensor) -> None:
    assert ours.shape == ref.shape
    tol = 1e-4 * max(1.0, ref.abs().max().item())
    assert (ours - ref).abs().max().item() <= tol


@pytest.mark.parametrize("name", sorted(CASES))
def test_state_dict_keys_and_shapes_match_record(name):
    case = CASES[name]
    model = build(case)
    if case.get("holder"):  # recorded as a head holds it, e.g. PSPHead.psp_modules
        holder = nn.Module()
        setattr(holder, case["holder"], model)
        model = holder
    assert [[k, list(v.shape)] for k, v in model.state_dict().items()] == case["keys"]


@pytest.mark.parametrize("name", sorted(CASES))
def test_eval_outputs_match_record_with_recorded_weights(name):
    case, tensors = CASES[name], fixture(CASES[name]["family"])
    model = build(case)
    prefix = f"{name}/state/"
    model.load_state_dict({k[len(prefix) :]: v for k, v in tensors.items() if k.startswith(prefix)}, strict=True)
    model.eval()
    args = [tensors[f"{name}/args/{i}"].clone() for i in range(case["num_args"])]  # act-first may work in place
    kwargs = {k: tensors[f"{name}/kwargs/{k}"] for k in case["tensor_kwargs"]} | case["literal_kwargs"]
    with torch.no_grad():
        out = model(*args, **kwargs)
    outs = list(out) if isinstance(out, list | tuple) else [out]
    assert len(outs) == case["num_outputs"]
    for i, ours in enumerate(outs):
        if str(i) in case["literal_outputs"]:
            assert list(ours) == case["literal_outputs"][str(i)]
        else:
            close(ours, tensors[f"{name}/out/{i}"])
    if "init_out_size" in case:
        assert list(model.init_out_size) == case["init_out_size"]


@pytest.mark.parametrize("label", sorted(RECORD["norms"]))
def test_build_norm_names_keys_and_attributes_match_mmcv(label):
    rec = RECORD["norms"][label]
    name, layer = build_norm(rec["cfg"], 8, postfix=rec["postfix"])
    assert name == rec["name"]
    # SyncBN is built as BatchNorm2d (same keys) and synchronised only under DDP
    assert type(layer).__name__ == ("BatchNorm2d" if rec["class"] == "SyncBatchNorm" else rec["class"])
    assert [[k, list(v.shape)] for k, v in layer.state_dict().items()] == rec["keys"]
    assert layer.eps == rec["eps"] and getattr(layer, "momentum", None) == rec["momentum"]
    assert getattr(layer, "affine", getattr(layer, "elementwise_affine", None)) == rec["affine"]
    assert [p.requires_grad for p in layer.parameters()] == rec["requires_grad"]


def test_activations_match_mmcv_definitions():
    tensors = fixture("activations")
    for i, cfg in enumerate(RECORD["activations"]):
        layer = build_activation(cfg).eval()
        close(layer(tensors["input"].clone()), tensors[f"{i:02d}"])


def test_hsigmoid_is_mmcvs_parametrised_hard_sigmoid():
    x = torch.linspace(-5, 5, 41)
    assert torch.equal(build_activation(dict(type="HSigmoid"))(x), nn.Hardsigmoid()(x))
    old_style = build_activation(dict(type="HSigmoid", bias=1.0, divisor=2.0))(x)
    assert torch.allclose(old_style, ((x + 1) / 2).clamp(0, 1))


def test_inplace_follows_mmcv():
    assert build_activation(dict(type="ReLU")).inplace is False  # build_activation_layer keeps torch's default
    assert ConvModule(2, 2, 1).activate.inplace is True
    assert ConvModule(2, 2, 1, inplace=False).activate.inplace is False
    assert isinstance(ConvModule(2, 2, 1, act_cfg=dict(type="Clamp")).activate, nn.Module)  # takes no inplace


def test_conv_module_options():
    m = ConvModule(4, 6, 3, padding=1, norm_cfg=dict(type="BN"), order=["norm", "conv", "act"])
    assert m.order == ("norm", "conv", "act") and m.norm.num_features == 4 and m.conv.bias is None
    x = torch.randn(1, 4, 5, 5)
    assert torch.equal(m.eval()(x, activate=False, norm=False), m.conv(x))
    reflect = ConvModule(4, 6, 3, padding=1, padding_mode="reflect")
    assert isinstance(reflect.padding_layer, nn.ReflectionPad2d) and reflect.conv.padding == (0, 0)
    with pytest.warns(UserWarning, match="circular"):
        circular = ConvModule(4, 6, 3, padding=1, padding_mode="circular")
    assert circular.conv.padding_mode == "zeros"  # MMCV never hands padding_mode to its conv
    assert ConvModule(4, 6, 3, norm_cfg=dict(type="SyncBN")).bn._seglab_sync is True
    ln = ConvModule(4, 6, 1, norm_cfg=dict(type="LN"))
    assert ln.norm_name == "ln" and ln.ln.weight.eq(1).all()


def test_efficient_conv_bn_eval_equals_plain_path():
    torch.manual_seed(0)
    plain = ConvModule(3, 5, 3, padding=1, norm_cfg=dict(type="BN"))
    with torch.no_grad():
        plain.bn.running_mean.uniform_(-1, 1)
        plain.bn.running_var.uniform_(0.5, 2)
        plain.bn.weight.uniform_(0.5, 1.5)
    fast = ConvModule(3, 5, 3, padding=1, norm_cfg=dict(type="BN"), efficient_conv_bn_eval=True)
    fast.load_state_dict(plain.state_dict())
    x = torch.randn(2, 3, 6, 7)
    close(fast.eval()(x), plain.eval()(x))
    assert fast.efficient_conv_bn_eval


def test_drop_path_identity_in_eval_and_scales_kept_paths_in_train():
    x = torch.randn(4000, 3, 2)
    layer = DropPath(0.25)
    assert torch.equal(layer.eval()(x), x)
    assert torch.equal(drop_path(x, 0.0, training=True), x)
    torch.manual_seed(0)
    out = layer.train()(x)
    kept = out.flatten(1).ne(0).any(1)
    assert torch.allclose(out[kept], x[kept] / 0.75)  # kept samples scaled by 1 / keep_prob
    assert out[~kept].eq(0).all()  # dropped samples are zero as a whole
    assert abs(kept.float().mean().item() - 0.75) < 0.03


def test_token_map_reshapes_round_trip():
    x = torch.randn(2, 5, 3, 4)
    tokens = nchw_to_nlc(x)
    assert tokens.shape == (2, 12, 5) and tokens.is_contiguous()
    assert torch.equal(nlc_to_nchw(tokens, (3, 4)), x)


def test_ffn_and_attention_accept_mmcvs_deprecated_names():
    with pytest.warns(UserWarning, match="deprecated"):
        ffn = FFN(8, 16, dropout=0.1, add_residual=False)
    assert ffn.add_identity is False and ffn.layers[2].p == 0.1
    with pytest.warns(UserWarning, match="deprecated"):
        attn = MultiheadAttention(8, 2, dropout=0.2)
    assert attn.attn.dropout == 0.2 and attn.dropout_layer.p == 0.2


@pytest.mark.parametrize(
    "make,message",
    [
        (lambda: build_norm(dict(type="FancyNorm"), 4), "unknown norm_cfg type 'FancyNorm'; use one of BN, "),
        (lambda: build_norm(dict(type="BN", mometum=0.1), 4), r"norm_cfg type 'BN' got unknown key\(s\) \['mometum'\]"),
        (lambda: build_norm(dict(type="GN"), 4), "norm_cfg type 'GN' needs num_groups"),
        (lambda: build_activation(dict(type="Mish")), "unknown act_cfg type 'Mish'; use one of ReLU, "),
        (lambda: build_activation(dict(type="Swish", inplace=True)), r"act_cfg type 'Swish' got unknown key\(s\)"),
        (lambda: ConvModule(2, 2, 1, order=("conv", "act")), "ConvModule order=.*'conv', 'norm' and 'act' once each"),
        (lambda: ConvModule(2, 2, 1, order=("conv", "norm", "norm")), "must name 'conv', 'norm' and 'act'"),
        (lambda: ConvModule(2, 2, 3, padding_mode="mirror"), "padding_mode='mirror' is unknown"),
        (lambda: ConvModule(2, 2, 3, padding=(1, 1), padding_mode="reflect"), "needs an int padding or 4 values"),
        (lambda: FFN(8, 16, num_fcs=1), "num_fcs=1"),
        (lambda: MultiheadAttention(8, 3), "divisible by num_heads=3"),
        (lambda: MultiheadAttention(8, 2, dropout_layer=dict(type="Drop")), "unknown dropout_layer type 'Drop'"),
        (lambda: PatchEmbed(padding="valid"), "adaptive padding 'valid' is unknown"),
    ],
)
def test_user_mistakes_raise_config_error(make, message):
    with pytest.raises(ConfigError, match=message):
        make()
