"""Record MMSegmentation 1.2.2's PSPNet, UPerNet and Semantic FPN families: keys, numeric fixtures, init statistics.

Run with the reference environment's Python (parts: keys fixtures init; all by default):
    $HOME/mmref/bin/python tests/records/recorders/record_zoo_psp_uper_fpn.py tests/records/zoo

Writes ``psp_uper_fpn_keys.json.gz`` (every config of ``pspnet/``, ``upernet/``, ``sem_fpn/``; backbone
``init_cfg`` dropped, two RSB configs name a download), ``psp_uper_fpn_fixtures.json.gz`` + ``.pt`` (12
eval-mode cases of ``PSPHead``, ``UPerHead``, ``FPN`` and ``FPNHead`` with seeded random weights) and
``psp_uper_fpn_init_stats.json.gz``. Seeded: running it twice writes identical bytes.
"""

from __future__ import annotations

from _zoo import (
    config_names,
    init_record,
    init_rows,
    key_record,
    module_case,
    parse_out_dir,
    setup,
    shared_inputs,
    write_json,
    write_tensors,
)

RECORDER = "tests/records/recorders/record_zoo_psp_uper_fpn.py"
BN = dict(type="BN", requires_grad=True)
HEAD = dict(channels=4, num_classes=5, norm_cfg=BN, dropout_ratio=0.1)
ODD, ODD_SHAPES = shared_inputs([4, 6, 8, 8], [(17, 15), (9, 8), (7, 6), (7, 6)])
POW2, POW2_SHAPES = shared_inputs([4, 6, 8, 8], [(16, 16), (8, 8), (4, 4), (2, 2)])
EVEN4, EVEN4_SHAPES = shared_inputs([4, 4, 4, 4], [(16, 16), (8, 8), (4, 4), (2, 2)])
LEVELS = [4, 6, 8, 8]


def on(inputs: str, shapes: list, type_: str, **kwargs) -> dict:
    return dict(type=type_, kwargs=kwargs, inputs=inputs, input_shapes=shapes)


def head(type_: str, **kw) -> dict:
    return on(ODD, ODD_SHAPES, type_, **(HEAD | kw))


def fpn(inputs: str = ODD, shapes: list = ODD_SHAPES, **kw) -> dict:
    return on(inputs, shapes, "FPN", **(dict(in_channels=LEVELS, out_channels=4) | kw))


CASES = {
    "psp": head("PSPHead", in_channels=8, in_index=3, pool_scales=(1, 2, 3, 6)),
    "psp_align_corners": head("PSPHead", in_channels=8, in_index=3, pool_scales=(1, 3), align_corners=True),
    "uper": head("UPerHead", in_channels=LEVELS, in_index=[0, 1, 2, 3], pool_scales=(1, 2, 3, 6)),
    "uper_align_corners": head(
        "UPerHead", in_channels=[6, 8, 8], in_index=[1, 2, 3], pool_scales=(1, 2), align_corners=True
    ),
    "fpn": fpn(num_outs=4),
    "fpn_extra_on_input": fpn(
        num_outs=5,
        start_level=1,
        add_extra_convs="on_input",
        relu_before_extra_convs=True,
        no_norm_on_lateral=True,
        norm_cfg=BN,
        act_cfg=dict(type="ReLU"),
    ),
    "fpn_extra_on_lateral": fpn(num_outs=6, add_extra_convs="on_lateral", norm_cfg=BN),
    "fpn_extra_true_on_inputs": fpn(num_outs=6, add_extra_convs=True, extra_convs_on_inputs=True),
    "fpn_maxpool": fpn(num_outs=6),
    "fpn_end_level_scale_factor": fpn(
        POW2,
        POW2_SHAPES,
        num_outs=3,
        end_level=3,
        upsample_cfg=dict(scale_factor=2, mode="bilinear", align_corners=False),
    ),
    "fpn_head": on(
        EVEN4,
        EVEN4_SHAPES,
        "FPNHead",
        **HEAD,
        in_channels=[4, 4, 4, 4],
        in_index=[0, 1, 2, 3],
        feature_strides=[4, 8, 16, 32],
    ),
    "fpn_head_odd_sizes": head(
        "FPNHead", in_channels=LEVELS, in_index=[0, 1, 2, 3], feature_strides=[4, 8, 16, 32], align_corners=True
    ),
}
KEY_FOLDERS = ("pspnet", "upernet", "sem_fpn")
INIT_CONFIGS = (
    "pspnet/pspnet_r50-d8_4xb2-80k_cityscapes-512x1024",
    "upernet/upernet_r50_4xb2-80k_cityscapes-512x1024",
    "sem_fpn/fpn_r50_4xb2-80k_cityscapes-512x1024",
)


def main() -> None:
    out, parts = parse_out_dir(__doc__)
    setup()
    if not parts or "keys" in parts:
        keys = key_record(config_names(*KEY_FOLDERS), backbone_init_none=True)
        write_json(out / "psp_uper_fpn_keys.json.gz", dict(keys, recorder=RECORDER))
    if not parts or "fixtures" in parts:
        tensors: dict = {}
        cases = {name: module_case(name, spec, tensors, seed) for seed, (name, spec) in enumerate(CASES.items())}
        write_json(out / "psp_uper_fpn_fixtures.json.gz", dict(cases, recorder=RECORDER))
        write_tensors(out / "psp_uper_fpn_fixtures.pt", dict(tensors, recorder=RECORDER))
    if not parts or "init" in parts:
        rows = {name: init_rows(name) for name in INIT_CONFIGS}
        write_json(out / "psp_uper_fpn_init_stats.json.gz", dict(init_record(rows), recorder=RECORDER))


if __name__ == "__main__":
    main()
