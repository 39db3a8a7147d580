"""Record MMSegmentation 1.2.2's BEiT and MAE families: keys, fixtures, init statistics, conversion, layer decay.

Run with the reference environment's Python (parts: keys fixtures init convert decay; all by default):
    $HOME/mmref/bin/python tests/records/recorders/record_zoo_beit_mae.py tests/records/zoo

Writes ``beit_mae_keys.json.gz`` (built on the CPU: BEiT calls ``.item()`` while building),
``beit_mae_fixtures.json.gz`` + ``.pt``, ``beit_mae_init_stats.json.gz``, ``beit_mae_convert.pt`` (synthetic
checkpoints in the original layouts, ``tools/model_converters/beit2mmseg.py``'s output, what ``init_weights``
loads from it into a 112 px model, and tables resized by ``resize_rel_pos_embed``) and ``beit_mae_decay.json.gz``.
``BEiT.resize_rel_pos_embed`` calls ``scipy.interpolate.interp2d``, which SciPy 1.14 removed: the script puts
SciPy's documented replacement in its place, ``RectBivariateSpline(x, y, z.T, kx=3, ky=3, s=0)`` evaluated as
``r(xnew, ynew).T``. Seeded: running it twice writes identical bytes.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import mmengine
import mmseg
import torch
from _zoo import (
    build,
    config_names,
    init_stats,
    key_record,
    load_converter,
    model_config,
    module_cases,
    parse_out_dir,
    setup,
    write_json,
    write_parts,
)
from mmengine.optim import build_optim_wrapper
from mmseg.models.backbones import beit
from scipy.interpolate import RectBivariateSpline

RECORDER = "tests/records/recorders/record_zoo_beit_mae.py"
LN = dict(type="LN", eps=1e-06)
SMALL = dict(embed_dims=8, num_layers=3, num_heads=2, norm_cfg=LN, drop_path_rate=0.1)


def case(type_: str, name: str, shapes: list, kwargs: dict, call: str | None = "backbone") -> dict:
    spec = dict(type=type_, kwargs=kwargs, inputs=f"inputs/{name}", input_shapes=shapes)
    return dict(spec, call=call) if call else spec


CASES = {
    "beit_nonsquare": case(
        "BEiT",
        "beit_nonsquare",
        [[1, 3, 40, 56]],
        dict(SMALL, img_size=[40, 56], patch_size=8, out_indices=[0, 2], final_norm=True),
    ),
    "beit_variant": case(
        "BEiT",
        "beit_variant",
        [[2, 3, 32, 32]],
        dict(SMALL, img_size=32, patch_size=8, qv_bias=False, patch_norm=True, mlp_ratio=2, num_fcs=3, init_values=1.0),
    ),
    "mae": case(
        "MAE",
        "mae",
        [[1, 3, 48, 48]],
        dict(SMALL, img_size=[48, 48], patch_size=8, out_indices=[0, 1, 2], init_values=1.0),
    ),
    "mae_nonsquare": case(
        "MAE",
        "mae_nonsquare",
        [[2, 3, 32, 48]],
        dict(SMALL, img_size=[32, 48], patch_size=16, out_indices=-1, final_norm=True, mlp_ratio=2),
    ),
    "feature2pyramid": case(
        "Feature2Pyramid",
        "feature2pyramid",
        [[1, 8, 5, 7]] * 4,
        dict(embed_dim=8, rescales=[4, 2, 1, 0.5], norm_cfg=dict(type="BN", requires_grad=True)),
        call=None,
    ),
    "feature2pyramid_2x": case(
        "Feature2Pyramid",
        "feature2pyramid_2x",
        [[1, 8, 8, 9]] * 4,
        dict(embed_dim=8, rescales=[2, 1, 0.5, 0.25], norm_cfg=dict(type="BN", requires_grad=True)),
        call=None,
    ),
}
INIT_CONFIGS = ("beit/beit-base_upernet_8xb2-160k_ade20k-640x640", "mae/mae-base_upernet_8xb2-amp-160k_ade20k-512x512")
TABLES = ((5, 9, 3), (9, 5, 3), (7, 27, 3), (27, 79, 1))  # table size from, to; heads
DECAY_BACKBONE = dict(embed_dims=8, num_layers=4, num_heads=2, img_size=[32, 32], out_indices=[0, 1, 2, 3])
DECAY_CASES = {
    "beit_layer_decay": (
        "beit",
        "LayerDecayOptimizerConstructor",
        dict(num_layers=4, layer_decay_rate=0.9),
        {},
        3e-05,
        0.05,
    ),
    "mae_layer_decay": (
        "mae",
        "LayerDecayOptimizerConstructor",
        dict(num_layers=4, layer_decay_rate=0.65),
        {},
        0.0001,
        0.05,
    ),
    "beit_layer_wise": (
        "beit",
        "LearningRateDecayOptimizerConstructor",
        dict(decay_rate=0.8, decay_type="layer_wise", num_layers=6),
        {},
        0.001,
        0.01,
    ),
    "beit_layer_wise_vit_final_norm": (
        "beit",
        "LearningRateDecayOptimizerConstructor",
        dict(decay_rate=0.9, decay_type="layer_wise_vit", num_layers=3),
        dict(final_norm=True, patch_norm=True),
        0.0002,
        0.05,
    ),
}
DECAY_ABOUT = (
    "mmengine.optim.build_optim_wrapper(model, dict(type='OptimWrapper', optimizer=dict(type='AdamW', lr=lr, "
    "weight_decay=wd), paramwise_cfg=..., constructor=...)) for the BEiT-B / MAE-B UPerNet configs' models with "
    "backbone SHRUNK (+ the case's extra); per case: groups in order, [group_name, lr_scale, lr, weight_decay, "
    "param_names]"
)


def interp2d(x, y, z, kind="cubic"):
    """SciPy's documented replacement of the removed ``interp2d`` on a regular grid (cubic)."""
    spline = RectBivariateSpline(x, y, z.T, kx=3, ky=3, s=0)
    return lambda xnew, ynew: spline(xnew, ynew).T


