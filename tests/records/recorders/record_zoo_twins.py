"""Record MMSegmentation 1.2.2's Twins family (PCPVT, SVT): keys, numeric fixtures, init statistics, conversion.

Run with the reference environment's Python (parts: keys fixtures init convert; all by default):
    $HOME/mmref/bin/python tests/records/recorders/record_zoo_twins.py tests/records/zoo

Writes ``twins_keys.json.gz`` (backbone ``init_cfg=None``, built on the CPU: Twins calls ``.item()`` while
building), ``twins_fixtures.json.gz`` + ``.pt``, ``twins_init_stats.json.gz`` and ``twins_convert.pt``: synthetic
checkpoints in the original Twins release's layout (gvt.py's ``CPVTV2`` and ``ALTGVT``) and what
``tools/model_converters/twins2mmseg.py`` makes of them. Seeded: running it twice writes identical bytes.
"""

from __future__ import annotations

from types import SimpleNamespace

import torch
from _zoo import (
    config_names,
    init_stats,
    key_record,
    load_converter,
    module_cases,
    parse_out_dir,
    setup,
    write_parts,
)

RECORDER = "tests/records/recorders/record_zoo_twins.py"
TINY = dict(embed_dims=[4, 8, 16, 32], num_heads=[1, 2, 4, 8])
SR = [8, 4, 2, 1]


def case(type_: str, shape: list, **kwargs) -> dict:
    name = "inputs/" + "x".join(map(str, shape))
    return dict(type=type_, call="backbone", kwargs=kwargs, inputs=name, input_shapes=[shape])


CASES = {
    "pcpvt_odd_size": case(
        "PCPVT",
        [1, 3, 50, 70],
        **TINY,
        mlp_ratios=[4, 4, 2, 2],
        depths=[2, 1, 1, 1],
        sr_ratios=SR,
        qkv_bias=True,
        drop_path_rate=0.1,
    ),
    "pcpvt_variant": case(
        "PCPVT",
        [2, 3, 40, 46],
        **TINY,
        mlp_ratios=[2, 2, 2, 2],
        depths=[2, 1, 1, 1],
        sr_ratios=SR,
        qkv_bias=False,
        drop_path_rate=0.1,
        norm_after_stage=True,
        patch_sizes=[7, 3, 3, 3],
        out_indices=[1, 3],
    ),
    "svt_odd_size": case(
        "SVT",
        [1, 3, 50, 70],
        **TINY,
        mlp_ratios=[4, 4, 4, 4],
        depths=[2, 1, 3, 1],
        sr_ratios=SR,
        windiow_sizes=[4, 3, 3, 3],
        qkv_bias=True,
        drop_path_rate=0.1,
    ),
    "svt_variant": case(
        "SVT",
        [2, 3, 32, 36],
        embed_dims=[4, 8, 16],
        num_heads=[1, 2, 2],
        mlp_ratios=[2, 2, 2],
        depths=[2, 2, 2],
        sr_ratios=[4, 2, 1],
        windiow_sizes=[4, 2, 2],
        norm_after_stage=False,
        out_indices=[0, 2],
    ),
}
INIT_CONFIG = "twins/twins_svt-s_fpn_fpnhead_8xb4-80k_ade20k-512x512"
LAYOUTS = {"pcpvt": ([4, 4, 2, 2], [2, 1, 1, 1]), "svt": ([4, 4, 4, 4], [2, 1, 3, 1])}


def original_layout(kind: str, gen: torch.Generator, num_classes: int = 10) -> dict[str, torch.Tensor]:
    """A checkpoint of the fixtures' shapes in gvt.py's names (SVT: even blocks local ``attn.qkv``, odd blocks
    global sub-sampled attention), N(0, 1) values."""
    ratios, depths = LAYOUTS[kind]
    dims, shapes = TINY["embed_dims"], []
    for i, dim in enumerate(dims):
        patch, before = (4, 3) if i == 0 else (2, dims[i - 1])
        shapes += [
            (f"patch_embeds.{i}.proj.weight", (dim, before, patch, patch)),
            (f"patch_embeds.{i}.proj.bias", (dim,)),
        ]
        shapes += [(f"patch_embeds.{i}.norm.weight", (dim,)), (f"patch_embeds.{i}.norm.bias", (dim,))]
    for i, (dim, ratio, depth, sr) in enumerate(zip(dims, ratios, depths, SR, strict=True)):
        for j in range(depth):
            b, hidden = f"blocks.{i}.{j}", ratio * dim
            shapes += [(f"{b}.norm1.weight", (dim,)), (f"{b}.norm1.bias", (dim,))]
            if kind == "svt" and j % 2 == 0:
                shapes += [(f"{b}.attn.qkv.weight", (3 * dim, dim)), (f"{b}.attn.qkv.bias", (3 * dim,))]
                shapes += [(f"{b}.attn.proj.weight", (dim, dim)), (f"{b}.attn.proj.bias", (dim,))]
            else:
                shapes += [(f"{b}.attn.q.weight", (dim, dim)), (f"{b}.attn.q.bias", (dim,))]
                shapes += [(f"{b}.attn.kv.weight", (2 * dim, dim)), (f"{b}.attn.kv.bias", (2 * dim,))]
                shapes += [(f"{b}.attn.proj.weight", (dim, dim)), (f"{b}.attn.proj.bias", (dim,))]
                if sr > 1:
                    shapes += [(f"{b}.attn.sr.weight", (dim, dim, sr, sr)), (f"{b}.attn.sr.bias", (dim,))]
                    shapes += [(f"{b}.attn.norm.weight", (dim,)), (f"{b}.attn.norm.bias", (dim,))]
            shapes += [(f"{b}.norm2.weight", (dim,)), (f"{b}.norm2.bias", (dim,))]
            shapes += [(f"{b}.mlp.fc1.weight", (hidden, dim)), (f"{b}.mlp.fc1.bias", (hidden,))]
            shapes += [(f"{b}.mlp.fc2.weight", (dim, hidden)), (f"{b}.mlp.fc2.bias", (dim,))]
    shapes += [("norm.weight", (dims[-1],)), ("norm.bias", (dims[-1],))]
    for i, dim in enumerate(dims):
        shapes += [(f"pos_block.{i}.proj.0.weight", (dim, 1, 3, 3)), (f"pos_block.{i}.proj.0.bias", (dim,))]
    shapes += [("head.weight", (num_classes, dims[-1])), ("head.bias", (num_classes,))]
    return {name: torch.randn(shape, generator=gen) for name, shape in shapes}


def convert_record() -> dict:
    record = {}
    for seed, kind in enumerate(LAYOUTS):
        original = original_layout(kind, torch.Generator().manual_seed(2024 + seed))
        record[f"{kind}_original"] = original
        record[f"{kind}_converted"] = dict(
            load_converter("twins2mmseg").convert_twins(SimpleNamespace(model=kind), dict(original))
        )
    return dict(record, recorder=RECORDER)


def main() -> None:
    out, parts = parse_out_dir(__doc__)
    setup()
    write_parts(
        out,
        parts,
        "twins",
        RECORDER,
        keys=lambda: key_record(config_names("twins"), device="cpu", backbone_init_none=True),
        fixtures=lambda tensors: module_cases(CASES, tensors),
        init=lambda: init_stats([INIT_CONFIG], backbone_init_none=True),
        convert=convert_record,
    )


if __name__ == "__main__":
    main()
