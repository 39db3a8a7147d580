"""Record MMSegmentation 1.2.2's SETR, Segmenter and DPT families: keys, numeric fixtures, init statistics.

Run with the reference environment's Python (parts: keys fixtures init; all by default):
    $HOME/mmref/bin/python tests/records/recorders/record_zoo_setr_segmenter_dpt.py tests/records/zoo

Writes ``setr_segmenter_dpt_keys.json.gz`` (built on the CPU: ViT and the Segmenter head call ``.item()`` while
building), ``setr_segmenter_dpt_fixtures.json.gz`` + ``.pt`` (DPT's (feature map, class token) input pairs are
stored flat: ``map0, token0, map1, token1 ...``; the case's ``call`` is ``pairs``) and
``setr_segmenter_dpt_init_stats.json.gz``. Seeded: running it twice writes identical bytes.
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
    write_json,
    write_tensors,
)

RECORDER = "tests/records/recorders/record_zoo_setr_segmenter_dpt.py"
BN = dict(type="BN", requires_grad=True)
LEVEL = [1, 8, 6, 5]


def case(type_: str, name: str, shapes: list, call: str = "head", **kwargs) -> dict:
    return dict(type=type_, call=call, kwargs=kwargs, inputs=f"inputs/{name}", input_shapes=shapes)


def dpt(name: str, batch: int, h: int, w: int, **kw) -> dict:
    shapes = [s for _ in range(4) for s in ([batch, 8, h, w], [batch, 8])]
    kwargs = dict(
        in_channels=[8, 8, 8, 8],
        channels=4,
        embed_dims=8,
        post_process_channels=[2, 3, 4, 5],
        num_classes=3,
        input_transform="multiple_select",
        in_index=[0, 1, 2, 3],
        norm_cfg=BN,
        **kw,
    )
    return case("DPTHead", name, shapes, "pairs", **kwargs)


CASES = {
    "setr_naive": case(
        "SETRUPHead",
        "setr_naive",
        [LEVEL] * 4,
        num_classes=5,
        norm_cfg=BN,
        in_channels=8,
        channels=4,
        in_index=3,
        num_convs=1,
        up_scale=4,
        kernel_size=1,
        dropout_ratio=0,
    ),
    "setr_pup_align_corners": case(
        "SETRUPHead",
        "setr_pup_align_corners",
        [[1, 8, 3, 2]] * 4,
        num_classes=5,
        norm_cfg=BN,
        in_channels=8,
        channels=4,
        in_index=1,
        num_convs=4,
        up_scale=2,
        kernel_size=3,
        align_corners=True,
    ),
    "setr_mla_head": case(
        "SETRMLAHead",
        "setr_mla_head",
        [[1, 4, 6, 5]] * 4,
        num_classes=5,
        norm_cfg=BN,
        in_channels=[4, 4, 4, 4],
        channels=8,
        mla_channels=2,
        in_index=[0, 1, 2, 3],
        dropout_ratio=0,
    ),
    "mla_neck": case(
        "MLANeck",
        "mla_neck",
        [LEVEL] * 4,
        in_channels=[8, 8, 8, 8],
        out_channels=4,
        norm_cfg=BN,
        act_cfg=dict(type="ReLU"),
    ),
    "mla_neck_plain": case(
        "MLANeck", "mla_neck_plain", [[2, 8, 3, 4], [2, 6, 3, 4]], in_channels=[8, 6], out_channels=4
    ),
    "segmenter_mask": case(
        "SegmenterMaskTransformerHead",
        "segmenter_mask",
        [[2, 8, 6, 5]],
        in_channels=8,
        channels=8,
        num_classes=5,
        num_layers=2,
        num_heads=2,
        embed_dims=8,
        dropout_ratio=0.0,
    ),
    "segmenter_mask_variant": case(
        "SegmenterMaskTransformerHead",
        "segmenter_mask_variant",
        [[1, 6, 4, 3]],
        in_channels=6,
        channels=8,
        num_classes=5,
        num_layers=1,
        num_heads=2,
        embed_dims=8,
        dropout_ratio=0.0,
        mlp_ratio=2,
        qkv_bias=False,
        in_index=0,
    ),
    "dpt_project": dpt("dpt_project", 1, 3, 5, readout_type="project"),
    "dpt_add": dpt("dpt_add", 2, 4, 4, readout_type="add"),
    "dpt_ignore_gelu": dpt("dpt_ignore_gelu", 1, 3, 5, act_cfg=dict(type="GELU")),
}
INIT_CONFIGS = (
    "setr/setr_vit-l_mla_8xb1-80k_cityscapes-768x768",
    "segmenter/segmenter_vit-t_mask_8xb1-160k_ade20k-512x512",
    "dpt/dpt_vit-b16_8xb2-160k_ade20k-512x512",
)


def pairs(module, flat):
    """DPTHead takes (feature map, class token) pairs."""
    return module([flat[i : i + 2] for i in range(0, len(flat), 2)])


def main() -> None:
    out, parts = parse_out_dir(__doc__)
    setup()
    if not parts or "keys" in parts:
        keys = key_record(config_names("setr", "segmenter", "dpt"), device="cpu")
        write_json(out / "setr_segmenter_dpt_keys.json.gz", dict(keys, recorder=RECORDER))
    if not parts or "fixtures" in parts:
        tensors: dict = {}
        cases = {
            name: module_case(name, spec, tensors, seed, call=pairs if spec["call"] == "pairs" else None)
            for seed, (name, spec) in enumerate(CASES.items())
        }
        write_json(out / "setr_segmenter_dpt_fixtures.json.gz", dict(cases, recorder=RECORDER))
        write_tensors(out / "setr_segmenter_dpt_fixtures.pt", dict(tensors, recorder=RECORDER))
    if not parts or "init" in parts:
        rows = {name: init_rows(name, backbone_init_none=True) for name in INIT_CONFIGS}  # SETR names a local file
        write_json(out / "setr_segmenter_dpt_init_stats.json.gz", dict(init_record(rows), recorder=RECORDER))


if __name__ == "__main__":
    main()
