"""``--help`` tells the whole truth: every argument of every command explains itself, the top-level help lists
every command with examples, and options that contradict each other are one-line errors."""

from __future__ import annotations

import argparse
import re

import pytest

from seglab.cli import build_parser, main
from seglab.zoo import config_source

# MMSegmentation habits that change nothing seglab does, so --help does not show them.
SUPPRESSED = {("train", "local_rank"), ("test", "local_rank"), ("test", "wait_time")}


def subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    (action,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(action.choices)


def test_every_argument_of_every_command_has_help():
    parser = build_parser()
    missing, hidden = [], set()
    for name, sub in [("", parser), *subparsers(parser).items()]:
        for action in sub._actions:
            if isinstance(action, argparse._SubParsersAction):
                continue
            if action.help == argparse.SUPPRESS:
                hidden.add((name, action.dest))
            elif not (action.help or "").strip():
                missing.append(f"{name or 'seglab'} {action.option_strings or action.dest}")
    assert not missing
    assert hidden == SUPPRESSED


def test_top_level_help_lists_every_command_and_examples():
    parser = build_parser()
    text = parser.format_help()
    for name, sub in subparsers(parser).items():
        assert re.search(rf"^    {re.escape(name)}\b", text, flags=re.M), name
        assert sub.description, name
    assert "seglab train CONFIG" in text and " zoo photo.jpg --out out/" in text
    name = re.search(r"seglab infer (\S+) zoo", text).group(1)
    assert config_source(name).is_file()  # the example's bare name is a shipped config


def test_config_and_checkpoint_help_name_bare_names_and_zoo():
    commands = subparsers(build_parser())
    seen = set()
    for name, sub in commands.items():
        for action in sub._actions:
            if action.dest == "config":
                assert "bare name" in action.help and "mmseg::" in action.help and "'seglab zoo'" in action.help
                seen.add((name, "config"))
            if action.dest == "checkpoint":
                assert "URL" in action.help and "'zoo'" in action.help and "seglab zoo --download" in action.help
                seen.add((name, "checkpoint"))
    assert {c for c, _ in seen} == {"train", "test", "infer", "export", "benchmark"}
    assert ("train", "checkpoint") not in seen


CONFLICTS = [
    ["train", "c.py", "--resume", "--cfg-options", "resume=False"],
    ["train", "c.py", "--resume", "a.pth", "--cfg-options", "load_from=b.pth"],
    ["test", "c.py", "x.pth", "--show"],
    ["infer", "m.onnx", "a.jpg", "--out", "o", "--tta"],
    ["infer", "m.onnx", "a.jpg", "--out", "o", "--cfg-options", "a=1"],
    ["infer", "c.py", "x.pth", "a.jpg", "--out", "o", "--tta-scales", "1.0", "2.0"],
    ["export", "c.py", "zoo"],
    ["export", "c.py", "https://example.org/x.pth"],
    ["make-dummy", "d", "--style", "tutorial", "--classes", "3"],
    ["check-data", "c.py", "--ignore-index", "0"],
    ["prepare", "--list", "cityscapes"],
    ["zoo", "--download", "pspnet", "--json"],
    ["zoo", "--download", "pspnet", "--all"],
    ["zoo", "pspnet", "--download", "pspnet"],
]


@pytest.mark.parametrize("argv", CONFLICTS, ids=lambda a: " ".join(a))
def test_conflicting_options_are_one_line_errors(argv, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # nothing named in argv exists; the check comes first
    assert main(argv) == 2
    captured = capsys.readouterr()
    err = captured.err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and not captured.out, captured.err
    assert not any(tmp_path.iterdir())


def test_compatible_options_still_parse():
    parser = build_parser()
    args = parser.parse_args(["train", "c.py", "--resume", "--cfg-options", "load_from=b.pth"])
    assert args.resume == "auto"  # MMEngine: resume=True resumes from load_from
    assert parser.parse_args(["test", "c.py", "x.pth", "--show", "--show-dir", "s"]).show


def test_defaults_and_behaviour_the_help_states_are_the_real_ones():
    from seglab.inference import DEFAULT_TTA_SCALES
    from seglab.quickstart import DEFAULT_ITERS

    commands = subparsers(build_parser())
    helps = {name: {a.dest: a.help for a in sub._actions} for name, sub in commands.items()}
    assert f"default {DEFAULT_ITERS}" in helps["quickstart"]["iters"]
    scales = " ".join(str(s) for s in DEFAULT_TTA_SCALES)
    assert "tta_pipeline" in helps["test"]["tta"] and scales in helps["test"]["tta"]  # as Runner.test applies them
    assert scales in helps["infer"]["tta_scales"]
