"""Record MMSegmentation 1.2.2's PSANet, EncNet and FastFCN families: keys, numeric fixtures, init statistics.

Run with the reference environment's Python (parts: keys fixtures init; all by default):
    $HOME/mmref/bin/python tests/records/recorders/record_zoo_psa_enc_jpu.py tests/records/zoo

Writes ``psa_enc_jpu_keys.json.gz``, ``psa_enc_jpu_fixtures.json.gz`` + ``.pt`` and
``psa_enc_jpu_init_stats.json.gz``. mmcv-lite has no compiled ``PSAMask``, so the script puts a loop-for-loop
transcription of MMCV's CPU kernel (``psamask_collect_forward`` / ``psamask_distribute_forward``) in
``mmseg.models.decode_heads.psa_head``; everything else is MMSegmentation's own code. Seeded: running it twice
writes identical bytes.
"""

from __future__ import annotations

import torch
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
from mmseg.models.decode_heads import psa_head
from torch import nn

RECORDER = "tests/records/recorders/record_zoo_psa_enc_jpu.py"
BN = dict(type="BN", requires_grad=True)
HEAD = dict(channels=4, num_classes=5, norm_cfg=BN, dropout_ratio=0.1)
ODD, ODD_SHAPES = shared_inputs([4, 6, 8, 8], [(17, 15), (9, 8), (8, 6), (9, 7)])
JPU3, JPU3_SHAPES = shared_inputs([4, 6, 8], [(17, 15), (9, 8), (5, 4)])
JPU4, JPU4_SHAPES = shared_inputs([4, 6, 8, 8], [(17, 15), (9, 8), (5, 4), (3, 2)])


def psa(**kw) -> dict:
    kwargs = dict(HEAD, in_channels=8, in_index=3) | kw
    return dict(type="PSAHead", kwargs=kwargs, inputs=ODD, input_shapes=ODD_SHAPES)


def enc(**kw) -> dict:
    kwargs = dict(HEAD, in_channels=[6, 8, 8], in_index=[1, 2, 3], num_codes=4) | kw
    return dict(type="EncHead", kwargs=kwargs, inputs=ODD, input_shapes=ODD_SHAPES)


CASES = {
    "psa_bi_direction": psa(mask_size=[5, 5]),
    "psa_bi_direction_full_mask": psa(mask_size=[9, 7]),
    "psa_collect_no_shrink": psa(
        mask_size=[5, 3], psa_type="collect", shrink_factor=1, normalization_factor=None, align_corners=True
    ),
    "psa_distribute_even": psa(
        in_index=2, mask_size=[6, 4], psa_type="distribute", psa_softmax=False, normalization_factor=3.0
    ),
    "psa_compact_collect": psa(mask_size=[4, 5], psa_type="collect", compact=True),
    "psa_compact_distribute": psa(mask_size=[2, 10], psa_type="distribute", compact=True),
    "psa_compact_bi_direction": psa(mask_size=[5, 4], compact=True),
    "enc_se": enc(),
    "enc_lateral": enc(add_lateral=True, use_se_loss=False, align_corners=True),
    "enc_lateral_se_no_norm": enc(norm_cfg=None, add_lateral=True),
    "jpu": dict(
        type="JPU",
        kwargs=dict(in_channels=(4, 6, 8), mid_channels=4, norm_cfg=BN),
        inputs=JPU3,
        input_shapes=JPU3_SHAPES,
    ),
    "jpu_levels_align_corners": dict(
        type="JPU",
        kwargs=dict(
            in_channels=(4, 6, 8, 8),
            mid_channels=3,
            start_level=1,
            end_level=3,
            dilations=(1, 3),
            align_corners=True,
            norm_cfg=BN,
        ),
        inputs=JPU4,
        input_shapes=JPU4_SHAPES,
    ),
}
KEY_FOLDERS = ("psanet", "encnet", "fastfcn")
INIT_CONFIGS = (
    "psanet/psanet_r50-d8_4xb2-40k_cityscapes-512x1024",
    "encnet/encnet_r50-d8_4xb2-40k_cityscapes-512x1024",
    "fastfcn/fastfcn_r50-d32_jpu_psp_4xb2-80k_cityscapes-512x1024",
)


class LoopPSAMask(nn.Module):
    """MMCV's PSAMask, its CPU kernel transcribed loop for loop: (N, mh*mw, H, W) -> (N, H*W, H, W)."""

    def __init__(self, psa_type: str, mask_size: tuple[int, int]) -> None:
        super().__init__()
        self.collect = psa_type == "collect"
        self.mask_h, self.mask_w = mask_size

    def forward(self, mask: torch.Tensor) -> torch.Tensor:
        n, _, h_feature, w_feature = mask.shape
        half_h, half_w = (self.mask_h - 1) // 2, (self.mask_w - 1) // 2
        out = mask.new_zeros(n, h_feature * w_feature, h_feature, w_feature)
        for h in range(h_feature):
            for w in range(w_feature):
                hstart, hend = max(0, half_h - h), min(self.mask_h, h_feature + half_h - h)
                wstart, wend = max(0, half_w - w), min(self.mask_w, w_feature + half_w - w)
                for hidx in range(hstart, hend):
                    for widx in range(wstart, wend):
                        value = mask[:, hidx * self.mask_w + widx, h, w]
                        target = (hidx + h - half_h) * w_feature + (widx + w - half_w)
                        if self.collect:
                            out[:, target, h, w] = value
                        else:
                            out[:, h * w_feature + w, hidx + h - half_h, widx + w - half_w] = value
        return out


def encoding_values(mod_name, mod, name, t, gen):
    """The Encoding layer's codewords and (negative) smoothing scales at its own init's ranges."""
    if type(mod).__name__ == "Encoding":
        return uniform(t.shape, -0.5, 0.5, gen) if name == "codewords" else uniform(t.shape, -1.0, 0.0, gen)
    return None


def main() -> None:
    out, parts = parse_out_dir(__doc__)
    setup()
    psa_head.PSAMask = LoopPSAMask
    write_parts(
        out,
        parts,
        "psa_enc_jpu",
        RECORDER,
        keys=lambda: key_record(config_names(*KEY_FOLDERS)),
        fixtures=lambda tensors: module_cases(CASES, tensors, encoding_values),
        init=lambda: init_stats(INIT_CONFIGS),
    )


if __name__ == "__main__":
    main()
