"""``benchmarks/gpu_check.py --device cpu`` keeps working: the tutorial model (tiny) trains in float32 and with
--amp, resumes once and is tested, and the table has a row for each. DDP is skipped on CPU (two more gloo
processes would double the test's time); on a GPU machine the script runs it over the visible GPUs."""

from __future__ import annotations

import subprocess
import sys

from .conftest import REPO


def test_gpu_check_runs_on_cpu(tmp_path):
    out = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "gpu_check.py"), "--device", "cpu", "--models", "tutorial",
         "--tiny", "--iters", "2", "--crop", "64", "--batch", "2", "--workers", "0", "--json", str(tmp_path / "r.json")],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-3000:]
    for run in ("float32", "--amp", "resumed", "test (whole command)"):
        assert f"| tutorial | seglab | {run} |" in out.stdout
    import json

    results = json.loads((tmp_path / "r.json").read_text())["results"]["tutorial"]["seglab"]
    assert results["float32"]["loss"] > 0 and results["resumed"]["loss"] > 0
    assert results["test"]["mIoU"] is not None
