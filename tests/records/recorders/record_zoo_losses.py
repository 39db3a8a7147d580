"""Record MMSegmentation 1.2.2's losses and its OHEM pixel sampler (``tests/records/zoo/losses_fixtures.*``).

Run with the reference environment's Python:
    $HOME/mmref/bin/python tests/records/recorders/record_zoo_losses.py tests/records/zoo

Seeded inputs (``inputs/<name>``): logits of batch 2 at 9x11 with 4, 2 and 1 channels (2·N(0,1)), a second
4-channel "teacher" map, labels with about 15 % of pixels set to 255 (4 and 2 classes at random; 2 and 4 classes
as rectangles on background; the 2-class rectangles with the second image all foreground; 4 classes with 0 as
the ignored label), per-image weights [0.3, 1.5] and 4-channel logits at 5x6 for the sampler cases. Each loss
case stores its output and the gradient of its sum w.r.t. the logits; each sampler case (an ``FCNHead`` with
``num_convs=0`` and an ``OHEMPixelSampler``) the sampler's weights for the logits resized to the labels and every
loss ``loss_by_feat`` returns. ``KLDivLoss`` is registered by importing its module (1.2.2 does not export it).
Seeded: running it twice writes identical bytes.
"""

from __future__ import annotations

import copy

import mmseg.models.losses.kldiv_loss  # noqa: F401  (registers KLDivLoss)
import torch
import torch.nn.functional as F
from _zoo import build, parse_out_dir, setup, write_json, write_tensors
from mmengine.structures import PixelData
from mmseg.structures import SegDataSample

RECORDER = "tests/records/recorders/record_zoo_losses.py"
HEAD_CALL = {"weight": None, "ignore_index": 255}


def loss(type_, logits, labels, loss_name, call=HEAD_CALL, **kwargs) -> dict:
    return dict(type=type_, kwargs=kwargs, logits=logits, labels=labels, call=call, loss_name=loss_name)


