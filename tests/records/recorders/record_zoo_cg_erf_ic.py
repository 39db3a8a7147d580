"""Record MMSegmentation 1.2.2's CGNet, ERFNet and ICNet families: keys, numeric fixtures, init statistics.

Run with the reference environment's Python (parts: keys fixtures init; all by default):
    $HOME/mmref/bin/python tests/records/recorders/record_zoo_cg_erf_ic.py tests/records/zoo

Writes ``cg_erf_ic_keys.json.gz`` (meta device), ``cg_erf_ic_fixtures.json.gz`` + ``.pt`` (each case's own inputs
``<case>/in/<i>``; PReLU slopes in 0.1-0.3) and ``cg_erf_ic_init_stats.json.gz``. Seeded: running it twice writes
identical bytes.
"""

from __future__ import annotations

from _zoo import (
    config_names,
    init_record,
    init_rows,
    key_record,
    own_inputs_case,
    parse_out_dir,
    setup,
    write_json,
    write_tensors,
)

RECORDER = "tests/records/recorders/record_zoo_cg_erf_ic.py"
BN = dict(type="BN", requires_grad=True)
IMAGE, ICNET_IMAGE = [[1, 3, 33, 29]], [[1, 3, 67, 59]]
NECK_INPUTS = [[1, 4, 9, 8], [1, 8, 5, 4], [1, 8, 3, 2]]


def resnet(depth: int) -> dict:
    return dict(
        type="ResNetV1c",
        depth=depth,
        stem_channels=8,
        base_channels=2,
        norm_cfg=BN,
        dilations=[1, 1, 2, 4],
        strides=[1, 2, 1, 1],
        contract_dilation=True,
    )


CASES = {
    "cgnet": (
        "CGNet",
        "backbone",
        dict(num_channels=(8, 16, 32), num_blocks=(2, 3), dilations=(2, 4), reductions=(4, 8), norm_cfg=BN),
        IMAGE,
    ),
    "cgnet_relu": (
        "CGNet",
        "backbone",
        dict(
            in_channels=3,
            num_channels=(6, 12, 16),
            num_blocks=(1, 2),
            dilations=(3, 2),
            reductions=(2, 4),
            norm_cfg=dict(type="BN", eps=0.001, requires_grad=True),
            act_cfg=dict(type="ReLU"),
        ),
        IMAGE,
    ),
    "erfnet": (
        "ERFNet",
        "backbone",
        dict(
            enc_downsample_channels=[4, 8, 12],
            enc_stage_non_bottlenecks=[2, 4],
            enc_non_bottleneck_dilations=[2, 4],
            enc_non_bottleneck_channels=[8, 12],
            dec_upsample_channels=[8, 4],
            dec_stages_non_bottleneck=[1, 2],
            dec_non_bottleneck_channels=[8, 6],
            dropout_ratio=0.1,
        ),
        IMAGE,
    ),
    "icnet": (
        "ICNet",
        "backbone",
        dict(
            backbone_cfg=resnet(18),
            layer_channels=[4, 16],
            light_branch_middle_channels=4,
            psp_out_channels=8,
            out_channels=[4, 8, 8],
            norm_cfg=BN,
        ),
        ICNET_IMAGE,
    ),
    "icnet_align_corners_r50": (
        "ICNet",
        "backbone",
        dict(
            backbone_cfg=resnet(50),
            layer_channels=[16, 64],
            light_branch_middle_channels=6,
            psp_out_channels=6,
            out_channels=[4, 6, 8],
            pool_scales=[1, 3],
            norm_cfg=BN,
            act_cfg=dict(type="LeakyReLU", negative_slope=0.1),
            align_corners=True,
        ),
        ICNET_IMAGE,
    ),
    "ic_neck": ("ICNeck", "neck", dict(in_channels=[4, 8, 8], out_channels=6, norm_cfg=BN), NECK_INPUTS),
    "ic_neck_align_corners": (
        "ICNeck",
        "neck",
        dict(in_channels=[4, 8, 8], out_channels=5, norm_cfg=None, align_corners=True),
        NECK_INPUTS,
    ),
}
INIT_CONFIGS = (
    "cgnet/cgnet_fcn_4xb8-60k_cityscapes-512x1024",
    "erfnet/erfnet_fcn_4xb4-160k_cityscapes-512x1024",
    "icnet/icnet_r18-d8_4xb2-80k_cityscapes-832x832",
)


def main() -> None:
    out, parts = parse_out_dir(__doc__)
    setup()
    if not parts or "keys" in parts:
        keys = key_record(config_names("cgnet", "erfnet", "icnet"))
        write_json(out / "cg_erf_ic_keys.json.gz", dict(keys, recorder=RECORDER))
    if not parts or "fixtures" in parts:
        tensors: dict = {}
        cases = {name: own_inputs_case(name, *spec, tensors, seed) for seed, (name, spec) in enumerate(CASES.items())}
        write_json(out / "cg_erf_ic_fixtures.json.gz", dict(cases, recorder=RECORDER))
        write_tensors(out / "cg_erf_ic_fixtures.pt", dict(tensors, recorder=RECORDER))
    if not parts or "init" in parts:
        rows = {name: init_rows(name) for name in INIT_CONFIGS}
        write_json(out / "cg_erf_ic_init_stats.json.gz", dict(init_record(rows), recorder=RECORDER))


if __name__ == "__main__":
    main()
