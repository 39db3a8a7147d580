"""Record ConvNeXt and PoolFormer (mmpretrain 1.2.0's backbones in MMSegmentation 1.2.2) and layer-wise lr decay.

Run with the reference environment's Python, mmpretrain 1.2.0 installed beside MMSegmentation (parts: keys
fixtures init decay; all by default):
    $HOME/mmref/bin/python tests/records/recorders/record_zoo_convnext_poolformer.py tests/records/zoo

Writes ``convnext_poolformer_keys.json.gz`` (ConvNeXt built on the CPU: it calls ``.item()`` while building;
PoolFormer on the meta device), ``convnext_poolformer_fixtures.json.gz`` + ``.pt``,
``convnext_poolformer_init_stats.json.gz`` and ``convnext_poolformer_decay.json.gz`` (the parameter groups of
MMSegmentation's ``LearningRateDecayOptimizerConstructor``). Seeded: running it twice writes identical bytes.
"""

from __future__ import annotations

import copy

import mmengine
import mmpretrain
import mmpretrain.models  # noqa: F401  (fills mmpretrain's registry)
import mmseg
import torch
from _zoo import (
    build,
    config_names,
    flat_state,
    init_record,
    init_rows,
    key_record,
    keys_of,
    model_config,
    parse_out_dir,
    randomize,
    seeded,
    setup,
    uniform,
    write_json,
    write_tensors,
)
from mmengine.optim import build_optim_wrapper

RECORDER = "tests/records/recorders/record_zoo_convnext_poolformer.py"
CASES = {
    "convnext_layer_scale": (
        "mmpretrain.ConvNeXt",
        dict(
            arch=dict(depths=[1, 1, 2, 1], channels=[8, 16, 24, 32]),
            out_indices=[0, 1, 2, 3],
            drop_path_rate=0.4,
            layer_scale_init_value=1.0,
            gap_before_final_norm=False,
        ),
        [1, 3, 67, 45],
    ),
    "convnext_v2_grn": (
        "mmpretrain.ConvNeXt",
        dict(arch=dict(depths=[1, 2, 1, 1], channels=[8, 12, 16, 24]), use_grn=True, layer_scale_init_value=0.0),
        [2, 3, 32, 32],
    ),
    "convnext_conv_pw": (
        "mmpretrain.ConvNeXt",
        dict(
            arch=dict(depths=[1, 1, 1, 1], channels=[8, 16, 16, 24]),
            linear_pw_conv=False,
            use_grn=True,
            out_indices=[1, 3],
            gap_before_final_norm=False,
            stem_patch_size=2,
        ),
        [1, 3, 40, 36],
    ),
    "poolformer": (
        "mmpretrain.PoolFormer",
        dict(
            arch=dict(layers=[1, 1, 2, 1], embed_dims=[8, 16, 24, 32], layer_scale_init_value=1e-05),
            out_indices=[0, 2, 4, 6],
            drop_path_rate=0.1,
        ),
        [1, 3, 67, 45],
    ),
    "poolformer_pool5_mlp2": (
        "mmpretrain.PoolFormer",
        dict(
            arch=dict(layers=[2, 1, 1, 1], embed_dims=[8, 16, 16, 24], mlp_ratios=[2, 2, 3, 4]),
            pool_size=5,
            out_indices=[0, 2, 5, 6],
        ),
        [1, 3, 34, 38],
    ),
}
CONVNEXT_TINY = "convnext/convnext-tiny_upernet_8xb2-amp-160k_ade20k-512x512"
POOLFORMER_S12 = "poolformer/fpn_poolformer_s12_8xb4-40k_ade20k-512x512"
DECAY_BACKBONE = dict(
    type="mmpretrain.ConvNeXt",
    arch=dict(depths=[2, 2, 7, 2], channels=[4, 8, 8, 8]),
    out_indices=[0, 1, 2, 3],
    drop_path_rate=0.4,
    layer_scale_init_value=1.0,
    gap_before_final_norm=False,
)
DECAY_CASES = {
    "stage_wise_12": (dict(decay_rate=0.9, decay_type="stage_wise", num_layers=12), {}, 0.0001, 0.05),
    "stage_wise_6": (dict(decay_rate=0.9, decay_type="stage_wise", num_layers=6), {}, 0.0001, 0.05),
    "layer_wise_6": (dict(decay_rate=0.8, decay_type="layer_wise", num_layers=6), {}, 0.001, 0.01),
    "layer_wise_12_frozen": (
        dict(decay_rate=0.9, decay_type="layer_wise", num_layers=12),
        dict(frozen_stages=1),
        0.0002,
        0.05,
    ),
}
DECAY_ABOUT = (
    "mmengine.optim.build_optim_wrapper(model, dict(type='OptimWrapper', optimizer=dict(type='AdamW', lr=lr, "
    "weight_decay=wd), paramwise_cfg=..., constructor='LearningRateDecayOptimizerConstructor')) for a ConvNeXt "
    "UPerNet with backbone 'backbone' (the tiny config, shrunk); per case: groups in order, "
    "[group_name, lr_scale, lr, weight_decay, param_names]"
)


