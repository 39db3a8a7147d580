"""``seglab prepare`` on hostile downloads (issue #19): names and links escaping OUT, list files naming
outside paths, members past their bound and decompression bombs. Each archive is built here and run
through the CLI; every case must stop with one ``error:`` line and exit code 2, leave the sentinel folder
beside OUT exactly as it was, and keep memory near the bound instead of the bomb's size."""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import subprocess
import sys
import tarfile
import tracemalloc
import zipfile
from pathlib import Path

import cv2
import numpy as np
import pytest

from seglab.cli import main

MiB = 1 << 20
PNG = cv2.imencode(".png", np.zeros((4, 6), np.uint8))[1].tobytes()


def make_zip(path: Path, files: dict[str, bytes], links: dict[str, str] | None = None, deflate: bool = False) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED if deflate else zipfile.ZIP_STORED) as zf:
        for name, data in files.items():
            zf.writestr(name, data)
        for name, target in (links or {}).items():
            info = zipfile.ZipInfo(name)
            info.create_system, info.external_attr = 3, 0o120777 << 16  # a unix symlink, as `zip -y` stores it
            zf.writestr(info, target)
    return path


def make_tar(path: Path, files: dict[str, bytes], links: dict[str, tuple[str, bool]] | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(path, "w:gz" if path.name.endswith("gz") else "w") as tf:
        for name, (target, hard) in (links or {}).items():
            info = tarfile.TarInfo(name)
            info.type, info.linkname = (tarfile.LNKTYPE if hard else tarfile.SYMTYPE), target
            tf.addfile(info)
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return path


@pytest.fixture
def work(tmp_path: Path) -> Path:
    """dl/ (downloads), out/ (OUT) and sentinel/ beside OUT, holding the files a '../' member aims at."""
    (tmp_path / "sentinel").mkdir()
    for name in ("target_leftImg8bit.png", "target.jpg"):
        (tmp_path / "sentinel" / name).write_bytes(b"precious " + name.encode())
    return tmp_path


def snapshot(work: Path) -> dict[str, str]:
    """Every file below sentinel/ with its hash: must not change whatever the archive holds."""
    root = work / "sentinel"
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(root.rglob("*"))}


def refused(capsys, argv: list[str]) -> str:
    """Exit code 2 and a single 'error:' line, no traceback."""
    code = main(argv)
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("error: ")]
    assert code == 2 and len(lines) == 1 and err.rstrip().endswith(lines[0]) and "Traceback" not in err, err
    return lines[0]


def cityscapes(dl: Path, extra: dict[str, bytes] | None = None, links: dict[str, str] | None = None) -> Path:
    images = {f"leftImg8bit/{s}/c/c_{s}_leftImg8bit.png": PNG for s in ("train", "val")}
    make_zip(dl / "leftImg8bit_trainvaltest.zip", {**images, **(extra or {})}, links)
    make_zip(dl / "gtFine_trainvaltest.zip", {f"gtFine/{s}/c/c_{s}_gtFine_labelIds.png": PNG for s in ("train", "val")})
    return dl


def voc_tar(dl: Path, extra: dict[str, bytes] | None = None, links: dict[str, tuple[str, bool]] | None = None) -> Path:
    files = {"VOCdevkit/VOC2012/ImageSets/Segmentation/train.txt": b"a\n", "VOCdevkit/VOC2012/JPEGImages/a.jpg": b"x"}
    return make_tar(dl / "VOCtrainval_11-May-2012.tar", {**files, **(extra or {})}, links)


def loveda(dl: Path, big: bytes = PNG, deflate: bool = False) -> Path:
    for top in ("Train", "Val"):
        files = {  # LoveDA's ids are unique across its two areas
            f"{top}/{area}/{kind}/{i}.png": PNG
            for i, area in ((1, "Rural"), (3, "Urban"))
            for kind in ("images_png", "masks_png")
        }
        files[f"{top}/Rural/images_png/2.png"] = big
        make_zip(dl / f"{top}.zip", files, deflate=deflate)
    return dl


