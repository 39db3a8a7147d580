"""The command line: version, honest placeholders, make-dummy, quickstart."""

from __future__ import annotations

import re
import subprocess
import sys

import cv2
import numpy as np

from seglab import __version__
from seglab.cli import main


def test_version():
    out = subprocess.run([sys.executable, "-m", "seglab", "--version"], capture_output=True, text=True)
    assert out.stdout.strip() == f"seglab {__version__}"


def test_user_mistakes_are_one_line_errors(capsys, tmp_path):
    assert main(["benchmark", str(tmp_path / "x.py")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: config file") and "x.py" in err[0]


def test_make_dummy_styles(tmp_path):
    assert main(["make-dummy", str(tmp_path / "t"), "--style", "tutorial", "--train", "3", "--val", "2"]) == 0
    label = cv2.imread(str(tmp_path / "t/ann_dir/train/train_0000.png"), cv2.IMREAD_UNCHANGED)
    img = cv2.imread(str(tmp_path / "t/img_dir/train/train_0000.jpg"))
    assert label.shape == (256, 256) and set(np.unique(label)) == {0, 1} and img.shape == (256, 256, 3)
    assert len(list((tmp_path / "t/img_dir/val").iterdir())) == 2
    assert main(["make-dummy", str(tmp_path / "l"), "--classes", "5", "--size", "48", "--train", "6"]) == 0
    values = set()
    for path in (tmp_path / "l/ann_dir/train").iterdir():
        values |= set(np.unique(cv2.imread(str(path), cv2.IMREAD_UNCHANGED)).tolist())
    assert values == {0, 1, 2, 3, 4}
    assert main(["make-dummy", str(tmp_path / "x"), "--classes", "1"]) == 2


def test_quickstart_trains_and_reports(tmp_path, capsys):
    assert main(["quickstart", "--work-dir", str(tmp_path / "qs"), "--iters", "20"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"quickstart finished: mIoU \d+\.\d\d", out)
    qs = tmp_path / "qs"
    assert (qs / "iter_20.pth").is_file() and (qs / "quickstart_config.py").is_file()
    assert (qs / "curves.png").is_file() and len(list((qs / "predictions").glob("*_overlay.png"))) == 4
