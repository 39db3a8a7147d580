"""Models learn, infer consistently, and fail clearly on bad batches."""

from __future__ import annotations

import copy

import pytest
import torch

from seglab import build_model
from seglab.errors import ConfigError
from seglab.models.losses.accuracy import accuracy
from seglab.models.losses.cross_entropy import CrossEntropyLoss
from seglab.models.losses.dice import DiceLoss
from seglab.models.losses.focal import FocalLoss
from seglab.registry import MODELS

from ..conftest import TINY_MODEL


def learnable_batch(n=4, size=64, seed=0):
    """Images whose red squares are class 1 and blue squares class 2."""
    g = torch.Generator().manual_seed(seed)
    inputs, samples = [], []
    for _ in range(n):
        img = torch.full((3, size, size), 120, dtype=torch.uint8)
        label = torch.zeros((1, size, size), dtype=torch.int64)
        for cls, channel in ((1, 2), (2, 0)):
            y, x = torch.randint(0, size - 20, (2,), generator=g).tolist()
            img[:, y : y + 20, x : x + 20] = 30
            img[channel, y : y + 20, x : x + 20] = 230
            label[:, y : y + 20, x : x + 20] = cls
        inputs.append(img)
        samples.append({"gt_sem_seg": label, "ori_shape": (size, size)})
    return {"inputs": inputs, "data_samples": samples}


def test_tiny_deeplabv3plus_loss_falls_by_more_than_half():
    torch.manual_seed(0)
    model = build_model(TINY_MODEL)
    model.train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    inputs, samples = model.data_preprocessor(learnable_batch(), training=True)
    losses = []
    for _ in range(40):
        loss_dict = model(inputs, samples, mode="loss")
        assert set(loss_dict) == {"decode.loss_ce", "decode.acc_seg", "aux.loss_ce", "aux.acc_seg"}
        total = loss_dict["decode.loss_ce"] + loss_dict["aux.loss_ce"]
        optimizer.zero_grad()
        total.backward()
        optimizer.step()
        losses.append(total.item())
    assert losses[-1] < 0.5 * losses[0], losses


@pytest.mark.parametrize("family", ["deeplabv3plus", "deeplabv3", "fcn"])
def test_slide_and_whole_inference_agree_when_input_fits_one_crop(family):
    from seglab import Config

    from ..conftest import REPO

    cfg = Config.fromfile(REPO / f"configs/{family}/{family}_r18-d8_4xb2-80k_cityscapes-512x1024.py").model
    model = build_model(cfg, load_pretrained=False).eval()
    torch.nn.init.normal_(model.decode_head.conv_seg.weight)  # logits of O(1), so differences show
    x = torch.randn(1, 3, 48, 64)
    with torch.no_grad():
        whole = model.inference(x)
        model.test_cfg = dict(mode="slide", crop_size=(64, 64), stride=(32, 32))
        slide = model.inference(x)
        model.test_cfg = dict(mode="slide", crop_size=(32, 32), stride=(16, 16))
        tiled = model.inference(x)
    assert torch.allclose(whole, slide, atol=1e-4)
    assert tiled.shape == whole.shape and not torch.allclose(whole, tiled, atol=1e-2)


def test_predict_returns_original_size_labels():
    model = build_model(TINY_MODEL).eval()
    batch = learnable_batch(n=2)
    batch["data_samples"][0]["ori_shape"] = (128, 96)
    inputs, samples = model.data_preprocessor(batch, training=False)
    out = model.predict(inputs, samples)
    assert out[0]["pred_sem_seg"].shape == (128, 96) and out[0]["seg_logits"].shape == (3, 128, 96)
    assert out[1]["pred_sem_seg"].shape == (64, 64)


def test_preprocessor_needs_size_for_mixed_batches():
    cfg = copy.deepcopy(TINY_MODEL["data_preprocessor"])
    del cfg["size"]
    pre = MODELS.build(cfg)
    batch = {
        "inputs": [torch.zeros(3, 32, 32, dtype=torch.uint8), torch.zeros(3, 24, 32, dtype=torch.uint8)],
        "data_samples": [
            {"gt_sem_seg": torch.zeros(1, 32, 32, dtype=torch.long)},
            {"gt_sem_seg": torch.zeros(1, 24, 32, dtype=torch.long)},
        ],
    }
    with pytest.raises(ConfigError, match="add size=crop_size"):
        pre(batch, training=True)
    same = {
        "inputs": [torch.zeros(3, 32, 32, dtype=torch.uint8)] * 2,
        "data_samples": [{"gt_sem_seg": torch.zeros(1, 32, 32, dtype=torch.long)}] * 2,
    }
    assert pre(same, training=True)[0].shape == (2, 3, 32, 32)
    padded = MODELS.build({**cfg, "size_divisor": 16})(batch, training=True)
    assert padded[0].shape == (2, 3, 32, 32) and padded[1][1]["gt_sem_seg"][0, 24:].eq(255).all()


def test_preprocessor_normalises_after_bgr_to_rgb():
    pre = MODELS.build(dict(type="SegDataPreProcessor", mean=[1, 2, 3], std=[1, 1, 2], bgr_to_rgb=True))
    img = torch.tensor([10, 20, 30], dtype=torch.uint8).view(3, 1, 1)
    out, _ = pre({"inputs": [img]})
    assert out.flatten().tolist() == [29.0, 18.0, 3.5]


def test_cross_entropy_mean_counts_ignored_pixels_unless_avg_non_ignore():
    logits = torch.zeros(1, 2, 1, 4)
    label = torch.tensor([[[0, 1, 255, 255]]])
    plain = CrossEntropyLoss()(logits, label)
    non_ignore = CrossEntropyLoss(avg_non_ignore=True)(logits, label)
    log2 = torch.log(torch.tensor(2.0))
    assert torch.isclose(plain, log2 / 2) and torch.isclose(non_ignore, log2)
    weighted = CrossEntropyLoss(class_weight=[1.0, 3.0], loss_weight=0.5, avg_non_ignore=True)(logits, label)
    assert weighted > 0


def test_dice_and_focal_are_low_for_correct_and_high_for_wrong_predictions():
    label = torch.tensor([[[0, 1], [1, 255]]])
    good = torch.tensor([[[[9.0, -9], [-9, 0]], [[-9, 9], [9, 0]]]])
    for loss in (DiceLoss(use_sigmoid=False), FocalLoss(), CrossEntropyLoss(use_sigmoid=True)):
        assert loss(good, label) < loss(-good, label)
    assert accuracy(good, label).item() == 100.0
