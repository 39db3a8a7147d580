"""Scenes: a synthetic 4-band GeoTIFF with a CRS, a transform and nodata, cut with ``seglab tile``, a tiny 4-band
model trained on the tiles, ``seglab infer`` on the whole scene (georeference kept, labels equal to a whole-image
forward under the centre-crop rule, nodata as the ignore index) and an interrupted run that resumes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

rasterio = pytest.importorskip("rasterio")
from rasterio.transform import from_origin  # noqa: E402

from seglab.cli import main  # noqa: E402
from seglab.errors import SeglabError  # noqa: E402
from seglab.fileio import raster  # noqa: E402
from seglab.inference import init_model  # noqa: E402
from seglab.scene_inference import infer_scene, predict_windows  # noqa: E402
from tests.test_remote_sensing import TINY_4BAND  # noqa: E402

CRS = "EPSG:32633"
TRANSFORM = from_origin(500000.0, 4000000.0, 10.0, 10.0)
NODATA = 0


def write_scene(folder: Path, height: int = 96, width: int = 128) -> tuple[Path, Path, np.ndarray]:
    """A 4-band uint8 scene whose class (the label raster) shows in bands 1 and 4, with a nodata corner."""
    rng = np.random.default_rng(0)
    label = np.zeros((height, width), np.uint8)
    label[20:70, 10:60] = 1
    label[40:90, 80:120] = 2
    bands = rng.integers(60, 140, (4, height, width)).astype(np.uint8)
    bands[0] += (label * 50).astype(np.uint8)
    bands[3] += ((label == 2) * 60).astype(np.uint8)
    bands[:, :12, :20] = NODATA
    common = dict(driver="GTiff", height=height, width=width, crs=CRS, transform=TRANSFORM, dtype="uint8")
    scene, labels = folder / "scene.tif", folder / "labels.tif"
    with rasterio.open(scene, "w", count=4, nodata=NODATA, **common) as out:
        out.write(bands)
    with rasterio.open(labels, "w", count=1, **common) as out:
        out.write(label[None])
    return scene, labels, bands


def config_text(data_root: Path, work_dir: Path) -> str:
    pipeline = "[dict(type='LoadSingleRSImageFromFile'), dict(type='LoadAnnotations'), dict(type='PackSegInputs')]"
    data = (
        "dict(type='BaseSegDataset', data_root={root!r}, img_suffix='.tif', seg_map_suffix='.png', "
        "metainfo=dict(classes=('ground', 'field', 'water'), palette=[[0, 0, 0], [0, 200, 0], [0, 0, 255]]), "
        "data_prefix=dict(img_path='img_dir/{split}', seg_map_path='ann_dir/{split}'), pipeline=pipeline)"
    )
    return f"""
_base_ = ['mmseg::_base_/default_runtime.py']
model = {TINY_4BAND!r}
pipeline = {pipeline}
test_pipeline = pipeline
train_dataloader = dict(batch_size=4, num_workers=0, sampler=dict(type='InfiniteSampler', shuffle=True),
                        dataset={data.format(root=str(data_root), split="train")})
val_dataloader = dict(batch_size=1, num_workers=0, sampler=dict(type='DefaultSampler', shuffle=False),
                      dataset={data.format(root=str(data_root), split="val")})