# ---------------------------------------------------------------- names and links


@pytest.mark.parametrize(
    "kind, member",
    [
        ("zip", "leftImg8bit/../../sentinel/target_leftImg8bit.png"),  # out/leftImg8bit/../../ = beside OUT
        ("zip", "{abs}/sentinel/abs_leftImg8bit.png"),
        ("zip", "leftImg8bit\\..\\..\\sentinel\\win_leftImg8bit.png"),
        ("zip", "C:/sentinel/drive_leftImg8bit.png"),
        ("tar", "VOCdevkit/VOC2012/JPEGImages/../../sentinel/target.jpg"),
        ("tar", "{abs}/sentinel/abs.jpg"),
    ],
)
def test_names_escaping_out_are_refused(work, capsys, kind, member):
    member = member.format(abs=work)
    dl = cityscapes(work / "dl", {member: b"evil"}) if kind == "zip" else voc_tar(work / "dl", {member: b"evil"})
    before = snapshot(work)
    line = refused(capsys, ["prepare", "cityscapes" if kind == "zip" else "voc_aug", str(dl), str(work / "out")])
    archive = "leftImg8bit_trainvaltest.zip" if kind == "zip" else "VOCtrainval_11-May-2012.tar"
    assert f"'{archive}': member '{member}'" in line and "refusing it before writing anything" in line
    assert snapshot(work) == before and not (work / "out").exists()


@pytest.mark.parametrize(
    "kind, link, target, hard",
    [
        ("zip", "leftImg8bit/train/c/link_leftImg8bit.png", "/etc/passwd", False),
        ("zip", "leftImg8bit/val", "../../sentinel", False),
        ("tar", "VOCdevkit/VOC2012/JPEGImages", "../../../sentinel", False),  # then JPEGImages/target.jpg
        ("tar", "VOCdevkit/VOC2012/JPEGImages/b.jpg", "../sentinel/target.jpg", True),
        ("tar", "VOCdevkit/VOC2012/JPEGImages/c.jpg", "/etc/passwd", True),
    ],
)
def test_links_pointing_out_are_refused(work, capsys, kind, link, target, hard):
    if kind == "zip":
        dl, name = cityscapes(work / "dl", links={link: target}), "cityscapes"
    else:
        extra = {"VOCdevkit/VOC2012/JPEGImages/target.jpg": b"evil"} if not hard else {}
        dl, name = voc_tar(work / "dl", extra, links={link: (target, hard)}), "voc_aug"
    before = snapshot(work)
    line = refused(capsys, ["prepare", name, str(dl), str(work / "out")])
    assert f"{'hardlink' if hard else 'symlink'} member '{link}' points outside the archive (to '{target}')" in line
    assert snapshot(work) == before


def test_symlinked_folder_inside_out_is_refused(work, capsys):
    out = work / "out"
    out.mkdir()
    (out / "leftImg8bit").symlink_to(work / "sentinel", target_is_directory=True)
    before = snapshot(work)
    line = refused(capsys, ["prepare", "cityscapes", str(cityscapes(work / "dl")), str(out)])
    assert "'leftImg8bit_trainvaltest.zip' member 'leftImg8bit/" in line and f"outside OUT '{out}'" in line
    assert snapshot(work) == before and not list((work / "sentinel").glob("c_*"))


def test_folder_source_does_not_follow_links_out(work, capsys):
    """An extracted copy whose image is a link to a file elsewhere: it is not copied into OUT."""
    src = work / "extracted"
    for folder in ("leftImg8bit/train/c", "leftImg8bit/val/c", "gtFine/train/c", "gtFine/val/c"):
        (src / folder).mkdir(parents=True)
        split = folder.split("/")[1]
        suffix = "leftImg8bit.png" if folder.startswith("left") else "gtFine_labelIds.png"
        (src / folder / f"c_{split}_{suffix}").write_bytes(PNG)
    (src / "leftImg8bit/train/c/x_leftImg8bit.png").symlink_to(work / "sentinel/target_leftImg8bit.png")
    line = refused(capsys, ["prepare", "cityscapes", str(src), str(work / "out")])
    assert "'leftImg8bit/train/c/x_leftImg8bit.png' is a link to" in line and "outside the folder" in line
    assert not (work / "out").exists() or not list((work / "out").rglob("x_*"))


