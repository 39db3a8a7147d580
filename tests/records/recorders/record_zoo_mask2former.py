"""Record MMSegmentation 1.2.2's Mask2Former family (MMDetection 3.3.0's head): keys, fixtures, losses, init stats.

Run with the reference environment's Python, MMDetection 3.3.0 installed beside MMSegmentation (parts: keys
fixtures init; all by default):
    $HOME/mmref/bin/python tests/records/recorders/record_zoo_mask2former.py tests/records/zoo

Writes ``mask2former_keys.json.gz`` (backbone ``init_cfg=None``, built on the CPU), ``mask2former_fixtures.json.gz``
+ ``.pt`` (the configs are handed to MMSegmentation as ``ConfigDict``s: MMDetection's head reads sub-configs as
attributes) and ``mask2former_init_stats.json.gz``. The losses are computed in eval mode right after
``torch.manual_seed(loss_seed)`` (the matching's random points and the importance sampling draw from torch's CPU
generator). Seeded: running it twice writes identical bytes.
"""

from __future__ import annotations

import copy

import torch
from _zoo import (
    build,
    config_names,
    flat_state,
    init_stats,
    key_record,
    keys_of,
    parse_out_dir,
    randomize,
    seeded,
    setup,
    write_parts,
)
from mmengine.config import ConfigDict
from mmengine.structures import PixelData
from mmseg.structures import SegDataSample

RECORDER = "tests/records/recorders/record_zoo_mask2former.py"
RELU = dict(type="ReLU", inplace=True)
CE = "mmdet.CrossEntropyLoss"
TRAIN_CFG = dict(
    num_points=64,
    oversample_ratio=3.0,
    importance_sample_ratio=0.75,
    assigner=dict(
        type="mmdet.HungarianAssigner",
        match_costs=[
            dict(type="mmdet.ClassificationCost", weight=2.0),
            dict(type="mmdet.CrossEntropyLossCost", weight=5.0, use_sigmoid=True),
            dict(type="mmdet.DiceCost", weight=5.0, pred_act=True, eps=1.0),
        ],
    ),
    sampler=dict(type="mmdet.MaskPseudoSampler"),
)


def head_kwargs(in_channels: list, classes: int, queries: int, levels: int, layers: int, project: bool) -> dict:
    """A shrunk Mask2FormerHead: GN(4), 16 feature channels, 2 heads, 2 encoder layers with 2 sampling points."""
    attn = dict(embed_dims=16, num_heads=2, attn_drop=0.0, proj_drop=0.0, dropout_layer=None, batch_first=True)
    encoder_attn = dict(
        embed_dims=16,
        num_heads=2,
        num_levels=levels,
        num_points=2,
        im2col_step=64,
        dropout=0.0,
        batch_first=True,
        norm_cfg=None,
        init_cfg=None,
    )
    encoder_ffn = dict(embed_dims=16, feedforward_channels=32, num_fcs=2, ffn_drop=0.0, act_cfg=RELU)
    decoder_ffn = dict(
        embed_dims=16,
        feedforward_channels=48,
        num_fcs=2,
        act_cfg=RELU,
        ffn_drop=0.0,
        dropout_layer=None,
        add_identity=True,
    )
    return dict(
        in_channels=in_channels,
        strides=[4, 8, 16, 32],
        feat_channels=16,
        out_channels=16,
        num_classes=classes,
        num_queries=queries,
        num_transformer_feat_level=levels,
        align_corners=False,
        enforce_decoder_input_project=project,
        pixel_decoder=dict(
            type="mmdet.MSDeformAttnPixelDecoder",
            num_outs=levels,
            norm_cfg=dict(type="GN", num_groups=4),
            act_cfg=dict(type="ReLU"),
            encoder=dict(num_layers=2, layer_cfg=dict(self_attn_cfg=encoder_attn, ffn_cfg=encoder_ffn), init_cfg=None),
            positional_encoding=dict(num_feats=8, normalize=True),
            init_cfg=None,
        ),
        positional_encoding=dict(num_feats=8, normalize=True),
        transformer_decoder=dict(
            return_intermediate=True,
            num_layers=layers,
            layer_cfg=dict(self_attn_cfg=attn, cross_attn_cfg=dict(attn), ffn_cfg=decoder_ffn),
            init_cfg=None,
        ),
        loss_cls=dict(
            type=CE, use_sigmoid=False, loss_weight=2.0, reduction="mean", class_weight=[1.0] * classes + [0.1]
        ),
        loss_mask=dict(type=CE, use_sigmoid=True, reduction="mean", loss_weight=5.0),
        loss_dice=dict(
            type="mmdet.DiceLoss",
            use_sigmoid=True,
            activate=True,
            reduction="mean",
            naive_dice=True,
            eps=1.0,
            loss_weight=5.0,
        ),
        train_cfg=TRAIN_CFG,
    )


