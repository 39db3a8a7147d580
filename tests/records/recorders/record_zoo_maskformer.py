"""Record MMSegmentation 1.2.2's MaskFormer family (MMDetection 3.3.0's head): keys, fixtures, losses, init stats.

Run with the reference environment's Python, MMDetection 3.3.0 installed beside MMSegmentation (parts: keys
fixtures init; all by default):
    $HOME/mmref/bin/python tests/records/recorders/record_zoo_maskformer.py tests/records/zoo

Writes ``maskformer_keys.json.gz`` (backbone ``init_cfg=None``, built on the CPU), ``maskformer_fixtures.json.gz``
+ ``.pt`` in the format of ``record_zoo_mask2former.py`` (whose label maps and recording it reuses; MaskFormer's
matching and losses draw no random numbers, the recording still seeds 0) and ``maskformer_init_stats.json.gz``.
Seeded: running it twice writes identical bytes.
"""

from __future__ import annotations

from _zoo import (
    config_names,
    init_stats,
    key_record,
    parse_out_dir,
    setup,
    write_parts,
)
from record_zoo_mask2former import record_head

RECORDER = "tests/records/recorders/record_zoo_maskformer.py"
RELU = dict(type="ReLU", inplace=True)
GN = dict(type="GN", num_groups=4)
POSITIONS = dict(num_feats=8, normalize=True)
TRAIN_CFG = dict(
    assigner=dict(
        type="mmdet.HungarianAssigner",
        match_costs=[
            dict(type="mmdet.ClassificationCost", weight=1.0),
            dict(type="mmdet.FocalLossCost", weight=20.0, binary_input=True),
            dict(type="mmdet.DiceCost", weight=1.0, pred_act=True, eps=1.0),
        ],
    ),
    sampler=dict(type="mmdet.MaskPseudoSampler"),
)
PIXEL_DECODER = dict(type="mmdet.PixelDecoder", norm_cfg=GN, act_cfg=dict(type="ReLU"))
ENCODER_DECODER = dict(
    type="mmdet.TransformerEncoderPixelDecoder",
    norm_cfg=GN,
    act_cfg=dict(type="ReLU"),
    encoder=dict(
        num_layers=2,
        layer_cfg=dict(
            self_attn_cfg=dict(embed_dims=16, num_heads=2, dropout=0.1, batch_first=True),
            ffn_cfg=dict(embed_dims=16, feedforward_channels=32, num_fcs=2, ffn_drop=0.1, act_cfg=RELU),
        ),
    ),
    positional_encoding=POSITIONS,
)


def head_kwargs(in_channels: list, classes: int, queries: int, layers: int, pixel_decoder: dict, project: bool) -> dict:
    """A shrunk MaskFormerHead: 16 feature channels, 2 heads, dropout 0.1 in the DETR decoder."""
    attn = dict(embed_dims=16, num_heads=2, attn_drop=0.1, proj_drop=0.1, dropout_layer=None, batch_first=True)
    ffn = dict(
        embed_dims=16,
        feedforward_channels=48,
        num_fcs=2,
        act_cfg=RELU,
        ffn_drop=0.1,
        dropout_layer=None,
        add_identity=True,
    )
    return dict(
        in_channels=in_channels,
        feat_channels=16,
        in_index=[0, 1, 2, 3],
        num_classes=classes,
        out_channels=16,
        num_queries=queries,
        pixel_decoder=pixel_decoder,
        enforce_decoder_input_project=project,
        positional_encoding=POSITIONS,
        transformer_decoder=dict(
            return_intermediate=True,
            num_layers=layers,
            layer_cfg=dict(self_attn_cfg=attn, cross_attn_cfg=dict(attn), ffn_cfg=ffn),
            init_cfg=None,
        ),
        loss_cls=dict(
            type="mmdet.CrossEntropyLoss",
            use_sigmoid=False,
            loss_weight=1.0,
            reduction="mean",
            class_weight=[1.0] * classes + [0.1],
        ),
        loss_mask=dict(
            type="mmdet.FocalLoss", use_sigmoid=True, gamma=2.0, alpha=0.25, reduction="mean", loss_weight=20.0
        ),
        loss_dice=dict(
            type="mmdet.DiceLoss",
            use_sigmoid=True,
            activate=True,
            reduction="mean",
            naive_dice=True,
            eps=1.0,
            loss_weight=1.0,
        ),
        train_cfg=TRAIN_CFG,
    )


CASES = {
    "maskformer_head": (
        head_kwargs([4, 8, 16, 32], 5, 6, 3, PIXEL_DECODER, False),
        [[2, 4, 10, 14], [2, 8, 5, 7], [2, 16, 3, 4], [2, 32, 2, 2]],
        [40, 56],
    ),
    "maskformer_head_encoder": (
        head_kwargs([4, 8, 16, 32], 3, 5, 2, ENCODER_DECODER, False),
        [[1, 4, 12, 12], [1, 8, 6, 6], [1, 16, 3, 3], [1, 32, 2, 2]],
        [48, 48],
    ),
    "maskformer_head_projected": (
        head_kwargs([4, 8, 16, 16], 5, 6, 2, PIXEL_DECODER, True),
        [[1, 4, 8, 10], [1, 8, 4, 5], [1, 16, 2, 3], [1, 16, 1, 2]],
        [32, 40],
    ),
}
INIT_CONFIG = "maskformer/maskformer_r50-d32_8xb2-160k_ade20k-512x512"


def main() -> None:
    out, parts = parse_out_dir(__doc__)
    setup()
    write_parts(
        out,
        parts,
        "maskformer",
        RECORDER,
        keys=lambda: key_record(config_names("maskformer"), device="cpu", backbone_init_none=True),
        fixtures=lambda tensors: {
            name: record_head(name, kwargs, shapes, img, tensors, seed, "MaskFormerHead")
            for seed, (name, (kwargs, shapes, img)) in enumerate(CASES.items())
        },
        init=lambda: init_stats([INIT_CONFIG], backbone_init_none=True),
    )


if __name__ == "__main__":
    main()
