"""Record MMSegmentation 1.2.2's MobileNetV2, MobileNetV3 and Fast-SCNN families (``mobile_*``).

Run with the reference environment's Python (parts: keys fixtures init; all by default):
    $HOME/mmref/bin/python tests/records/recorders/record_zoo_mobile.py tests/records/zoo

Writes ``mobile_keys.json.gz`` (each config's ``state_dict`` key -> shape list, built on the meta device with
``pretrained=None`` and SyncBN -> BN, identical lists stored once) and ``mobile_init_stats.json.gz`` (eight-seed
fresh-init statistics, see ``_zoo.init_rows``), plus ``mobile_fixtures.json.gz`` + ``.pt``: under ``cases``, seven
eval-mode cases whose seeded random weights (``_zoo.randomize``) and inputs are rounded to float16 before the
float32 forward and stored as float16 (a case may reuse another's weights: ``state``); under ``structures``, every
conv ([name, class, kernel, stride, padding, dilation, groups]) and activation ([name, class]) of five full-size
backbones. Seeded: running it twice writes identical bytes.
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
    parse_out_dir,
    randomize,
    seeded,
    setup,
    write_json,
    write_tensors,
)
from mmengine.registry import MODELS as MMCV_MODELS

RECORDER = "tests/records/recorders/record_zoo_mobile.py"
KEY_FOLDERS = ("mobilenet_v2", "mobilenet_v3", "fastscnn")
BN = dict(type="BN", requires_grad=True)
V2 = dict(widen_factor=0.125)
SCNN = dict(
    downsample_dw_channels=(4, 8),
    global_in_channels=8,
    global_block_channels=(8, 12, 16),
    global_out_channels=16,
    higher_in_channels=8,
    lower_in_channels=16,
    fusion_out_channels=16,
    norm_cfg=BN,
)
LRASPP = dict(
    in_channels=(3, 4, 6),
    in_index=(0, 1, 2),
    channels=8,
    branch_channels=(4, 4),
    input_transform="multiple_select",
)
LRASPP_INPUTS = [[1, 3, 23, 21], [1, 4, 37, 33], [1, 6, 66, 70]]


def case(type_, kwargs, state, inputs, call, shapes):
    return dict(type=type_, kwargs=kwargs, state=state, inputs=f"{inputs}/in", call=call, input_shapes=shapes)


D8 = dict(strides=(1, 2, 2, 1, 1, 1, 1), dilations=(1, 1, 1, 2, 2, 4, 4))
CASES = {
    "mobilenet_v2_d8": case(
        "MobileNetV2",
        V2 | D8 | dict(out_indices=(1, 2, 4, 6), norm_cfg=BN),
        "mobilenet_v2_d8",
        "mobilenet_v2_d8",
        "backbone",
        [[1, 3, 33, 31]],
    ),
    "mobilenet_v2_default": case(
        "MobileNetV2",
        V2 | dict(out_indices=(0, 3, 5), act_cfg=dict(type="ReLU")),
        "mobilenet_v2_d8",
        "mobilenet_v2_default",
        "backbone",
        [[1, 3, 35, 29]],
    ),
    "mobilenet_v3_small": case(
        "MobileNetV3",
        dict(arch="small", out_indices=(0, 1, 12), reduction_factor=8, norm_cfg=BN),
        "mobilenet_v3_small",
        "mobilenet_v3_small",
        "backbone",
        [[1, 3, 37, 30]],
    ),
    "fast_scnn": case("FastSCNN", SCNN, "fast_scnn", "fast_scnn", "backbone", [[1, 3, 67, 75]]),
    "fast_scnn_align_corners": case(
        "FastSCNN",
        SCNN | dict(out_indices=(2, 0), align_corners=True, dw_act_cfg=dict(type="ReLU")),
        "fast_scnn",
        "fast_scnn_align_corners",
        "backbone",
        [[1, 3, 59, 64]],
    ),
    "lraspp": case(
        "LRASPPHead",
        LRASPP | dict(dropout_ratio=0.1, num_classes=5, norm_cfg=BN, act_cfg=dict(type="ReLU"), align_corners=False),
        "lraspp",
        "lraspp",
        "head",
        LRASPP_INPUTS,
    ),
    "lraspp_align_corners": case(
        "LRASPPHead",
        LRASPP | dict(num_classes=5, norm_cfg=BN, act_cfg=dict(type="HSwish"), align_corners=True),
        "lraspp_align_corners",
        "lraspp",
        "head",
        LRASPP_INPUTS,
    ),
}
STRUCTURES = {
    "mobilenet_v3_large": dict(type="MobileNetV3", arch="large", out_indices=(1, 3, 16)),
    "mobilenet_v3_small": dict(type="MobileNetV3", arch="small", out_indices=(0, 1, 12)),
    "mobilenet_v3_large_reduced": dict(type="MobileNetV3", arch="large", out_indices=(2, 16), reduction_factor=4),
    "mobilenet_v2_d8": dict(type="MobileNetV2", **D8),
    "fast_scnn": dict(type="FastSCNN"),
}
ACTIVATIONS = ("ReLU", "LeakyReLU", "PReLU", "RReLU", "ReLU6", "ELU", "Sigmoid", "Tanh", "GELU", "HSigmoid", "HSwish")


def half_exact(module: torch.nn.Module) -> None:
    """Every floating weight and statistic rounded to float16 (the stored values are then the model exactly)."""
    with torch.no_grad():
        for value in module.state_dict().values():
            if value.is_floating_point():
                value.copy_(value.half().float())


def fixture_record(tensors: dict) -> dict:
    cases, states = {}, {}
    for seed, (name, spec) in enumerate(CASES.items()):
        gen = torch.Generator().manual_seed(seed)
        module = build(dict(type=spec["type"], **copy.deepcopy(spec["kwargs"])), "cpu")
        if spec["state"] == name:
            randomize(module, gen)
            half_exact(module)
            states[name] = module.state_dict()
            tensors[f"{name}/state"] = flat_state(module).half()
        else:
            module.load_state_dict(states[spec["state"]])
        module.eval()
        inputs = []
        for i, shape in enumerate(spec["input_shapes"]):
            key = f"{spec['inputs']}/{i}"
            if key not in tensors:
                tensors[key] = seeded(shape, gen).half()
            inputs.append(tensors[key].float())
        with torch.no_grad():
            out = module(inputs[0] if spec["call"] == "backbone" else inputs)
        outs = list(out) if isinstance(out, list | tuple) else [out]
        tensors.update({f"{name}/out/{i}": o for i, o in enumerate(outs)})
        cases[name] = dict(spec, output_shapes=[list(o.shape) for o in outs], keys=keys_of(module))
    return cases


def structure(cfg: dict) -> list[list]:
    activations = tuple(MMCV_MODELS.get(name) for name in ACTIVATIONS)
    rows: list[list] = []
    for name, m in build(copy.deepcopy(cfg), "cpu").named_modules():
        if isinstance(m, torch.nn.Conv2d):
            geometry = [list(getattr(m, a)) for a in ("kernel_size", "stride", "padding", "dilation")]
            rows.append([name, type(m).__name__, *geometry, m.groups])
        elif isinstance(m, activations):
            rows.append([name, type(m).__name__])
    return rows


INIT_CONFIGS = (
    "mobilenet_v2/mobilenet-v2-d8_fcn_4xb2-80k_cityscapes-512x1024",
    "mobilenet_v3/mobilenet-v3-d8_lraspp_4xb4-320k_cityscapes-512x1024",
    "fastscnn/fast_scnn_8xb4-160k_cityscapes-512x1024",
)


def main() -> None:
    out, parts = parse_out_dir(__doc__)
    setup()
    if not parts or "keys" in parts:
        keys = key_record(config_names(*KEY_FOLDERS))
        write_json(out / "mobile_keys.json.gz", dict(keys, recorder=RECORDER))
    if not parts or "fixtures" in parts:
        tensors: dict = {}
        cases = fixture_record(tensors)
        structures = {name: dict(cfg=cfg, rows=structure(cfg)) for name, cfg in STRUCTURES.items()}
        write_json(out / "mobile_fixtures.json.gz", dict(cases=cases, structures=structures, recorder=RECORDER))
        write_tensors(out / "mobile_fixtures.pt", dict(tensors, recorder=RECORDER))
    if not parts or "init" in parts:
        rows = {name: init_rows(name) for name in INIT_CONFIGS}
        write_json(out / "mobile_init_stats.json.gz", dict(init_record(rows), recorder=RECORDER))


if __name__ == "__main__":
    main()