LOVASZ, DICE, TVERSKY = "loss_lovasz", "loss_dice", "loss_tversky"
HAUSDORFF, OHEM, KLD = "loss_huasdorff_disstance", "loss_ohem", "loss_kld"
L4 = ("logits4", "labels4")
LOSSES = {
    "lovasz_softmax": loss("LovaszLoss", *L4, LOVASZ, reduction="none"),
    "lovasz_softmax_all_cw": loss(
        "LovaszLoss", *L4, LOVASZ, classes="all", reduction="none", class_weight=[0.5, 1.0, 2.0, 0.7], loss_weight=0.7
    ),
    "lovasz_softmax_classes_list": loss("LovaszLoss", *L4, LOVASZ, classes=[1, 3], reduction="none"),
    "lovasz_softmax_per_image": loss("LovaszLoss", *L4, LOVASZ, per_image=True),
    "lovasz_softmax_per_image_sum": loss("LovaszLoss", *L4, LOVASZ, per_image=True, reduction="sum"),
    "lovasz_softmax_per_image_none": loss("LovaszLoss", *L4, LOVASZ, per_image=True, reduction="none"),
    "lovasz_hinge": loss("LovaszLoss", "logits1", "labels2", LOVASZ, loss_type="binary", reduction="none"),
    "lovasz_hinge_per_image": loss("LovaszLoss", "logits1", "labels2", LOVASZ, loss_type="binary", per_image=True),
    "dice": loss("DiceLoss", *L4, DICE),
    "dice_softmax": loss("DiceLoss", *L4, DICE, use_sigmoid=False, loss_weight=3.0),
    "dice_naive_eps": loss("DiceLoss", *L4, DICE, use_sigmoid=False, naive_dice=True, eps=1.0),
    "dice_no_activate": loss("DiceLoss", *L4, DICE, activate=False, naive_dice=True),
    "dice_ignore_channel": loss("DiceLoss", *L4, DICE, use_sigmoid=False, ignore_index=1),
    "dice_sum_image_weight": loss(
        "DiceLoss", *L4, DICE, {"weight": "image_weight", "ignore_index": 255}, reduction="sum"
    ),
    "dice_avg_factor": loss("DiceLoss", *L4, DICE, {"avg_factor": 3.0}, use_sigmoid=False),
    "tversky": loss("TverskyLoss", *L4, TVERSKY),
    "tversky_weighted": loss(
        "TverskyLoss", *L4, TVERSKY, alpha=0.6, beta=0.4, smooth=0.5, class_weight=[1.0, 2.0, 0.5, 1.5], loss_weight=2.0
    ),
    "tversky_ignore_channel": loss("TverskyLoss", *L4, TVERSKY, ignore_index=2),
    "boundary": loss("BoundaryLoss", "logits1", "labels2", "loss_boundary", {}, loss_weight=20.0),
    "hausdorff": loss("HuasdorffDisstanceLoss", "logits2", "blobs2", HAUSDORFF),
    "hausdorff_4_classes": loss("HuasdorffDisstanceLoss", "logits4", "blobs4", HAUSDORFF, loss_weight=0.5),
    "hausdorff_full_foreground": loss("HuasdorffDisstanceLoss", "logits2", "blobs2_full", HAUSDORFF),
    "ohem_ce": loss("OhemCrossEntropy", *L4, OHEM, {}),
    "ohem_ce_thres_class_weight": loss(
        "OhemCrossEntropy", *L4, OHEM, {}, thres=0.9, min_kept=20, class_weight=[0.8, 1.0, 1.2, 0.9]
    ),
    "ohem_ce_min_kept_ignore_label": loss(
        "OhemCrossEntropy",
        "logits4",
        "labels4_ignore0",
        OHEM,
        {},
        thres=0.05,
        min_kept=50,
        ignore_label=0,
        loss_weight=2.0,
    ),
    "kld": loss("KLDivLoss", "logits4", "teacher4", KLD, {}),
    "kld_sum_t2": loss("KLDivLoss", "logits4", "teacher4", KLD, {}, temperature=2, reduction="sum"),
    "kld_none_t05": loss("KLDivLoss", "logits4", "teacher4", KLD, {}, temperature=0.5, reduction="none"),
}
CE = dict(type="CrossEntropyLoss", loss_weight=1.0)
SAMPLERS = {
    "sampler_thresh": dict(
        sampler=dict(type="OHEMPixelSampler", thresh=0.7, min_kept=20), loss_decode=[CE], losses=["acc_seg", "loss_ce"]
    ),
    "sampler_thresh_min_kept_wins": dict(
        sampler=dict(type="OHEMPixelSampler", thresh=0.3, min_kept=80),
        loss_decode=[CE, dict(type="LovaszLoss", reduction="none", loss_weight=0.5)],
        losses=["acc_seg", "loss_ce", "loss_lovasz"],
    ),
    "sampler_loss_ranked": dict(
        sampler=dict(type="OHEMPixelSampler", min_kept=30),
        loss_decode=[CE, dict(type="CrossEntropyLoss", loss_weight=0.4, avg_non_ignore=True, loss_name="loss_ce2")],
        losses=["acc_seg", "loss_ce", "loss_ce2"],
    ),
    "sampler_loss_ranked_avg_non_ignore": dict(
        sampler=dict(type="OHEMPixelSampler", min_kept=25),
        loss_decode=[dict(type="CrossEntropyLoss", avg_non_ignore=True, loss_weight=0.8)],
        losses=["acc_seg", "loss_ce"],
    ),
}


def rectangles(classes: list[int], gen: torch.Generator) -> torch.Tensor:
    """One 9x11 map: background 0 with one random rectangle per listed class, later ones on top."""
    label = torch.zeros(9, 11, dtype=torch.int64)
    for cls in classes:
        top, left = (int(v) for v in torch.randint(0, 5, (2,), generator=gen))
        height, width = (int(v) for v in torch.randint(3, 6, (2,), generator=gen))
        label[top : top + height, left : left + width] = cls
    return label


def ignored(label: torch.Tensor, gen: torch.Generator, fraction: float = 0.15) -> torch.Tensor:
    label = label.clone()
    label[torch.rand(label.shape, generator=gen) < fraction] = 255
    return label


