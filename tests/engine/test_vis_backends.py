"""visualizer.vis_backends: one short CLI run logs to LocalVisBackend, TensorBoard, W&B (offline) and MLflow
(a local store), and each is read back with its own library's reader."""

from __future__ import annotations

import json
import struct
import sys
from pathlib import Path

import cv2
import mlflow  # the test extra installs all three clients (mlflow-skinny); imported once per module: slow
import numpy as np
import pytest
import torch
import wandb  # noqa: F401

from seglab.cli import main
from seglab.engine import vis_backends
from seglab.errors import ConfigError
from tests.conftest import write_tiny_config

ALL_BACKENDS = (
    "visualizer = dict(type='SegLocalVisualizer', name='visualizer', vis_backends=["
    "dict(type='LocalVisBackend'), dict(type='TensorboardVisBackend'), "
    "dict(type='WandbVisBackend', init_kwargs=dict(project='seglab-test', name='tiny'), "
    "define_metric_cfg=dict(mIoU='max')), "
    "dict(type='MLflowVisBackend', exp_name='seglab-test', run_name='tiny', tags=dict(team='seg'), "
    "params=dict(note='vis'), tracked_config_keys=['model', 'train_cfg'])])\n"
    "train_cfg = dict(max_iters=3, val_interval=3)\n"
    "train_dataloader = dict(batch_size=2)\n"
    "val_dataloader = dict(dataset=dict(indices=4))\n"
    "default_hooks = dict(logger=dict(interval=1), "
    "visualization=dict(type='SegVisualizationHook', draw=True, interval=1))\n"
)
VAL_IMAGES = 4  # the first 4 of learnable_data's validation images, every one drawn (interval=1) at iteration 3


@pytest.fixture(scope="module")
def offline(tmp_path_factory):
    """Neither client may reach the network or write outside tmp."""
    home = tmp_path_factory.mktemp("clients")
    with pytest.MonkeyPatch.context() as mp:
        for key, value in {
            "WANDB_MODE": "offline",
            "WANDB_SILENT": "true",
            "WANDB_DIR": str(home),
            "WANDB_CONFIG_DIR": str(home / "config"),
            "WANDB_CACHE_DIR": str(home / "cache"),
            "WANDB_DATA_DIR": str(home / "data"),
            "MLFLOW_DISABLE_TELEMETRY": "true",
            "DO_NOT_TRACK": "true",
            "MLFLOW_ALLOW_FILE_STORE": "true",
        }.items():
            mp.setenv(key, value)
        mp.delenv("MLFLOW_TRACKING_URI", raising=False)
        yield mp


@pytest.fixture(scope="module")
def run(tmp_path_factory, learnable_data, offline) -> Path:
    """One 3-iteration training run from the CLI with all four backends; returns its vis_data folder."""
    folder = tmp_path_factory.mktemp("vis")
    path = write_tiny_config(folder, learnable_data, extra=ALL_BACKENDS)
    offline.chdir(folder)  # W&B's log_code takes the .py files of the working directory, as in MMEngine
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a tiny model on a shared machine: see conftest.one_thread
    try:
        assert main(["train", str(path)]) == 0
    finally:
        torch.set_num_threads(threads)
    (vis_dir,) = (folder / "work").glob("*/vis_data")
    return vis_dir


def test_local_backend_writes_scalars_pictures_and_config(run):
    records = [json.loads(line) for line in (run / "scalars.json").read_text().splitlines()]
    assert [r["step"] for r in records if "loss" in r] == [1, 2, 3]
    (val,) = [r for r in records if "mIoU" in r]
    assert val["step"] == 3
    assert (run / f"{run.parent.name}.json").read_text() == (run / "scalars.json").read_text()
    pictures = sorted(p.name for p in (run / "vis_image").glob("*.png"))
    assert len(pictures) == VAL_IMAGES and all(p.startswith("val_") and p.endswith("_3.png") for p in pictures)
    assert "max_iters=3" in (run / "config.py").read_text().replace(" ", "")


