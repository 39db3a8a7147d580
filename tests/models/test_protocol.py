"""The head protocol, necks, cascades and the loss contract: a new family plugs in without touching seglab."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from seglab import Config, build_model
from seglab.engine.runner import Runner
from seglab.errors import ConfigError
from seglab.inference import inference_model, init_model
from seglab.models.heads.decode_head import BaseCascadeDecodeHead, BaseDecodeHead
from seglab.models.layers import ConvModule
from seglab.models.losses.dice import DiceLoss
from seglab.registry import MODELS

from ..conftest import TINY_MODEL
from .test_models import learnable_batch


@MODELS.register(kind="neck")
class ToyNeck(nn.Module):
    """Projects every backbone level to ``out_channels`` (what FPN-like necks do)."""

    def __init__(self, in_channels: list[int], out_channels: int) -> None:
        super().__init__()
        self.convs = nn.ModuleList(nn.Conv2d(c, out_channels, 1) for c in in_channels)

    def forward(self, feats):
        return tuple(conv(f) for conv, f in zip(self.convs, feats))


@MODELS.register(kind="head")
class ToyHead(BaseDecodeHead):
    """One 3x3 ConvModule, then the classifier."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.conv = ConvModule(self.in_channels, self.channels, 3, padding=1, norm_cfg=self.norm_cfg)

    def forward(self, inputs):
        return self.cls_seg(self.conv(self._transform_inputs(inputs)))


@MODELS.register(kind="head")
class ToyRefineHead(BaseCascadeDecodeHead):
    """A second stage: features concatenated with the first stage's class probabilities."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.conv = ConvModule(self.in_channels + self.num_classes, self.channels, 3, padding=1)

    def forward(self, inputs, prev_output):
        x = self._transform_inputs(inputs)
        prev = nn.functional.interpolate(prev_output.softmax(1), size=x.shape[2:], mode="bilinear")
        return self.cls_seg(self.conv(torch.cat([x, prev], dim=1)))


TOY_FAMILY = """
model = dict(
    neck=dict(type='ToyNeck', in_channels=[16, 32, 64, 128], out_channels=32),
    decode_head=dict(_delete_=True, type='ToyHead', in_channels=32, in_index=3, channels=16, num_classes=3),
    auxiliary_head=None)