def layer_scales(mod_name, mod, name, t, gen):
    """Layer scales (ConvNeXt's ``gamma``, PoolFormer's ``layer_scale_1/2``) in 0.3-1.0, so every term shows."""
    if type(mod).__name__ != "GRN" and name in ("gamma", "layer_scale_1", "layer_scale_2"):
        return uniform(t.shape, 0.3, 1.0, gen)
    return None


def fixtures(tensors: dict) -> dict:
    cases = {}
    for seed, (name, (type_, kwargs, shape)) in enumerate(CASES.items()):
        gen = torch.Generator().manual_seed(seed)
        module = randomize(build(dict(type=type_, **copy.deepcopy(kwargs)), "cpu"), gen, layer_scales)
        module.eval()  # mmpretrain's ConvNeXt.train() returns None
        image = seeded(shape, gen)
        with torch.no_grad():
            outs = list(module(image))
        tensors[f"{name}/state"], tensors[f"{name}/input"] = flat_state(module), image
        for i, o in enumerate(outs):
            tensors[f"{name}/out/{i}"] = o
        cases[name] = dict(
            type=type_,
            kwargs=kwargs,
            input_shape=shape,
            output_shapes=[list(o.shape) for o in outs],
            keys=keys_of(module),
        )
    return cases


def decay_groups(paramwise_cfg: dict, backbone_extra: dict, lr: float, wd: float) -> list:
    model = model_config(CONVNEXT_TINY)
    model.backbone = dict(DECAY_BACKBONE, **backbone_extra)
    model.decode_head.update(in_channels=[4, 8, 8, 8], channels=8)
    model.auxiliary_head.update(in_channels=8, channels=8)
    wrapper = build_optim_wrapper(
        build(model, "cpu"),
        dict(
            type="OptimWrapper",
            optimizer=dict(type="AdamW", lr=lr, weight_decay=wd),
            paramwise_cfg=paramwise_cfg,
            constructor="LearningRateDecayOptimizerConstructor",
        ),
    )
    return [
        [g["group_name"], g["lr_scale"], g["lr"], g["weight_decay"], g["param_names"]]
        for g in wrapper.optimizer.param_groups
    ]


def main() -> None:
    out, parts = parse_out_dir(__doc__)
    setup()
    if not parts or "keys" in parts:
        names = config_names("convnext", "poolformer")
        keys = key_record(names, lambda n: "cpu" if n.startswith("convnext") else "meta", backbone_init_none=True)
        versions = dict(mmpretrain=mmpretrain.__version__, mmengine=mmengine.__version__)
        write_json(out / "convnext_poolformer_keys.json.gz", dict(keys, **versions, recorder=RECORDER))
    if not parts or "fixtures" in parts:
        tensors: dict = {}
        cases = fixtures(tensors)
        write_json(out / "convnext_poolformer_fixtures.json.gz", dict(cases, recorder=RECORDER))
        write_tensors(out / "convnext_poolformer_fixtures.pt", dict(tensors, recorder=RECORDER))
    if not parts or "init" in parts:
        rows = {name: init_rows(name, backbone_init_none=True) for name in (CONVNEXT_TINY, POOLFORMER_S12)}
        record = dict(init_record(rows), mmpretrain=mmpretrain.__version__, recorder=RECORDER)
        write_json(out / "convnext_poolformer_init_stats.json.gz", record)
    if not parts or "decay" in parts:
        cases = {
            name: dict(paramwise_cfg=pc, backbone=extra, lr=lr, wd=wd, groups=decay_groups(pc, extra, lr, wd))
            for name, (pc, extra, lr, wd) in DECAY_CASES.items()
        }
        record = dict(
            about=DECAY_ABOUT,
            mmsegmentation=mmseg.__version__,
            mmpretrain=mmpretrain.__version__,
            mmengine=mmengine.__version__,
            backbone=DECAY_BACKBONE,
            cases=cases,
            recorder=RECORDER,
        )
        write_json(out / "convnext_poolformer_decay.json.gz", record)


if __name__ == "__main__":
    main()
