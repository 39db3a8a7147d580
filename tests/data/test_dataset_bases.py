"""The shipped ``_base_/datasets`` files resolve to exactly what MMSegmentation 1.2.2's do.

The record holds ``Config.fromfile(path).to_dict()`` from MMEngine 0.10.7 for each of MMSegmentation
1.2.2's 30 dataset base files, with tuples written as ``{"__tuple__": [...]}``: MMEngine keeps a tuple
written in a config (``crop_size=(512, 1024)``) a tuple, and a list a list, so the comparison checks
the container type too.
"""

from __future__ import annotations

import gzip
import json
from typing import Any

import pytest

from seglab import Config

from ..conftest import REPO

RECORD = REPO / "tests/records/datasets/mmseg_1.2.2_base_datasets.json.gz"
BASES = REPO / "seglab/configs/_base_/datasets"

with gzip.open(RECORD, "rt") as _fh:
    EXPECTED: dict[str, Any] = json.load(_fh)["configs"]


def decode(value: Any) -> Any:
    if isinstance(value, dict):
        if set(value) == {"__tuple__"}:
            return tuple(decode(v) for v in value["__tuple__"])
        return {k: decode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [decode(v) for v in value]
    return value


def differences(ours: Any, theirs: Any, where: str) -> list[str]:
    """Every place where ``ours`` differs from ``theirs`` in keys, container type or value."""
    if isinstance(theirs, dict):
        if not isinstance(ours, dict):
            return [f"{where}: {type(ours).__name__} instead of a dict"]
        found = [f"{where}: keys only here {sorted(set(ours) - set(theirs))}"] if set(ours) - set(theirs) else []
        found += [f"{where}: missing keys {sorted(set(theirs) - set(ours))}"] if set(theirs) - set(ours) else []
        for key in theirs:
            if key in ours:
                found += differences(ours[key], theirs[key], f"{where}.{key}")
        return found
    if isinstance(theirs, list | tuple):
        if type(ours) is not type(theirs) or len(ours) != len(theirs):
            return [f"{where}: {ours!r} != {theirs!r} (a {type(theirs).__name__} of {len(theirs)})"]
        return [d for i, (a, b) in enumerate(zip(ours, theirs)) for d in differences(a, b, f"{where}[{i}]")]
    if ours != theirs or type(ours) is not type(theirs):
        return [f"{where}: {ours!r} != {theirs!r}"]
    return []


SEGLAB_OWN = ["my_data_360x480.py"]  # the CPU-sized DINOv2/EoMT fine-tunes' data, not an MMSegmentation file


def test_every_mmsegmentation_dataset_base_is_shipped_and_no_other():
    assert sorted(p.name for p in BASES.glob("*.py")) == sorted([*EXPECTED, *SEGLAB_OWN])


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_dataset_base_resolves_like_mmengine(name):
    ours = Config.fromfile(BASES / name).to_dict()
    found = differences(ours, decode(EXPECTED[name]), name)
    assert not found, "\n".join(found[:10])
