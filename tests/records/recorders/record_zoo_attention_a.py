"""Record MMSegmentation 1.2.2's ANNNet, APCNet, DMNet, EMANet and ISANet families: keys, fixtures, init stats.

Run with the reference environment's Python (parts: keys fixtures init; all by default):
    $HOME/mmref/bin/python tests/records/recorders/record_zoo_attention_a.py tests/records/zoo

Writes ``attention_a_keys.json.gz``, ``attention_a_fixtures.json.gz`` + ``.pt`` and
``attention_a_init_stats.json.gz``. The fixtures hold 10 eval-mode head cases, three cases of the generic
``SelfAttentionBlock`` (``<case>/query``, ``<case>/key``, ``<case>/out/0``) and ``ema_train``: an ``EMAHead`` in
train mode run twice on a batch of 2, with its outputs, ``bases`` and ``ema_in_conv.bn.running_mean`` after.
EMA bases are drawn as MMSegmentation draws them (normal, then L2-normalised over channels). Seeded: running it
twice writes identical bytes.
"""

from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from _zoo import (
    build,
    config_names,
    flat_state,
    init_record,
    init_rows,
    key_record,
    keys_of,
    module_case,
    parse_out_dir,
    randomize,
    seeded,
    setup,
    shared_inputs,
    write_json,
    write_tensors,
)
from mmseg.models.utils import SelfAttentionBlock

RECORDER = "tests/records/recorders/record_zoo_attention_a.py"
BN = dict(type="BN", requires_grad=True)
HEAD = dict(channels=4, num_classes=5, norm_cfg=BN, dropout_ratio=0.1)
ODD, ODD_SHAPES = shared_inputs([4, 6, 8, 8], [(17, 15), (9, 8), (7, 6), (7, 6)])


def head(type_: str, **kw) -> dict:
    return dict(type=type_, kwargs=HEAD | kw, inputs=ODD, input_shapes=ODD_SHAPES)


CASES = {
    "ann": head("ANNHead", in_channels=[6, 8], in_index=[1, 3], project_channels=3),
    "ann_pool_scales": head(
        "ANNHead", in_channels=[4, 8], in_index=[0, 2], project_channels=5, key_pool_scales=(1, 2), align_corners=True
    ),
    "apc": head("APCHead", in_channels=8, in_index=3),
    "apc_no_fusion": head("APCHead", in_channels=8, in_index=3, pool_scales=(1, 3), fusion=False),
    "dm": head("DMHead", in_channels=8, in_index=3),
    "dm_even_fusion": head("DMHead", in_channels=6, in_index=1, filter_sizes=(2, 4), fusion=True),
    "ema": head("EMAHead", in_channels=8, in_index=3, ema_channels=6, num_bases=3, num_stages=3),
    "ema_no_concat": head(
        "EMAHead", in_channels=4, in_index=0, ema_channels=5, num_bases=4, num_stages=1, concat_input=False
    ),
    "isa": head("ISAHead", in_channels=8, in_index=3, isa_channels=3, down_factor=(3, 2)),
    "isa_default_factor": head("ISAHead", in_channels=4, in_index=0, isa_channels=2),
}


def attention(key_in: int, share: bool, kq_convs: int, vo_convs: int, vo_norm: bool, matmul: bool, out: bool, act):
    return dict(
        key_in_channels=key_in,
        query_in_channels=5,
        channels=4,
        out_channels=7,
        share_key_query=share,
        query_downsample=None,
        key_downsample=None,
        key_query_num_convs=kq_convs,
        value_out_num_convs=vo_convs,
        key_query_norm=True,
        value_out_norm=vo_norm,
        matmul_norm=matmul,
        with_out=out,
        conv_cfg=None,
        norm_cfg=BN,
        act_cfg=act,
    )


