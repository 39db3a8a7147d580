"""``seglab publish``: a work dir becomes config.py + model.safetensors + README.md that ``init_model(FOLDER)`` or
``init_model('hf://USER/REPO')`` loads with no config argument, to the same outputs; no pickle in the folder; a
published config.py is read as data, never run. The Hub is a local stand-in (127.0.0.1), and the upload is
tested by replacing ``HfApi.create_repo``/``HfApi.upload_folder`` (the library's boundary) with a copy into it."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from huggingface_hub import HfApi

from seglab.cli import main
from seglab.config import Config
from seglab.errors import ConfigError
from seglab.fileio.checkpoint import read_checkpoint, save_checkpoint
from seglab.fileio.pretrained import read_safetensors
from seglab.inference import inference_model, init_model
from seglab.models.builder import build_model
from seglab.publish import is_published_folder, publish, read_data_config

from .conftest import tiny_config_text
from .fileio.hub_server import FakeHub

CLASSES = ("background", "class1", "class2")
PALETTE = [[0, 0, 0], [200, 10, 10], [10, 200, 10]]


@pytest.fixture
def work_dir(tmp_path) -> Path:
    """A work dir as training leaves it: the saved config, iter_2/iter_4 (last), best_mIoU_iter_2, scalars."""
    work = tmp_path / "work"
    source = tmp_path / "tiny.py"
    source.write_text(tiny_config_text(tmp_path / "data", work))
    cfg = Config.fromfile(source)
    assert cfg.dump(work / "tiny.py")
    meta = {"dataset_meta": {"classes": CLASSES, "palette": PALETTE}}
    torch.manual_seed(0)
    state = build_model(cfg.model, load_pretrained=False).state_dict()
    for step in (2, 4):
        state = {k: v + 0.01 * step if v.is_floating_point() else v for k, v in state.items()}  # 2 and 4 differ
        save_checkpoint({"meta": {**meta, "iter": step}, "state_dict": state}, work / f"iter_{step}.pth")
    (work / "best_mIoU_iter_2.pth").write_bytes((work / "iter_2.pth").read_bytes())
    (work / "last_checkpoint").write_text(str(work / "iter_4.pth"))
    logs = work / "20260101_000000" / "vis_data"
    logs.mkdir(parents=True)
    records = [
        {"aAcc": 80.0, "mIoU": 61.25, "step": 2},
        {"loss": 1.0, "step": 4},
        {"aAcc": 70.0, "mIoU": 50.5, "step": 4},
    ]
    (logs / "scalars.json").write_text("\n".join(json.dumps(r) for r in records))
    return work


IMAGE = np.random.default_rng(0).integers(0, 255, (48, 40, 3), dtype=np.uint8)


def logits(model) -> torch.Tensor:
    return inference_model(model, IMAGE)["seg_logits"]


def test_a_published_folder_loads_with_no_config_to_the_same_outputs(work_dir, tmp_path, one_thread):
    out = publish(work_dir, tmp_path / "out")
    assert is_published_folder(out) and sorted(p.name for p in out.iterdir()) == [
        "README.md",
        "config.py",
        "model.safetensors",
    ]
    original = init_model(work_dir / "tiny.py", work_dir / "best_mIoU_iter_2.pth")
    published = init_model(str(out))
    assert torch.equal(logits(published), logits(original))
    assert published.dataset_meta["classes"] == CLASSES and published.dataset_meta["palette"] == PALETTE
    card = (out / "README.md").read_text()
    assert "best_mIoU_iter_2.pth (the best checkpoint" in card and "| mIoU | 61.25 |" in card
    assert "| 1 | class1 | [200, 10, 10] |" in card and f"init_model({str(out)!r})" in card


def test_the_published_folder_holds_no_pickle(work_dir, tmp_path):
    out = publish(work_dir, tmp_path / "out")
    for path in out.iterdir():
        data = path.read_bytes()
        assert not data.startswith((b"PK\x03\x04", b"\x80")), f"{path.name} is a zip/pickle (torch.save) file"
        assert (
            b"torch._utils" not in data and b"_rebuild_tensor" not in data and b"collections\nOrderedDict" not in data
        )
    length = int.from_bytes((out / "model.safetensors").read_bytes()[:8], "little")
    header = json.loads((out / "model.safetensors").read_bytes()[8 : 8 + length])
    assert "decode_head.conv_seg.weight" in header and json.loads(header["__metadata__"]["seglab_dataset_meta"])


def test_checkpoint_choice_latest_without_a_best_and_explicit(work_dir, tmp_path):
    (work_dir / "best_mIoU_iter_2.pth").unlink()
    out = publish(work_dir, tmp_path / "latest")
    assert "iter_4.pth (the latest checkpoint (last_checkpoint)" in (out / "README.md").read_text()
    assert "| mIoU | 50.50 |" in (out / "README.md").read_text()  # the metrics logged at iteration 4
    assert same_weights(out, work_dir / "iter_4.pth")
    chosen = publish(work_dir, tmp_path / "chosen", checkpoint="iter_2.pth")
    assert "iter_2.pth (chosen with --checkpoint" in (chosen / "README.md").read_text()
    assert same_weights(chosen, work_dir / "iter_2.pth") and not same_weights(chosen, work_dir / "iter_4.pth")


def same_weights(folder: Path, checkpoint: Path) -> bool:
    published = read_safetensors(folder / "model.safetensors")
    saved = read_checkpoint(checkpoint)["state_dict"]
    return published.keys() == saved.keys() and all(torch.equal(published[k], saved[k]) for k in saved)


def test_upload_then_init_model_from_the_hub(work_dir, tmp_path, monkeypatch, capsys):
    fake = FakeHub()
    monkeypatch.setenv("HF_ENDPOINT", fake.url)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf_home"))
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    uploads = []

    def upload_folder(self, *, repo_id, folder_path, **kwargs):
        uploads.append(repo_id)
        for path in Path(folder_path).iterdir():
            fake.files[(repo_id, path.name)] = path.read_bytes()
        return type("CommitInfo", (), {"oid": "ab" * 20})()

    monkeypatch.setattr(HfApi, "create_repo", lambda self, repo_id, **kwargs: None)
    monkeypatch.setattr(HfApi, "upload_folder", upload_folder)
    try:
        assert main(["publish", str(work_dir), str(tmp_path / "out"), "--to", "hf://me/tiny-seg"]) == 0
        assert uploads == ["me/tiny-seg"] and f"at commit {'ab' * 20}" in capsys.readouterr().out
        from_hub = init_model("hf://me/tiny-seg")
        saved = read_checkpoint(work_dir / "best_mIoU_iter_2.pth")["state_dict"]
        assert all(torch.equal(value, saved[key]) for key, value in from_hub.state_dict().items())
        assert from_hub.dataset_meta["classes"] == CLASSES
        assert "init_model('hf://me/tiny-seg')" in (tmp_path / "out" / "README.md").read_text()
        fake.files[("me/tiny-seg", "config.py")] += b"custom_imports = dict(imports=['my_module'])\n"
        with pytest.raises(ConfigError, match="custom_imports"):
            init_model("hf://me/tiny-seg@" + "cd" * 20)
    finally:
        fake.close()


@pytest.mark.parametrize(
    "hostile",
    [
        "import os\nos.system('touch {flag}')\n",
        "model = __import__('os').system('touch {flag}')\n",
        "model = dict(type=open('{flag}', 'w'))\n",
        "_base_ = ['{flag}']\n",
        "model = [x for x in ().__class__.__bases__[0].__subclasses__()]\n",
    ],
)
def test_a_published_config_is_read_as_data_and_never_run(work_dir, tmp_path, hostile):
    out = publish(work_dir, tmp_path / "out")
    flag = tmp_path / "ran"
    (out / "config.py").write_text((out / "config.py").read_text() + hostile.format(flag=flag))
    with pytest.raises(ConfigError, match="is not plain data.*never runs code") as err:
        init_model(str(out))
    assert "\n" not in str(err.value) and not flag.exists()


def test_the_saved_data_forms_load_back_equal(tmp_path):
    cfg = Config({"a": {"b": (1, -2.5, float("inf")), "x y": [None, True, "{{_base_.z}}"]}, "c": float("-inf")})
    assert cfg.dump(tmp_path / "c.py")
    loaded = read_data_config(tmp_path / "c.py")
    assert loaded["a"] == cfg["a"] and loaded["c"] == float("-inf")