test_dataloader = val_dataloader
val_evaluator = dict(type='IoUMetric', iou_metrics=['mIoU'])
test_evaluator = val_evaluator
optim_wrapper = dict(type='OptimWrapper', optimizer=dict(type='AdamW', lr=0.01))
param_scheduler = []
train_cfg = dict(type='IterBasedTrainLoop', max_iters=6, val_interval=6)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
default_hooks = dict(logger=dict(interval=3), checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=6))
randomness = dict(seed=0)
work_dir = {str(work_dir)!r}
"""


@pytest.fixture(scope="module")
def trained_scene(tmp_path_factory) -> dict:
    """``seglab tile`` then ``seglab train`` for a few iterations; shared by the tests below."""
    root = tmp_path_factory.mktemp("scene")
    scene, labels, bands = write_scene(root)
    args = ["tile", str(scene), str(labels), str(root / "data"), "--size", "32", "--overlap", "8", "--block", "48"]
    assert main([*args, "--val-fraction", "0.25"]) == 0
    config = root / "tiny_4band.py"
    config.write_text(config_text(root / "data", root / "work"))
    assert main(["train", str(config)]) == 0
    return {"root": root, "scene": scene, "bands": bands, "config": config, "ckpt": root / "work" / "iter_6.pth"}


def whole_image_labels(model: torch.nn.Module, bands: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        inputs, _ = model.data_preprocessor({"inputs": [torch.from_numpy(bands).float()]}, training=False)
        return model.encode_decode(inputs).argmax(1)[0].numpy()


def test_tile_splits_by_area_so_no_pixel_is_in_train_and_val(trained_scene):
    data = trained_scene["root"] / "data"
    boxes = {}
    for split in ("train", "val"):
        names = sorted(p.stem for p in (data / "img_dir" / split).glob("*.tif"))
        assert names and names == sorted(p.stem for p in (data / "ann_dir" / split).glob("*.png"))
        boxes[split] = [tuple(int(v) for v in name.split("_")[-2:]) for name in names]
    for ty, tx in boxes["train"]:
        for vy, vx in boxes["val"]:
            assert abs(ty - vy) >= 32 or abs(tx - vx) >= 32, "a train tile overlaps a val tile"
    with rasterio.open(data / "img_dir" / "train" / f"scene_{boxes['train'][-1][0]}_{boxes['train'][-1][1]}.tif") as t:
        assert t.count == 4 and t.crs == CRS and t.transform.c == TRANSFORM.c + 10 * boxes["train"][-1][1]


def test_tile_refuses_a_val_split_that_no_whole_tile_can_land_in(tmp_path, capsys):
    scene, labels, _ = write_scene(tmp_path, 40, 40)  # blocks of 32: only the top-left one holds a whole tile
    args = ["tile", str(scene), str(labels), str(tmp_path / "out"), "--size", "32", "--overlap", "0", "--block", "32"]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "needs two blocks that each hold a whole tile, but the 40x40 scene has 1 with --block 32" in err
    assert not (tmp_path / "out").exists()


def test_infer_writes_a_georeferenced_label_map_equal_to_a_whole_image_forward(trained_scene, tmp_path, capsys):
    scene, config, ckpt = trained_scene["scene"], trained_scene["config"], trained_scene["ckpt"]
    args = ["infer", str(config), str(ckpt), str(scene), "--out", str(tmp_path), "--tile", "32", "--overlap", "16"]
    assert main([*args, "--overlay"]) == 0
    assert "scene.tif" in capsys.readouterr().out
    with rasterio.open(tmp_path / "scene.tif") as out:
        assert (out.crs, out.transform, out.width, out.height, out.count) == (CRS, TRANSFORM, 128, 96, 1)
        assert out.profile["tiled"] and out.compression.name.lower() == "deflate" and out.nodata == 255
        assert out.colormap(1)[2] == (0, 0, 255, 255)
        labels = out.read(1)
    model = init_model(config, ckpt)
    expected = whole_image_labels(model, trained_scene["bands"])
    nodata = (trained_scene["bands"] == NODATA).all(0)
    expected[nodata] = 255
    assert nodata.sum() == 12 * 20 and np.array_equal(labels, expected)
    with rasterio.open(tmp_path / "scene_overlay.tif") as overlay:
        assert overlay.count == 3 and overlay.crs == CRS and overlay.read().any()


def test_an_interrupted_run_resumes_and_ends_with_the_same_file(trained_scene, tmp_path, monkeypatch):
    model = init_model(trained_scene["config"], trained_scene["ckpt"])
    monkeypatch.setattr(raster, "BLOCK", 32)  # strips of 32 rows: a 96-row scene is written in three
    infer_scene(model, trained_scene["scene"], tmp_path / "full.tif", tile=32, overlap=16)
    from seglab import scene_inference

    real, calls = scene_inference.predict_tiles, []

    def dies_on_the_twelfth_batch(*args):
        calls.append(1)
        if len(calls) == 12:  # in tile row 3 of 5, after rows 0-31 went to disk
            raise KeyboardInterrupt
        return real(*args)

    monkeypatch.setattr(scene_inference, "predict_tiles", dies_on_the_twelfth_batch)
    with pytest.raises(KeyboardInterrupt):
        infer_scene(model, trained_scene["scene"], tmp_path / "cut.tif", tile=32, overlap=16, batch_size=2)
    assert (tmp_path / "cut.tif.progress.json").is_file()
    with pytest.raises(SeglabError, match="overlap differ"):
        infer_scene(model, trained_scene["scene"], tmp_path / "cut.tif", tile=32, overlap=8)
    result = infer_scene(model, trained_scene["scene"], tmp_path / "cut.tif", tile=32, overlap=16, batch_size=2)
    assert result.resumed_from_row == 32 and result.tiles_run == 4 * 7  # rows 1-4 of 7 tiles, not all 5
    assert not (tmp_path / "cut.tif.progress.json").exists()
    assert np.array_equal(
        raster.read_label_raster(tmp_path / "cut.tif"), raster.read_label_raster(tmp_path / "full.tif")
    )
    assert (tmp_path / "cut.tif").read_bytes() == (tmp_path / "full.tif").read_bytes()  # the same file, byte for byte


def test_the_window_generator_serves_users_with_their_own_io(trained_scene):
    model = init_model(trained_scene["config"], trained_scene["ckpt"])
    pixels = np.moveaxis(trained_scene["bands"], 0, -1)
    out = np.full(pixels.shape[:2], 7, np.int64)
    for _, (y1, y2, x1, x2), labels in predict_windows(
        model, lambda w: pixels[w[0] : w[1], w[2] : w[3]], 96, 128, (40, 40), (20, 20), batch_size=3
    ):
        out[y1:y2, x1:x2] = labels
    assert np.array_equal(out, whole_image_labels(model, trained_scene["bands"]))
    result = __import__("seglab.inference", fromlist=["x"]).inference_model(model, pixels[:32, :32].astype(np.float32))
    assert result["pred_sem_seg"].shape == (32, 32)


def test_a_scene_with_another_band_count_is_one_line(trained_scene, tmp_path, capsys):
    path = tmp_path / "three.tif"
    with rasterio.open(path, "w", driver="GTiff", height=8, width=8, count=3, dtype="uint8") as out:
        out.write(np.zeros((3, 8, 8), np.uint8))
    args = [
        "infer",
        str(trained_scene["config"]),
        str(trained_scene["ckpt"]),
        str(path),
        "--out",
        str(tmp_path / "out"),
    ]
    assert main(args) == 2
    assert "has 3 band(s) but model.data_preprocessor.mean/std have 4 values" in capsys.readouterr().err
