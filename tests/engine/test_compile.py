"""``compile`` (MMEngine's runner key): training and validation run torch.compile'd with eager's losses and
metrics, checkpoints keep plain keys, and a compiled run resumes (with EMA) from them.

torch.compile's default backend (inductor) builds C++ on CPU, about 70 s for the tiny model on a busy
2-core machine; the suite uses ``backend='aot_eager'`` (the same graph capture without code generation).
``SEGLAB_COMPILE_BACKEND=inductor pytest tests/engine/test_compile.py`` checks ``compile=True`` itself."""

from __future__ import annotations

import json
import os

import pytest
import torch

from seglab import Config
from seglab.engine.compile import compile_model, compile_options
from seglab.engine.runner import Runner
from seglab.errors import ConfigError

BACKEND = os.environ.get("SEGLAB_COMPILE_BACKEND", "aot_eager")
COMPILE = "True" if BACKEND == "inductor" else f"dict(backend={BACKEND!r})"
EXTRA = (
    "custom_hooks = [dict(type='EMAHook', momentum=0.5)]\n"
    "default_hooks = dict(logger=dict(interval=1), checkpoint=dict(interval=2))\n"
)


@pytest.fixture
def fresh_dynamo():
    yield
    torch._dynamo.reset()  # later tests start without this test's compiled frames


def run(path, work_dir, resume: str | None = None, compiled: bool = True) -> tuple[Runner, dict, list[dict]]:
    cfg = Config.fromfile(path)
    cfg.work_dir = str(work_dir)
    if not compiled:
        cfg.pop("compile")
    if resume:
        cfg.resume, cfg.load_from = True, resume
    runner = Runner.from_cfg(cfg)
    metrics = runner.train()
    records = [json.loads(line) for line in (runner.log_dir / "vis_data" / "scalars.json").read_text().splitlines()]
    return runner, metrics, [r for r in records if "loss" in r]


def test_compiled_training_matches_eager_and_resumes_with_plain_keys(tiny_config, tmp_path, one_thread, fresh_dynamo):
    path = tiny_config(max_iters=3, extra=EXTRA + f"compile = {COMPILE}\n")
    _, eager_metrics, eager = run(path, tmp_path / "eager", compiled=False)
    runner, metrics, compiled = run(path, tmp_path / "compiled")

    backbone = runner.model.backbone
    assert "forward" in vars(backbone) and hasattr(backbone.forward, "_torchdynamo_orig_callable")  # really compiled
    assert [r["iter"] for r in compiled] == [1, 2, 3]
    for a, b in zip(eager, compiled):
        assert a["loss"] == pytest.approx(b["loss"], rel=1e-4, abs=1e-5)
    assert metrics["mIoU"] == pytest.approx(eager_metrics["mIoU"], abs=0.01)  # validation ran compiled too

    ckpt = torch.load(tmp_path / "compiled" / "iter_2.pth", weights_only=True)
    plain = set(torch.load(tmp_path / "eager" / "iter_2.pth", weights_only=True)["state_dict"])
    assert set(ckpt["state_dict"]) == plain  # no '_orig_mod.' anywhere
    assert {k.removeprefix("module.") for k in ckpt["ema_state_dict"] if k != "steps"} == plain

    _, _, resumed = run(path, tmp_path / "resumed", resume=str(tmp_path / "compiled" / "iter_2.pth"))
    assert [r["iter"] for r in resumed] == [3]  # (logged losses are window means: compare weights instead)
    final = torch.load(tmp_path / "resumed" / "iter_3.pth", weights_only=True)
    straight = torch.load(tmp_path / "compiled" / "iter_3.pth", weights_only=True)
    for part in ("state_dict", "ema_state_dict"):  # the EMA average and the raw weights carried over the resume
        for key, value in straight[part].items():
            torch.testing.assert_close(final[part][key], value, rtol=1e-4, atol=1e-5)


def test_compile_options_follow_mmengine():
    assert compile_options(None) is None and compile_options(False) is None
    assert compile_options(True) == {}
    assert compile_options(dict(backend="aot_eager", dynamic=False)) == {"backend": "aot_eager", "dynamic": False}
    with pytest.raises(ConfigError, match=r"compile: unknown torch.compile argument\(s\) \['target'\]"):
        compile_options(dict(target="train_step"))  # FlexibleRunner's key; Runner passes it on and fails
    with pytest.raises(ConfigError, match="compile='yes' must be True, False or a dict"):
        compile_options("yes")


def test_missing_cpp_compiler_is_one_clear_line(monkeypatch):
    import torch._inductor.cpp_builder as cpp_builder

    def no_compiler():
        raise RuntimeError("no working C++ compiler found")

    monkeypatch.setattr(cpp_builder, "get_cpp_compiler", no_compiler)
    with pytest.raises(ConfigError, match="needs a C\\+\\+ compiler on CPU") as error:
        compile_model(torch.nn.Sequential(torch.nn.Linear(2, 2)), True, torch.device("cpu"))
    assert "\n" not in str(error.value)