def make_inputs(gen: torch.Generator) -> dict[str, torch.Tensor]:
    inputs = {f"logits{c}": 2 * torch.randn((2, c, 9, 11), generator=gen) for c in (4, 2, 1)}
    inputs["teacher4"] = 2 * torch.randn((2, 4, 9, 11), generator=gen)
    inputs["labels4"] = ignored(torch.randint(0, 4, (2, 9, 11), generator=gen), gen)
    inputs["labels2"] = ignored(torch.randint(0, 2, (2, 9, 11), generator=gen), gen)
    inputs["blobs2"] = ignored(torch.stack([rectangles([1], gen), rectangles([1], gen)]), gen)
    inputs["blobs4"] = ignored(torch.stack([rectangles([1, 3], gen), rectangles([2, 3], gen)]), gen)
    inputs["small_logits4"] = 2 * torch.randn((2, 4, 5, 6), generator=gen)
    inputs["blobs2_full"] = torch.stack([inputs["blobs2"][0], torch.ones(9, 11, dtype=torch.int64)])
    inputs["labels4_ignore0"] = torch.randint(0, 4, (2, 9, 11), generator=gen)
    inputs["image_weight"] = torch.tensor([0.3, 1.5])
    return inputs


def loss_case(name: str, spec: dict, inputs: dict, tensors: dict) -> dict:
    module = build(dict(type=spec["type"], **copy.deepcopy(spec["kwargs"])), "cpu")
    logits = inputs[spec["logits"]].clone().requires_grad_(True)
    call = {k: inputs[v] if isinstance(v, str) else v for k, v in spec["call"].items()}
    out = module(logits, inputs[spec["labels"]].clone(), **call)
    out.sum().backward()
    tensors[f"{name}/out"], tensors[f"{name}/grad"] = out.detach(), logits.grad
    assert module.loss_name == spec["loss_name"], name
    return dict(spec, output_shape=list(out.shape))


def sampler_case(name: str, spec: dict, inputs: dict, tensors: dict) -> dict:
    head = build(
        dict(
            type="FCNHead",
            in_channels=4,
            channels=4,
            num_convs=0,
            concat_input=False,
            num_classes=4,
            sampler=spec["sampler"],
            loss_decode=spec["loss_decode"],
        ),
        "cpu",
    )
    labels, logits = inputs["labels4"], inputs["small_logits4"]
    resized = F.interpolate(logits, size=labels.shape[-2:], mode="bilinear")
    tensors[f"{name}/weight"] = head.sampler.sample(resized, labels[:, None])  # MMSegmentation wants (N, 1, H, W)
    samples = [SegDataSample(gt_sem_seg=PixelData(data=labels[i : i + 1])) for i in range(len(labels))]
    losses = head.loss_by_feat(logits, samples)
    assert sorted(losses) == spec["losses"], (name, sorted(losses))
    tensors.update({f"{name}/{key}": value.detach() for key, value in losses.items()})
    return spec


def main() -> None:
    out, _ = parse_out_dir(__doc__)
    setup()
    inputs = make_inputs(torch.Generator().manual_seed(0))
    tensors = {f"inputs/{k}": v for k, v in inputs.items()}
    losses = {name: loss_case(name, spec, inputs, tensors) for name, spec in LOSSES.items()}
    samplers = {name: sampler_case(name, spec, inputs, tensors) for name, spec in SAMPLERS.items()}
    about = (
        "MMSegmentation 1.2.2 loss values: see tests/records/recorders/record_zoo_losses.py; labels use 255 for "
        "ignored pixels; call kwargs name tensors in losses_fixtures.pt under inputs/"
    )
    record = dict(losses=losses, samplers=samplers, about=about, mmsegmentation="1.2.2", recorder=RECORDER)
    write_json(out / "losses_fixtures.json.gz", record)
    write_tensors(out / "losses_fixtures.pt", dict(tensors, recorder=RECORDER))


if __name__ == "__main__":
    main()