@pytest.mark.parametrize("entry", ["../../sentinel/target", "/etc/passwd"])
def test_list_entries_naming_outside_paths_are_refused(work, capsys, entry):
    pytest.importorskip("scipy")
    files = {"imageLists/train.txt": f"ok\n{entry}\n".encode(), "imageLists/test.txt": b"ok\n"}
    files.update({"images/ok.jpg": b"x", "annotations/ok.mat": b"x"})
    dl = make_zip(work / "dl/cocostuff-10k-v1.1.zip", files)
    before = snapshot(work)
    line = refused(capsys, ["prepare", "coco_stuff10k", str(dl), str(work / "out")])
    assert f"'cocostuff-10k-v1.1.zip': list 'imageLists/train.txt' names '{entry}'" in line
    assert snapshot(work) == before and not list((work / "out").rglob("*.jpg"))


def test_cli_subprocess_refuses_with_one_line(work):
    dl = cityscapes(work / "dl", {"leftImg8bit/../../sentinel/target_leftImg8bit.png": b"evil"})
    before = snapshot(work)
    run = subprocess.run(
        [sys.executable, "-m", "seglab", "prepare", "cityscapes", str(dl), str(work / "out")],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])},
    )
    assert run.returncode == 2 and run.stderr.count("\n") == 1 and run.stderr.startswith("error: "), run.stderr
    assert snapshot(work) == before


# ---------------------------------------------------------------- sizes and bombs


