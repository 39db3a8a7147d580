"""Record MMSegmentation 1.2.2's ViT/DeiT family: keys, numeric fixtures, init statistics, checkpoint conversion.

Run with the reference environment's Python (parts: keys fixtures init convert; all by default):
    $HOME/mmref/bin/python tests/records/recorders/record_zoo_vit.py tests/records/zoo

Writes ``vit_keys.json.gz`` (built on the CPU: ViT calls ``.item()`` while building), ``vit_fixtures.json.gz`` +
``.pt``, ``vit_init_stats.json.gz`` and ``vit_convert.pt``: a synthetic checkpoint in timm's ViT/DeiT layout,
what ``tools/model_converters/vit2mmseg.py`` makes of it, and the whole ``state_dict`` MMSegmentation's
``VisionTransformer.init_weights`` loads from that converted file into models of three image sizes. Seeded:
running it twice writes identical bytes.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import torch
from _zoo import (
    build,
    config_names,
    init_stats,
    key_record,
    load_converter,
    module_cases,
    parse_out_dir,
    setup,
    write_parts,
)

RECORDER = "tests/records/recorders/record_zoo_vit.py"
LN = dict(type="LN", eps=1e-06)
VIT = dict(img_size=32, patch_size=4, embed_dims=8, num_layers=3, num_heads=2)


def case(type_: str, call: str, name: str, shapes: list, **kwargs) -> dict:
    return dict(type=type_, call=call, kwargs=kwargs, inputs=f"inputs/{name}", input_shapes=shapes)


CASES = {
    "vit_other_size": case(
        "VisionTransformer",
        "backbone",
        "vit_other_size",
        [[1, 3, 42, 50]],
        **VIT,
        out_indices=[0, 1, 2],
        final_norm=True,
        drop_path_rate=0.1,
        norm_cfg=LN,
    ),
    "vit_variant": case(
        "VisionTransformer",
        "backbone",
        "vit_variant",
        [[2, 3, 40, 48]],
        **dict(VIT, img_size=[24, 32], patch_size=8),
        out_indices=[1],
        final_norm=False,
        drop_path_rate=0.1,
        norm_cfg=LN,
        patch_pad=0,
        with_cls_token=False,
        pre_norm=True,
        patch_norm=True,
        patch_bias=True,
        out_origin=True,
        interpolate_mode="bilinear",
        qkv_bias=False,
        num_fcs=3,
        mlp_ratio=2,
        act_cfg=dict(type="ReLU"),
    ),
    "vit_cls_token": case(
        "VisionTransformer",
        "backbone",
        "vit_cls_token",
        [[2, 3, 32, 32]],
        **VIT,
        out_indices=-1,
        final_norm=True,
        drop_path_rate=0.1,
        norm_cfg=LN,
        output_cls_token=True,
    ),
    "mln": case(
        "MultiLevelNeck",
        "neck",
        "mln",
        [[1, 4, 5, 7], [1, 6, 5, 7], [1, 4, 5, 7], [1, 4, 5, 7]],
        in_channels=[4, 6, 4, 4],
        out_channels=6,
        scales=[4, 2, 1, 0.5],
    ),
    "mln_one_input_norm_act": case(
        "MultiLevelNeck",
        "neck",
        "mln_one_input_norm_act",
        [[2, 4, 7, 9]],
        in_channels=[4],
        out_channels=6,
        scales=[0.5, 1, 2],
        norm_cfg=dict(type="BN", requires_grad=True),
        act_cfg=dict(type="ReLU"),
    ),
}
INIT_CONFIG = "vit/vit_deit-s16-ln_mln_upernet_8xb2-160k_ade20k-512x512"
LOAD_SIZES = {"same": 16, "square": 24, "wide": (24, 32)}


def original_layout(gen: torch.Generator, dim: int = 8, depth: int = 2, num_classes: int = 10) -> dict:
    """A timm ViT/DeiT checkpoint (patch 4, a 4x4 grid + class token), N(0, 1) values."""
    shapes = [("cls_token", (1, 1, dim)), ("pos_embed", (1, 17, dim))]
    shapes += [("patch_embed.proj.weight", (dim, 3, 4, 4)), ("patch_embed.proj.bias", (dim,))]
    for i in range(depth):
        b = f"blocks.{i}"
        shapes += [(f"{b}.norm1.weight", (dim,)), (f"{b}.norm1.bias", (dim,))]
        shapes += [(f"{b}.attn.qkv.weight", (3 * dim, dim)), (f"{b}.attn.qkv.bias", (3 * dim,))]
        shapes += [(f"{b}.attn.proj.weight", (dim, dim)), (f"{b}.attn.proj.bias", (dim,))]
        shapes += [(f"{b}.norm2.weight", (dim,)), (f"{b}.norm2.bias", (dim,))]
        shapes += [(f"{b}.mlp.fc1.weight", (4 * dim, dim)), (f"{b}.mlp.fc1.bias", (4 * dim,))]
        shapes += [(f"{b}.mlp.fc2.weight", (dim, 4 * dim)), (f"{b}.mlp.fc2.bias", (dim,))]
    shapes += [("norm.weight", (dim,)), ("norm.bias", (dim,))]
    shapes += [("head.weight", (num_classes, dim)), ("head.bias", (num_classes,))]
    return {name: torch.randn(shape, generator=gen) for name, shape in shapes}


def convert_record() -> dict:
    original = original_layout(torch.Generator().manual_seed(2024))
    converted = dict(load_converter("vit2mmseg").convert_vit(original))
    loaded = {}
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "vit.pth"
        torch.save(converted, path)
        for name, size in LOAD_SIZES.items():
            model = build(
                dict(
                    type="VisionTransformer",
                    img_size=size,
                    patch_size=4,
                    embed_dims=8,
                    num_layers=2,
                    num_heads=2,
                    final_norm=True,
                    init_cfg=dict(type="Pretrained", checkpoint=str(path)),
                ),
                "cpu",
            )
            model.init_weights()
            loaded[name] = {k: v.detach().clone() for k, v in model.state_dict().items()}
    return dict(original=original, converted=converted, loaded=loaded, recorder=RECORDER)


def main() -> None:
    out, parts = parse_out_dir(__doc__)
    setup()
    write_parts(
        out,
        parts,
        "vit",
        RECORDER,
        keys=lambda: key_record(config_names("vit"), device="cpu"),
        fixtures=lambda tensors: module_cases(CASES, tensors),
        init=lambda: init_stats([INIT_CONFIG], backbone_init_none=True),
        convert=convert_record,
    )


if __name__ == "__main__":
    main()
