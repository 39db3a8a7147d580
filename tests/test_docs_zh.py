"""The Chinese README and guides say what the English ones say: the same two commands, the same command table,
the tutorial's shipped config, the four guides' commands, configs and caveats, and command lines the CLI accepts."""

from __future__ import annotations

import re
import shlex

import pytest

from seglab import Config
from seglab.cli import build_parser

from .conftest import REPO

ZH_PAGES = [REPO / "README_zh-CN.md", *sorted((REPO / "docs" / "zh_cn").glob("*.md"))]


def blocks(text: str, language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", text, flags=re.S)


def table_commands(text: str) -> list[str]:
    """The `seglab ...` spans in the first cell of each command-table row."""
    rows = [line for line in text.splitlines() if line.startswith("| `seglab ")]
    return [span for row in rows for span in re.findall(r"`(seglab [^`]*)`", re.split(r"(?<!\\)\|", row)[1])]


def test_zh_readme_opens_with_the_same_two_commands():
    english, chinese = ((REPO / name).read_text() for name in ("README.md", "README_zh-CN.md"))
    assert blocks(chinese, "bash")[0] == blocks(english, "bash")[0]


def test_zh_command_table_lists_every_command_of_the_english_one():
    english, chinese = ((REPO / name).read_text() for name in ("README.md", "README_zh-CN.md"))
    assert table_commands(english) and table_commands(chinese) == table_commands(english)


def test_each_language_links_the_other():
    assert "README_zh-CN.md" in (REPO / "README.md").read_text()
    assert "(README.md)" in (REPO / "README_zh-CN.md").read_text()
    for page in (REPO / "docs" / "zh_cn").glob("*.md"):
        assert "../../README.md" in page.read_text(), page.name


def test_tutorial_config_is_the_shipped_one(tmp_path):
    """The guide shows the shipped tutorial config without its comments and repeated defaults: both resolve alike."""
    text = (REPO / "docs" / "zh_cn" / "finetune.md").read_text()
    (config,) = blocks(text, "python")
    folder = tmp_path / "configs" / "mine"
    folder.mkdir(parents=True)
    (folder / "tutorial.py").write_text(config)
    ours = Config.fromfile(folder / "tutorial.py").to_dict()
    assert ours.pop("metainfo") == ours["train_dataloader"]["dataset"]["metainfo"]  # a variable the guide adds
    shipped = Config.fromfile(REPO / "configs" / "deeplabv3plus" / "deeplabv3plus_r50-d8_dummy-test.py").to_dict()
    assert ours == shipped


@pytest.mark.parametrize("page", ZH_PAGES, ids=lambda p: p.name)
def test_every_seglab_command_line_parses(page):
    parser = build_parser()
    lines = [line for block in blocks(page.read_text(), "bash") for line in block.splitlines()]
    for line in (line.split("#")[0].strip() for line in lines):
        if line.startswith("seglab "):
            parser.parse_args(shlex.split(line)[1:])


GUIDES = ["quickstart.md", "custom_dataset.md", "predict.md", "migrating_from_mmsegmentation.md", "timm_backbones.md"]


def code_spans(text: str) -> set[str]:
    """Inline `code` outside code blocks: the commands, keys, file names and values a page's prose names."""
    prose = re.sub(r"^```.*?^```", "", text, flags=re.S | re.M)
    return {" ".join(span.split()) for span in re.findall(r"`([^`]+)`", prose)}


@pytest.mark.parametrize("name", GUIDES)
def test_zh_guide_says_what_the_english_one_says(name):
    """The same code blocks (commands and configs), the same keys, flags and values in the prose, and each page
    links the other."""
    english, chinese = (REPO / "docs" / name).read_text(), (REPO / "docs" / "zh_cn" / name).read_text()
    every = r"\w*"
    assert blocks(chinese, every) == blocks(english, every) != []
    assert code_spans(chinese) == code_spans(english)
    assert f"(zh_cn/{name})" in english and f"(../{name})" in chinese


def test_zh_pages_keep_the_checks_order_and_the_resume_caveats():
    check = (REPO / "docs" / "zh_cn" / "check_data.md").read_text()
    assert "构建模型之后" in check and "构建模型之前也会" not in check  # train checks run once the model is built
    for page in ("README_zh-CN.md", "docs/zh_cn/finetune.md"):
        text = (REPO / page).read_text()
        assert "world size" in text and "iter_*.pth" in text, page  # what still changes a resumed run; fallback
    assert "内容如下" not in (REPO / "docs" / "zh_cn" / "finetune.md").read_text()
