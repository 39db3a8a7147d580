"""What a validation reports besides mIoU: the loss of the same forward (``val_cfg.val_loss``) and the class
table's values as ``IoU.<class>``/``Acc.<class>`` keys (the tiny run in test_early_stopping.py shows both
in scalars.json)."""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from seglab import build_model
from seglab.engine.evaluation_loop import LossMeans, wants_val_loss
from seglab.errors import ConfigError
from seglab.evaluation.metrics import IoUMetric
from seglab.models.segmentors import val_loss as said_once
from tests.conftest import TINY_MODEL


def batch(sizes, label_sizes=None, seed=0):
    gen = torch.Generator().manual_seed(seed)
    label_sizes = label_sizes or sizes
    return {
        "inputs": [torch.randint(0, 255, (3, *s), dtype=torch.uint8, generator=gen) for s in sizes],
        "data_samples": [
            {"gt_sem_seg": torch.randint(0, 3, (1, *s), generator=gen), "ori_shape": s} for s in label_sizes
        ],
    }


@pytest.fixture(scope="module")
def tiny():
    torch.manual_seed(0)
    model = build_model(TINY_MODEL, load_pretrained=False)
    # a few training steps' worth of BatchNorm statistics, so eval mode differs from train mode
    model.train()
    with torch.no_grad():
        model.loss(*model.data_preprocessor(batch([(64, 64)] * 2, seed=1), training=True))
        for head in (model.decode_head, model.auxiliary_head):  # logits far from uniform: losses differ per image
            head.conv_seg.weight.mul_(100)
    return model.eval()


def test_val_loss_is_the_training_loss_in_eval_mode_from_the_prediction_forward(tiny, one_thread):
    inputs, samples = tiny.data_preprocessor(batch([(64, 64)] * 2), training=False)
    with torch.no_grad():
        predictions, losses = tiny.val_step(inputs, samples)
        expected = tiny.loss(inputs, samples)  # the training loss function, same batch, eval mode
        predicted = tiny.predict(inputs, samples)
    assert sorted(losses) == ["aux.acc_seg", "aux.loss_ce", "decode.acc_seg", "decode.loss_ce"]
    for key, value in expected.items():
        assert torch.allclose(losses[key], value, rtol=1e-6, atol=1e-7), key
    for got, want in zip(predictions, predicted):
        assert torch.equal(got["seg_logits"], want["seg_logits"])
        assert torch.equal(got["pred_sem_seg"], want["pred_sem_seg"])


def test_padded_images_with_labels_at_their_original_size(tiny, one_thread):
    """A validation batch of different sizes: padded inputs, labels unpadded at each image's own size."""
    tiny.data_preprocessor.test_cfg = dict(size_divisor=32)
    try:
        inputs, samples = tiny.data_preprocessor(batch([(64, 64), (40, 56)]), training=False)
        with torch.no_grad():
            predictions, losses = tiny.val_step(inputs, samples)
    finally:
        tiny.data_preprocessor.test_cfg = {}
    assert [tuple(p["pred_sem_seg"].shape) for p in predictions] == [(64, 64), (40, 56)]
    assert all(math.isfinite(float(v)) for v in losses.values())
    # padding is left out: each image's loss is that of the logits its prediction (and the metric) sees
    per_image = [F.cross_entropy(p["seg_logits"][None], p["gt_sem_seg"].long(), ignore_index=255) for p in predictions]
    assert torch.allclose(losses["decode.loss_ce"], torch.stack(per_image).mean(), rtol=1e-5)
    assert not torch.allclose(per_image[0], per_image[1], rtol=1e-3)