CASES = {
    "mask2former_head": (
        head_kwargs([4, 8, 16, 32], 5, 6, 3, 4, False),
        [[2, 4, 10, 14], [2, 8, 5, 7], [2, 16, 3, 4], [2, 32, 2, 2]],
        [40, 56],
    ),
    "mask2former_head_two_levels": (
        head_kwargs([8, 8, 8, 8], 3, 5, 2, 3, True),
        [[1, 8, 12, 12], [1, 8, 6, 6], [1, 8, 3, 3], [1, 8, 2, 2]],
        [48, 48],
    ),
}
INIT_CONFIG = "mask2former/mask2former_r50_8xb2-90k_cityscapes-512x1024"


def block_labels(h: int, w: int, classes: int, gen: torch.Generator) -> torch.Tensor:
    """A (1, h, w) uint8 map: a random class per 8-px block, a 3-px strip of 255 at the left."""
    blocks = torch.randint(0, classes, ((h + 7) // 8, (w + 7) // 8), generator=gen)
    label = blocks.repeat_interleave(8, 0).repeat_interleave(8, 1)[:h, :w].to(torch.uint8)
    label[:, :3] = 255
    return label[None]


def samples(labels: list[torch.Tensor], shape: tuple[int, int]) -> list[SegDataSample]:
    out = []
    for label in labels:
        sample = SegDataSample(metainfo=dict(img_shape=shape, pad_shape=shape, batch_input_shape=shape))
        sample.gt_sem_seg = PixelData(data=label.long())
        out.append(sample)
    return out


def record_head(
    name: str, kwargs: dict, shapes: list, img_shape: list, tensors: dict, seed: int, type_: str = "Mask2FormerHead"
) -> dict:
    """Every stage's class and mask logits, ``predict()``'s scores, and ``loss()`` on blocky labels."""
    gen = torch.Generator().manual_seed(seed)
    head = randomize(build(dict(type=type_, **ConfigDict(copy.deepcopy(kwargs))), "cpu"), gen)
    head.eval()
    prefix = f"inputs/{name}"
    inputs = [seeded(shape, gen) for shape in shapes]
    labels = [block_labels(*img_shape, kwargs["num_classes"], gen) for _ in range(shapes[0][0])]
    for i, x in enumerate(inputs):
        tensors[f"{prefix}/{i}"] = x
    for i, label in enumerate(labels):
        tensors[f"{prefix}/gt/{i}"] = label
    tensors[f"{name}/state"] = flat_state(head)
    size = tuple(img_shape)
    batch = samples(labels, size)
    with torch.no_grad():
        cls_preds, mask_preds = head(inputs, batch)
        seg = head.predict(inputs, [dict(img_shape=size, pad_shape=size)] * len(labels), {})
        torch.manual_seed(0)
        losses = head.loss(inputs, batch, {})
    outs = [*cls_preds, *mask_preds, seg]
    for i, o in enumerate(outs):
        tensors[f"{name}/out/{i}"] = o
    return dict(
        type=type_,
        kwargs=kwargs,
        inputs=prefix,
        input_shapes=shapes,
        img_shape=img_shape,
        output_shapes=[list(o.shape) for o in outs],
        keys=keys_of(head),
        losses={k: float(v) for k, v in losses.items()},
        loss_seed=0,
    )


def main() -> None:
    out, parts = parse_out_dir(__doc__)
    setup()
    write_parts(
        out,
        parts,
        "mask2former",
        RECORDER,
        keys=lambda: key_record(config_names("mask2former"), device="cpu", backbone_init_none=True),
        fixtures=lambda tensors: {
            name: record_head(name, kwargs, shapes, img, tensors, seed)
            for seed, (name, (kwargs, shapes, img)) in enumerate(CASES.items())
        },
        init=lambda: init_stats([INIT_CONFIG], backbone_init_none=True),
    )


if __name__ == "__main__":
    main()
