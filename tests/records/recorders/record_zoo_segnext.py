"""Record MMSegmentation 1.2.2's SegNeXt family (MSCAN + LightHamHead): keys, numeric fixtures, init statistics.

Run with the reference environment's Python (parts: keys fixtures init; all by default):
    $HOME/mmref/bin/python tests/records/recorders/record_zoo_segnext.py tests/records/zoo

Writes ``segnext_keys.json.gz`` (backbone ``init_cfg=None``, built on the CPU: MSCAN calls ``.item()`` while
building), ``segnext_fixtures.json.gz`` + ``.pt`` and ``segnext_init_stats.json.gz``. The NMF of LightHamHead
draws its bases from torch's global generator at every forward (``rand_init=True``): such cases record the
``seed`` given to ``torch.manual_seed`` right before the forward; the ``rand_init=False`` case runs once (after
``torch.manual_seed(0)``) before its state is recorded, so that the state holds the ``bases`` buffer
MMSegmentation registers then. Seeded: running it twice writes identical bytes.
"""

from __future__ import annotations

import torch
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

RECORDER = "tests/records/recorders/record_zoo_segnext.py"
BN = dict(type="BN", requires_grad=True)
GN4 = dict(type="GN", num_groups=4, requires_grad=True)
MSCAN = dict(embed_dims=[8, 16, 24, 32], depths=[1, 2, 1, 1], mlp_ratios=[4, 4, 2, 2], drop_path_rate=0.1)
BATCH2 = [[2, 8, 11, 10], [2, 16, 6, 5], [2, 24, 3, 3], [2, 32, 2, 2]]
BATCH1 = [[1, 8, 13, 18], [1, 16, 7, 9], [1, 24, 4, 5], [1, 32, 2, 3]]
HEAD = dict(in_channels=[16, 24, 32], in_index=[1, 2, 3], channels=8, num_classes=5)


def inputs_name(shapes: list) -> str:
    return "inputs/" + "_".join("x".join(map(str, s)) for s in shapes)


def case(type_: str, call: str, kwargs: dict, shapes: list, **extra) -> dict:
    return dict(type=type_, call=call, kwargs=kwargs, inputs=inputs_name(shapes), input_shapes=shapes, **extra)


CASES = {
    "mscan_odd_size": case("MSCAN", "backbone", dict(MSCAN, norm_cfg=BN), [[1, 3, 50, 70]]),
    "mscan_variant": case(
        "MSCAN",
        "backbone",
        dict(
            MSCAN,
            norm_cfg=dict(type="GN", num_groups=2, requires_grad=True),
            num_stages=3,
            attention_kernel_sizes=[3, [1, 5], [1, 7], [1, 9]],
            attention_kernel_paddings=[1, [0, 2], [0, 3], [0, 4]],
            act_cfg=dict(type="ReLU"),
        ),
        [[2, 3, 41, 37]],
    ),
    "light_ham_head": case(
        "LightHamHead",
        "head",
        dict(HEAD, ham_channels=16, norm_cfg=GN4, ham_kwargs=dict(MD_S=1, MD_R=4, train_steps=6, eval_steps=7)),
        BATCH2,
        seed=3,
    ),
    "light_ham_head_md_s2_align_corners": case(
        "LightHamHead",
        "head",
        dict(HEAD, ham_channels=12, norm_cfg=BN, align_corners=True, ham_kwargs=dict(MD_S=2, MD_R=3, eval_steps=3)),
        BATCH1,
        seed=11,
    ),
    "light_ham_head_train_mode": case(
        "LightHamHead",
        "head",
        dict(HEAD, ham_channels=16, norm_cfg=GN4, dropout_ratio=0.0, ham_kwargs=dict(MD_R=5, train_steps=2)),
        BATCH2,
        seed=5,
        mode="train",
    ),
    "light_ham_head_fixed_bases": case(
        "LightHamHead",
        "head",
        dict(HEAD, ham_channels=16, norm_cfg=BN, ham_kwargs=dict(MD_R=4, rand_init=False)),
        BATCH2,
        fixed=True,
    ),
}
INIT_CONFIG = "segnext/segnext_mscan-t_1xb16-adamw-160k_ade20k-512x512"


def seeded_call(seed: int, train: bool):
    """The forward right after ``torch.manual_seed(seed)``, in training mode if asked."""

    def call(module, inputs):
        module.train(train)
        torch.manual_seed(seed)
        return module(inputs)

    return call


def warm_up(module, inputs) -> None:
    """One forward registers MMSegmentation's ``hamburger.ham.bases`` buffer (rand_init=False)."""
    torch.manual_seed(0)
    module(inputs)


def fixtures(tensors: dict) -> dict:
    cases = {}
    for seed, (name, spec) in enumerate(CASES.items()):
        extra = {k: spec[k] for k in ("seed", "mode", "fixed") if k in spec}
        body = {k: v for k, v in spec.items() if k not in extra}
        if "seed" in extra:
            entry = module_case(name, body, tensors, seed, call=seeded_call(extra["seed"], "mode" in extra))
        elif "fixed" in extra:
            entry = module_case(name, body, tensors, seed, prepare=warm_up)
        else:
            entry = module_case(name, body, tensors, seed)
        cases[name] = dict(entry, **extra)
    return cases


def main() -> None:
    out, parts = parse_out_dir(__doc__)
    setup()
    if not parts or "keys" in parts:
        keys = key_record(config_names("segnext"), device="cpu", backbone_init_none=True)
        write_json(out / "segnext_keys.json.gz", dict(keys, recorder=RECORDER))
    if not parts or "fixtures" in parts:
        tensors: dict = {}
        cases = fixtures(tensors)
        write_json(out / "segnext_fixtures.json.gz", dict(cases, recorder=RECORDER))
        write_tensors(out / "segnext_fixtures.pt", dict(tensors, recorder=RECORDER))
    if not parts or "init" in parts:
        rows = {INIT_CONFIG: init_rows(INIT_CONFIG, backbone_init_none=True)}
        write_json(out / "segnext_init_stats.json.gz", dict(init_record(rows), recorder=RECORDER))


if __name__ == "__main__":
    main()
