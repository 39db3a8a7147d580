"""``--amp`` on CPU measures before it commits: bfloat16 only when the probe finds it faster, unless forced."""

from __future__ import annotations

import pytest
import torch

from seglab.cli import build_parser
from seglab.engine import amp
from seglab.engine.amp import ProbeResult, choose_amp_dtype, probe_bfloat16_speed


def probe_with(ratio: float):
    calls = []

    def probe() -> ProbeResult:
        calls.append(1)
        return ProbeResult(float32_s=0.010, bfloat16_s=0.010 * ratio)

    return probe, calls


def test_slower_bfloat16_trains_in_float32_and_says_so(seglab_log):
    caplog = seglab_log
    probe, calls = probe_with(1.8)
    assert choose_amp_dtype(torch.bfloat16, "cpu", {"type": "AmpOptimWrapper"}, probe) is None
    assert calls == [1]
    (line,) = [r.getMessage() for r in caplog.records]
    assert "bfloat16 autocast measured 1.80x slower than float32 on this CPU" in line
    assert "training in float32" in line and "--amp force" in line


def test_faster_bfloat16_is_kept(seglab_log):
    caplog = seglab_log
    probe, _ = probe_with(0.5)
    assert choose_amp_dtype(torch.bfloat16, "cpu", {"type": "AmpOptimWrapper"}, probe) is torch.bfloat16
    assert "2.00x the speed of float32" in caplog.text


@pytest.mark.parametrize(
    "dtype,device,wrapper",
    [
        (torch.bfloat16, "cpu", {"type": "AmpOptimWrapper", "dtype": "bfloat16"}),  # forced: no probe
        (torch.float16, "cuda", {"type": "AmpOptimWrapper"}),  # CUDA: float16 as before
        (None, "cpu", {"type": "OptimWrapper"}),  # no mixed precision asked for
    ],
)
def test_forced_cuda_or_float32_runs_no_probe(dtype, device, wrapper):
    probe, calls = probe_with(3.0)
    assert choose_amp_dtype(dtype, device, wrapper, probe) is dtype
    assert calls == []


def test_amp_flag_forms():
    parser = build_parser()
    assert parser.parse_args(["train", "c.py"]).amp is None
    assert parser.parse_args(["train", "c.py", "--amp"]).amp == "auto"
    assert parser.parse_args(["train", "c.py", "--amp", "force"]).amp == "force"


def test_runner_trains_float32_when_the_probe_says_bfloat16_is_slower(tiny_config, monkeypatch, one_thread):
    from seglab import Config
    from seglab.engine.runner import Runner

    monkeypatch.setattr(amp, "probe_bfloat16_speed", lambda: ProbeResult(0.01, 0.02))
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    cfg = Config.fromfile(tiny_config(max_iters=1))
    cfg.optim_wrapper = {**cfg.optim_wrapper, "type": "AmpOptimWrapper"}
    cfg.val_dataloader = None  # no validation: only the set-up matters
    runner = Runner.from_cfg(cfg)
    runner.train()
    assert runner.optim.amp_dtype is None


def test_the_real_probe_is_quick():
    result = probe_bfloat16_speed(budget_s=0.0, size=8, channels=8)
    assert result.float32_s > 0 and result.bfloat16_s > 0
