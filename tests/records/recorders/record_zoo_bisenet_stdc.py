"""Record MMSegmentation 1.2.2's BiSeNetV1, BiSeNetV2 and STDC families: keys, numeric fixtures, init statistics.

Run with the reference environment's Python (parts: keys fixtures init; all by default):
    $HOME/mmref/bin/python tests/records/recorders/record_zoo_bisenet_stdc.py tests/records/zoo

Writes ``bisenet_stdc_keys.json.gz`` (meta device), ``bisenet_stdc_fixtures.json.gz`` + ``.pt`` (each case's own
inputs ``<case>/in/<i>``, images of one size stored once; STDCHead's constant ``laplacian_kernel`` and
``fusion_kernel`` kept) and ``bisenet_stdc_init_stats.json.gz``. Seeded: running it twice writes identical bytes.
"""

from __future__ import annotations

import torch
from _zoo import (
    config_names,
    init_record,
    init_rows,
    key_record,
    own_inputs_case,
    parse_out_dir,
    seeded,
    setup,
    write_json,
    write_tensors,
)
from mmengine.structures import PixelData
from mmseg.structures import SegDataSample

RECORDER = "tests/records/recorders/record_zoo_bisenet_stdc.py"
BN = dict(type="BN", requires_grad=True)
BIG, SMALL = [1, 3, 67, 75], [1, 3, 45, 37]


def resnet(type_: str, base: int) -> dict:
    return dict(
        type=type_,
        depth=18,
        stem_channels=4,
        base_channels=base,
        out_indices=[0, 1, 2, 3],
        dilations=[1, 1, 1, 1],
        strides=[1, 2, 2, 2],
        norm_cfg=BN,
        style="pytorch",
        contract_dilation=True,
    )


def stdc(stdc_type: str, channels: list, bottleneck: str, convs: int, final: bool) -> dict:
    return dict(
        stdc_type=stdc_type,
        in_channels=3,
        channels=channels,
        bottleneck_type=bottleneck,
        num_convs=convs,
        norm_cfg=BN,
        act_cfg=dict(type="ReLU"),
        with_final_conv=final,
    )


CASES = {
    "bisenetv1": (
        "BiSeNetV1",
        "backbone",
        dict(
            backbone_cfg=resnet("ResNet", 4),
            spatial_channels=[4, 4, 4, 8],
            context_channels=[8, 16, 32],
            out_channels=8,
            norm_cfg=BN,
        ),
        BIG,
    ),
    "bisenetv1_v1c_out_indices": (
        "BiSeNetV1",
        "backbone",
        dict(
            backbone_cfg=resnet("ResNetV1c", 2),
            spatial_channels=[4, 6, 4, 4],
            context_channels=[4, 8, 16],
            out_indices=[2, 0],
            out_channels=6,
        ),
        SMALL,
    ),
    "bisenetv2": (
        "BiSeNetV2",
        "backbone",
        dict(detail_channels=[4, 8, 8], semantic_channels=[4, 4, 6, 8], semantic_expansion_ratio=2, bga_channels=8),
        BIG,
    ),
    "bisenetv2_align_corners": (
        "BiSeNetV2",
        "backbone",
        dict(
            detail_channels=[4, 6, 8],
            semantic_channels=[4, 6, 6, 8],
            semantic_expansion_ratio=3,
            bga_channels=8,
            out_indices=[0, 3, 1],
            align_corners=True,
        ),
        SMALL,
    ),
    "stdc1_context_path": (
        "STDCContextPathNet",
        "backbone",
        dict(
            backbone_cfg=dict(type="STDCNet", **stdc("STDCNet1", [4, 8, 8, 16, 32], "cat", 4, False)),
            last_in_channels=[32, 16],
            out_channels=8,
            ffm_cfg=dict(in_channels=16, out_channels=16),
        ),
        BIG,
    ),
    "stdc2_add_context_path_bilinear": (
        "STDCContextPathNet",
        "backbone",
        dict(
            backbone_cfg=dict(type="STDCNet", **stdc("STDCNet2", [4, 8, 8, 16, 32], "add", 3, False)),
            last_in_channels=[32, 16],
            out_channels=8,
            ffm_cfg=dict(in_channels=16, out_channels=12, scale_factor=3),
            upsample_mode="bilinear",
            align_corners=False,
        ),
        BIG,
    ),
    "stdc2_final_conv": ("STDCNet", "backbone", stdc("STDCNet2", [4, 8, 8, 8, 16], "add", 2, True), SMALL),
    "stdc_head_loss": (
        "STDCHead",
        "head_loss",
        dict(
            in_channels=8,
            channels=4,
            num_convs=1,
            num_classes=2,
            boundary_threshold=0.1,
            concat_input=False,
            norm_cfg=BN,
            align_corners=True,
            loss_decode=[
                dict(type="CrossEntropyLoss", loss_name="loss_ce", use_sigmoid=True, loss_weight=1.0),
                dict(type="DiceLoss", loss_name="loss_dice", loss_weight=1.0),
            ],
        ),
        [2, 8, 9, 10],
    ),
}
INIT_CONFIGS = (
    "bisenetv1/bisenetv1_r18-d32_4xb4-160k_cityscapes-1024x1024",
    "bisenetv2/bisenetv2_fcn_4xb4-160k_cityscapes-1024x1024",
    "stdc/stdc1_4xb12-80k_cityscapes-512x1024",
)


