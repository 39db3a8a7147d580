"""Shorter OpenMP spinning for the commands that predict (``seglab.openmp_spinning``): ``seglab test``, ``infer``
and ``benchmark`` set ``GOMP_SPINCOUNT`` before torch is imported, training does not, and a wait policy the
user chose is kept. Each case runs in a fresh process, since OpenMP reads its environment when torch loads."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from seglab.openmp_spinning import SPIN_COUNT, USER_SETTINGS, VARIABLE, openmp_spinning, shorten_openmp_spinning

COMMAND = """
import json, os, sys
from seglab import cli
seen = {}
def record(args):
    seen.update(value=os.environ.get("GOMP_SPINCOUNT"), torch_loaded="torch" in sys.modules)
    return 0
cli.COMMANDS[sys.argv[1]] = record
cli.main(sys.argv[1:])
print(json.dumps(seen))
"""
ARGUMENTS = {
    "test": ["test", "a.py", "a.pth"],
    "infer": ["infer", "a.py", "a.pth", "x.png", "--out", "o"],
    "benchmark": ["benchmark", "a.py"],
    "train": ["train", "a.py"],
}


def run_command(name: str, **env: str) -> dict:
    clean = {k: v for k, v in os.environ.items() if k not in USER_SETTINGS}
    done = subprocess.run(
        [sys.executable, "-c", COMMAND, *ARGUMENTS[name]],
        capture_output=True,
        text=True,
        env={**clean, **env},
        check=True,
    )
    return json.loads(done.stdout)


@pytest.mark.parametrize("name", ["test", "infer", "benchmark"])
def test_predicting_commands_shorten_spinning_before_torch_loads(name):
    assert run_command(name) == {"value": SPIN_COUNT, "torch_loaded": False}


def test_training_keeps_openmp_defaults():
    assert run_command("train")["value"] is None


@pytest.mark.parametrize("env", [{"GOMP_SPINCOUNT": "300000"}, {"OMP_WAIT_POLICY": "ACTIVE"}])
def test_the_users_choice_is_kept(env):
    assert run_command("test", **env)["value"] == env.get("GOMP_SPINCOUNT")


def test_too_late_once_torch_is_loaded(monkeypatch):
    import torch  # noqa: F401 — this process has OpenMP loaded already

    for name in USER_SETTINGS:
        monkeypatch.delenv(name, raising=False)
    assert not shorten_openmp_spinning()
    assert VARIABLE not in os.environ
    assert openmp_spinning() == f"OpenMP's default ({VARIABLE} unset)"
    monkeypatch.setenv(VARIABLE, SPIN_COUNT)
    assert openmp_spinning() == f"{VARIABLE}={SPIN_COUNT}"