"""


def test_a_family_defined_outside_seglab_builds_trains_and_predicts(tiny_config):
    runner = Runner.from_cfg(Config.fromfile(tiny_config(max_iters=60, extra=TOY_FAMILY)))
    metrics = runner.train()
    assert isinstance(runner.model.neck, ToyNeck) and isinstance(runner.model.decode_head, ToyHead)
    assert metrics["mIoU"] > 70, metrics
    model = init_model(runner.cfg, str(runner.work_dir / "iter_60.pth"))
    img = (torch.rand(50, 70, 3) * 255).byte().numpy()
    assert inference_model(model, img)["pred_sem_seg"].shape == (50, 70)


def tiny(**changes) -> dict:
    cfg = copy.deepcopy(TINY_MODEL)
    cfg.update(changes)
    return cfg


def test_the_segmentor_answers_what_the_engine_asks():
    model = build_model(tiny(), load_pretrained=False)
    assert (model.num_classes, model.out_channels, model.ignore_index, model.threshold) == (3, 3, 255, None)
    assert model.class_names() == ("0", "1", "2")
    model.dataset_meta = {"classes": ("a", "b", "c")}
    assert model.class_names() == ("a", "b", "c")


def test_heads_that_disagree_on_num_classes_fail_at_build_naming_both():
    cfg = tiny()
    cfg["auxiliary_head"] = {**cfg["auxiliary_head"], "num_classes": 5}
    with pytest.raises(ConfigError, match=r"model.auxiliary_head.num_classes=5 but model.decode_head.num_classes=3"):
        build_model(cfg, load_pretrained=False)


def cascade_cfg() -> dict:
    first = {**TINY_MODEL["auxiliary_head"], "in_index": 3, "in_channels": 128}
    second = dict(type="ToyRefineHead", in_channels=128, in_index=3, channels=16, num_classes=3)
    return tiny(type="CascadeEncoderDecoder", num_stages=2, decode_head=[first, second])


def test_cascade_feeds_each_stage_the_previous_output_and_learns():
    torch.manual_seed(0)
    model = build_model(cascade_cfg(), load_pretrained=False)
    inputs, samples = model.data_preprocessor(learnable_batch(), training=True)
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    first = None
    for _ in range(25):
        losses = model(inputs, samples, mode="loss")
        total = sum(v for k, v in losses.items() if "loss" in k)
        optimizer.zero_grad()
        total.backward()
        optimizer.step()
        first = first if first is not None else total.item()
    assert set(losses) == {f"{p}.{k}" for p in ("decode_0", "decode_1", "aux") for k in ("loss_ce", "acc_seg")}
    assert total.item() < 0.5 * first
    model.eval()
    out = model.predict(*model.data_preprocessor(learnable_batch(n=2), training=False))
    assert out[0]["seg_logits"].shape == (3, 64, 64) and out[0]["pred_sem_seg"].shape == (64, 64)
    assert model.num_classes == 3


def test_cascade_needs_a_list_of_num_stages_heads():
    cfg = cascade_cfg()
    cfg["num_stages"] = 3
    with pytest.raises(ConfigError, match="num_stages=3 needs model.decode_head as a list of 3 heads"):
        build_model(cfg, load_pretrained=False)
    with pytest.raises(ConfigError, match="a list of heads needs type='CascadeEncoderDecoder'"):
        build_model(tiny(decode_head=cascade_cfg()["decode_head"]), load_pretrained=False)


def head_with(loss_decode, **kwargs) -> ToyHead:
    return ToyHead(in_channels=4, channels=4, num_classes=3, loss_decode=loss_decode, **kwargs)


def test_an_ignore_index_set_on_a_loss_takes_effect_inside_its_head():
    torch.manual_seed(0)
    logits = torch.randn(2, 3, 8, 8)
    label = torch.randint(0, 3, (2, 8, 8))
    label[:, :2] = 255
    samples = [{"gt_sem_seg": label[i : i + 1]} for i in range(2)]
    own = head_with(dict(type="DiceLoss", ignore_index=0)).loss_by_feat(logits, samples)["loss_dice"]
    inherited = head_with(dict(type="DiceLoss")).loss_by_feat(logits, samples)["loss_dice"]
    assert torch.isclose(own, DiceLoss(ignore_index=0)(logits, label))
    assert torch.isclose(inherited, DiceLoss()(logits, label, ignore_index=255))
    assert not torch.isclose(own, inherited)
    from_head = head_with(dict(type="DiceLoss"), ignore_index=0).loss_by_feat(logits, samples)["loss_dice"]
    assert torch.isclose(from_head, own)


def test_several_losses_per_head_add_up_under_their_names():
    torch.manual_seed(0)
    logits = torch.randn(1, 3, 8, 8)
    samples = [{"gt_sem_seg": torch.randint(0, 3, (1, 8, 8))}]
    losses = head_with(
        [
            dict(type="CrossEntropyLoss", loss_weight=1.0),
            dict(type="CrossEntropyLoss", loss_weight=0.5),
            dict(type="DiceLoss", loss_weight=2.0),
        ]
    ).loss_by_feat(logits, samples)
    single = head_with(dict(type="CrossEntropyLoss")).loss_by_feat(logits, samples)
    assert set(losses) == {"loss_ce", "loss_dice", "acc_seg"}
    assert torch.isclose(losses["loss_ce"], 1.5 * single["loss_ce"])


def test_binary_heads_train_with_a_sigmoid_and_predict_by_threshold():
    head = ToyHead(in_channels=4, channels=4, num_classes=2, out_channels=1, threshold=0.3)
    logits = torch.tensor([[[[2.0, -2.0], [0.0, -0.5]]]])  # sigmoid: 0.88, 0.12, 0.5, 0.38
    label = torch.tensor([[[1, 0], [1, 255]]])
    losses = head.loss_by_feat(logits, [{"gt_sem_seg": label}])
    assert losses["acc_seg"].item() == 100.0 and losses["loss_ce"] > 0
    model = build_model(tiny(), load_pretrained=False)
    model.decode_head = head
    pred = model.postprocess(logits, {"ori_shape": (2, 2)})["pred_sem_seg"]
    assert pred.tolist() == [[1, 0], [1, 1]]