def keep_kernels(mod_name, mod, name, t, gen):
    """STDCHead's Laplacian and fusion kernels are constants, not weights."""
    return t.clone() if name in ("laplacian_kernel", "fusion_kernel") else None


def labels(gen: torch.Generator) -> torch.Tensor:
    """2x1x35x38 uint8: classes 1-4 in rectangles on class 0, a band of 255 at the right edge."""
    out = torch.zeros(2, 1, 35, 38, dtype=torch.uint8)
    for image in out:
        for cls in (1, 2, 3, 4, 4, 2):
            top, left = (int(v) for v in torch.randint(0, 28, (2,), generator=gen))
            height, width = (int(v) for v in torch.randint(3, 9, (2,), generator=gen))
            image[0, top : top + height, left : left + width] = cls
        image[0, :, 36:] = 255
    return out


def head_loss(gen: torch.Generator, tensors: dict, name: str):
    """STDCHead: logits, the boundary targets it hands BaseDecodeHead.loss_by_feat, loss_ce, loss_dice, acc_seg."""
    label = labels(gen)
    tensors[f"{name}/labels"] = label

    def call(module, inputs):
        stacked = []
        stack = module._stack_batch_gt
        module._stack_batch_gt = lambda samples: stacked.append(stack(samples)) or stacked[-1]
        logits = module(inputs)
        data = []
        for one in label.long():
            sample = SegDataSample()
            sample.gt_sem_seg = PixelData(data=one)
            data.append(sample)
        losses = module.loss_by_feat(logits, data)
        targets = stacked[-1].float()
        return [logits, targets, *(losses[k].reshape(1) for k in ("loss_ce", "loss_dice", "acc_seg"))]

    return call


def main() -> None:
    out, parts = parse_out_dir(__doc__)
    setup()
    if not parts or "keys" in parts:
        keys = key_record(config_names("bisenetv1", "bisenetv2", "stdc"))
        write_json(out / "bisenet_stdc_keys.json.gz", dict(keys, recorder=RECORDER))
    if not parts or "fixtures" in parts:
        gen = torch.Generator().manual_seed(100)
        images = {tuple(shape): seeded(shape, gen) for shape in (BIG, SMALL)}
        tensors, shared, cases = {}, set(), {}
        for seed, (name, (type_, call, kwargs, shape)) in enumerate(CASES.items()):
            if call == "backbone":
                tensors[f"{name}/in/0"] = images[tuple(shape)]
                shared.add(f"{name}/in/0")
            run = head_loss(gen, tensors, name) if call == "head_loss" else None
            cases[name] = own_inputs_case(name, type_, call, kwargs, [shape], tensors, seed, keep_kernels, run)
        # images of one size are stored once (the same tensor); everything else a contiguous copy of its own
        tensors = {k: v if k in shared else v.detach().clone().contiguous() for k, v in tensors.items()}
        write_json(out / "bisenet_stdc_fixtures.json.gz", dict(cases, recorder=RECORDER))
        write_tensors(out / "bisenet_stdc_fixtures.pt", dict(tensors, recorder=RECORDER), copy_tensors=False)
    if not parts or "init" in parts:
        rows = {name: init_rows(name) for name in INIT_CONFIGS}
        write_json(out / "bisenet_stdc_init_stats.json.gz", dict(init_record(rows), recorder=RECORDER))


if __name__ == "__main__":
    main()
