"""Record MMSegmentation 1.2.2's OCRNet (ResNet configs), PointRend, ResNeSt and ResNeXt (``cascade_*``).

Run with the reference environment's Python (parts: keys fixtures init; all by default):
    $HOME/mmref/bin/python tests/records/recorders/record_zoo_cascade.py tests/records/zoo

Writes ``cascade_keys.json.gz`` (each config's ``state_dict`` key -> shape list, built on the meta device with
``pretrained=None`` and SyncBN -> BN, identical lists stored once) and ``cascade_init_stats.json.gz`` (eight-seed
fresh-init statistics, see ``_zoo.init_rows``), plus ``cascade_fixtures.json.gz`` + ``.pt``: eight eval-mode cases
(``OCRHead`` on features + coarse logits, ``PointHead.predict`` subdivision inference, ``ResNeSt`` and ``ResNeXt``
backbones) with seeded random weights (``_zoo.randomize``), each with its own inputs ``<case>/in/<i>``, and MMCV's
``point_sample`` on a 2x3x5x7 map at 20 points per image (corners and centre among them). Seeded: running it twice writes identical bytes.
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
    seeded,
    setup,
    write_json,
    write_tensors,
)
from mmengine.config import ConfigDict

RECORDER = "tests/records/recorders/record_zoo_cascade.py"
KEY_FOLDERS = ("ocrnet", "point_rend", "resnest")
BN = dict(type="BN", requires_grad=True)
HEAD = dict(channels=6, num_classes=5, norm_cfg=BN, dropout_ratio=0.1)
LEVELS = [[1, 4, 17, 15], [1, 6, 9, 8], [1, 8, 7, 6], [1, 8, 7, 6]]
IMAGE = [[1, 3, 33, 29]]
DILATED = dict(dilations=(1, 1, 2, 4), strides=(1, 2, 1, 1), contract_dilation=True, norm_cfg=BN)
THREE_STAGES = dict(num_stages=3, strides=(1, 2, 2), dilations=(1, 1, 1), out_indices=(0, 1, 2))


def case(type_, call, kwargs, shapes, **extra) -> dict:
    return dict(type=type_, call=call, kwargs=kwargs, extra=extra, input_shapes=shapes)


CASES = {
    "ocr": case("OCRHead", "cascade", HEAD | dict(in_channels=8, in_index=3, ocr_channels=4), LEVELS + [[1, 5, 7, 6]]),
    "ocr_resize_concat": case(
        "OCRHead",
        "cascade",
        HEAD
        | dict(
            in_channels=[4, 6, 8, 8],
            in_index=[0, 1, 2, 3],
            input_transform="resize_concat",
            ocr_channels=4,
            align_corners=True,
        ),
        LEVELS + [[1, 5, 17, 15]],
    ),
    "point": case(
        "PointHead",
        "point_predict",
        dict(in_channels=[4], in_index=[0], channels=6, num_classes=5, num_fcs=3, dropout_ratio=-1),
        LEVELS + [[1, 5, 17, 15]],
        test_cfg=dict(subdivision_steps=2, subdivision_num_points=300, scale_factor=2),
        pad_shape=[70, 61],
    ),
    "point_two_levels_align_corners": case(
        "PointHead",
        "point_predict",
        dict(
            in_channels=[4, 6],
            in_index=[0, 1],
            channels=6,
            num_classes=5,
            num_fcs=2,
            coarse_pred_each_layer=False,
            dropout_ratio=0.1,
            align_corners=True,
        ),
        LEVELS + [[1, 5, 9, 8]],
        test_cfg=dict(subdivision_steps=1, subdivision_num_points=1000, scale_factor=2),
        pad_shape=[18, 16],
    ),
    "resnest": case(
        "ResNeSt",
        "backbone",
        DILATED | dict(depth=50, stem_channels=8, base_channels=2, radix=2, reduction_factor=4, avg_down_stride=True),
        IMAGE,
    ),
    "resnest_radix1_groups2": case(
        "ResNeSt",
        "backbone",
        THREE_STAGES
        | dict(
            depth=50,
            stem_channels=8,
            base_channels=2,
            groups=2,
            base_width=2,
            radix=1,
            avg_down_stride=False,
            norm_cfg=BN,
        ),
        IMAGE,
    ),
    "resnext": case(
        "ResNeXt",
        "backbone",
        THREE_STAGES | dict(depth=50, stem_channels=8, base_channels=4, groups=4, base_width=2, norm_cfg=BN),
        IMAGE,
    ),
    "resnext_dilated": case(
        "ResNeXt",
        "backbone",
        DILATED | dict(depth=50, stem_channels=8, base_channels=2, groups=2, base_width=2, style="caffe"),
        IMAGE,
    ),
}
POINT_SAMPLE_VARIANTS = {"default": {}, "align_corners": {"align_corners": True}, "nearest": {"mode": "nearest"}}


def run_case(spec: dict):
    """How each case is called: a backbone on the image, a cascade head on features + coarse logits."""

    def call(module, inputs):
        if spec["call"] == "backbone":
            return module(inputs[0])
        feats, prev = inputs[:-1], inputs[-1]
        if spec["call"] == "cascade":
            return module(feats, prev)
        shape = tuple(spec["extra"]["pad_shape"])
        test_cfg = ConfigDict(spec["extra"]["test_cfg"])  # MMSegmentation reads it by attribute
        return module.predict(feats, prev, [dict(pad_shape=shape, img_shape=shape)], test_cfg)

    return call


def point_sample_case(tensors: dict, seed: int) -> dict:
    from mmcv.ops import point_sample

    gen = torch.Generator().manual_seed(seed)
    tensors["point_sample/input"] = seeded((2, 3, 5, 7), gen)
    points = torch.rand((2, 20, 2), generator=gen)
    points[:, :5] = torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [0.5, 0.5]])
    tensors["point_sample/points"] = points
    for variant, kwargs in POINT_SAMPLE_VARIANTS.items():
        tensors[f"point_sample/{variant}"] = point_sample(tensors["point_sample/input"], points, **kwargs)
    return dict(variants=POINT_SAMPLE_VARIANTS)


INIT_CONFIGS = (
    "ocrnet/ocrnet_r101-d8_4xb2-40k_cityscapes-512x1024",
    "point_rend/pointrend_r50_4xb2-80k_cityscapes-512x1024",
    "resnest/resnest_s101-d8_fcn_4xb2-80k_cityscapes-512x1024",
)


def main() -> None:
    out, parts = parse_out_dir(__doc__)
    setup()
    if not parts or "keys" in parts:
        keys = key_record(
            [
                n
                for n in config_names(*KEY_FOLDERS)
                if not n.startswith("ocrnet/") or n.startswith("ocrnet/ocrnet_r101-d8_")
            ]
        )
        write_json(out / "cascade_keys.json.gz", dict(keys, recorder=RECORDER))
    if not parts or "fixtures" in parts:
        tensors: dict = {}
        cases = {
            name: module_case(name, dict(spec, inputs=f"{name}/in"), tensors, seed, call=run_case(spec))
            for seed, (name, spec) in enumerate(CASES.items())
        }
        cases["point_sample"] = point_sample_case(tensors, len(CASES))
        write_json(out / "cascade_fixtures.json.gz", dict(cases, recorder=RECORDER))
        write_tensors(out / "cascade_fixtures.pt", dict(tensors, recorder=RECORDER))
    if not parts or "init" in parts:
        rows = {name: init_rows(name) for name in INIT_CONFIGS}
        write_json(out / "cascade_init_stats.json.gz", dict(init_record(rows), recorder=RECORDER))


if __name__ == "__main__":
    main()
