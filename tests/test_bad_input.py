"""User mistakes from the command line end in one line naming the file or key and the fix, exit code 2."""

from __future__ import annotations

import pytest

from seglab.cli import main


def one_line_error(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert "Traceback" not in err and len(err.splitlines()) == 1, err
    return err


@pytest.mark.parametrize(
    "content,looks_like",
    [
        (b"<!DOCTYPE html><html><body>Access denied</body></html>", "an HTML page"),
        (b"", "an empty file"),
        (b"PK\x03\x04" + b"\x00" * 200, "a truncated zip file"),
        (b"not found\n", "a text file"),
    ],
)
def test_a_file_that_is_not_a_checkpoint_is_named_with_its_size_and_look(
    tiny_config, tmp_path, capsys, content, looks_like
):
    bad = tmp_path / "model.pth"
    bad.write_bytes(content)
    assert main(["test", str(tiny_config()), str(bad)]) == 2
    err = one_line_error(capsys)
    assert f"checkpoint '{bad}' ({len(content):,} bytes) cannot be read: it looks like {looks_like}" in err
    assert "Download it again" in err


def test_a_truncated_real_checkpoint_says_download_again(tiny_config, tmp_path, capsys):
    import torch

    good = tmp_path / "good.pth"
    torch.save({"state_dict": {"w": torch.zeros(1000)}}, good)
    cut = tmp_path / "cut.pth"
    cut.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    assert main(["test", str(tiny_config()), str(cut)]) == 2
    assert "cannot be read" in one_line_error(capsys)


@pytest.mark.parametrize(
    "option,expected",
    [
        ("train_cfg.max_iters=abc(", "--cfg-options train_cfg.max_iters=abc(: 'abc(' is not a valid value"),
        ("train_cfg.max_iters=abc", "train_cfg.max_iters='abc' must be a whole number >= 0"),
        ("train_cfg.max_iters=2.5", "train_cfg.max_iters=2.5 must be a whole number >= 0"),
    ],
)
def test_a_bad_option_value_names_the_key_the_value_and_the_form(tiny_config, capsys, option, expected):
    assert main(["train", str(tiny_config()), "--cfg-options", option]) == 2
    assert expected in one_line_error(capsys)
