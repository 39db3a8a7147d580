"""User mistakes from the command line end in one line naming the file or key and the fix, exit code 2."""

from __future__ import annotations

import errno
import os
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from seglab import Config
from seglab.cli import main
from seglab.data.synthetic import DummySpec, make_dummy_dataset
from seglab.data.transforms import LoadAnnotations, LoadImageFromFile
from seglab.engine import runner as runner_module
from seglab.engine.hooks.base import Hook
from seglab.engine.resume import latest_resumable
from seglab.engine.runner import Runner
from seglab.errors import CheckpointError, DatasetError
from seglab.fileio import checkpoint as checkpoint_module
from seglab.fileio.checkpoint import read_checkpoint, save_checkpoint, serialized_size
from tests.conftest import write_tiny_config


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
        ("train_cfg.nonfinite_loss=ignore", "train_cfg.nonfinite_loss='ignore' must be one of ['error', 'skip']"),
    ],
)
def test_a_bad_option_value_names_the_key_the_value_and_the_form(tiny_config, capsys, option, expected):
    assert main(["train", str(tiny_config()), "--cfg-options", option]) == 2
    assert expected in one_line_error(capsys)


# ----------------------------------------------------------------------------- a label of another size
def shrink_label(root: Path, name: str) -> Path:
    path = root / "ann_dir" / "train" / f"{name}.png"
    Image.fromarray(np.array(Image.open(path))[:32, :48]).save(path)
    return path


def test_a_label_of_another_size_than_its_image_is_one_error_naming_both_files_and_sizes(tmp_path, capsys, one_thread):
    root = tmp_path / "data"
    make_dummy_dataset(DummySpec(root, "learnable", 3, train=20, val=2, size=64, seed=1))
    # of 20 files the pre-flight check samples 16: train_0004 and train_0009 are left to the data workers
    late = [shrink_label(root, name) for name in ("train_0004", "train_0009")]
    extra = "train_dataloader = dict(num_workers=2, sampler=dict(shuffle=False))\nval_cfg = None"
    config = write_tiny_config(tmp_path, root, max_iters=2, extra=extra)

    def says_both(err: str, label: Path) -> bool:
        image = root / "img_dir" / "train" / f"{label.stem}.jpg"
        return f"label '{label}' is 32x48 (height x width) but its image '{image}' is 64x64" in err

    assert main(["train", str(config)]) == 2  # found while loading the first batch, in a worker
    assert says_both(one_line_error(capsys), late[0])
    assert main(["check-data", str(config)]) == 1
    errors = [line for line in capsys.readouterr().out.splitlines() if "size mismatch" in line]
    assert len(errors) == 2 and all(says_both(e, label) for e, label in zip(errors, late, strict=True))
    first = shrink_label(root, "train_0000")
    assert main(["train", str(config)]) == 2  # found by the pre-flight sample, before the model trains
    err = one_line_error(capsys)
    assert says_both(err, first) and "'seglab check-data CONFIG' lists every mismatching pair" in err

    results = {"img_path": str(root / "img_dir" / "train" / "train_0000.jpg"), "seg_map_path": str(first)}
    with pytest.raises(DatasetError, match="is 32x48 .* is 64x64"):  # the label loaded first
        LoadImageFromFile()(LoadAnnotations()(dict(results)))


# ----------------------------------------------------------------------------- non-finite losses
class PoisonInput(Hook):
    """Makes the backbone's input NaN at the given iterations (counted from 1), as a diverging run would,
    and keeps the model's state after every iteration."""

    def __init__(self, *iterations: int) -> None:
        self.iterations = set(iterations)
        self.states: dict[int, dict[str, torch.Tensor]] = {}

    def before_train(self, runner) -> None:
        def poison(module, args):
            if module.training and runner.iter + 1 in self.iterations:
                return (args[0] * float("nan"),)
            return None

        runner.model.backbone.register_forward_pre_hook(poison)

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        self.states[runner.iter] = {k: v.clone() for k, v in runner.model.state_dict().items()}


def test_a_nan_loss_stops_training_naming_term_and_iteration_and_keeps_the_last_checkpoint(
    tiny_config, tmp_path, monkeypatch, capsys, one_thread
):
    config = tiny_config(max_iters=6, extra="default_hooks = dict(checkpoint=dict(interval=2))\nval_cfg = None")
    build_hooks = runner_module.build_hooks
    monkeypatch.setattr(runner_module, "build_hooks", lambda *cfgs: [*build_hooks(*cfgs), PoisonInput(3)])
    assert main(["train", str(config)]) == 2
    err = one_line_error(capsys)
    work = tmp_path / "work"
    assert "decode.loss_ce is nan and aux.loss_ce is nan at iteration 3: training stopped" in err
    assert f"the last good checkpoint is '{work / 'iter_2.pth'}'" in err
    assert all(cause in err for cause in ("learning rate", "check-data", "AMP", "nonfinite_loss='skip'"))
    assert sorted(p.name for p in work.glob("*.pth")) == ["iter_2.pth"]
    kept = read_checkpoint(work / "iter_2.pth")["state_dict"]
    assert all(torch.isfinite(v).all() for v in kept.values() if v.is_floating_point())


