"""Record MMSegmentation 1.2.2's DANet, DNLNet, GCNet, NonLocalNet and CCNet families: keys, fixtures, init stats.

Run with the reference environment's Python (parts: keys fixtures init; all by default):
    $HOME/mmref/bin/python tests/records/recorders/record_zoo_attention_b.py tests/records/zoo

Writes ``attention_b_keys.json.gz``, ``attention_b_fixtures.json.gz`` + ``.pt`` (17 eval-mode head cases; MMCV
``Scale`` factors drawn in 0.5-1.5 so the attention branches show) and ``attention_b_init_stats.json.gz``.
MMCV 2.1's ``CrissCrossAttention`` is plain PyTorch, so CCHead runs as MMSegmentation's own code. Seeded:
running it twice writes identical bytes.
"""

from __future__ import annotations

from _zoo import (
    config_names,
    init_stats,
    key_record,
    module_cases,
    parse_out_dir,
    setup,
    shared_inputs,
    uniform,
    write_parts,
)

RECORDER = "tests/records/recorders/record_zoo_attention_b.py"
BN = dict(type="BN", requires_grad=True)
HEAD = dict(channels=4, num_classes=5, norm_cfg=BN, dropout_ratio=0.1, in_channels=8, in_index=3)
ODD, ODD_SHAPES = shared_inputs([4, 6, 8, 8], [(17, 15), (9, 8), (7, 6), (7, 6)])
SMALL, SMALL_SHAPES = shared_inputs([4, 6, 8, 8], [(9, 8), (5, 4), (5, 4), (5, 4)])


def head(type_: str, small: bool = False, **kw) -> dict:
    inputs, shapes = (SMALL, SMALL_SHAPES) if small else (ODD, ODD_SHAPES)
    return dict(type=type_, kwargs=HEAD | kw, inputs=inputs, input_shapes=shapes)


CASES = {
    "da": head("DAHead", pam_channels=3),
    "da_align_corners_no_norm": head(
        "DAHead", norm_cfg=None, pam_channels=2, align_corners=True, act_cfg=dict(type="LeakyReLU")
    ),
    "nl_embedded_gaussian": head("NLHead"),
    "nl_embedded_gaussian_no_scale_no_concat": head("NLHead", use_scale=False, concat_input=False, reduction=4),
    "nl_dot_product": head("NLHead", mode="dot_product"),
    "nl_gaussian_no_norm": head("NLHead", norm_cfg=None, mode="gaussian"),
    "nl_concatenation": head("NLHead", small=True, mode="concatenation"),
    "dnl_embedded_gaussian": head("DNLHead"),
    "dnl_embedded_gaussian_no_scale": head("DNLHead", use_scale=False, temperature=0.2, concat_input=False),
    "dnl_dot_product": head("DNLHead", mode="dot_product"),
    "dnl_gaussian": head("DNLHead", mode="gaussian"),
    "dnl_concatenation": head("DNLHead", small=True, mode="concatenation", temperature=0.5),
    "gc_att_add": head("GCHead"),
    "gc_avg_mul_add": head("GCHead", ratio=0.5, pooling_type="avg", fusion_types=("channel_mul", "channel_add")),
    "gc_att_mul_no_concat": head("GCHead", ratio=0.5, fusion_types=("channel_mul",), concat_input=False),
    "cc": head("CCHead", channels=16),
    "cc_recurrence_3_align_corners": head("CCHead", channels=16, recurrence=3, align_corners=True, concat_input=False),
}
KEY_FOLDERS = ("danet", "dnlnet", "gcnet", "nonlocal_net", "ccnet")
INIT_CONFIGS = (
    "danet/danet_r50-d8_4xb2-40k_cityscapes-512x1024",
    "dnlnet/dnl_r50-d8_4xb2-40k_cityscapes-512x1024",
    "gcnet/gcnet_r50-d8_4xb2-40k_cityscapes-512x1024",
    "nonlocal_net/nonlocal_r50-d8_4xb2-40k_cityscapes-512x1024",
    "ccnet/ccnet_r50-d8_4xb2-40k_cityscapes-512x1024",
)


def scale_values(mod_name, mod, name, t, gen):
    """MMCV ``Scale`` factors (0 when fresh) in 0.5-1.5, so the attention branches reach the outputs."""
    return uniform(t.shape, 0.5, 1.5, gen) if type(mod).__name__ == "Scale" else None


def main() -> None:
    out, parts = parse_out_dir(__doc__)
    setup()
    write_parts(
        out,
        parts,
        "attention_b",
        RECORDER,
        keys=lambda: key_record(config_names(*KEY_FOLDERS)),
        fixtures=lambda tensors: module_cases(CASES, tensors, scale_values),
        init=lambda: init_stats(INIT_CONFIGS),
    )


if __name__ == "__main__":
    main()