RELU = dict(type="ReLU")
ATTENTION_CASES = {
    "self_attention_norm_out": attention(6, False, 2, 2, True, False, True, RELU),
    "self_attention_plain_out": attention(6, False, 2, 1, False, True, True, RELU),
    "self_attention_no_out": attention(5, True, 1, 2, True, False, False, None),
}
EMA_TRAIN = dict(
    HEAD, dropout_ratio=0.0, in_channels=8, in_index=3, ema_channels=6, num_bases=3, num_stages=2, momentum=0.3
)
KEY_FOLDERS = ("ann", "apcnet", "dmnet", "emanet", "isanet")
INIT_CONFIGS = (
    "ann/ann_r50-d8_4xb2-80k_cityscapes-512x1024",
    "apcnet/apcnet_r50-d8_4xb2-80k_cityscapes-512x1024",
    "dmnet/dmnet_r50-d8_4xb2-80k_cityscapes-512x1024",
    "emanet/emanet_r50-d8_4xb2-80k_cityscapes-512x1024",
    "isanet/isanet_r50-d8_4xb2-80k_cityscapes-512x1024",
)


def ema_bases(mod_name, mod, name, t, gen):
    """EMA bases as MMSegmentation draws them: normal, then unit length over the channel axis."""
    return F.normalize(torch.randn(t.shape, generator=gen), dim=1) if name == "bases" else None


def attention_case(name: str, kwargs: dict, tensors: dict, seed: int) -> dict:
    gen = torch.Generator().manual_seed(seed)
    block = randomize(SelfAttentionBlock(**copy.deepcopy(kwargs)), gen).eval()
    query = seeded((2, kwargs["query_in_channels"], 5, 4), gen)
    key = seeded((2, kwargs["key_in_channels"], 6, 3), gen)
    with torch.no_grad():
        out = block(query, key)
    tensors.update({f"{name}/state": flat_state(block), f"{name}/query": query, f"{name}/key": key})
    tensors[f"{name}/out/0"] = out
    return dict(type="SelfAttentionBlock", kwargs=kwargs, keys=keys_of(block))


def ema_train_case(tensors: dict, seed: int) -> dict:
    gen = torch.Generator().manual_seed(seed)
    ema = randomize(build(dict(type="EMAHead", **copy.deepcopy(EMA_TRAIN)), "cpu"), gen, ema_bases)
    tensors["ema_train/state"] = flat_state(ema)
    keys = keys_of(ema)
    shapes = [[2, c, h, w] for _, c, h, w in ODD_SHAPES]
    inputs = [seeded(shape, gen) for shape in shapes]
    ema.train()
    tensors.update({f"ema_train/in/{i}": x for i, x in enumerate(inputs)})
    for step in range(2):
        tensors[f"ema_train/out/{step}"] = ema(inputs).detach()
    tensors["ema_train/bases"] = ema.ema_module.bases
    tensors["ema_train/running_mean"] = ema.ema_in_conv.bn.running_mean
    about = "train mode: out/0, out/1 of two forwards of in/*; bases and ema_in_conv.bn.running_mean after"
    return dict(type="EMAHead", kwargs=EMA_TRAIN, input_shapes=shapes, keys=keys, about=about)


def main() -> None:
    out, parts = parse_out_dir(__doc__)
    setup()
    if not parts or "keys" in parts:
        write_json(out / "attention_a_keys.json.gz", dict(key_record(config_names(*KEY_FOLDERS)), recorder=RECORDER))
    if not parts or "fixtures" in parts:
        tensors: dict = {}
        cases = {
            name: module_case(name, spec, tensors, seed, ema_bases) for seed, (name, spec) in enumerate(CASES.items())
        }
        cases["ema_train"] = ema_train_case(tensors, len(cases))
        for seed, (name, kwargs) in enumerate(ATTENTION_CASES.items(), start=len(cases)):
            cases[name] = attention_case(name, kwargs, tensors, seed)
        write_json(out / "attention_a_fixtures.json.gz", dict(cases, recorder=RECORDER))
        write_tensors(out / "attention_a_fixtures.pt", dict(tensors, recorder=RECORDER))
    if not parts or "init" in parts:
        rows = {name: init_rows(name) for name in INIT_CONFIGS}
        write_json(out / "attention_a_init_stats.json.gz", dict(init_record(rows), recorder=RECORDER))


if __name__ == "__main__":
    main()