@pytest.mark.parametrize(
    "source, options, bound",
    [
        ("zip", ["--max-member-size", "1M"], "--max-member-size"),  # refused from the zip header
        ("folder", ["--max-member-size", "1M"], "--max-member-size"),  # counted while reading: no header
        ("zip", ["--max-total-size", "1.5M"], "--max-total-size"),  # both zips together pass 1.5M
        ("folder", ["--max-total-size", "1.5M"], "--max-total-size"),
    ],
)
def test_members_past_their_bound_are_refused(work, capsys, source, options, bound):
    dl = loveda(work / "dl", big=np.random.default_rng(0).bytes(MiB + MiB // 4))
    if source == "folder":
        for top in ("Train", "Val"):
            zipfile.ZipFile(dl / f"{top}.zip").extractall(work / "extracted")
        dl = work / "extracted"
    line = refused(capsys, ["prepare", "loveda", str(dl), str(work / "out"), *options])
    assert "stopped at member '" in line and f"raise it with {bound}" in line


def test_zip_ratio_bomb_and_overlapping_members_are_refused(work, capsys):
    dl = loveda(work / "dl", big=bytes(8 * MiB), deflate=True)  # 8 MiB of zeros in 8 KiB: ratio ~1000
    assert (dl / "Train.zip").stat().st_size < 64 * 1024
    line = refused(capsys, ["prepare", "loveda", str(dl), str(work / "out")])
    assert "'Train.zip': stopped at member 'Train/Rural/images_png/2.png'" in line and "--max-ratio" in line

    raw = bytearray(
        make_zip(work / "dl2/Train.zip", {"Train/Rural/images_png/1.png": PNG, "Train/x": PNG}).read_bytes()
    )
    second = raw.find(b"PK\x01\x02", raw.find(b"PK\x01\x02") + 4)
    raw[second + 42 : second + 46] = (0).to_bytes(4, "little")  # both entries now share the first's data
    (work / "dl2/Train.zip").write_bytes(bytes(raw))
    assert "overlaps member" in refused(capsys, ["prepare", "loveda", str(work / "dl2/Train.zip"), str(work / "out")])


def test_tar_gz_stream_bomb_is_refused_while_listing(work, capsys):
    voc_tar(work / "dl")
    make_tar(work / "dl/benchmark.tgz", {"benchmark_RELEASE/dataset/cls/a.mat": bytes(8 * MiB)})
    assert (work / "dl/benchmark.tgz").stat().st_size < 64 * 1024
    pytest.importorskip("scipy")
    line = refused(capsys, ["prepare", "voc_aug", str(work / "dl"), str(work / "out")])
    assert "'benchmark.tgz': stopped at member 'benchmark_RELEASE/dataset/cls/a.mat'" in line
    assert "the stream inflates to more than 200x" in line and "--max-ratio" in line


def stare(dl: Path, first: bytes) -> Path:
    small = gzip.compress(cv2.imencode(".ppm", np.zeros((4, 6, 3), np.uint8))[1].tobytes())
    for archive, tag in (("stare-images.tar", ""), ("labels-ah.tar", ".ah"), ("labels-vk.tar", ".vk")):
        files = {f"im{i:04d}{tag}.ppm.gz": small for i in range(1, 21)}
        if not tag:
            files["im0001.ppm.gz"] = first
        make_tar(dl / archive, files)
    return dl


def traced_peak(argv: list[str]) -> tuple[int, int]:
    """main(argv)'s exit code and the peak of Python memory allocated meanwhile."""
    tracemalloc.start()
    try:
        code = main(argv)
        return code, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_gz_bomb_inside_a_member_stops_at_the_bound_in_memory(work, capsys):
    """im0001.ppm.gz unzips to 64 MiB of zeros; read whole it would take 64 MiB, bounded it takes ~4."""
    dl = stare(work / "dl", gzip.compress(bytes(64 * MiB), compresslevel=1))
    code, peak = traced_peak(
        ["prepare", "stare", str(dl), str(work / "out"), "--workers", "1", "--max-member-size", "4M"]
    )
    err = capsys.readouterr().err
    assert code == 2 and "'stare-images.tar': stopped at member 'im0001.ppm.gz': it unzips past 4M" in err, err
    assert peak < 16 * MiB, peak


def test_copied_members_stream_to_disk(work, capsys):
    """A member copied unchanged is never held whole: 8 MiB pass through ~1 MiB chunks."""
    big = np.random.default_rng(1).bytes(8 * MiB)
    dl = loveda(work / "dl", big=big)
    code, peak = traced_peak(["prepare", "loveda", str(dl), str(work / "out"), "--workers", "1"])
    assert code == 0, capsys.readouterr().err
    assert (work / "out/img_dir/train/2.png").read_bytes() == big and peak < 5 * MiB, peak


def test_bad_bound_options_are_one_line(work, capsys):
    dl = loveda(work / "dl")
    assert main(["prepare", "loveda", str(dl), str(work / "out"), "--max-member-size", "2X"]) == 1
    assert "--max-member-size '2X' is not a size: give e.g. 500M or 2G" in capsys.readouterr().err
    assert main(["prepare", "loveda", str(dl), str(work / "out"), "--max-member-size", "2G", "--max-ratio", "50"]) == 0


def test_two_members_written_to_one_file_are_refused_before_writing(work, capsys):
    """Rural/1.png and Urban/1.png both become img_dir/train/1.png: one would silently replace the other."""
    files = {f"Train/{area}/{kind}/1.png": PNG for area in ("Rural", "Urban") for kind in ("images_png", "masks_png")}
    make_zip(work / "dl" / "Train.zip", files)
    val = {
        f"Val/{area}/{kind}/{i}.png": PNG
        for i, area in ((2, "Rural"), (4, "Urban"))
        for kind in ("images_png", "masks_png")
    }
    make_zip(work / "dl" / "Val.zip", val)
    line = refused(capsys, ["prepare", "loveda", str(work / "dl"), str(work / "out")])
    assert "Rural/images_png/1.png" in line and "Urban/images_png/1.png" in line and "both be written" in line
    assert not any(p.is_file() for p in (work / "out").rglob("*.png"))
