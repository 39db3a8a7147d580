"""Every shipped config against MMSegmentation 1.2.2: its parameter key -> shape list, and for one config per
family a fresh model's weight statistics (records: ``tests/records/zoo/*_keys.json.gz`` and
``*_init_stats.json.gz``, one pair per group of families). Numeric fixtures, learning and the command line are
tested in each family group's own file."""

from __future__ import annotations

import re

import pytest
import torch

from seglab import Config, zoo
from seglab.fileio import checkpoint
from seglab.fileio.checkpoint import named_url
from seglab.models.builder import build_on_meta

from ..conftest import REPO
from .zoo_parity import RECORDS, assert_init_statistics, config_path, read_record, shipped_configs

MMSEG_CONFIGS = set(zoo.published_table()) | set(zoo.unpublished_table())  # MMSegmentation 1.2.2's config files
# seglab's own configs (Hub-model variants, DINOv2/DINOv3/EoMT, the tutorial's) have no MMSegmentation record:
# their own test files check them
SHIPPED = [
    name for name in shipped_configs(tuple(p.name for p in (REPO / "configs").iterdir())) if name in MMSEG_CONFIGS
]
FAMILIES = tuple(sorted({name.split("/")[0] for name in SHIPPED}))


def key_lists() -> dict[str, list]:
    """config name -> MMSegmentation's [[key, shape], ...], over every key record."""
    lists = {}
    for path in sorted(RECORDS.glob("*_keys.json.gz")):
        record = read_record(path.name)
        lists.update({name: record["lists"][list_id] for name, list_id in record["configs"].items()})
    return lists


def init_records() -> dict[str, tuple[list, int]]:
    """config name -> (rows of [key, numel, mean, std], seeds), over every init-statistics record."""
    records = {}
    for path in sorted(RECORDS.glob("*_init_stats.json.gz")):
        record = read_record(path.name)
        records.update({name: (rows, record["seeds"]) for name, rows in record["configs"].items()})
    return records


KEYS = key_lists()
INIT = init_records()


def test_every_shipped_config_has_a_record_and_every_family_an_init_record():
    assert [name for name in SHIPPED if name not in KEYS] == []
    in_test_init = {"deeplabv3", "deeplabv3plus"}  # tests/models/test_init.py (records/init_stats/) has R18/R50/R101
    assert sorted({name.split("/")[0] for name in INIT} | in_test_init) == list(FAMILIES)


_BUILT: dict[str, dict[str, list[int]]] = {}  # configs of the same model (40k/80k, two datasets ...) build once


@pytest.mark.parametrize("name", SHIPPED)
def test_config_builds_mmsegmentations_keys_and_shapes(name):
    model = Config.fromfile(config_path(name)).model
    if repr(model) not in _BUILT:
        _BUILT[repr(model)] = {k: list(v.shape) for k, v in build_on_meta(model).state_dict().items()}
    ours, theirs = _BUILT[repr(model)], dict(KEYS[name])
    missing, extra = sorted(set(theirs) - set(ours)), sorted(set(ours) - set(theirs))
    assert not missing and not extra, f"missing {missing[:5]}, unexpected {extra[:5]}"
    assert {k: v for k, v in ours.items() if theirs[k] != v} == {}


@pytest.mark.parametrize("name", sorted(INIT))
def test_fresh_model_matches_mmsegmentation_init_statistics(name, one_thread):
    rows, seeds = INIT[name]
    assert_init_statistics(name, rows, seeds)


# ------------------------------------------------------------------------------------------ named downloads
NAMED = re.compile(r"""['"]((?:open-mmlab|torchvision|mmcls)://[^'"]+)['"]""")


def test_every_named_checkpoint_in_a_shipped_config_has_a_url():
    """``open-mmlab://``, ``torchvision://`` and ``mmcls://`` names resolve without a network (MMEngine's URLs)."""
    names = {m for path in (REPO / "configs").rglob("*.py") for m in NAMED.findall(path.read_text())}
    assert len(names) >= 13
    for source in sorted(names):
        assert named_url(source).startswith("https://download."), source


def test_an_mmcls_checkpoint_gives_its_backbone_tensors(tmp_path, monkeypatch):
    """As MMEngine reads ``mmcls://``: the classifier's ``backbone.*`` tensors with the prefix stripped."""
    path = tmp_path / "mobilenet_v2.pth"
    torch.save({"state_dict": {"backbone.conv1.weight": torch.ones(2), "head.fc.weight": torch.zeros(3)}}, path)
    monkeypatch.setattr(checkpoint, "fetch", lambda source: path)
    assert list(checkpoint.read_pretrained("mmcls://mobilenet_v2")) == ["conv1.weight"]
    assert list(checkpoint.read_pretrained(str(path))) == ["backbone.conv1.weight", "head.fc.weight"]
