"""Freshly built models start from MMSegmentation's weight distributions; ``init_cfg`` means what MMEngine says.

The statistics in ``tests/records/init_stats`` were recorded from MMSegmentation 1.2.2 right after
``model.init_weights()`` (see ``tests/records/README.md``). A random layer is compared by its mean and std
within bounds set by the sampling error of both sides; a constant layer (norm weight 1 / bias 0, zero-init
residual norms, zero biases) must match exactly.
"""

from __future__ import annotations

import gzip
import json
import math
from pathlib import Path

import pytest
import torch
from torch import nn

from seglab import Config, build_model
from seglab.errors import ConfigError
from seglab.models.builder import without_pretrained
from seglab.models.layers import ConvModule
from seglab.models.weight_init import init_weights, initialize
from seglab.registry import MODELS

from ..conftest import REPO

RECORD = Path(__file__).resolve().parents[1] / "records" / "init_stats" / "mmseg_1.2.2_init_stats.json.gz"
STD_TOL = 0.05  # relative, for layers of >= 4096 weights
Z = 5.0  # standard errors allowed for smaller layers and for means


def load_record() -> dict:
    with gzip.open(RECORD, "rt") as f:
        return json.load(f)


RECORDED = load_record()


@pytest.fixture(autouse=True)
def _seeded():
    torch.manual_seed(0)  # the bounds below allow >= 5 standard errors; the seed keeps runs identical


def std_tolerance(numel: int, seeds: int) -> float:
    """Relative bound on |std/std_ref - 1|: the 5% target, widened for small layers to Z standard errors.

    For n normal samples the std estimate has relative standard error 1/sqrt(2n); the record averages
    ``seeds`` models, so the difference of the two has variance (1 + 1/seeds)/(2n)."""
    relative_se = math.sqrt((1 + 1 / seeds) / (2 * numel))
    return STD_TOL if numel >= 4096 else max(STD_TOL, Z * relative_se)


@pytest.mark.parametrize("config_name", sorted(RECORDED["configs"]))
def test_fresh_model_matches_mmsegmentation_init_statistics(config_name):
    rows = RECORDED["configs"][config_name]
    seeds = RECORDED["seeds"]
    family = config_name.split("_")[0]
    cfg = Config.fromfile(REPO / f"configs/{family}/{config_name}.py").model
    # recorded with pretrained=None; load_pretrained=False builds as if the config named no checkpoint
    params = dict(build_model(cfg, load_pretrained=False).named_parameters())
    assert sorted(params) == sorted(row[0] for row in rows)
    failures = []
    for name, numel, ref_mean, ref_std in rows:
        value = params[name].detach().flatten()
        assert value.numel() == numel, name
        if ref_std == 0:
            if not bool((value == ref_mean).all()):
                failures.append(f"{name}: expected all {ref_mean}, got mean {value.mean():.4g} std {value.std():.4g}")
            continue
        std, mean = (x.item() for x in torch.std_mean(value))
        mean_tol = Z * ref_std * math.sqrt((1 + 1 / seeds) / numel)
        if abs(std / ref_std - 1) > std_tolerance(numel, seeds) or abs(mean - ref_mean) > mean_tol:
            failures.append(
                f"{name} ({numel}): mean {mean:.3g} std {std:.4g}, MMSeg mean {ref_mean:.3g} std {ref_std:.4g}"
            )
    assert not failures, "\n".join(failures)


# ---------------------------------------------------------------------------------------- initialize()
def big_linear() -> nn.Linear:
    return nn.Linear(256, 128)  # 32768 weights: std estimates within ~0.4%


def assert_std(t: torch.Tensor, expected: float, rel: float = 0.03) -> None:
    assert abs(t.std().item() / expected - 1) < rel, (t.std().item(), expected)


def test_constant_fills_weight_and_bias():
    m = nn.Conv2d(3, 4, 3)
    initialize(m, dict(type="Constant", val=0.5, bias=2, layer="Conv2d"))
    assert bool((m.weight == 0.5).all()) and bool((m.bias == 2).all())


def test_normal_and_truncnormal_and_uniform():
    m = big_linear()
    initialize(m, dict(type="Normal", mean=1.0, std=0.02, layer="Linear"))
    assert abs(m.weight.mean().item() - 1.0) < 0.001 and bool((m.bias == 0).all())
    assert_std(m.weight, 0.02)
    initialize(m, dict(type="TruncNormal", std=1.0, a=-0.5, b=0.5, layer="Linear"))
    assert m.weight.min() >= -0.5 and m.weight.max() <= 0.5  # absolute bounds, as MMEngine
    pdf, mass = math.exp(-0.125) / math.sqrt(2 * math.pi), math.erf(0.5 / math.sqrt(2))
    assert_std(m.weight, math.sqrt(1 - pdf / mass))  # std of N(0, 1) truncated to [-0.5, 0.5]
    initialize(m, dict(type="Uniform", a=-0.3, b=0.1, bias=0.7, layer="Linear"))
    assert m.weight.min() >= -0.3 and m.weight.max() <= 0.1 and bool((m.bias == 0.7).all())