def original_layout(family: str, gen: torch.Generator, index: torch.Tensor) -> dict[str, torch.Tensor]:
    """unilm's fine-tuned BEiT names (5x5 grid tables) or Meta's timm MAE names (4x4 pos_embed), N(0, 1)."""
    dim, out = 8, {}

    def put(name: str, *shape: int) -> None:
        out[name] = torch.randn(shape, generator=gen)

    put("cls_token", 1, 1, dim)
    if family == "mae":
        put("pos_embed", 1, 17, dim)
    put("patch_embed.proj.weight", dim, 3, 16, 16)
    put("patch_embed.proj.bias", dim)
    for i in range(2):
        b = f"blocks.{i}"
        if family == "beit":
            put(f"{b}.gamma_1", dim)
            put(f"{b}.gamma_2", dim)
        put(f"{b}.norm1.weight", dim)
        put(f"{b}.norm1.bias", dim)
        if family == "beit":
            put(f"{b}.attn.q_bias", dim)
            put(f"{b}.attn.v_bias", dim)
            put(f"{b}.attn.relative_position_bias_table", 84, 2)
            out[f"{b}.attn.relative_position_index"] = index.clone()
            put(f"{b}.attn.qkv.weight", 3 * dim, dim)
        else:
            put(f"{b}.attn.qkv.weight", 3 * dim, dim)
            put(f"{b}.attn.qkv.bias", 3 * dim)
        put(f"{b}.attn.proj.weight", dim, dim)
        put(f"{b}.attn.proj.bias", dim)
        put(f"{b}.norm2.weight", dim)
        put(f"{b}.norm2.bias", dim)
        put(f"{b}.mlp.fc1.weight", 4 * dim, dim)
        put(f"{b}.mlp.fc1.bias", 4 * dim)
        put(f"{b}.mlp.fc2.weight", dim, 4 * dim)
        put(f"{b}.mlp.fc2.bias", dim)
    if family == "beit":
        for p in ("fc_norm.weight", "fc_norm.bias"):
            put(p, dim)
        put("head.weight", 10, dim)
        put("head.bias", 10)
    else:
        put("norm.weight", dim)
        put("norm.bias", dim)
    return out