def test_families_without_a_val_loss_predict_and_say_so_once(tiny, seglab_log, one_thread):
    said_once._SAID.clear()  # said once per process: forget what earlier tests made it say
    cfg = copy.deepcopy(TINY_MODEL)
    attn = dict(embed_dims=16, num_heads=2, batch_first=True)
    cfg["auxiliary_head"] = None
    cfg["decode_head"] = dict(
        type="MaskFormerHead",
        in_channels=[16, 32, 64, 128],
        feat_channels=16,
        out_channels=16,
        num_classes=3,
        num_queries=4,
        pixel_decoder=dict(type="mmdet.PixelDecoder", norm_cfg=dict(type="GN", num_groups=4)),
        positional_encoding=dict(num_feats=8, normalize=True),
        transformer_decoder=dict(
            num_layers=1, layer_cfg=dict(self_attn_cfg=attn, cross_attn_cfg=attn, ffn_cfg=dict(embed_dims=16))
        ),
        loss_cls=dict(type="mmdet.CrossEntropyLoss", class_weight=[1.0, 1.0, 1.0, 0.1]),
    )
    maskformer = build_model(cfg, load_pretrained=False).eval()
    data = maskformer.data_preprocessor(batch([(64, 64)]), training=False)
    with torch.no_grad():
        (got,), losses = maskformer.val_step(*data)
        (want,) = maskformer.predict(*data)
        maskformer.val_step(*data)
    assert losses == {} and torch.equal(got["seg_logits"], want["seg_logits"])
    assert seglab_log.text.count("no validation loss (val/loss): MaskFormerHead computes its loss") == 1
    tiny.test_cfg = dict(mode="slide", crop_size=(64, 64), stride=(32, 32))
    try:
        with torch.no_grad():
            assert tiny.val_step(*tiny.data_preprocessor(batch([(64, 64)]), training=False))[1] == {}
    finally:
        tiny.test_cfg = dict(mode="whole")
    assert "test_cfg mode='slide'" in seglab_log.text


def test_loss_means_are_per_batch_means_and_the_total_sums_the_losses():
    means = LossMeans()
    means.add({"decode.loss_ce": torch.tensor(1.0), "decode.acc_seg": torch.tensor(50.0), "aux.loss_ce": 0.5})
    means.add({"decode.loss_ce": torch.tensor(3.0), "decode.acc_seg": torch.tensor(70.0), "aux.loss_ce": 0.25})
    results = means.results("val")
    assert results == {
        "val/loss": 2.0 + 0.375,
        "val/aux.loss_ce": 0.375,
        "val/decode.acc_seg": 60.0,
        "val/decode.loss_ce": 2.0,
    }
    assert LossMeans().results("val") == {}
    assert wants_val_loss({}) is False and wants_val_loss({"val_cfg": {"type": "ValLoop", "val_loss": True}})
    with pytest.raises(ConfigError, match="val_cfg.val_loss must be True or False"):
        wants_val_loss({"val_cfg": {"val_loss": "yes"}})


def test_per_class_scalars_are_the_class_table_unrounded():
    metric = IoUMetric(iou_metrics=["mIoU", "mDice"])
    metric.reset(["road", "car", "sky"])
    label = torch.tensor([0, 0, 0, 1, 1, 1])
    pred = torch.tensor([0, 0, 1, 1, 1, 0])
    metric.process([{"pred_sem_seg": pred, "gt_sem_seg": label}])
    summary, table = metric.compute()
    scalars = metric.class_scalars()
    assert scalars["IoU.road"] == pytest.approx(100 * 2 / 4) and scalars["Acc.car"] == pytest.approx(100 * 2 / 3)
    assert table["IoU"][0] == 50.0 and table["Dice"][1] == round(scalars["Dice.car"], 2)
    assert math.isnan(scalars["IoU.sky"])  # absent from labels and predictions, as the table's nan
    assert summary["mIoU"] == round(np.nanmean([scalars["IoU.road"], scalars["IoU.car"]]), 2)
    filled = IoUMetric(nan_to_num=-1)
    filled.reset(["road", "car", "sky"])
    filled.process([{"pred_sem_seg": pred, "gt_sem_seg": label}])
    filled.compute()
    assert filled.class_scalars()["IoU.sky"] == -1