def test_kaiming_defaults_are_normal_fan_out_relu():
    m = nn.Conv2d(64, 32, 3)
    initialize(m, dict(type="Kaiming", layer="Conv2d"))
    assert_std(m.weight, math.sqrt(2 / (32 * 9)), rel=0.05)
    initialize(m, dict(type="Kaiming", mode="fan_in", distribution="uniform", layer="Conv2d"))
    bound = math.sqrt(6 / (64 * 9))
    assert m.weight.abs().max() <= bound and m.weight.abs().max() > 0.95 * bound


def test_xavier_and_caffe2xavier():
    m = big_linear()
    initialize(m, dict(type="Xavier", gain=2, layer="Linear"))
    assert_std(m.weight, 2 * math.sqrt(2 / (256 + 128)))
    initialize(m, dict(type="Xavier", distribution="uniform", layer="Linear"))
    assert m.weight.abs().max() <= math.sqrt(6 / (256 + 128))
    initialize(m, dict(type="Caffe2Xavier", layer="Linear"))  # kaiming_uniform(a=1, fan_in): bound sqrt(3/fan_in)
    bound = math.sqrt(3 / 256)
    assert m.weight.abs().max() <= bound and m.weight.abs().max() > 0.95 * bound


def test_bias_prob_gives_the_bias_whose_sigmoid_is_the_prior():
    m = nn.Conv2d(4, 4, 1)
    initialize(m, dict(type="Normal", std=0.01, bias_prob=0.01, layer="Conv2d"))
    assert torch.allclose(torch.sigmoid(m.bias), torch.full((4,), 0.01))


def test_layer_filter_matches_class_and_direct_bases_only():
    m = nn.Sequential(nn.Conv2d(2, 2, 1), nn.BatchNorm2d(2), nn.Linear(2, 2))
    initialize(m, [dict(type="Constant", val=3, layer="Linear"), dict(type="Constant", val=4, layer="_BatchNorm")])
    assert bool((m[2].weight == 3).all()) and bool((m[1].weight == 4).all()) and not bool((m[0].weight == 3).all())
    initialize(m, dict(type="Constant", val=5, layer="_NormBase"))  # BatchNorm2d's grandparent: no match
    assert bool((m[1].weight == 4).all())
    before = m[0].weight.clone()
    initialize(m, dict(type="Constant", val=6))  # neither layer nor override: touches nothing (MMEngine)
    assert torch.equal(m[0].weight, before)