def convert_record() -> dict:
    record = {}
    grid5 = build(dict(type="BEiT", img_size=80, patch_size=16, embed_dims=8, num_layers=1, num_heads=2), "cpu")
    index = grid5.state_dict()["layers.0.attn.relative_position_index"]
    for seed, (family, init_values) in enumerate((("beit", 0.1), ("mae", 1.0))):
        original = original_layout(family, torch.Generator().manual_seed(2024 + seed), index)
        converted = dict(load_converter("beit2mmseg").convert_beit(dict(original)))
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / f"{family}.pth"
            torch.save(converted, path)
            model = build(
                dict(
                    type=family.upper() if family == "mae" else "BEiT",
                    img_size=112,
                    patch_size=16,
                    embed_dims=8,
                    num_layers=2,
                    num_heads=2,
                    out_indices=[0, 1],
                    norm_cfg=LN,
                    init_values=init_values,
                    init_cfg=dict(type="Pretrained", checkpoint=str(path)),
                ),
                "cpu",
            )
            model.init_weights()
        record[f"{family}/original"] = original
        record[f"{family}/converted"] = converted
        record[f"{family}/loaded_112"] = {k: v.detach().clone() for k, v in model.state_dict().items()}
    gen = torch.Generator().manual_seed(7)
    for src, dst, heads in TABLES:
        grid = (dst + 1) // 2
        model = build(
            dict(type="BEiT", img_size=grid * 16, patch_size=16, embed_dims=2 * heads, num_layers=1, num_heads=heads),
            "cpu",
        )
        table = torch.randn(src * src + 3, heads, generator=gen)
        key = "layers.0.attn.relative_position_bias_table"
        resized = model.resize_rel_pos_embed({key: table.clone()})[key]
        record[f"tables/{src}to{dst}/in"], record[f"tables/{src}to{dst}/out"] = table, resized
    return dict(record, recorder=RECORDER)


def decay_groups(family, constructor, paramwise_cfg, extra, lr, wd) -> list:
    model = model_config(INIT_CONFIGS[0] if family == "beit" else INIT_CONFIGS[1])
    model.backbone.update(DECAY_BACKBONE, **extra)
    model.neck.embed_dim = 8
    model.decode_head.update(in_channels=[8, 8, 8, 8], channels=8)
    model.auxiliary_head.update(in_channels=8, channels=8)
    wrapper = build_optim_wrapper(
        build(model, "cpu"),
        dict(
            type="OptimWrapper",
            optimizer=dict(type="AdamW", lr=lr, weight_decay=wd),
            paramwise_cfg=paramwise_cfg,
            constructor=constructor,
        ),
    )
    return [
        [g["group_name"], g["lr_scale"], g["lr"], g["weight_decay"], g["param_names"]]
        for g in wrapper.optimizer.param_groups
    ]


def main() -> None:
    out, parts = parse_out_dir(__doc__)
    setup()
    beit.interpolate.interp2d = interp2d
    write_parts(
        out,
        parts,
        "beit_mae",
        RECORDER,
        keys=lambda: key_record(config_names("beit", "mae"), device="cpu"),
        fixtures=lambda tensors: module_cases(CASES, tensors),
        init=lambda: init_stats(INIT_CONFIGS),
        convert=convert_record,
    )
    if not parts or "decay" in parts:
        cases = {
            name: dict(
                family=family,
                constructor=constructor,
                paramwise_cfg=pc,
                backbone=extra,
                lr=lr,
                wd=wd,
                groups=decay_groups(family, constructor, pc, extra, lr, wd),
            )
            for name, (family, constructor, pc, extra, lr, wd) in DECAY_CASES.items()
        }
        configs = dict(beit=INIT_CONFIGS[0], mae=INIT_CONFIGS[1])
        record = dict(
            about=DECAY_ABOUT,
            mmsegmentation=mmseg.__version__,
            mmengine=mmengine.__version__,
            backbone=DECAY_BACKBONE,
            configs=configs,
            cases=cases,
            recorder=RECORDER,
        )
        write_json(out / "beit_mae_decay.json.gz", record)


if __name__ == "__main__":
    main()
