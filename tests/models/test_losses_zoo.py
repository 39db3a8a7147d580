"""MMSegmentation 1.2.2's losses and OHEM pixel sampler against recorded values (tests/records/zoo/losses_*).

Each loss case rebuilds the loss from its recorded constructor arguments, calls it as MMSegmentation was
called (a decode head passes ``weight`` and ``ignore_index``) on the recorded logits and labels (with ignored
pixels), and compares the value and the gradient w.r.t. the logits. Each sampler case runs FCNHead's
``loss_by_feat`` with the sampler and compares the sampler's pixel weights and every returned loss.
"""

from __future__ import annotations

import pytest
import torch

from seglab.errors import ConfigError
from seglab.models.heads.fcn import FCNHead
from seglab.registry import MODELS

from .zoo_parity import RECORDS, read_record

RECORD = read_record("losses_fixtures.json.gz")
TOLERANCE = 1e-5


@pytest.fixture(scope="module")
def tensors() -> dict:
    return torch.load(RECORDS / "losses_fixtures.pt", weights_only=True)


def assert_close(ours: torch.Tensor, ref: torch.Tensor, what: str) -> None:
    assert ours.shape == ref.shape, f"{what}: shape {tuple(ours.shape)}, MMSegmentation {tuple(ref.shape)}"
    err, scale = (ours - ref).abs().max().item(), max(ref.abs().max().item(), 1e-6)
    assert err <= TOLERANCE * scale, f"{what}: max error {err:.3g}, max |reference| {scale:.3g}"


@pytest.mark.parametrize("name", sorted(RECORD["losses"]))
def test_loss_value_and_gradient_match_mmsegmentation(name, tensors):
    case = RECORD["losses"][name]
    loss = MODELS.build(dict(type=case["type"], **case["kwargs"]))
    assert loss.loss_name == case["loss_name"]
    logits = tensors[f"inputs/{case['logits']}"].clone().requires_grad_(True)
    call = {k: tensors[f"inputs/{v}"] if isinstance(v, str) else v for k, v in case["call"].items()}
    out = loss(logits, tensors[f"inputs/{case['labels']}"].clone(), **call)
    out.sum().backward()
    assert_close(out.detach(), tensors[f"{name}/out"], "loss")
    assert_close(logits.grad, tensors[f"{name}/grad"], "gradient")


def head_with_sampler(sampler: dict, loss_decode: list[dict]) -> FCNHead:
    return MODELS.build(
        dict(
            type="FCNHead",
            in_channels=4,
            channels=4,
            num_convs=0,
            concat_input=False,
            num_classes=4,
            sampler=sampler,
            loss_decode=loss_decode,
        )
    )


@pytest.mark.parametrize("name", sorted(RECORD["samplers"]))
def test_ohem_pixel_sampler_weights_and_head_losses_match_mmsegmentation(name, tensors):
    case = RECORD["samplers"][name]
    head = head_with_sampler(case["sampler"], case["loss_decode"])
    labels = tensors["inputs/labels4"]
    logits = tensors["inputs/small_logits4"]
    resized = torch.nn.functional.interpolate(logits, size=labels.shape[-2:], mode="bilinear")
    assert torch.equal(head.sampler.sample(resized, labels), tensors[f"{name}/weight"])
    losses = head.loss_by_feat(logits, [{"gt_sem_seg": labels[i : i + 1]} for i in range(len(labels))])
    assert sorted(losses) == case["losses"]
    for key in case["losses"]:
        assert_close(losses[key].detach().reshape(-1), tensors[f"{name}/{key}"].reshape(-1), key)  # acc_seg: (1,)


@pytest.mark.parametrize(
    "cfg,message",
    [
        (dict(type="LovaszLoss"), "requires reduction='none'"),
        (dict(type="LovaszLoss", loss_type="hinge", reduction="none"), "loss_type must be 'binary' or 'multi_class'"),
        (dict(type="LovaszLoss", classes="some", reduction="none"), "classes must be 'all', 'present' or a list"),
        (dict(type="TverskyLoss", alpha=0.5, beta=0.7), "alpha \\+ beta must be 1.0"),
        (dict(type="KLDivLoss", temperature=0), "temperature must be a non-zero number"),
        (dict(type="DiceLoss", smooth=1), "unknown key 'smooth'"),  # an MMSegmentation 0.x argument
        (
            dict(type="DepthwiseSeparableFCNHead", in_channels=4, channels=4, num_classes=2, num_convs=0),
            "num_convs >= 1",
        ),
    ],
)
def test_user_mistakes_raise_config_error(cfg, message):
    with pytest.raises(ConfigError, match=message):
        MODELS.build(cfg)


def test_losses_that_cannot_take_a_heads_input_say_so():
    logits, labels = torch.randn(1, 3, 4, 4), torch.randint(0, 3, (1, 4, 4))
    with pytest.raises(ConfigError, match="KLDivLoss compares two logit maps"):
        MODELS.build(dict(type="KLDivLoss"))(logits, labels)
    with pytest.raises(ConfigError, match="BoundaryLoss takes one boundary logit"):
        MODELS.build(dict(type="BoundaryLoss"))(logits, labels)
    with pytest.raises(ConfigError, match="needs one output channel"):
        MODELS.build(dict(type="LovaszLoss", loss_type="binary", reduction="none"))(logits, labels)
    head = head_with_sampler(dict(type="OHEMPixelSampler", min_kept=4), [dict(type="LovaszLoss", reduction="none")])
    with pytest.raises(ConfigError, match="LovaszLoss gives no per-pixel loss"):
        head.loss_by_feat(torch.randn(1, 4, 4, 4), [{"gt_sem_seg": labels}])
    with pytest.raises(ConfigError, match="'FCNHead' is not a pixel sampler"):
        head_with_sampler(dict(type="FCNHead"), [dict(type="CrossEntropyLoss")])
    with pytest.raises(ConfigError, match="min_kept must be an integer > 1"):
        head_with_sampler(dict(type="OHEMPixelSampler", min_kept=1), [dict(type="CrossEntropyLoss")])
