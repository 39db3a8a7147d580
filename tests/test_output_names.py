"""``seglab infer`` and ``seglab test`` never let one result replace another: outputs mirror the inputs'
folders, inputs sharing a name keep their extension, and a clash that remains stops the run in one line
before the model is built."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from seglab.cli import main
from seglab.inference import expand_inputs, init_model
from seglab.output_names import OutputNameError, check_outputs, output_names


def picture(seed: int, size: int = 48) -> np.ndarray:
    """A smooth random BGR image: different seeds give different predictions from the tiny model."""
    rng = np.random.default_rng(seed)
    return cv2.resize(rng.integers(0, 256, (5, 5, 3), dtype=np.uint8), (size, size), interpolation=cv2.INTER_CUBIC)


def write(path: Path, seed: int) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), picture(seed))
    return path


def files_under(folder: Path) -> set[str]:
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}


@pytest.fixture
def model_files(tiny_config, tmp_path):
    """A tiny config and a random checkpoint whose label maps follow the image content."""
    config = tiny_config()
    model = init_model(config)
    torch.manual_seed(0)
    with torch.no_grad():
        model.decode_head.conv_seg.weight.normal_(0, 5)
    checkpoint = tmp_path / "tiny.pth"
    torch.save({"state_dict": model.state_dict(), "meta": {"dataset_meta": model.dataset_meta}}, checkpoint)
    return config, checkpoint


def labels(path: Path) -> np.ndarray:
    return cv2.imread(str(path), cv2.IMREAD_UNCHANGED)


def test_the_naming_rule():
    root = Path("/data")
    files = [root / "a.jpg", root / "sub/a.jpg", root / "scan.jpg", root / "scan.png", root / "x.y.png"]
    assert output_names(files, root) == ["a", "sub/a", "scan_jpg", "scan_png", "x.y"]
    with pytest.raises(OutputNameError, match="'/data/b.jpg' and '/data/b.png' would both write '/out/b.png'"):
        check_outputs([root / "b.jpg", root / "b.png"], ["b", "b"], [("/out", "{}.png")])
    with pytest.raises(OutputNameError, match="would replace the input '/data/a.png'"):
        check_outputs([root / "a.png"], ["a"], [("/data", "{}.png")])


def test_infer_writes_every_result_for_two_folders_and_two_extensions(model_files, tmp_path, capsys, one_thread):
    config, checkpoint = model_files
    a, b = write(tmp_path / "a" / "photo.jpg", 1), write(tmp_path / "b" / "photo.jpg", 2)
    same = tmp_path / "same"
    scan_jpg, scan_png, alone = write(same / "scan.jpg", 3), write(same / "scan.png", 4), write(same / "other.jpg", 5)
    out = tmp_path / "out"
    assert main(["infer", str(config), str(checkpoint), str(a), str(b), "--out", str(out)]) == 0
    assert "for 2 image(s)" in capsys.readouterr().out
    assert files_under(out) == {"a/photo.png", "a/photo_overlay.png", "b/photo.png", "b/photo_overlay.png"}
    assert not np.array_equal(labels(out / "a/photo.png"), labels(out / "b/photo.png"))

    out = tmp_path / "out2"
    assert main(["infer", str(config), str(checkpoint), str(same), "--out", str(out)]) == 0
    assert "for 3 image(s)" in capsys.readouterr().out
    names = {"scan_jpg", "scan_png", "other"}  # a stem shared by two inputs keeps the extension; others as always
    assert files_under(out) == {f"{n}.png" for n in names} | {f"{n}_overlay.png" for n in names}
    assert not np.array_equal(labels(out / "scan_jpg.png"), labels(out / "scan_png.png"))
    assert {scan_jpg.name, scan_png.name, alone.name} == {p.name for p in same.iterdir()}  # inputs untouched


def test_a_remaining_clash_is_one_line_before_the_model_is_built(tiny_config, tmp_path, capsys, monkeypatch):
    import seglab.inference

    config, checkpoint = tiny_config(), tmp_path / "never_read.pth"
    same = tmp_path / "same"
    for seed, name in enumerate(["scan.jpg", "scan.png", "scan_jpg.png"]):  # scan.jpg -> scan_jpg, as scan_jpg.png
        write(same / name, seed)
    monkeypatch.setattr(seglab.inference, "init_model", lambda *a, **k: pytest.fail("the model was built"))
    out = tmp_path / "out"
    assert main(["infer", str(config), str(checkpoint), str(same), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "would both write" in err and "scan_jpg.png" in err and not out.exists()
    # onnxruntime: the same check runs before the .onnx file is even opened
    args = ["infer", "--backend", "onnxruntime", str(tmp_path / "missing.onnx"), str(same), "--out", str(out)]
    assert main(args) == 2
    assert "would both write" in capsys.readouterr().err
    # an output that would replace an input image
    assert main(["infer", str(config), str(checkpoint), str(same / "scan.png"), "--out", str(same)]) == 2
    assert "would replace the input" in capsys.readouterr().err


def test_test_mirrors_the_dataset_folders_in_out_and_show_dir(model_files, tmp_path, capsys, monkeypatch, one_thread):
    config, checkpoint = model_files
    root = tmp_path / "cities"
    for seed, city in enumerate(["city1", "city2"]):
        write(root / "img_dir/val" / city / "x.jpg", seed + 10)
        label = np.zeros((48, 48), np.uint8)
        label[: 16 * (seed + 1)] = seed + 1
        (root / "ann_dir/val" / city).mkdir(parents=True)
        cv2.imwrite(str(root / "ann_dir/val" / city / "x.png"), label)
    config.write_text(config.read_text() + f"test_dataloader = dict(dataset=dict(data_root={str(root)!r}))\n")
    out, show = tmp_path / "labels", tmp_path / "show"
    common = ["test", str(config), str(checkpoint), "--work-dir", str(tmp_path / "work")]
    assert main([*common, "--out", str(out), "--show-dir", str(show)]) == 0
    assert files_under(out) == files_under(show) == {"city1/x.png", "city2/x.png"}
    assert not np.array_equal(labels(out / "city1/x.png"), labels(out / "city2/x.png"))
    assert not np.array_equal(cv2.imread(str(show / "city1/x.png")), cv2.imread(str(show / "city2/x.png")))

    import seglab.engine.runner

    capsys.readouterr()
    monkeypatch.setattr(seglab.engine.runner.Runner, "_build_model", lambda self: pytest.fail("the model was built"))
    assert main([*common, "--out", str(out), "--show-dir", str(out)]) == 2  # one folder for both kinds
    assert "twice; give each kind of output its own folder" in capsys.readouterr().err
    assert main([*common, "--out", str(root / "ann_dir/val")]) == 2  # would overwrite the ground truth
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "would replace the input" in err and "ann_dir/val/city1/x.png" in err


def test_expand_inputs_names_unique_stems_in_one_folder_as_before(tmp_path):
    folder = tmp_path / "photos"
    for seed, name in enumerate(["b.png", "a.jpg", "sub/c.jpg"]):
        write(folder / name, seed)
    assert [n for _, n in expand_inputs([str(folder)])] == ["a", "b", "sub/c"]
    assert [n for _, n in expand_inputs([str(folder / "a.jpg"), str(folder / "b.png")])] == ["a", "b"]
    assert [n for _, n in expand_inputs([str(folder / "*.jpg"), str(folder / "a.jpg")])] == ["a"]  # each file once
    assert [n for _, n in expand_inputs([str(tmp_path / "gone.jpg")])] == ["gone"]  # reported as unreadable later
