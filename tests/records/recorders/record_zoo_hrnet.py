"""Record MMSegmentation 1.2.2's HRNet family and its HRNet OCRNet configs: keys, numeric fixtures, init statistics.

Run with the reference environment's Python (parts: keys fixtures init; all by default):
    $HOME/mmref/bin/python tests/records/recorders/record_zoo_hrnet.py tests/records/zoo

Writes ``hrnet_keys.json.gz`` (meta device), ``hrnet_fixtures.json.gz`` + ``.pt`` (each case's own inputs
``<case>/in/<i>``; ``ocrnet_hrnet`` shares the ``hrnet`` case's image and backbone weights and stores its heads'
weights only) and ``hrnet_init_stats.json.gz``. Seeded: running it twice writes identical bytes.
"""

from __future__ import annotations

import copy

import torch
from _zoo import (
    build,
    config_names,
    flat_state,
    init_record,
    init_rows,
    key_record,
    keys_of,
    outputs_of,
    parse_out_dir,
    randomize,
    seeded,
    setup,
    write_json,
    write_tensors,
)

RECORDER = "tests/records/recorders/record_zoo_hrnet.py"
BN = dict(type="BN", requires_grad=True)


def stage(modules: int, block: str, blocks: list[int], channels: list[int]) -> dict:
    return dict(num_modules=modules, num_branches=len(blocks), block=block, num_blocks=blocks, num_channels=channels)


HRNET = dict(
    extra=dict(
        stage1=stage(1, "BOTTLENECK", [2], [4]),
        stage2=stage(1, "BASIC", [1, 1], [4, 6]),
        stage3=stage(2, "BASIC", [1, 1, 1], [4, 6, 8]),
        stage4=stage(2, "BASIC", [1, 2, 1, 1], [4, 6, 8, 10]),
    ),
    norm_cfg=BN,
)
HRNET_SINGLE = dict(
    extra=dict(
        stage1=stage(1, "BASIC", [1], [8]),
        stage2=stage(2, "BOTTLENECK", [1, 1], [2, 3]),
        stage3=stage(1, "BASIC", [1, 1, 1], [8, 12, 6]),
        stage4=stage(2, "BASIC", [1, 1, 1, 1], [8, 12, 6, 4]),
    ),
    norm_cfg=BN,
    multiscale_output=False,
    norm_eval=True,
    frozen_stages=1,
)
FCN = dict(
    in_channels=[4, 6, 8, 10],
    channels=28,
    in_index=[0, 1, 2, 3],
    input_transform="resize_concat",
    kernel_size=1,
    num_convs=1,
    concat_input=False,
    dropout_ratio=-1,
    num_classes=5,
    norm_cfg=BN,
    align_corners=False,
)
FCN_TWO = dict(
    in_channels=[6, 10],
    channels=6,
    in_index=[1, 3],
    input_transform="resize_concat",
    kernel_size=3,
    num_convs=2,
    concat_input=True,
    dropout_ratio=0.1,
    num_classes=5,
    norm_cfg=BN,
    align_corners=True,
)
OCR = dict(
    type="OCRHead",
    in_channels=[4, 6, 8, 10],
    in_index=[0, 1, 2, 3],
    input_transform="resize_concat",
    channels=8,
    ocr_channels=6,
    dropout_ratio=-1,
    num_classes=5,
    norm_cfg=BN,
    align_corners=False,
)
LEVELS = [[1, 4, 17, 16], [1, 6, 9, 8], [1, 8, 5, 4], [1, 10, 3, 2]]
SEGMENTOR = dict(
    num_stages=2,
    backbone=dict(type="HRNet", **HRNET),
    decode_head=[dict(type="FCNHead", **FCN), OCR],
    test_cfg=dict(mode="whole"),
)
CASES = {
    "hrnet": ("HRNet", "backbone", None, HRNET, [[1, 3, 67, 61]]),
    "hrnet_bottleneck_single_scale": ("HRNet", "backbone", None, HRNET_SINGLE, [[1, 3, 64, 56]]),
    "fcn_resize_concat": ("FCNHead", "head", None, FCN, LEVELS),
    "fcn_resize_concat_two_levels": ("FCNHead", "head", None, FCN_TWO, LEVELS),
    "ocrnet_hrnet": ("CascadeEncoderDecoder", "segmentor", "hrnet", SEGMENTOR, [[1, 3, 67, 61]]),
}
INIT_CONFIGS = ("hrnet/fcn_hr18_4xb2-40k_cityscapes-512x1024", "ocrnet/ocrnet_hr18_4xb2-40k_cityscapes-512x1024")


def fixtures(tensors: dict) -> dict:
    cases, modules = {}, {}
    for seed, (name, (type_, call, shares, kwargs, shapes)) in enumerate(CASES.items()):
        gen = torch.Generator().manual_seed(seed)
        module = randomize(build(dict(type=type_, **copy.deepcopy(kwargs)), "cpu"), gen)
        module.eval()
        if shares is None:
            inputs = [seeded(shape, gen) for shape in shapes]
            for i, x in enumerate(inputs):
                tensors[f"{name}/in/{i}"] = x
            state = flat_state(module)
        else:  # the shared case's image and backbone weights; the state holds the heads only
            module.backbone.load_state_dict(modules[shares].state_dict())
            inputs = [tensors[f"{shares}/in/{i}"] for i in range(len(shapes))]
            heads = {k: v for k, v in module.state_dict().items() if not k.startswith("backbone.")}
            state = torch.cat([v.flatten().float() for v in heads.values() if v.is_floating_point()])
        with torch.no_grad():
            if call == "head":
                out = module(inputs)
            elif call == "backbone":
                out = module(inputs[0])
            else:
                size = tuple(inputs[0].shape[2:])
                out = module.encode_decode(inputs[0], [dict(img_shape=size, pad_shape=size)])
        outs = outputs_of(out)
        tensors[f"{name}/state"] = state
        for i, o in enumerate(outs):
            tensors[f"{name}/out/{i}"] = o
        modules[name] = module
        cases[name] = dict(
            type=type_,
            call=call,
            shares=shares,
            kwargs=kwargs,
            input_shapes=shapes,
            output_shapes=[list(o.shape) for o in outs],
            keys=keys_of(module),
        )
    return cases


def main() -> None:
    out, parts = parse_out_dir(__doc__)
    setup()
    if not parts or "keys" in parts:
        keys = key_record(config_names("hrnet") + config_names("ocrnet", pattern="ocrnet_hr*.py"))
        write_json(out / "hrnet_keys.json.gz", dict(keys, recorder=RECORDER))
    if not parts or "fixtures" in parts:
        tensors: dict = {}
        cases = fixtures(tensors)
        write_json(out / "hrnet_fixtures.json.gz", dict(cases, recorder=RECORDER))
        write_tensors(out / "hrnet_fixtures.pt", dict(tensors, recorder=RECORDER))
    if not parts or "init" in parts:
        rows = {name: init_rows(name) for name in INIT_CONFIGS}
        write_json(out / "hrnet_init_stats.json.gz", dict(init_record(rows), recorder=RECORDER))


if __name__ == "__main__":
    main()
