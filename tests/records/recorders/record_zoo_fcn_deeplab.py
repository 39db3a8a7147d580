"""Record MMSegmentation 1.2.2's FCN, DeepLabV3 and DeepLabV3+ families: keys, numeric fixtures, init statistics.

Run with the reference environment's Python (parts: keys fixtures init; all by default):
    $HOME/mmref/bin/python tests/records/recorders/record_zoo_fcn_deeplab.py tests/records/zoo

Writes ``fcn_deeplab_keys.json.gz`` (every config of ``fcn/``, ``deeplabv3/``, ``deeplabv3plus/``, plus the
MMSegmentation-format files seglab ships there that MMSegmentation 1.2.2 lacks, listed under ``seglab_only`` and
read from seglab's ``configs/`` with MMEngine's ``Config`` on MMSegmentation's ``_base_`` files),
``fcn_deeplab_fixtures.json.gz`` + ``.pt`` (9 eval-mode head cases) and ``fcn_deeplab_init_stats.json.gz``.
Seeded: running it twice writes identical bytes.
"""

from __future__ import annotations

import copy
import shutil
import tempfile
from pathlib import Path

from _zoo import (
    CONFIGS,
    KEYS_ABOUT,
    build,
    init_record,
    init_rows,
    keys_of,
    model_config,
    module_case,
    parse_out_dir,
    setup,
    shared_inputs,
    sync_bn_to_bn,
    write_json,
    write_tensors,
)
from mmengine.config import Config

RECORDER = "tests/records/recorders/record_zoo_fcn_deeplab.py"
SEGLAB_CONFIGS = Path(__file__).resolve().parents[3] / "configs"
BN = dict(type="BN", requires_grad=True)
HEAD = dict(channels=4, num_classes=5, norm_cfg=BN, dropout_ratio=0.1)
ODD, ODD_SHAPES = shared_inputs([4, 6, 8, 8], [(17, 15), (9, 8), (7, 6), (7, 6)])


def head(type_: str, **kw) -> dict:
    return dict(type=type_, kwargs=HEAD | kw, inputs=ODD, input_shapes=ODD_SHAPES)


SEP_ASPP = "DepthwiseSeparableASPPHead"
CASES = {
    "fcn_d6": head("FCNHead", in_channels=8, in_index=3, num_convs=2, dilation=6),
    "fcn_no_concat_k1": head("FCNHead", in_channels=6, in_index=1, num_convs=1, kernel_size=1, concat_input=False),
    "sep_fcn": head("DepthwiseSeparableFCNHead", in_channels=8, in_index=3, num_convs=2),
    "sep_fcn_dw_act_k5": head(
        "DepthwiseSeparableFCNHead",
        in_channels=6,
        in_index=1,
        num_convs=3,
        kernel_size=5,
        dw_act_cfg=dict(type="ReLU"),
        align_corners=True,
    ),
    "sep_fcn_no_concat": head(
        "DepthwiseSeparableFCNHead", in_channels=8, in_index=2, num_convs=1, concat_input=False, dilation=2
    ),
    "aspp": head("ASPPHead", in_channels=8, in_index=3, dilations=(1, 2, 3)),
    "aspp_align_corners": head("ASPPHead", in_channels=8, in_index=2, dilations=(1, 6, 12, 18), align_corners=True),
    "sep_aspp": head(SEP_ASPP, in_channels=8, in_index=3, dilations=(1, 2, 3), c1_in_channels=4, c1_channels=3),
    "sep_aspp_align_corners": head(
        SEP_ASPP, in_channels=8, in_index=3, dilations=(1, 12), c1_in_channels=4, c1_channels=2, align_corners=True
    ),
}
KEY_FOLDERS = ("fcn", "deeplabv3", "deeplabv3plus")
INIT_CONFIGS = ("fcn/fcn-d6_r50b-d16_4xb2-80k_cityscapes-512x1024",)


def seglab_only_model(name: str, scratch: Path) -> dict:
    """The model of a seglab-shipped MMSegmentation-format config, resolved on MMSegmentation's ``_base_``."""
    target = scratch / f"{name}.py"
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(SEGLAB_CONFIGS / f"{name}.py", target)
    model = copy.deepcopy(Config.fromfile(str(target)).model)
    model.pretrained = None
    return sync_bn_to_bn(model)


def keys_with_seglab_only() -> dict:
    """Key lists of MMSegmentation's configs and of seglab's extra files, folder by folder, sorted within each."""
    configs, lists, seglab_only = {}, [], []
    with tempfile.TemporaryDirectory() as tmp:
        scratch = Path(tmp)
        (scratch / "_base_").symlink_to(CONFIGS / "_base_")
        for folder in KEY_FOLDERS:
            theirs = {p.stem for p in (CONFIGS / folder).glob("*.py")}
            ours = {p.stem for p in (SEGLAB_CONFIGS / folder).glob("*.py")} - theirs
            for stem in sorted(theirs | ours):
                name = f"{folder}/{stem}"
                cfg = seglab_only_model(name, scratch) if stem in ours else model_config(name)
                keys = keys_of(build(cfg))
                if keys not in lists:
                    lists.append(keys)
                configs[name] = lists.index(keys)
                if stem in ours:
                    seglab_only.append(name)
    about = KEYS_ABOUT + (
        "; seglab_only names configs MMSegmentation 1.2.2 does not ship (read from seglab's tree with MMEngine's Config)"
    )
    return dict(about=about, mmsegmentation="1.2.2", configs=configs, seglab_only=seglab_only, lists=lists)


def main() -> None:
    out, parts = parse_out_dir(__doc__)
    setup()
    if not parts or "keys" in parts:
        write_json(out / "fcn_deeplab_keys.json.gz", dict(keys_with_seglab_only(), recorder=RECORDER))
    if not parts or "fixtures" in parts:
        tensors: dict = {}
        cases = {name: module_case(name, spec, tensors, seed) for seed, (name, spec) in enumerate(CASES.items())}
        write_json(out / "fcn_deeplab_fixtures.json.gz", dict(cases, recorder=RECORDER))
        write_tensors(out / "fcn_deeplab_fixtures.pt", dict(tensors, recorder=RECORDER))
    if not parts or "init" in parts:
        rows = {name: init_rows(name) for name in INIT_CONFIGS}
        write_json(out / "fcn_deeplab_init_stats.json.gz", dict(init_record(rows), recorder=RECORDER))


if __name__ == "__main__":
    main()
