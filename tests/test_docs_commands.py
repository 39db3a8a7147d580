"""The docs stay true: every command line in a code block parses against the real parser with flags that exist,
every guide config builds, the imports the guides show resolve, and the quickstart and custom-dataset guides run
command by command on tiny synthetic data."""

from __future__ import annotations

import argparse
import importlib
import re
import shlex
from pathlib import Path

import pytest
import torch

from seglab import Config, build_model
from seglab.cli import main
from seglab.cli_args import build_parser, check_conflicts
from seglab.data.synthetic import DummySpec, make_dummy_dataset

from .conftest import REPO, TINY_MODEL

PAGES = sorted([*REPO.glob("README*.md"), *(REPO / "docs").rglob("*.md")])
TOOLS = {"tools/train.py": "train", "tools/test.py": "test"}
COMMAND = re.compile(r"(seglab|python|torchrun) ")  # a command line in a code block without a language


SHELL = ("bash", "sh", "shell", "console")


def code_blocks(text: str, languages: tuple[str, ...] = SHELL) -> list[str]:
    return [body for lang, body in re.findall(r"^```(\w*)\n(.*?)^```", text, flags=re.S | re.M) if lang in languages]


def command_lines(text: str) -> list[list[str]]:
    """Arguments after ``seglab`` (also ``python -m seglab``, ``torchrun ... -m seglab`` and ``tools/{train,test}.py``)
    of each command line in the page's shell code blocks, comments dropped."""
    found = []
    plain = [line for block in code_blocks(text, ("",)) for line in block.splitlines() if COMMAND.match(line)]
    for block in [*code_blocks(text), "\n".join(plain)]:
        for line in block.replace("\\\n", " ").splitlines():
            words = shlex.split(line, comments=True)
            for i, word in enumerate(words):
                if word == "seglab" and (i == 0 or words[i - 1] in ("-m", "&&")):
                    found.append(words[i + 1 :])
                    break
                if word in TOOLS:
                    found.append([TOOLS[word], *words[i + 1 :]])
                    break
    return [words[: words.index("&&")] if "&&" in words else words for words in found]


def subparser(parser: argparse.ArgumentParser, name: str) -> argparse.ArgumentParser:
    (action,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return action.choices[name]


def check_line(parser: argparse.ArgumentParser, argv: list[str]) -> None:
    """Parse as ``seglab`` would, then check each flag by its full name (argparse also accepts prefixes)."""
    try:
        args = parser.parse_args(argv)
    except SystemExit:
        pytest.fail(f"does not parse: seglab {shlex.join(argv)}")
    known = {s for a in parser._actions for s in a.option_strings}
    if args.command:
        known |= {s for a in subparser(parser, args.command)._actions for s in a.option_strings}
    flags = [word.split("=")[0] for word in argv if word.startswith("-") and not re.match(r"-\d", word)]
    unknown = [flag for flag in flags if flag not in known]
    assert not unknown, f"{unknown} in: seglab {shlex.join(argv)}"
    if args.command:
        check_conflicts(args)


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(REPO)))
def test_every_command_line_parses_with_flags_that_exist(page):
    parser = build_parser()
    for argv in command_lines(page.read_text()):
        check_line(parser, argv)


def test_the_checker_catches_a_prefix_and_a_missing_flag():
    parser = build_parser()
    with pytest.raises(AssertionError, match="--iter"):
        check_line(parser, ["quickstart", "--iter", "5"])  # argparse itself takes it for --iters
    with pytest.raises(pytest.fail.Exception):
        check_line(parser, ["infer", "c.py", "zoo", "a.jpg"])  # --out is required


def config_blocks() -> list[tuple[str, str]]:
    return [
        (f"{page.relative_to(REPO)}#{i}", block)
        for page in PAGES
        for i, block in enumerate(code_blocks(page.read_text(), ("python",)))
        if re.search(r"^_base_ = ", block, flags=re.M)
    ]


@pytest.mark.parametrize(("where", "block"), config_blocks(), ids=[w for w, _ in config_blocks()])
def test_guide_configs_resolve_and_build_on_the_meta_device(where, block, tmp_path):
    from seglab.engine.preflight import check_label_settings

    path = tmp_path / "guide_config.py"
    path.write_text(block)
    cfg = Config.fromfile(path)
    check_label_settings(cfg)  # the dataset and its LoadAnnotations agree on reduce_zero_label
    with torch.device("meta"):
        model = build_model(cfg.model, load_pretrained=False)
    classes = (cfg.get("metainfo") or {}).get("classes")
    if classes:  # every head predicts the guide's classes
        heads = [cfg.model.decode_head, *([cfg.model.get("auxiliary_head")] if cfg.model.get("auxiliary_head") else [])]
        heads = [h for head in heads for h in (head if isinstance(head, list) else [head])]
        assert [h["num_classes"] for h in heads] == [len(classes)] * len(heads), where
        assert model.num_classes == len(classes)