def test_nonfinite_loss_skip_leaves_weights_and_batchnorm_untouched_and_counts_the_steps(
    tiny_config, tmp_path, capsys, one_thread
):
    config = tiny_config(
        max_iters=5,
        extra="train_cfg = dict(nonfinite_loss='skip')\nval_cfg = None\n"
        "default_hooks = dict(logger=dict(interval=1), checkpoint=dict(interval=5))",
    )
    cfg = Config.fromfile(config)
    poison = PoisonInput(2, 3)
    cfg.custom_hooks = [poison]
    Runner.from_cfg(cfg).train()
    out = capsys.readouterr().out
    assert "decode.loss_ce is nan and aux.loss_ce is nan at iteration 2: step skipped" in out
    assert "at iteration 3: step skipped (train_cfg.nonfinite_loss='skip'); 2 skipped so far" in out
    assert re.search(r"Iter\(train\) \[3/5\].*skipped_steps: 2", out)
    before, after = poison.states[1], poison.states[3]
    assert all(torch.equal(before[k], after[k]) for k in before)  # running statistics included
    assert not all(torch.equal(after[k], poison.states[4][k]) for k in after)
    final = read_checkpoint(tmp_path / "work" / "iter_5.pth")
    assert final["meta"]["skipped_steps"] == 2
    assert all(torch.isfinite(v).all() for v in final["state_dict"].values() if v.is_floating_point())


# ----------------------------------------------------------------------------- failed saves
class FullDisk:
    """A file on a disk that fills up after 1000 bytes."""

    def __init__(self, file) -> None:
        self.file, self.written = file, 0

    def write(self, data: bytes) -> int:
        self.written += len(data)
        if self.written > 1000:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return self.file.write(data)

    def __getattr__(self, name: str):
        return getattr(self.file, name)

    def __enter__(self) -> FullDisk:
        return self

    def __exit__(self, *exc) -> None:
        self.file.close()


def test_a_full_disk_keeps_the_last_checkpoint_and_says_how_many_bytes_were_needed(
    tiny_config, tmp_path, monkeypatch, capsys, one_thread
):
    config = tiny_config(max_iters=4, extra="default_hooks = dict(checkpoint=dict(interval=2))\nval_cfg = None")
    fdopen, binary_opens = os.fdopen, []

    def filling_fdopen(fd, mode="r", *args, **kwargs):
        file = fdopen(fd, mode, *args, **kwargs)
        if "b" not in mode:
            return file
        binary_opens.append(fd)
        return file if len(binary_opens) == 1 else FullDisk(file)  # iter_2.pth fits, iter_4.pth does not

    monkeypatch.setattr(checkpoint_module.os, "fdopen", filling_fdopen)
    assert main(["train", str(config)]) == 2
    err = one_line_error(capsys)
    work = tmp_path / "work"
    assert f"cannot save checkpoint '{work / 'iter_4.pth'}': the disk is full (the checkpoint needs " in err
    needed = int(re.search(r"needs ([\d,]+) bytes", err).group(1).replace(",", ""))
    assert abs(needed - (work / "iter_2.pth").stat().st_size) < 0.01 * needed
    assert re.search(r"[\d,]+ bytes are free in '.+'", err) and "--resume" in err
    assert Path((work / "last_checkpoint").read_text()) == work / "iter_2.pth"
    assert read_checkpoint(work / "iter_2.pth")["meta"]["iter"] == 2
    assert not (work / "iter_4.pth").exists() and not list(work.glob(".*.tmp"))


def test_a_save_without_write_permission_changes_nothing(tmp_path, monkeypatch):
    target = tmp_path / "iter_2.pth"
    target.write_bytes(b"the previous checkpoint")

    def denied(*args, **kwargs):
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES))

    monkeypatch.setattr(checkpoint_module.tempfile, "mkstemp", denied)
    state = {"state_dict": {"w": torch.zeros(1000)}}
    with pytest.raises(CheckpointError, match="permission denied") as info:
        save_checkpoint(state, target)
    assert f"needs {serialized_size(state):,} bytes" in str(info.value) and "make the folder writable" in str(
        info.value
    )
    assert target.read_bytes() == b"the previous checkpoint"


# ----------------------------------------------------------------------------- last_checkpoint lets us down
def test_resume_falls_back_to_the_newest_readable_checkpoint_and_fails_in_one_line_without_one(
    tiny_config, tmp_path, capsys, one_thread
):
    config = tiny_config(max_iters=4, extra="default_hooks = dict(checkpoint=dict(interval=2))\nval_cfg = None")
    assert main(["train", str(config)]) == 0
    work = tmp_path / "work"
    newest, older = work / "iter_4.pth", work / "iter_2.pth"
    newest.rename(work / "elsewhere.pth")  # missing
    capsys.readouterr()
    assert latest_resumable(work)[0] == str(older)
    assert f"names '{newest}', which does not exist; resuming from '{older}'" in capsys.readouterr().out

    (work / "elsewhere.pth").rename(newest)
    newest.write_bytes(newest.read_bytes()[:2000])  # unreadable
    assert main(["train", str(config), "--resume", "--cfg-options", "train_cfg.max_iters=6"]) == 0
    out = capsys.readouterr().out
    assert f"names '{newest}', which cannot be read (a truncated zip file" in out
    assert f"resumed from {older} at iter 2" in out and (work / "iter_6.pth").is_file()

    for path in work.glob("iter_*.pth"):
        path.write_bytes(b"")
    assert main(["train", str(config), "--resume"]) == 2
    err = one_line_error(capsys)
    assert f"cannot resume: '{work / 'last_checkpoint'}' names '{work / 'iter_6.pth'}', which cannot be read" in err
    assert "no other iter_*.pth or epoch_*.pth" in err