def test_tensorboard_holds_scalars_pictures_and_config(run):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(run), size_guidance={"images": 0, "scalars": 0, "tensors": 0}).Reload()
    tags = events.Tags()
    assert [e.step for e in events.Scalars("loss")] == [1, 2, 3]
    assert [e.step for e in events.Scalars("mIoU")] == [3]
    assert 0 <= events.Scalars("mIoU")[0].value <= 100
    assert len(tags["images"]) == VAL_IMAGES and all(tag.startswith("val_") for tag in tags["images"])
    image = events.Images(tags["images"][0])[0]
    drawn = cv2.imdecode(np.frombuffer(image.encoded_image_string, np.uint8), cv2.IMREAD_COLOR)
    assert image.step == 3 and np.array_equal(drawn, cv2.imread(str(run / "vis_image" / f"{tags['images'][0]}_3.png")))
    (text,) = [t for t in tags["tensors"] if t.startswith("config")]
    assert b"EncoderDecoder" in events.Tensors(text)[0].tensor_proto.string_val[0]


def wandb_records(path: Path):
    """The protobuf records of an offline W&B run file (W&B's LevelDB-log framing: 32 KiB blocks of
    checksum/length/type headed chunks, after a 7-byte ':W&B' file header)."""
    from wandb.proto.wandb_internal_pb2 import Record

    data, block = path.read_bytes(), 32768
    assert data[:4] == b":W&B"
    pos, payload = 7, b""
    while pos + 7 <= len(data):
        left = block - pos % block
        _, length, kind = struct.unpack("<IHB", data[pos : pos + 7])
        if left < 7 or kind == 0:  # block trailer / padding
            pos += left
            continue
        chunk, pos = data[pos + 7 : pos + 7 + length], pos + 7 + length
        payload = chunk if kind in (1, 2) else payload + chunk  # FULL, FIRST | MIDDLE, LAST
        if kind in (1, 4):
            yield Record.FromString(payload)


def test_wandb_offline_run_holds_metrics_config_and_pictures(run):
    (run_dir,) = (run / "wandb").glob("offline-run-*")  # init_kwargs.dir defaults to vis_data, as MMEngine
    history, config, summary, artifacts = [], {}, {}, []
    for record in wandb_records(next(run_dir.glob("*.wandb"))):
        kind = record.WhichOneof("record_type")
        if kind == "history":
            history.append({"/".join(i.nested_key) or i.key: json.loads(i.value_json) for i in record.history.item})
        elif kind == "config":
            config.update({u.key: json.loads(u.value_json) for u in record.config.update})
        elif kind == "summary":
            summary.update({"/".join(u.nested_key) or u.key: json.loads(u.value_json) for u in record.summary.update})
        elif kind == "artifact":
            artifacts.append((record.artifact.type, [c.path for c in record.artifact.manifest.contents]))
    assert [row["iter"] for row in history if "loss" in row] == [1, 2, 3]
    assert sum("mIoU" in row for row in history) == 1
    assert "max" in summary["mIoU"]  # define_metric_cfg=dict(mIoU='max')
    pictures = [row for row in history if any(key.endswith("/_type") for key in row)]
    assert len(pictures) == VAL_IMAGES
    assert all(row[next(k for k in row if k.endswith("/_type"))] == "image-file" for row in pictures)
    assert len(list((run_dir / "files" / "media" / "images").glob("val_*.png"))) == VAL_IMAGES
    assert config["model"]["type"] == "EncoderDecoder" and config["train_cfg"]["max_iters"] == 3
    (code,) = [paths for kind, paths in artifacts if kind == "code"]  # run.log_code: the working directory's .py
    assert {"tiny.py", "tiny_base.py"} <= set(code)