def test_imports_the_guides_show_exist():
    statements = {
        line.strip().strip("`")
        for page in PAGES
        for line in re.findall(r"`?from seglab[\w.]* import [\w, ]+`?", page.read_text())
    }
    assert statements
    for statement in statements:
        module, names = re.match(r"from (\S+) import (.+)", statement).groups()
        for name in names.split(","):
            assert hasattr(importlib.import_module(module), name.strip()), statement


def guide_commands(name: str) -> list[list[str]]:
    return [argv for argv in command_lines((REPO / "docs" / name).read_text()) if "--download" not in argv]


def run(argv: list[str]) -> None:
    assert main(argv) == 0, f"seglab {shlex.join(argv)}"


def test_quickstart_guide_runs_command_by_command(tmp_path, monkeypatch, one_thread):
    """At 2 iterations on 8+4 images: the guide's data folder is reused when present, as quickstart does."""
    monkeypatch.chdir(tmp_path)
    make_dummy_dataset(DummySpec(tmp_path / "work_dirs/quickstart/data", train=8, val=4, size=64))
    shrink = {"600": "2", "200": "2", "100": "2"}
    commands = guide_commands("quickstart.md")
    assert [argv[0] for argv in commands] == ["quickstart", "plot", "test", "infer", "train"]
    for argv in commands:
        argv = [re.sub(r"(?<=[_=])(600|200|100)\b", lambda m: shrink[m.group(1)], word) for word in argv]
        run(argv + (["--iters", "2"] if argv == ["quickstart"] else []))
    assert len(list((tmp_path / "work_dirs/quickstart/val_predictions").glob("*_overlay.png"))) == 4
    assert (tmp_path / "work_dirs/quickstart_2/iter_2.pth").is_file()


TINY_OVERRIDES = f"""
_base_ = ['./guide_config.py']
model = dict(_delete_=True, **{TINY_MODEL!r})
load_from = None
crop_size = (64, 64)
pipeline = [dict(type='LoadImageFromFile'), dict(type='Resize', scale=(64, 64), keep_ratio=True),
            dict(type='LoadAnnotations'), dict(type='PackSegInputs')]
train_dataloader = dict(batch_size=2, num_workers=0, persistent_workers=False, dataset=dict(pipeline=pipeline))
val_dataloader = dict(num_workers=0, persistent_workers=False, dataset=dict(pipeline=pipeline))
test_dataloader = val_dataloader
"""


def test_custom_dataset_guide_runs_command_by_command(tmp_path, monkeypatch, one_thread, capsys):
    """The guide's config with a tiny model on 4+2 images of 64x64, at 2 iterations, offline (no load_from)."""
    monkeypatch.chdir(tmp_path)
    text = (REPO / "docs/custom_dataset.md").read_text()
    guide = next(b for b in code_blocks(text, ("python",)) if b.startswith("# my_config.py"))
    (tmp_path / "guide_config.py").write_text(guide)
    (tmp_path / "my_config.py").write_text(TINY_OVERRIDES)
    short = ["train_cfg.max_iters=2", "param_scheduler.0.end=2", "train_cfg.val_interval=2"]
    short += ["default_hooks.checkpoint.interval=2"]
    commands = guide_commands("custom_dataset.md")
    assert [a[0] for a in commands] == ["make-dummy", "check-data", "check-data", "zoo", "train", "train"] + [
        "plot",
        "test",
        "infer",
    ]
    for argv in commands:
        argv = [re.sub(r"iter_2000\.pth$", "iter_2.pth", word) for word in argv]
        if argv[0] == "make-dummy":
            argv += ["--train", "4", "--val", "2", "--size", "64"]
        if argv[0] == "train":
            argv = [w for w in argv if not re.match(r"[\w.]+=\d+$", w)] + (
                short if "--cfg-options" in argv else ["--cfg-options", *short]
            )
        run(argv)
    out = capsys.readouterr().out
    assert "looks usable" in out
    assert len(list(Path("predictions").glob("*_overlay.png"))) == 2


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(REPO)))
def test_relative_links_lead_to_files(page):
    links = re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", page.read_text())
    broken = [link for link in links if "://" not in link and not (page.parent / link).exists()]
    assert not broken