class Head(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(64, 64, 3)
        self.cls = ConvModule(64, 64, 1, norm_cfg=dict(type="BN"))
        self.other = nn.Conv2d(64, 4, 1)


def test_override_initialises_the_named_module_whole_with_inherited_settings():
    m = Head()
    initialize(m, dict(type="Constant", val=1, bias=0, layer="Conv2d", override=dict(name="cls")))
    # name only: the parent's type and values, applied to every weight of cls (its norm too), not by layer
    assert bool((m.cls.conv.weight == 1).all()) and bool((m.cls.bn.weight == 1).all())
    assert bool((m.conv.weight == 1).all())
    initialize(
        m, dict(type="Normal", std=0.01, override=[dict(name="cls"), dict(name="other", type="Constant", val=2)])
    )
    assert_std(m.cls.conv.weight, 0.01, rel=0.06)
    assert bool((m.other.weight == 2).all()) and bool((m.conv.weight == 1).all())  # no layer: parent cfg idle


def test_errors_name_the_problem_and_the_accepted_values():
    m = Head()
    with pytest.raises(ConfigError, match=r"unknown init type 'Gaussian'.*Normal, TruncNormal.*Pretrained"):
        initialize(m, dict(type="Gaussian", layer="Conv2d"))
    with pytest.raises(ConfigError, match=r"'Normal' got unknown key\(s\) \['sdt'\]; accepted keys: mean, std"):
        initialize(m, dict(type="Normal", sdt=0.01, layer="Conv2d"))
    with pytest.raises(ConfigError, match=r"override name 'conv_seg' matches no submodule.*conv, cls, other"):
        initialize(m, dict(type="Normal", std=0.01, override=dict(name="conv_seg")))
    with pytest.raises(ConfigError, match=r"override 'cls' sets \['std'\] but no 'type'"):
        initialize(m, dict(type="Normal", override=dict(name="cls", std=0.1)))
    with pytest.raises(ConfigError, match="distribution must be one of"):
        initialize(m, dict(type="Kaiming", distribution="gaussian", layer="Conv2d"))
    with pytest.raises(ConfigError, match="'Constant' needs 'val'"):
        initialize(m, dict(type="Constant", layer="Conv2d"))
    with pytest.raises(ConfigError, match="'Caffe2Xavier' got unknown key"):
        initialize(m, dict(type="Caffe2Xavier", mode="fan_out"))


def test_pretrained_entries_are_left_to_the_builder():
    m = nn.Linear(2, 2)
    before = m.weight.clone()
    initialize(m, dict(type="Pretrained", checkpoint="nowhere.pth"))
    assert torch.equal(m.weight, before)


# ---------------------------------------------------------------------------------------- init_weights()
class Block(nn.Module):
    def __init__(self, init_cfg=None) -> None:
        super().__init__()
        self.init_cfg = init_cfg
        self.conv = nn.Conv2d(4, 4, 1)
        self.norm = nn.BatchNorm2d(4)


class Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.init_cfg = [
            dict(type="Constant", val=1, layer="Conv2d"),
            dict(type="Constant", val=2, layer="BatchNorm2d"),
        ]
        self.stage = nn.Sequential(Block(dict(type="Constant", val=0, override=dict(name="norm"))))
        self.stage.init_cfg = None  # a BaseModule container: the walk enters it
        self.plain = nn.ModuleList([ConvModule(4, 4, 1), Block(dict(type="Constant", val=7, layer="Conv2d"))])
        self.convmodule = ConvModule(4, 4, 1, norm_cfg=dict(type="BN"))


def test_walk_applies_parent_cfg_then_children_and_skips_plain_containers():
    net = Net()
    init_weights(net)
    block = net.stage[0]
    assert bool((block.conv.weight == 1).all()) and bool((block.norm.weight == 0).all())  # child overrides parent
    # a plain ModuleList is not entered: the ConvModule keeps the parent's Constant, the Block's cfg is not applied
    assert bool((net.plain[0].conv.weight == 1).all()) and bool((net.plain[1].conv.weight == 1).all())
    # a ConvModule the walk reaches runs its own init_weights after the parent's cfg (Kaiming, unit norm)
    assert not bool((net.convmodule.conv.weight == 1).all()) and bool((net.convmodule.bn.weight == 1).all())


def test_walk_calls_init_weights_after_the_subtree_and_tolerates_reentry():
    calls = []

    class Custom(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.init_cfg = dict(type="Constant", val=1, layer="Linear")
            self.fc = nn.Linear(2, 2)

        def init_weights(self) -> None:
            calls.append(self.fc.weight[0, 0].item())
            init_weights(self)  # re-entrant: returns at once instead of recursing

    model = Custom()
    init_weights(model)
    assert calls == [1.0]


def test_init_cfg_errors_name_the_module():
    net = Net()
    net.stage[0].init_cfg = dict(type="Normal", std=0.01, override=dict(name="bn"))
    with pytest.raises(ConfigError, match=r"stage\.0\.init_cfg: override name 'bn' matches no submodule.*conv, norm"):
        init_weights(net)


# ---------------------------------------------------------------------------------------- ResNet and builder
def resnet(**kwargs) -> nn.Module:
    return build_model(dict(type="ResNetV1c", depth=50, base_channels=8, stem_channels=8, **kwargs))


def test_resnet_default_init_zeroes_the_last_norm_of_each_block():
    model = resnet()
    assert bool((model.layer1[0].bn3.weight == 0).all()) and bool((model.layer1[0].bn2.weight == 1).all())
    assert_std(model.layer2[0].conv2.weight, math.sqrt(2 / (16 * 9)), rel=0.15)
    assert bool((resnet(zero_init_residual=False).layer1[0].bn3.weight == 1).all())


def test_resnet_honours_a_given_init_cfg_and_refuses_two_sources():
    model = resnet(init_cfg=dict(type="Constant", val=0.5, layer="Conv2d"))
    assert bool((model.stem[0].weight == 0.5).all()) and bool((model.layer1[0].bn3.weight == 1).all())
    with pytest.raises(ConfigError, match="init_cfg or pretrained, not both"):
        resnet(init_cfg=dict(type="Kaiming", layer="Conv2d"), pretrained="x.pth")


def test_builder_loads_pretrained_entries_of_a_list_after_the_walk(tmp_path):
    source = resnet()
    with torch.no_grad():
        for p in source.parameters():
            p.fill_(0.25)
    path = tmp_path / "r50.pth"
    torch.save({"state_dict": source.state_dict()}, path)
    model = resnet(
        init_cfg=[dict(type="Constant", val=3, layer="Conv2d"), dict(type="Pretrained", checkpoint=str(path))]
    )
    assert all(bool((p == 0.25).all()) for p in model.parameters())


def test_without_pretrained_builds_the_default_init_instead_of_an_unloaded_checkpoint():
    cfg = dict(type="ResNetV1c", depth=50, base_channels=8, stem_channels=8, pretrained="nowhere.pth")
    model = MODELS.build(cfg)
    init_weights(model)  # as in MMSegmentation, a Pretrained init_cfg replaces the default init
    assert not bool((model.layer1[0].bn3.weight == 0).all())
    assert without_pretrained(dict(backbone=cfg, init_cfg=[dict(type="Pretrained", checkpoint="x")])) == dict(
        backbone={**cfg, "pretrained": None}, init_cfg=None
    )
    model = build_model(cfg, load_pretrained=False)
    assert bool((model.layer1[0].bn3.weight == 0).all())