def test_mlflow_run_holds_metrics_params_and_artifacts(run):
    client = mlflow.tracking.MlflowClient(tracking_uri=run.as_uri())  # MMEngine's default store: vis_data
    (found,) = client.search_runs([client.get_experiment_by_name("seglab-test").experiment_id])
    run_id = found.info.run_id
    assert found.info.run_name == "tiny" and found.data.tags["team"] == "seg" and found.info.status == "FINISHED"
    assert [m.step for m in client.get_metric_history(run_id, "loss")] == [1, 2, 3]
    assert [m.step for m in client.get_metric_history(run_id, "mIoU")] == [3]
    params = found.data.params
    assert params["note"] == "vis" and params["model.type"] == "EncoderDecoder" and params["train_cfg.max_iters"] == "3"
    assert not any(key.startswith("optim_wrapper") for key in params)  # tracked_config_keys
    top = [a.path for a in client.list_artifacts(run_id)]
    pictures = [a.path for a in client.list_artifacts(run_id, "vis_image")]
    assert "config.py" in top and len(pictures) == VAL_IMAGES
    ts = run.parent.name
    logged = [a.path for a in client.list_artifacts(run_id, f"{ts}/vis_data")]
    assert f"{ts}/vis_data/scalars.json" in logged  # work_dir files ending in artifact_suffix, at the end
    assert f"{ts}/{ts}.log" in [a.path for a in client.list_artifacts(run_id, ts)]
    assert not any(name.endswith("meta.yaml") for name in logged)  # the store itself is not an artifact


@pytest.mark.parametrize("backend, pip", [("WandbVisBackend", "wandb"), ("MLflowVisBackend", "mlflow")])
def test_missing_client_package_stops_before_training(tiny_config, monkeypatch, capsys, backend, pip):
    monkeypatch.setitem(sys.modules, pip, None)  # as if not installed
    path = tiny_config(max_iters=1, extra=f"visualizer = dict(vis_backends=[dict(type='{backend}')])")
    assert main(["train", str(path)]) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert (
        f"visualizer.vis_backends[0]: {backend}" in line
        and f"pip install {pip} (or, in your seglab clone, pip install -e '.[{pip}]')" in line
    )
    assert not list((path.parent / "work").rglob("*.pth"))


def test_unknown_backend_type_lists_the_known_ones(tiny_config, capsys):
    path = tiny_config(max_iters=1, extra="visualizer = dict(vis_backends=[dict(type='NeptuneVisBackend')])")
    assert main(["train", str(path)]) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert "'NeptuneVisBackend'" in line and all(name in line for name in vis_backends.BACKENDS)


def test_only_rank_zero_builds_backends_but_every_rank_checks_packages(tmp_path, monkeypatch):
    from seglab import dist
    from seglab.engine.log import ScalarWriter

    monkeypatch.setattr(dist, "is_main", lambda: False)
    cfg = {"visualizer": {"vis_backends": [dict(type="LocalVisBackend"), dict(type="TensorboardVisBackend")]}}
    writer = ScalarWriter.from_cfg(cfg, tmp_path, tmp_path / "vis_data", "ts")
    writer.write({"loss": 1.0, "step": 1})
    writer.add_image("val_a.png", np.zeros((4, 8, 3), np.uint8), 1)
    assert writer.backends == [] and not (tmp_path / "vis_data").exists()
    monkeypatch.setitem(sys.modules, "tensorboard", None)
    with pytest.raises(
        ConfigError, match=r"pip install tensorboard \(or, in your seglab clone, pip install -e '\.\[tensorboard\]'\)"
    ):
        ScalarWriter.from_cfg(cfg, tmp_path, tmp_path / "vis_data", "ts")


def test_every_record_key_reaches_every_backend(tmp_path):
    """Per-class IoU.<class> and val/loss keys pass through the fan-out untouched (MLflow: names it accepts)."""
    local = vis_backends.LocalVisBackend(str(tmp_path))
    record = {"IoU.road": 0.5, "IoU.person, individual": 0.25, "val/loss": 0.7, "mIoU": 0.4}
    from seglab.engine.log import ScalarWriter

    ScalarWriter([local], "ts").write({**record, "step": 7})
    assert json.loads((tmp_path / "scalars.json").read_text()) == {**record, "step": 7}
    assert vis_backends.flatten({"a": {"b": [dict(c=1)], "d": [1, 2]}}) == {"a.b.0.c": 1, "a.d": [1, 2]}
