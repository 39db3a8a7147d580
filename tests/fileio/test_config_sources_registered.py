"""Every pre-trained checkpoint a shipped config names is registered beside its backbone (``*_weights.py``), so
it has a known original URL and, where one exists, a Hub source. The configs are read as merged dicts with
``Config.fromfile`` (no model is built): about a second for all of them."""

from __future__ import annotations

import seglab.models.builder  # noqa: F401 — installs the loader of the families' weight tables
from seglab.fileio.sources import known
from seglab.fileio.sources_table import pretrained_names, shipped_pretrained_names
from seglab.zoo import shipped_configs


def test_every_pretrained_name_in_a_shipped_config_is_registered():
    names = shipped_pretrained_names()
    assert len(names) > 50 and "open-mmlab://resnet50_v1c" in names  # the walk found the configs' names
    missing = [
        f"{configs[0]}{f' (and {len(configs) - 1} more)' if len(configs) > 1 else ''} names '{name}'"
        for name, configs in sorted(names.items())
        if known(name) is None
    ]
    assert not missing, (
        f"{len(missing)} pre-trained name(s) in shipped configs not registered (add them to the family's "
        "*_weights.py, then run `seglab zoo --pretrained-table docs/pretrained.md`): " + "; ".join(missing)
    )


def test_names_are_found_wherever_a_config_puts_them():
    model = dict(
        pretrained="a.pth",
        backbone=dict(init_cfg=dict(type="Pretrained", checkpoint="b.pth", prefix="backbone.")),
        decode_head=dict(init_cfg=[dict(type="Normal", std=0.01), dict(type="Pretrained", checkpoint="c.pth")]),
        auxiliary_head=[dict(pretrained="d.pth"), dict(pretrained=None)],
        neck=dict(init_cfg=dict(type="Kaiming", checkpoint="not-a-pretrained-entry")),
        timm=dict(pretrained=True),
    )
    assert list(pretrained_names(model)) == ["a.pth", "b.pth", "c.pth", "d.pth"]


def test_every_shipped_config_is_walked():
    walked = {config for configs in shipped_pretrained_names().values() for config in configs}
    assert walked <= set(shipped_configs())
    assert "eomt/eomt_dinov2-s_4xb4-20k_cityscapes-1024x1024" in walked  # a name set in an inherited init_cfg
