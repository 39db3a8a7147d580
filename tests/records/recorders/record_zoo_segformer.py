"""Record MMSegmentation 1.2.2's SegFormer family: keys, numeric fixtures, init statistics, checkpoint conversion.

Run with the reference environment's Python (parts: keys fixtures init convert; all by default):
    $HOME/mmref/bin/python tests/records/recorders/record_zoo_segformer.py tests/records/zoo

Writes ``segformer_keys.json.gz`` (built on the CPU: MiT calls ``.item()`` while building),
``segformer_fixtures.json.gz`` + ``.pt``, ``segformer_init_stats.json.gz`` and ``segformer_convert.pt`` (a
synthetic checkpoint in the original SegFormer layout and what ``tools/model_converters/mit2mmseg.py`` makes of
it, checked to load strictly into MMSegmentation's MiT). Seeded: running it twice writes identical bytes.
"""

from __future__ import annotations

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

RECORDER = "tests/records/recorders/record_zoo_segformer.py"
BN = dict(type="BN", requires_grad=True)
TINY_MIT = dict(embed_dims=4, num_heads=[1, 2, 4, 8], num_layers=[1, 2, 1, 1], sr_ratios=[8, 4, 2, 1])
HEAD = dict(channels=8, num_classes=5, norm_cfg=BN, in_channels=[4, 8, 16, 32], in_index=[0, 1, 2, 3])


def case(type_: str, call: str, kwargs: dict, name: str, shapes: list) -> dict:
    return dict(type=type_, call=call, kwargs=kwargs, inputs=f"inputs/{name}", input_shapes=shapes)


CASES = {
    "mit_odd_size": case(
        "MixVisionTransformer", "backbone", dict(TINY_MIT, drop_path_rate=0.1), "mit_odd_size", [[1, 3, 50, 70]]
    ),
    "mit_variant": case(
        "MixVisionTransformer",
        "backbone",
        dict(
            TINY_MIT,
            drop_path_rate=0.1,
            qkv_bias=False,
            mlp_ratio=2,
            out_indices=[1, 3],
            patch_sizes=[5, 3, 3, 3],
            num_stages=4,
        ),
        "mit_variant",
        [[2, 3, 40, 48]],
    ),
    "segformer_head": case(
        "SegformerHead", "head", HEAD, "segformer_head", [[1, 4, 16, 16], [1, 8, 8, 8], [1, 16, 4, 4], [1, 32, 2, 2]]
    ),
    "segformer_head_align_corners": case(
        "SegformerHead",
        "head",
        dict(HEAD, align_corners=True),
        "segformer_head_align_corners",
        [[1, 4, 13, 18], [1, 8, 7, 9], [1, 16, 4, 5], [1, 32, 2, 3]],
    ),
}
INIT_CONFIG = "segformer/segformer_mit-b0_8xb2-160k_ade20k-512x512"


def original_layout(gen: torch.Generator, num_classes: int = 10) -> dict[str, torch.Tensor]:
    """A checkpoint of ``TINY_MIT``'s shapes in the original SegFormer release's names, N(0, 1) values."""
    shapes: list[tuple[str, tuple]] = []
    dims = [TINY_MIT["embed_dims"] * h for h in TINY_MIT["num_heads"]]
    in_dims = [3, *dims[:-1]]
    for i, (dim, depth, sr) in enumerate(zip(dims, TINY_MIT["num_layers"], TINY_MIT["sr_ratios"]), start=1):
        kernel = 7 if i == 1 else 3
        shapes += [
            (f"patch_embed{i}.proj.weight", (dim, in_dims[i - 1], kernel, kernel)),
            (f"patch_embed{i}.proj.bias", (dim,)),
            (f"patch_embed{i}.norm.weight", (dim,)),
            (f"patch_embed{i}.norm.bias", (dim,)),
        ]
        for j in range(depth):
            b, hidden = f"block{i}.{j}", 4 * dim
            shapes += [(f"{b}.{n}.{p}", (dim,)) for n in ("norm1", "norm2") for p in ("weight", "bias")]
            shapes += [(f"{b}.attn.q.weight", (dim, dim)), (f"{b}.attn.q.bias", (dim,))]
            shapes += [(f"{b}.attn.kv.weight", (2 * dim, dim)), (f"{b}.attn.kv.bias", (2 * dim,))]
            shapes += [(f"{b}.attn.proj.weight", (dim, dim)), (f"{b}.attn.proj.bias", (dim,))]
            if sr > 1:
                shapes += [(f"{b}.attn.sr.weight", (dim, dim, sr, sr)), (f"{b}.attn.sr.bias", (dim,))]
                shapes += [(f"{b}.attn.norm.weight", (dim,)), (f"{b}.attn.norm.bias", (dim,))]
            shapes += [(f"{b}.mlp.fc1.weight", (hidden, dim)), (f"{b}.mlp.fc1.bias", (hidden,))]
            shapes += [(f"{b}.mlp.dwconv.dwconv.weight", (hidden, 1, 3, 3)), (f"{b}.mlp.dwconv.dwconv.bias", (hidden,))]
            shapes += [(f"{b}.mlp.fc2.weight", (dim, hidden)), (f"{b}.mlp.fc2.bias", (dim,))]
        shapes += [(f"norm{i}.weight", (dim,)), (f"norm{i}.bias", (dim,))]
    shapes += [("head.weight", (num_classes, dims[-1])), ("head.bias", (num_classes,))]
    return {name: torch.randn(shape, generator=gen) for name, shape in shapes}


def convert_record() -> dict:
    original = original_layout(torch.Generator().manual_seed(2024))
    converted = dict(load_converter("mit2mmseg").convert_mit(original))
    model = build(dict(type="MixVisionTransformer", **TINY_MIT), "cpu")
    model.load_state_dict(converted, strict=True)  # MMSegmentation's model takes every converted tensor
    return dict(original=original, converted=converted, recorder=RECORDER)


def main() -> None:
    out, parts = parse_out_dir(__doc__)
    setup()
    write_parts(
        out,
        parts,
        "segformer",
        RECORDER,
        keys=lambda: key_record(config_names("segformer"), device="cpu"),
        fixtures=lambda tensors: module_cases(CASES, tensors),
        init=lambda: init_stats([INIT_CONFIG], backbone_init_none=True),
        convert=convert_record,
    )


if __name__ == "__main__":
    main()
