"""Record MMSegmentation 1.2.2's K-Net family: keys, numeric fixtures (eval and training with losses), init stats.

Run with the reference environment's Python (parts: keys fixtures init; all by default):
    $HOME/mmref/bin/python tests/records/recorders/record_zoo_knet.py tests/records/zoo

Writes ``knet_keys.json.gz`` (built on the CPU: MMSegmentation's Swin calls ``.item()`` while building),
``knet_fixtures.json.gz`` + ``.pt`` and ``knet_init_stats.json.gz``. The kwargs are recorded before building
(MMSegmentation pops ``kernel_size`` out of ``feat_transform_cfg``). Seeded: running it twice writes identical
bytes.
"""

from __future__ import annotations

import torch
from _zoo import (
    config_names,
    init_record,
    init_rows,
    key_record,
    module_case,
    parse_out_dir,
    setup,
    write_json,
    write_tensors,
)
from mmengine.structures import PixelData
from mmseg.structures import SegDataSample

RECORDER = "tests/records/recorders/record_zoo_knet.py"
BN = dict(type="BN", requires_grad=True)
RELU = dict(type="ReLU", inplace=True)
SHAPES = [[2, 4, 17, 15], [2, 6, 9, 8], [2, 8, 7, 6], [2, 8, 7, 6]]
HALF_UPDATOR = dict(
    type="KernelUpdator", in_channels=4, feat_channels=4, out_channels=4, act_cfg=RELU, norm_cfg=dict(type="LN")
)


def update_head(**kw) -> dict:
    head = dict(
        type="KernelUpdateHead",
        num_classes=5,
        num_ffn_fcs=2,
        num_heads=2,
        num_mask_fcs=1,
        feedforward_channels=16,
        in_channels=8,
        out_channels=8,
        dropout=0.0,
        conv_kernel_size=1,
        ffn_act_cfg=RELU,
        with_ffn=True,
        feat_transform_cfg=dict(conv_cfg=dict(type="Conv2d"), act_cfg=None),
        kernel_updator_cfg=HALF_UPDATOR,
    )
    return head | kw


def fcn(dropout: float, **kw) -> dict:
    return dict(
        type="FCNHead",
        in_channels=8,
        in_index=3,
        channels=8,
        num_convs=2,
        concat_input=True,
        dropout_ratio=dropout,
        num_classes=5,
        norm_cfg=BN,
        align_corners=False,
        **kw,
    )


def case(name: str, stages: int, generator: dict, heads: list) -> dict:
    kwargs = dict(num_stages=stages, kernel_generate_head=generator, kernel_update_head=heads)
    return dict(type="IterativeDecodeHead", kwargs=kwargs, inputs=f"inputs/{name}", input_shapes=SHAPES)


UPER = dict(
    type="UPerHead",
    in_channels=[4, 6, 8, 8],
    in_index=[0, 1, 2, 3],
    pool_scales=[1, 2],
    channels=8,
    dropout_ratio=0.1,
    num_classes=5,
    norm_cfg=BN,
    align_corners=True,
)
FULL_UPDATOR = dict(
    type="KernelUpdator",
    in_channels=8,
    feat_channels=8,
    out_channels=None,
    gate_sigmoid=False,
    gate_norm_act=True,
    activate_out=True,
)
LOSSES = [dict(type="CrossEntropyLoss", loss_weight=1.0), dict(type="DiceLoss", loss_weight=0.5)]
CASES = {
    "knet_fcn": case("knet_fcn", 3, fcn(0.1), [update_head() for _ in range(3)]),
    "knet_uper_options": case(
        "knet_uper_options",
        2,
        UPER,
        [
            update_head(num_heads=4, num_mask_fcs=2, feat_transform_cfg=None, kernel_updator_cfg=FULL_UPDATOR),
            update_head(
                with_ffn=False,
                feat_transform_cfg=dict(kernel_size=3, norm_cfg=BN),
                mask_transform_stride=2,
                act_cfg=dict(type="GELU"),
            ),
        ],
    ),
    "knet_fcn_losses": case("knet_fcn_losses", 2, fcn(0.0, loss_decode=LOSSES), [update_head() for _ in range(2)]),
}
TRAIN_CASE = "knet_fcn_losses"
INIT_CONFIG = "knet/knet-s3_r50-d8_fcn_8xb2-adamw-80k_ade20k-512x512"


def train_run(labels: torch.Tensor, losses: dict):
    """Training mode (batch statistics): every stage's logits, then ``loss`` on the labels."""

    def call(module, inputs):
        module.train()
        stages = module(inputs)
        samples = []
        for label in labels:
            sample = SegDataSample()
            sample.gt_sem_seg = PixelData(data=label)
            samples.append(sample)
        losses.update({k: float(v) for k, v in module.loss(inputs, samples, {}).items()})
        return stages

    return call


def main() -> None:
    out, parts = parse_out_dir(__doc__)
    setup()
    if not parts or "keys" in parts:
        keys = key_record(config_names("knet"), device="cpu")
        write_json(out / "knet_keys.json.gz", dict(keys, recorder=RECORDER))
    if not parts or "fixtures" in parts:
        tensors: dict = {}
        cases = {}
        for seed, (name, spec) in enumerate(CASES.items()):
            if name != TRAIN_CASE:
                cases[name] = module_case(name, spec, tensors, seed)
                continue
            gen = torch.Generator().manual_seed(100)
            labels = torch.randint(0, 5, (2, 1, 28, 24), generator=gen)
            labels[:, :, :6] = 255  # a band of ignored pixels
            losses: dict = {}
            cases[name] = dict(module_case(name, spec, tensors, seed, call=train_run(labels, losses)), mode="train")
            cases[name]["losses"] = losses
            tensors[f"{name}/labels"] = labels
        write_json(out / "knet_fixtures.json.gz", dict(cases, recorder=RECORDER))
        write_tensors(out / "knet_fixtures.pt", dict(tensors, recorder=RECORDER))
    if not parts or "init" in parts:
        rows = {INIT_CONFIG: init_rows(INIT_CONFIG)}
        write_json(out / "knet_init_stats.json.gz", dict(init_record(rows), recorder=RECORDER))


if __name__ == "__main__":
    main()
