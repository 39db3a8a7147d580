"""Record MMSegmentation 1.2.2's Swin Transformer family: keys, numeric fixtures, init statistics, conversion.

Run with the reference environment's Python (parts: keys fixtures init convert; all by default):
    $HOME/mmref/bin/python tests/records/recorders/record_zoo_swin.py tests/records/zoo

Writes ``swin_keys.json.gz`` (built on the CPU), ``swin_fixtures.json.gz`` + ``.pt``, ``swin_init_stats.json.gz``
and ``swin_convert.pt``: a synthetic checkpoint in Microsoft's Swin layout, what
``tools/model_converters/swin2mmseg.py`` makes of it, and the relative-position tables MMSegmentation's
``SwinTransformer.init_weights`` loads from that converted file (``relative_position_index`` buffers left out:
MMSegmentation's loader raises a size mismatch on them) into a window-5 model. Seeded: running it twice writes
identical bytes.
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

RECORDER = "tests/records/recorders/record_zoo_swin.py"
TINY_SWIN = dict(embed_dims=4, depths=[2, 2, 2, 2], num_heads=[1, 2, 2, 4], window_size=3)
CASES = {
    "swin_odd_size": dict(
        type="SwinTransformer",
        call="backbone",
        kwargs=dict(TINY_SWIN, drop_path_rate=0.1),
        inputs="inputs/swin_odd_size",
        input_shapes=[[1, 3, 50, 70]],
    ),
    "swin_variant": dict(
        type="SwinTransformer",
        call="backbone",
        kwargs=dict(
            embed_dims=4,
            depths=[1, 3, 2],
            num_heads=[2, 2, 4],
            window_size=4,
            drop_path_rate=0.1,
            strides=[2, 2, 2],
            patch_size=2,
            mlp_ratio=2,
            qk_scale=0.3,
            patch_norm=False,
            use_abs_pos_embed=True,
            pretrain_img_size=32,
            out_indices=[0, 2],
            qkv_bias=False,
        ),
        inputs="inputs/swin_variant",
        input_shapes=[[2, 3, 32, 32]],
    ),
}
INIT_CONFIG = "swin/swin-tiny-patch4-window7-in1k-pre_upernet_8xb2-160k_ade20k-512x512"


def relative_position_index(window: int) -> torch.Tensor:
    """The original Swin's (window², window²) index into the (2·window-1)² table."""
    coords = torch.stack(torch.meshgrid(torch.arange(window), torch.arange(window), indexing="ij")).flatten(1)
    rel = (coords[:, :, None] - coords[:, None, :]).permute(1, 2, 0) + (window - 1)
    return rel[:, :, 0] * (2 * window - 1) + rel[:, :, 1]


def original_layout(gen: torch.Generator, num_classes: int = 10) -> dict[str, torch.Tensor]:
    """A checkpoint of ``TINY_SWIN``'s shapes in Microsoft's names: N(0, 1) values, real index buffers, an
    ``attn_mask`` buffer in every shifted block."""
    window, out = TINY_SWIN["window_size"], {}

    def put(name: str, *shape: int) -> None:
        out[name] = torch.randn(shape, generator=gen)

    put("patch_embed.proj.weight", 4, 3, 4, 4)
    for p in ("proj.bias", "norm.weight", "norm.bias"):
        put(f"patch_embed.{p}", 4)
    for i, (depth, heads) in enumerate(zip(TINY_SWIN["depths"], TINY_SWIN["num_heads"], strict=True)):
        dim = TINY_SWIN["embed_dims"] * 2**i
        for j in range(depth):
            b = f"layers.{i}.blocks.{j}"
            put(f"{b}.norm1.weight", dim)
            put(f"{b}.norm1.bias", dim)
            put(f"{b}.attn.relative_position_bias_table", (2 * window - 1) ** 2, heads)
            out[f"{b}.attn.relative_position_index"] = relative_position_index(window)
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
            if j % 2 == 1:
                put(f"{b}.attn_mask", 4, window**2, window**2)
        if i < len(TINY_SWIN["depths"]) - 1:
            put(f"layers.{i}.downsample.reduction.weight", 2 * dim, 4 * dim)
            put(f"layers.{i}.downsample.norm.weight", 4 * dim)
            put(f"layers.{i}.downsample.norm.bias", 4 * dim)
    last = TINY_SWIN["embed_dims"] * 2 ** (len(TINY_SWIN["depths"]) - 1)
    put("norm.weight", last)
    put("norm.bias", last)
    put("head.weight", num_classes, last)
    put("head.bias", num_classes)
    return out


def convert_record() -> dict:
    original = original_layout(torch.Generator().manual_seed(2024))
    converted = dict(load_converter("swin2mmseg").convert_swin(original))
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "swin_window3.pth"
        torch.save({k: v for k, v in converted.items() if "relative_position_index" not in k}, path)
        init_cfg = dict(type="Pretrained", checkpoint=str(path))
        model = build(dict(type="SwinTransformer", **dict(TINY_SWIN, window_size=5), init_cfg=init_cfg), "cpu")
        model.init_weights()
    tables = {k: v for k, v in model.state_dict().items() if k.endswith("relative_position_bias_table")}
    return dict(original=original, converted=converted, window5_tables=tables, recorder=RECORDER)


def main() -> None:
    out, parts = parse_out_dir(__doc__)
    setup()
    write_parts(
        out,
        parts,
        "swin",
        RECORDER,
        keys=lambda: key_record(config_names("swin"), device="cpu"),
        fixtures=lambda tensors: module_cases(CASES, tensors),
        init=lambda: init_stats([INIT_CONFIG], backbone_init_none=True),
        convert=convert_record,
    )


if __name__ == "__main__":
    main()
