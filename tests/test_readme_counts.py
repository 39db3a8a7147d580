"""Counts the READMEs and guides state (families, configs) come from the tree, not from memory.

A family is a folder of ``seglab/configs/`` other than ``_base_``; a shipped config is a ``.py`` file in
one; MMSegmentation's configs are those the zoo table (``seglab/zoo_table.json.gz``) names. Every count in
the READMEs and docs/ is written in one of the phrasings below and must equal what they count now; a count
in another phrasing fails, so no number escapes the check. The number of tests is stated nowhere: it drifts
with every commit."""

from __future__ import annotations

import functools
import re
from pathlib import Path

import pytest

from seglab import zoo

from .conftest import REPO

CONFIGS = REPO / "seglab" / "configs"
# docs/zoo.md counts MMSegmentation's metafile rows (published models, their families), not shipped files
DOCUMENTS = ["README.md", "README_zh-CN.md"] + [
    str(p.relative_to(REPO)) for p in sorted((REPO / "docs").rglob("*.md")) if p.name != "zoo.md"
]
N = r"(\d[\d,]*)"
# phrasing -> what it counts (a key of counts())
PHRASES = {
    rf"{N} (?:model )?families": "families",
    rf"{N} 个模型系列": "families",
    rf"MMSegmentation's {N} configs": "mmseg_shipped",
    rf"MMSegmentation 的 {N} 个配置": "mmseg_shipped",
    rf"{N} shipped configs": "shipped",
    rf"{N} config files in": "shipped",
    rf"MMSegmentation 1\.2\.2's {N} config files": "mmseg_total",
}
ANY_CONFIG_COUNT = rf"\b{N} (?:shipped )?config(?:s| files)\b|{N} 个配置"


@functools.cache
def shipped() -> dict[str, int]:
    """Family folder -> number of config files in it."""
    return {
        folder.name: len(list(folder.rglob("*.py")))
        for folder in sorted(CONFIGS.iterdir())
        if folder.is_dir() and folder.name != "_base_" and any(folder.rglob("*.py"))
    }


@functools.cache
def counts() -> dict[str, int]:
    summary = zoo.summary()
    return {
        "families": len(shipped()),
        "shipped": sum(shipped().values()),
        "mmseg_shipped": summary["shipped_published"] + summary["shipped_unpublished"],
        "mmseg_total": summary["published"] + summary["unpublished"],
    }


def stated(text: str) -> tuple[list[tuple[str, str, int]], list[str]]:
    """(phrase, kind, number) for every checked count in ``text``, and the config counts no phrasing reads."""
    flat = " ".join(text.split())  # a phrase may break across lines
    found, covered = [], set()
    for phrase, kind in PHRASES.items():
        for match in re.finditer(phrase, flat):
            found.append((match.group(0), kind, int(match.group(1).replace(",", ""))))
            covered.add(match.start(1))
    unchecked = [m.group(0) for m in re.finditer(ANY_CONFIG_COUNT, flat) if m.start(m.lastindex) not in covered]
    return found, unchecked


@pytest.mark.parametrize("name", DOCUMENTS)
def test_stated_family_and_config_counts_match_the_tree(name):
    found, unchecked = stated((REPO / name).read_text())
    actual = counts()
    wrong = [(phrase, f"now {actual[kind]}") for phrase, kind, number in found if number != actual[kind]]
    assert not wrong, f"{name}: {wrong}"
    assert not unchecked, f"{name}: {unchecked} — write the count in a phrasing of {list(PHRASES)}"


def test_the_readmes_and_the_family_page_state_the_counts():
    """The counts are not dropped silently (then the test above would check nothing)."""
    for name, kinds in [
        ("README.md", {"families", "mmseg_shipped"}),
        ("README_zh-CN.md", {"families", "mmseg_shipped"}),
        ("docs/model_families.md", {"families", "mmseg_shipped", "mmseg_total"}),
    ]:
        assert {kind for _, kind, _ in stated((REPO / name).read_text())[0]} == kinds, name


def test_the_family_table_has_one_row_per_folder_with_its_count():
    rows = {}
    for line in (REPO / "docs" / "model_families.md").read_text().splitlines():
        match = re.match(r"\| ([a-z0-9_]+) \| (\d+)\b", line)
        if match:
            rows[match.group(1)] = int(match.group(2))
    assert rows == shipped()


def test_the_base_file_counts_match_the_base_folders():
    """docs/model_families.md says how many ``_base_/models`` and ``_base_/datasets`` files ship."""
    text = " ".join((REPO / "docs" / "model_families.md").read_text().split())
    for kind in ("models", "datasets"):
        match = re.search(rf"all (\d+) `_base_/{kind}/\*\.py`", text)
        assert match and int(match.group(1)) == len(list((CONFIGS / "_base_" / kind).glob("*.py"))), kind


def test_no_test_count_is_stated():
    for name in ("README.md", "README_zh-CN.md"):
        text = " ".join((REPO / name).read_text().split())
        assert not re.search(r"\d[\d,]* (?:tests|个测试)", text), name


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("seglab is the whole loop with 51 model families", [("families", 51)]),
        ("seglab has MMSegmentation's 677 configs with", [("mmseg_shipped", 677)]),
        ("有 51 个模型系列；seglab 有 MMSegmentation 的 677 个配置", [("families", 51), ("mmseg_shipped", 677)]),
        ("Of MMSegmentation 1.2.2's 681 config files, four", [("mmseg_total", 681)]),
        ("reloads all 683 shipped configs and", [("shipped", 683)]),
    ],
)
def test_the_phrasings_read_the_counts_we_write(text, expected):
    found, unchecked = stated(text)
    assert sorted((kind, number) for _, kind, number in found) == sorted(expected) and not unchecked


def test_a_count_in_another_phrasing_is_caught():
    assert stated("it ships 680 configs in all")[1] == ["680 configs"]


def test_shipped_counts_are_plausible():
    """A broken folder walk (empty, or counting _base_) would make every comparison above vacuous."""
    families = shipped()
    assert "_base_" not in families and "deeplabv3plus" in families
    assert sum(families.values()) > len(families) > 40
    assert Path(CONFIGS / "_base_").is_dir()
