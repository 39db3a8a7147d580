"""``seglab zoo``: the shipped configs with MMSegmentation's published facts, and checkpoint downloads.

No test touches the network: downloads read ``file://`` URLs or a monkeypatched fetch, and the cache is a
temporary ``TORCH_HOME``.
"""

from __future__ import annotations

import hashlib
import json
import urllib.error
from pathlib import Path

import pytest
import torch

from seglab import zoo
from seglab.cli import main
from seglab.errors import CheckpointError, ConfigError
from seglab.inference import init_model

TUTORIAL = "deeplabv3plus_r50-d8_dummy-test"  # seglab's own: no published checkpoint
PSP = "pspnet/pspnet_r50-d8_4xb2-40k_cityscapes-512x1024"


@pytest.fixture
def torch_home(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch_home"))
    monkeypatch.setattr(torch.hub, "_hub_dir", None)
    return tmp_path / "torch_home" / "hub" / "checkpoints"


def tiny_checkpoint(folder: Path, stem: str = "tiny_20200101_000000") -> tuple[Path, dict]:
    """A real (small) checkpoint whose file name carries its SHA-256 prefix, as published files do."""
    state = {"decode_head.conv_seg.weight": torch.full((2, 16, 1, 1), 0.25), "decode_head.conv_seg.bias": torch.ones(2)}
    ckpt = {"meta": {"dataset_meta": {"classes": ("sky", "ground")}}, "state_dict": state}
    folder.mkdir(parents=True, exist_ok=True)
    raw = folder / "raw.pth"
    torch.save(ckpt, raw)
    digest = hashlib.sha256(raw.read_bytes()).hexdigest()[:8]
    return raw.rename(folder / f"{stem}-{digest}.pth"), ckpt


def publish(monkeypatch, name: str, url: str) -> None:
    """Pretend MMSegmentation published ``url`` for ``name`` (a shipped config's family/stem)."""
    published, unpublished = zoo._tables()
    row = {"name": name, "family": name.split("/")[0], "dataset": "Dummy", "weights": url}
    monkeypatch.setattr(zoo, "_tables", lambda: ({**published, name: row}, unpublished))


def test_every_shipped_config_is_listed_with_its_url_or_none(capsys):
    assert main(["zoo", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    shipped = zoo.shipped_configs()
    assert {c["name"] for c in data["configs"]} == set(shipped) and data["summary"]["shipped"] == len(shipped)
    table = zoo.published_table()
    for config in data["configs"]:
        assert config["weights"] == (table[config["name"]]["weights"] if config["name"] in table else None)
    psp = next(c for c in data["configs"] if c["name"] == PSP)
    assert (psp["dataset"], psp["crop"], psp["iters"], psp["mIoU"], psp["mIoU_ms_flip"]) == (
        "Cityscapes",
        [512, 1024],
        40000,
        77.85,
        79.18,
    )
    assert psp["weights"].endswith("/pspnet_r50-d8_512x1024_40k_cityscapes_20200605_003338-2966598c.pth")
    assert main(["zoo"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == len(shipped) + 2 and lines[-1].startswith(f"{data['summary']['shipped_published']} configs")
    for line in lines[1:-1]:
        assert line.endswith(".pth") or line.endswith(zoo.NO_CHECKPOINT), line
    assert any(TUTORIAL in line and line.endswith(zoo.NO_CHECKPOINT) for line in lines)


def test_the_table_holds_every_published_model():
    table, unpublished = zoo.published_table(), zoo.unpublished_table()
    assert len(table) == 626 and len(unpublished) == 55 and not set(table) & set(unpublished)
    assert len({row["family"] for row in table.values()}) == 52
    assert all(row["weights"].startswith("https://download.openmmlab.com/") for row in table.values())


def test_filter_substring_glob_dataset_and_all(capsys, monkeypatch):
    names = [e.name for e in zoo.entries("sem_fpn")]
    assert names and all(n.startswith("sem_fpn/") for n in names)
    assert all(n.endswith("ade20k-512x512") for n in (e.name for e in zoo.entries("*ADE20K-512x512")))
    assert {e.dataset for e in zoo.entries("cityscapes")} >= {"Cityscapes"}
    assert main(["zoo", "no-such-config"]) == 0
    assert "no shipped config matches 'no-such-config'" in capsys.readouterr().out
    shipped = {k: v for k, v in zoo.shipped_configs().items() if k == PSP}
    monkeypatch.setattr(zoo, "shipped_configs", lambda: shipped)
    assert [e.name for e in zoo.entries("pspnet_r50-d8_4xb2-40k_cityscapes-512x1024")] == [PSP]
    assert main(["zoo", "--all", "pidnet-s_*"]) == 0
    out = capsys.readouterr().out
    assert "pidnet/pidnet-s_2xb6-120k_1024x1024-cityscapes (not shipped)" in out and "78.74" in out


def test_download_places_a_verified_checkpoint_in_the_hub_cache(torch_home, tmp_path, monkeypatch, capsys):
    source, ckpt = tiny_checkpoint(tmp_path / "server")
    publish(monkeypatch, "fake/fake_config", source.as_uri())
    assert main(["zoo", "--download", "fake/fake_config"]) == 0
    cached = torch_home / source.name
    assert f"downloaded: {cached}" in capsys.readouterr().out
    assert torch.equal(torch.load(cached)["state_dict"]["decode_head.conv_seg.bias"], torch.ones(2))
    assert main(["zoo", "--download", "fake/fake_config"]) == 0
    assert "already cached" in capsys.readouterr().out
    assert sorted(p.name for p in torch_home.iterdir()) == [source.name]  # no temporary files left


@pytest.mark.parametrize("failure", ["offline", "html"])
def test_failed_download_exits_1_naming_url_and_path(torch_home, monkeypatch, capsys, failure):
    url = "https://download.openmmlab.com/mmsegmentation/v0.5/fake/fake_20200101_000000-0123abcd.pth"
    publish(monkeypatch, "fake/fake_config", url)

    def fetch(url: str, dst: str, progress: bool) -> None:
        if failure == "offline":
            raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")
        Path(dst).write_text("<!DOCTYPE html><html>sign in</html>")

    monkeypatch.setattr(zoo, "_fetch_url", fetch)
    assert main(["zoo", "--download", "fake/fake_config"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and url in err[0] and str(torch_home / "fake_20200101_000000-0123abcd.pth") in err[0]
    assert list(torch_home.iterdir()) == []  # nothing half-written


def test_a_config_without_checkpoint_or_unknown_name_is_a_one_line_error(capsys):
    assert main(["zoo", "--download", TUTORIAL]) == 2
    assert zoo.NO_CHECKPOINT in capsys.readouterr().err
    with pytest.raises(ConfigError, match="did you mean pspnet_r50-d8_4xb2-40k_cityscapes-512x1024"):
        zoo.find_shipped("pspnet_r50-d8_4xb2-40k_cityscape-512x1024")


def test_init_model_by_name_with_the_zoo_checkpoint(torch_home, tmp_path, monkeypatch):
    source, ckpt = tiny_checkpoint(tmp_path / "server", "deeplabv3plus_dummy_20200101_000000")
    publish(monkeypatch, f"deeplabv3plus/{TUTORIAL}", source.as_uri())
    head = {"in_channels": 512, "channels": 16, "c1_in_channels": 64, "c1_channels": 8}
    options = {"model.backbone.depth": 18, "model.auxiliary_head.in_channels": 256, "model.auxiliary_head.channels": 8}
    options |= {f"model.decode_head.{key}": value for key, value in head.items()}
    with pytest.raises(CheckpointError, match=f"run 'seglab zoo --download deeplabv3plus/{TUTORIAL}'"):
        init_model(TUTORIAL, checkpoint="zoo", cfg_options=options)
    torch_home.mkdir(parents=True)
    (torch_home / source.name).write_bytes(source.read_bytes())
    model = init_model(TUTORIAL, checkpoint="zoo", cfg_options=options)
    assert torch.equal(model.decode_head.conv_seg.bias, torch.ones(2))
    assert torch.equal(model.decode_head.conv_seg.weight, torch.full((2, 16, 1, 1), 0.25))
    assert model.dataset_meta["classes"] == ("sky", "ground")
    assert zoo.resolve_checkpoint(f"configs/deeplabv3plus/{TUTORIAL}.py", "zoo") == torch_home / source.name


def test_the_table_ships_as_package_data():
    from .conftest import REPO

    tomllib = pytest.importorskip("tomllib")  # Python >= 3.11

    package_data = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    assert zoo.TABLE_PATH.name in package_data["seglab"] and zoo.TABLE_PATH.parent == REPO / "seglab"


def test_zoo_into_a_pipe_closed_early_ends_quietly():
    """``seglab zoo | head``: the reader leaves after one line; no traceback, the shell's SIGPIPE status."""
    import subprocess
    import sys

    proc = subprocess.Popen([sys.executable, "-m", "seglab", "zoo"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout.readline().startswith(b"config")
    proc.stdout.close()  # the table is larger than a pipe buffer, so the writer meets the closed end
    err = proc.stderr.read()
    assert proc.wait(timeout=60) == 141
    assert b"Traceback" not in err


MODEL_CARD = "https://github.com/facebookresearch/dinov2/blob/main/MODEL_CARD.md"


def test_seglab_only_configs_show_the_result_they_state_with_its_source(capsys):
    """The DINOv2 linear probes carry the MODEL_CARD's multi-scale mIoU; configs stating none show none."""
    assert main(["zoo", "--json", "dinov2"]) == 0
    rows = {c["name"].split("/")[1]: c for c in json.loads(capsys.readouterr().out)["configs"]}
    for size, miou in (("s", 47.2), ("b", 51.3), ("l", 53.1)):
        row = rows[f"dinov2-{size}_linear_8xb2-40k_ade20k-512x512"]
        assert (row["mIoU"], row["result_source"], row["result_note"]) == (miou, MODEL_CARD, "multi-scale test")
        assert row["weights"] is None and not row["in_mmseg"]
    upernet = rows["dinov2-b_upernet_8xb2-160k_ade20k-512x512"]
    assert (upernet["mIoU"], upernet["result_source"]) == (None, None)
    assert main(["zoo", "dinov2-b_linear_8xb2-40k_ade20k-512x512"]) == 0
    line = capsys.readouterr().out.splitlines()[1]
    assert " 51.3* " in line and MODEL_CARD in line and "multi-scale" in line and line.endswith(zoo.NO_CHECKPOINT)


def test_a_stated_result_is_read_as_data_checked_and_not_inherited(tmp_path, monkeypatch):
    folder = tmp_path / "mine"
    folder.mkdir()
    parent, child = folder / "parent.py", folder / "child.py"
    parent.write_text("crop_size = (8, 8)\nzoo_result = dict(mIoU_ms_flip=40.5, source='Some et al., 2031')\n")
    child.write_text("_base_ = './parent.py'\ncrop_size = (16, 16)\n")  # other settings, so other numbers
    monkeypatch.setattr(zoo, "shipped_configs", lambda: {"mine/parent": parent, "mine/child": child})
    rows = {e.name: e for e in zoo.entries()}
    assert (rows["mine/parent"].mIoU_ms_flip, rows["mine/parent"].result_source) == (40.5, "Some et al., 2031")
    assert rows["mine/parent"].mIoU is None and zoo.format_table([rows["mine/parent"]]).count("40.5") == 1
    assert (rows["mine/child"].mIoU_ms_flip, rows["mine/child"].result_source, rows["mine/child"].crop) == (
        None,
        None,
        (16, 16),
    )
    for text, problem in [
        ("zoo_result = dict(mIoU=51.3)", "needs source="),
        ("zoo_result = dict(source='paper')", "needs mIoU="),
        ("zoo_result = dict(mIoU=513, source='paper')", "(0, 100]"),
        ("zoo_result = dict(miou=51.3, source='paper')", "unknown key(s) ['miou']"),
        ("zoo_result = dict(mIoU=float('51.3'), source='paper')", "literal data"),
        ("zoo_result = [51.3]", "not a dict"),
    ]:
        parent.write_text(text + "\n")
        with pytest.raises(ConfigError, match="zoo_result") as err:
            zoo.stated_result(parent)
        assert problem in str(err.value) and str(parent) in str(err.value) and "\n" not in str(err.value), text
