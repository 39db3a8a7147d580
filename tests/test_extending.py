"""A new backbone, head, dataset, transform and hook need no edit inside seglab (issue #20).

``examples/toy_extension/`` registers one of each from outside the package; its config names them
through ``custom_imports``. The commands run in child processes, as a user runs them, so nothing here
patches seglab and the toy types never enter this session's registries."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import torch

from .conftest import REPO

EXAMPLE = REPO / "examples" / "toy_extension"
CONFIG = EXAMPLE / "toy_config.py"
TOY_TYPES = ("ToyBackbone", "ToyHead", "ToyCsvDataset", "ToyBorderCrop", "ToyLossRecorderHook")


def write_toy_data(root: Path) -> None:
    """The example's own generator (numpy and PIL only), loaded from its file."""
    spec = importlib.util.spec_from_file_location("make_toy_data", EXAMPLE / "make_toy_data.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.write_toy_dataset(root, train=4, val=2, size=32)


# ``seglab A ...`` then ``seglab B ...`` in one child process (one torch import): each is ``seglab.cli.main``, the
# function the ``seglab`` command runs. check-data goes first, so it must import the toy types itself; that
# ``seglab train`` honours custom_imports on its own is tested in tests/engine/test_launchers.py.
RUN_COMMANDS = """
import json, sys
from seglab.cli import main
for argv in json.loads(sys.argv[1]):
    print(f"@@ {argv[0]}", flush=True)
    code = main(argv)
    print(f"@@ exit {code}", flush=True)
    if code:
        sys.exit(code)
"""


def run_seglab(commands: list[list[str]], cwd: Path) -> subprocess.CompletedProcess:
    """Run seglab commands with the example folder on PYTHONPATH, as its README says."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(EXAMPLE), os.environ.get("PYTHONPATH")]))}
    env["OMP_NUM_THREADS"] = "1"  # a tiny model: threads only contend
    return subprocess.run(
        [sys.executable, "-c", RUN_COMMANDS, json.dumps(commands)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_the_toy_extension_lives_outside_seglab():
    """Guards the construction: no toy name is catalogued or mentioned anywhere in the package."""
    for path in (REPO / "seglab").rglob("*.py"):
        text = path.read_text()
        assert "toy_ext" not in text and not any(name in text for name in TOY_TYPES), path


def test_toy_extension_checks_and_trains_from_the_command_line(tmp_path):
    data = tmp_path / "data"
    write_toy_data(data)
    roots = [f"{split}_dataloader.dataset.data_root={data}" for split in ("train", "val", "test")]

    work = tmp_path / "work"
    iters = ["train_cfg.max_iters=2", "train_cfg.val_interval=1000", "default_hooks.checkpoint.interval=2"]
    run = run_seglab(
        [
            ["check-data", str(CONFIG), "--cfg-options", *roots],
            ["train", str(CONFIG), "--work-dir", str(work), "--cfg-options", *roots, *iters],
        ],
        cwd=tmp_path,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    check = run.stdout.split("@@ check-data")[1].split("@@ exit")[0]
    assert "[train] " in check and "4 images, 4 labels" in check  # listed by ToyCsvDataset from train.csv
    assert "square" in check and "0 error(s)" in check  # the dataset's METAINFO names the classes
    assert "@@ exit 0" in run.stdout.split("@@ train")[1]

    records = json.loads((work / "toy_losses.json").read_text())  # written by ToyLossRecorderHook
    assert [r["iter"] for r in records] == [1, 2]
    assert all(r["loss"] > 0 for r in records)
    assert all(r["input_hw"] == [28, 28] for r in records)  # 32x32 images after ToyBorderCrop(border=2)
    state = torch.load(work / "iter_2.pth", map_location="cpu", weights_only=True)
    keys = set(state["state_dict"])
    assert "backbone.stages.0.0.weight" in keys and "decode_head.conv.0.weight" in keys
    assert (work / "last_checkpoint").read_text().strip().endswith("iter_2.pth")
