"""``seglab prepare``: synthetic downloads laid out like the real ones (member names, label encodings) are
converted through the CLI, then ``seglab check-data`` passes on a config inheriting the matching
``mmseg::_base_/datasets`` file. Broken downloads give one line and exit code 1; re-runs resume. Tables
and tilings are compared with facts recorded from MMSegmentation 1.2.2's converters."""

from __future__ import annotations

import gzip
import io
import json
import sys
import tarfile
import zipfile
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from seglab.cli import main

RECORDS = Path(__file__).resolve().parents[1] / "records" / "prepare" / "converter_facts.json.gz"
RNG = np.random.default_rng(0)


def enc(ext: str, img: np.ndarray) -> bytes:
    return cv2.imencode(ext, img)[1].tobytes()


def gif(gray: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(gray).save(buf, "GIF")
    return buf.getvalue()


def photo(h: int = 8, w: int = 12) -> np.ndarray:
    return RNG.integers(0, 256, (h, w, 3), dtype=np.uint8)


def vessels(h: int = 8, w: int = 12) -> np.ndarray:
    """A 0/255 mask with a few off values (200 -> vessel, 90 -> background), as some real masks have."""
    mask = np.where(RNG.random((h, w)) < 0.3, 255, 0).astype(np.uint8)
    mask[0, :2] = (200, 90)
    return mask


def blocks(values, h: int, w: int) -> np.ndarray:
    """``values`` (a small 2-D array, possibly of colours) scaled up to h x w."""
    values = np.asarray(values)
    rows = np.arange(h) * values.shape[0] // h
    cols = np.arange(w) * values.shape[1] // w
    return values[rows][:, cols]


def make_zip(path: Path, files: dict[str, bytes]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return path


def make_tar(path: Path, files: dict[str, bytes]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(path, "w:gz" if path.name.endswith(("gz", "tgz")) else "w") as tf:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return path


def mat(**arrays) -> bytes:
    from scipy.io import savemat

    buf = io.BytesIO()
    savemat(buf, arrays)
    return buf.getvalue()


def read(path: Path) -> np.ndarray:
    return np.array(Image.open(path))


# ---------------------------------------------------------------- synthetic downloads

CITY_IDS = np.array([[0, 7, 8, 26], [33, 9, 24, 1]], np.uint8)  # -> 255 0 1 13 / 18 255 11 255


def build_cityscapes(src: Path) -> None:
    images, labels = {"README": b"x", "license.txt": b"x"}, {}
    for split, city, n in (("train", "aachen", "000000_000019"), ("val", "frankfurt", "000000_000294"),
                           ("test", "berlin", "000000_000019")):  # fmt: skip
        stem = f"{city}/{city}_{n}"
        images[f"leftImg8bit/{split}/{stem}_leftImg8bit.png"] = enc(".png", photo())
        gt = f"gtFine/{split}/{stem}_gtFine_"
        labels[gt + "labelIds.png"] = enc(".png", blocks(CITY_IDS, 8, 12))
        labels[gt + "color.png"] = enc(".png", photo())
        labels[gt + "instanceIds.png"] = enc(".png", blocks(CITY_IDS, 8, 12).astype(np.uint16))
        labels[gt + "polygons.json"] = b"{}"
    make_zip(src / "leftImg8bit_trainvaltest.zip", images)
    make_zip(src / "gtFine_trainvaltest.zip", labels)


def build_voc_aug(src: Path) -> None:
    voc = "VOCdevkit/VOC2012/"
    names = ["2007_000032", "2007_000033", "2008_000002", "2008_000003"]
    files = {f"{voc}JPEGImages/{n}.jpg": enc(".jpg", photo()) for n in names}
    for n in names[:2]:
        pal = Image.fromarray(blocks([[0, 1], [15, 255]], 8, 12).astype(np.uint8), "P")
        buf = io.BytesIO()
        pal.save(buf, "PNG")
        files[f"{voc}SegmentationClass/{n}.png"] = buf.getvalue()
        files[f"{voc}Annotations/{n}.xml"] = b"<annotation/>"
    lists = {"train": names[0], "val": names[1], "trainval": "\n".join(names[:2])}
    files.update({f"{voc}ImageSets/Segmentation/{k}.txt": (v + "\n").encode() for k, v in lists.items()})
    make_tar(src / "VOCtrainval_11-May-2012.tar", files)
    sbd = {"benchmark_RELEASE/dataset/train.txt": b"2008_000002\n2007_000032\n",
           "benchmark_RELEASE/dataset/val.txt": b"2008_000003\n2007_000033\n"}  # fmt: skip
    for n in names:
        seg = blocks([[0, 20], [3, 255]], 8, 12).astype(np.uint8)
        sbd[f"benchmark_RELEASE/dataset/cls/{n}.mat"] = mat(GTcls={"Segmentation": seg, "CategoriesPresent": [3, 20]})
        sbd[f"benchmark_RELEASE/dataset/img/{n}.jpg"] = b"jpeg"
    make_tar(src / "benchmark.tgz", sbd)


def build_drive(src: Path, with_manual: bool = True) -> None:
    train = {f"training/images/{i}_training.tif": enc(".tif", photo()) for i in (21, 22)}
    train.update({f"training/mask/{i}_training_mask.gif": gif(vessels()) for i in (21, 22)})
    if with_manual:
        train.update({f"training/1st_manual/{i}_manual1.gif": gif(vessels()) for i in (21, 22)})
    make_zip(src / "training.zip", train)
    make_zip(src / "test.zip", {"test/images/01_test.tif": enc(".tif", photo()),
                                "test/1st_manual/01_manual1.gif": gif(vessels()),
                                "test/2nd_manual/01_manual2.gif": gif(vessels())})  # fmt: skip


STARE = "0001 0002 0003 0004 0005 0044 0077 0081 0082 0139 0162 0163 0235 0236 0239 0240 0255 0291 0319 0324".split()


def build_stare(src: Path) -> None:
    make_tar(src / "stare-images.tar", {f"im{n}.ppm.gz": gzip.compress(enc(".ppm", photo())) for n in STARE})
    for who in ("ah", "vk"):
        masks = {f"im{n}.{who}.ppm.gz": gzip.compress(enc(".ppm", np.dstack([vessels()] * 3))) for n in STARE}
        make_tar(src / f"labels-{who}.tar", masks)


def build_chase_db1(src: Path) -> None:
    files = {}
    for i in range(1, 15):
        for eye in "LR":
            files[f"Image_{i:02d}{eye}.jpg"] = enc(".jpg", photo())
            files[f"Image_{i:02d}{eye}_1stHO.png"] = enc(".png", vessels())
            files[f"Image_{i:02d}{eye}_2ndHO.png"] = enc(".png", vessels())
    make_zip(src / "CHASEDB1.zip", files)


def build_hrf(src: Path) -> None:
    for kind, tag, ext in (("healthy", "h", ".jpg"), ("glaucoma", "g", ".jpg"), ("diabetic_retinopathy", "dr", ".JPG")):
        make_zip(src / f"{kind}.zip", {f"{i:02d}_{tag}{ext}": enc(".jpg", photo()) for i in range(1, 16)})
        make_zip(src / f"{kind}_manualsegm.zip", {f"{i:02d}_{tag}.tif": enc(".tif", vessels()) for i in range(1, 16)})


def build_loveda(src: Path) -> None:
    for top, start in (("Train", 0), ("Val", 100), ("Test", 200)):
        files = {}
        for j, area in enumerate(("Rural", "Urban")):
            files[f"{top}/{area}/images_png/{start + j}.png"] = enc(".png", photo())
            if top != "Test":
                files[f"{top}/{area}/masks_png/{start + j}.png"] = enc(".png", blocks([[0, 1, 4], [5, 7, 2]], 8, 12))
        make_zip(src / f"{top}.zip", files)


def build_coco_stuff10k(src: Path) -> None:
    files = {"imageLists/train.txt": b"COCO_train2014_000000000077\n", "imageLists/test.txt": b"COCO_train2014_000000000081\n",
             "imageLists/all.txt": b"", "cocostuff-10k-v1.1.json": b"{}"}  # fmt: skip
    for n in ("COCO_train2014_000000000077", "COCO_train2014_000000000081"):
        files[f"images/{n}.jpg"] = enc(".jpg", photo())
        files[f"annotations/{n}.mat"] = mat(S=blocks([[0, 1, 12], [13, 105, 182]], 8, 12).astype(np.uint16))
    make_zip(src / "cocostuff-10k-v1.1.zip", files)


def build_coco_stuff164k(src: Path) -> None:
    maps = {}
    for split, n in (("train2017", "000000000009"), ("val2017", "000000000139")):
        make_zip(src / f"{split}.zip", {f"{split}/{n}.jpg": enc(".jpg", photo())})
        maps[f"{split}/{n}.png"] = enc(".png", blocks([[0, 11, 12], [100, 181, 255]], 8, 12).astype(np.uint8))
    make_zip(src / "stuffthingmaps_trainval2017.zip", maps)


ISPRS_BGR = np.array([[255, 255, 255], [255, 0, 0], [255, 255, 0], [0, 255, 0], [0, 255, 255], [0, 0, 255],
                      [0, 0, 0], [10, 20, 30]], np.uint8)  # fmt: skip  # classes 1..6, then 0 (black, other)


def isprs_label(h: int, w: int) -> np.ndarray:
    return blocks(ISPRS_BGR[np.arange(8).reshape(2, 4)], h, w)


def build_potsdam(src: Path) -> None:
    images, labels = {}, {}
    for tile in ("2_10", "2_13"):  # train, val
        images[f"2_Ortho_RGB/top_potsdam_{tile}_RGB.tif"] = enc(".tif", blocks(photo(4, 4), 530, 600))
        images[f"2_Ortho_RGB/top_potsdam_{tile}_RGB.tfw"] = b"0.05"
        labels[f"top_potsdam_{tile}_label_noBoundary.tif"] = enc(".tif", isprs_label(530, 600))
    make_zip(src / "2_Ortho_RGB.zip", images)
    make_zip(src / "5_Labels_all_noBoundary.zip", labels)


def build_vaihingen(src: Path) -> None:
    images = {"gts_for_participants/top_mosaic_09cm_area1.tif": enc(".tif", isprs_label(520, 512))}
    labels = {}
    for area in ("area1", "area2"):  # train, val
        images[f"top/top_mosaic_09cm_{area}.tif"] = enc(".tif", blocks(photo(4, 4), 520, 512))
        labels[f"top_mosaic_09cm_{area}_noBoundary.tif"] = enc(".tif", isprs_label(520, 512))
    labels["top_mosaic_09cm_area9_noBoundary.tif"] = enc(".tif", isprs_label(520, 512))
    make_zip(src / "ISPRS_semantic_labeling_Vaihingen.zip", images)
    make_zip(src / "ISPRS_semantic_labeling_Vaihingen_ground_truth_eroded_COMPLETE.zip", labels)


ISAID_RGB = np.array([[0, 0, 0], [0, 0, 63], [0, 63, 63], [0, 100, 155], [0, 127, 255], [9, 9, 9]], np.uint8)


def build_isaid(src: Path) -> None:
    for split, ids in (("train", ("P0000", "P0001")), ("val", ("P0003",)), ("test", ("P0006",))):
        for k, pid in enumerate(ids):
            make_zip(src / split / "images" / f"part{k + 1}.zip", {f"images/{pid}.png": enc(".png", photo(30, 40))})
        if split != "test":
            masks = {f"images/{p}_instance_color_RGB.png": enc(".png", blocks(ISAID_RGB.reshape(2, 3, 3), 30, 40)[..., ::-1])
                     for p in ids}  # fmt: skip
            make_zip(src / split / "Semantic_masks" / "images.zip", masks)


def build_synapse(src: Path) -> None:
    import nibabel as nib

    files = {"RawData/Training/train.txt": b"img0005.nii.gz\n", "RawData/Training/val.txt": b"img0008.nii.gz\n"}
    for case in ("0005", "0008"):
        ct = np.linspace(-300, 400, 6 * 5 * 3).reshape(6, 5, 3).astype(np.float32)
        label = np.arange(6 * 5 * 3).reshape(6, 5, 3) % 14
        for kind, volume in (("img", ct), ("label", label.astype(np.float32))):
            data = nib.Nifti1Image(volume, np.eye(4)).to_bytes()
            files[f"RawData/Training/{kind}/{kind}{case}.nii.gz"] = gzip.compress(data)
    make_zip(src / "RawData.zip", files)


def build_refuge(src: Path) -> None:
    mask = blocks([[0, 128], [255, 255]], 8, 12).astype(np.uint8)
    specs = (("REFUGE-Training400.zip", "Annotation-Training400.zip", "Training400/Glaucoma/", "g0001",
              "Annotation-Training400/Disc_Cup_Masks/Glaucoma/"),
             ("REFUGE-Validation400.zip", "REFUGE-Validation400-GT.zip", "REFUGE-Validation400/", "V0001",
              "REFUGE-Validation400-GT/Disc_Cup_Masks/"),
             ("REFUGE-Test400.zip", "REFUGE-Test-GT.zip", "Test400/", "T0001", "REFUGE-Test-GT/Disc_Cup_Masks/"))  # fmt: skip
    for images, masks, folder, name, mask_folder in specs:
        make_zip(src / "REFUGE2" / images, {f"{folder}{name}.jpg": enc(".jpg", photo()),
                                            f"__MACOSX/{folder}._{name}.jpg": b"junk"})  # fmt: skip
        make_zip(src / "REFUGE2" / masks, {f"{mask_folder}{name}.bmp": enc(".bmp", mask),
                                           f"Disc_Cup_Fovea_Illustration/{name}.jpg": enc(".jpg", photo())})  # fmt: skip


# ---------------------------------------------------------------- what comes out


def tiles(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def check_cityscapes(out: Path) -> None:
    train_ids = read(out / "gtFine/train/aachen/aachen_000000_000019_gtFine_labelTrainIds.png")
    assert np.array_equal(train_ids, blocks([[255, 0, 1, 13], [18, 255, 11, 255]], 8, 12))
    assert (out / "leftImg8bit/test/berlin/berlin_000000_000019_leftImg8bit.png").is_file()
    assert (out / "gtFine/val/frankfurt/frankfurt_000000_000294_gtFine_labelIds.png").is_file()
    assert (out / "train.txt").read_text() == "aachen/aachen_000000_000019\n"


def check_voc_aug(out: Path) -> None:
    lists = out / "ImageSets/Segmentation"
    assert (lists / "aug.txt").read_text().split() == ["2008_000002", "2008_000003"]
    assert (lists / "trainaug.txt").read_text().split() == ["2007_000032", "2008_000002", "2008_000003"]
    assert np.array_equal(read(out / "SegmentationClassAug/2008_000002.png"), blocks([[0, 20], [3, 255]], 8, 12))
    assert len(tiles(out / "SegmentationClassAug")) == 4 and len(tiles(out / "JPEGImages")) == 4


def check_drive(out: Path) -> None:
    label = read(out / "annotations/training/21_manual1.png")
    assert set(np.unique(label)) <= {0, 1} and tuple(label[0, :2]) == (1, 0)
    assert tiles(out / "images/validation") == ["01.png"]
    assert tiles(out / "annotations/validation") == ["01_manual1.png", "01_manual2.png"]


def check_stare(out: Path) -> None:
    assert tiles(out / "images/training")[-1] == "im0139.png" and len(tiles(out / "images/validation")) == 10
    assert tiles(out / "annotations/training")[:2] == ["im0001.ah.png", "im0001.vk.png"]


def check_chase_db1(out: Path) -> None:
    assert len(tiles(out / "images/training")) == 20 and tiles(out / "images/validation")[0] == "Image_11L.png"
    assert set(tiles(out / "annotations/training")[:2]) == {"Image_01L_1stHO.png", "Image_01L_2ndHO.png"}


def check_hrf(out: Path) -> None:
    assert len(tiles(out / "images/training")) == 15 and len(tiles(out / "annotations/validation")) == 30
    assert (out / "images/training/05_dr.png").is_file() and (out / "annotations/validation/06_dr.png").is_file()


def check_loveda(out: Path) -> None:
    assert tiles(out / "img_dir/train") == ["0.png", "1.png"] and tiles(out / "img_dir/test") == ["200.png", "201.png"]
    assert np.array_equal(read(out / "ann_dir/val/101.png"), blocks([[0, 1, 4], [5, 7, 2]], 8, 12))


def check_coco_stuff10k(out: Path) -> None:
    labels = read(out / "annotations/test2014/COCO_train2014_000000000081_labelTrainIds.png")
    assert np.array_equal(labels, blocks([[0, 1, 0], [12, 94, 171]], 8, 12))  # 12 is never annotated
    assert (out / "images/train2014/COCO_train2014_000000000077.jpg").is_file()


def check_coco_stuff164k(out: Path) -> None:
    labels = read(out / "annotations/val2017/000000000139_labelTrainIds.png")
    assert np.array_equal(labels, blocks([[0, 255, 11], [89, 170, 255]], 8, 12))
    assert (out / "images/train2017/000000000009.jpg").is_file()


ISPRS_INDEX = np.array([[1, 2, 3, 4], [5, 6, 0, 0]])


def check_potsdam(out: Path) -> None:
    names = ["2_10_0_0_512_512.png", "2_10_0_18_512_530.png", "2_10_88_0_600_512.png", "2_10_88_18_600_530.png"]
    assert tiles(out / "img_dir/train") == names == tiles(out / "ann_dir/train")
    full = blocks(ISPRS_INDEX, 530, 600)
    assert np.array_equal(read(out / "ann_dir/val/2_13_88_18_600_530.png"), full[18:530, 88:600])


def check_vaihingen(out: Path) -> None:
    assert tiles(out / "img_dir/train") == ["area1_0_0_512_512.png", "area1_0_8_512_520.png"]
    assert tiles(out / "ann_dir/val") == ["area2_0_0_512_512.png", "area2_0_8_512_520.png"]  # no area9
    assert np.array_equal(read(out / "ann_dir/train/area1_0_8_512_520.png"), blocks(ISPRS_INDEX, 520, 512)[8:])


def check_isaid(out: Path) -> None:
    assert tiles(out / "img_dir/train") == ["P0000_0_896_0_896.png", "P0001_0_896_0_896.png"]
    label = read(out / "ann_dir/val/P0003_0_896_0_896_instance_color_RGB.png")
    assert label.shape == (896, 896) and label[29, 39] == 0 and label[30, 0] == 255 and label[0, 0] == 0
    assert np.array_equal(label[:30, :40], blocks([[0, 1, 2], [15, 14, 0]], 30, 40))
    assert read(out / "img_dir/test/P0006.png").shape == (30, 40, 3)


def check_synapse(out: Path) -> None:
    assert tiles(out / "img_dir/train") == [f"case0005_slice00{i}.jpg" for i in range(3)]
    label = np.arange(6 * 5 * 3).reshape(6, 5, 3) % 14
    mapped = np.zeros_like(label)
    for old, new in {8: 1, 4: 2, 3: 3, 2: 4, 6: 5, 11: 6, 1: 7, 7: 8}.items():
        mapped[label == old] = new
    assert np.array_equal(read(out / "ann_dir/val/case0008_slice002.png"), np.fliplr(mapped[:, :, 2]))
    assert read(out / "img_dir/val/case0008_slice000.jpg").shape == (6, 5, 3)


def check_refuge(out: Path) -> None:
    assert np.array_equal(read(out / "annotations/training/g0001.png"), blocks([[1, 2], [0, 0]], 8, 12))
    assert tiles(out / "images/validation") == ["V0001.png"] and tiles(out / "annotations/test") == ["T0001.png"]


CASES = {  # name: (data_root, config, num_classes)
    "cityscapes": ("data/cityscapes", "cityscapes", 19),
    "voc_aug": ("data/VOCdevkit/VOC2012", "pascal_voc12_aug", 21),
    "drive": ("data/DRIVE", "drive", 2),
    "stare": ("data/STARE", "stare", 2),
    "chase_db1": ("data/CHASE_DB1", "chase_db1", 2),
    "hrf": ("data/HRF", "hrf", 2),
    "loveda": ("data/loveDA", "loveda", 7),
    "coco_stuff10k": ("data/coco_stuff10k", "coco-stuff10k", 171),
    "coco_stuff164k": ("data/coco_stuff164k", "coco-stuff164k", 171),
    "potsdam": ("data/potsdam", "potsdam", 6),
    "vaihingen": ("data/vaihingen", "vaihingen", 6),
    "isaid": ("data/iSAID", "isaid", 16),
    "synapse": ("data/synapse", "synapse", 9),
    "refuge": ("data/REFUGE", "refuge", 3),
}


@pytest.mark.parametrize("name", list(CASES))
def test_prepare_then_check_data(name, tmp_path, monkeypatch, capsys):
    if name == "synapse":
        pytest.importorskip("nibabel")
    data_root, config, num_classes = CASES[name]
    src = tmp_path / "downloads"
    globals()[f"build_{name}"](src)
    monkeypatch.chdir(tmp_path)  # OUT is the config's own data_root, relative to the working folder
    assert main(["prepare", name, str(src), data_root]) == 0, capsys.readouterr().err
    globals()[f"check_{name}"](tmp_path / data_root)
    assert main(["prepare", name, str(src), data_root]) == 0  # a second run finds everything done
    assert f"{name}: 0 converted," in capsys.readouterr().out
    cfg = tmp_path / "check_cfg.py"
    cfg.write_text(f"_base_ = ['mmseg::_base_/datasets/{config}.py']\n")
    code = main(["check-data", str(cfg), "--num-classes", str(num_classes)])
    report = capsys.readouterr().out
    assert code == 0 and " 0 error(s)" in report, report


# ---------------------------------------------------------------- broken downloads, resume, --list


def one_line_error(capsys, argv: list[str]) -> str:
    """Exit code 1 and one 'error:' line (after the progress bar, when the failure came mid-run)."""
    assert main(argv) == 1
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("error: ")]
    assert len(lines) == 1 and err.rstrip().endswith(lines[0]) and "Traceback" not in err, err
    return lines[0]


def test_broken_downloads_are_one_line(tmp_path, capsys):
    src, out = tmp_path / "dl", str(tmp_path / "out")
    build_drive(src)
    data = (src / "training.zip").read_bytes()
    (src / "training.zip").write_bytes(data[: len(data) // 2])  # cut short: no central directory
    line = one_line_error(capsys, ["prepare", "drive", str(src), out])
    assert "training.zip" in line and "download training.zip again" in line

    build_drive(src, with_manual=False)  # a member folder is missing
    assert "training/1st_manual/" in one_line_error(capsys, ["prepare", "drive", str(src), out])

    (src / "test.zip").unlink()
    line = one_line_error(capsys, ["prepare", "drive", str(src), out])
    assert "no 'test.zip'" in line and "drive.grand-challenge.org" in line

    make_zip(src / "CHASEDB1.zip", {"Image_01L.jpg": b"not a jpeg"})  # too few images
    assert "holds 1 images (Image_*.jpg), the real download has 28" in one_line_error(
        capsys, ["prepare", "chase_db1", str(src / "CHASEDB1.zip"), out]
    )


def test_damaged_members_and_tars(tmp_path, capsys):
    src, out = tmp_path / "dl", str(tmp_path / "out")
    build_stare(src)
    data = (src / "labels-ah.tar").read_bytes()
    (src / "labels-ah.tar").write_bytes(data[: len(data) // 2])
    assert "labels-ah.tar" in one_line_error(capsys, ["prepare", "stare", str(src), out])

    loveda = tmp_path / "loveda"
    build_loveda(loveda)
    raw = bytearray((loveda / "Val.zip").read_bytes())
    at = raw.find(b"IHDR") + 8  # inside the first stored PNG: its CRC-32 no longer matches
    raw[at] ^= 0xFF
    (loveda / "Val.zip").write_bytes(bytes(raw))
    line = one_line_error(capsys, ["prepare", "loveda", str(loveda), out])
    assert "'Val.zip': member 'Val/Rural/images_png/100.png' cannot be read" in line


def test_missing_optional_package_and_unknown_name(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "nibabel", None)
    assert "pip install nibabel" in one_line_error(capsys, ["prepare", "synapse", str(tmp_path), str(tmp_path)])
    assert "did you mean 'cityscapes'" in one_line_error(capsys, ["prepare", "cityscape", "a", "b"])
    assert "seglab prepare --list" in one_line_error(capsys, ["prepare", "drive"])


def test_resume_after_interruption(tmp_path, capsys):
    src, out = tmp_path / "dl", tmp_path / "out"
    build_drive(src)
    assert main(["prepare", "drive", str(src), str(out)]) == 0
    (out / "images/training/22.png").unlink()  # the job that was running when the run was killed
    leftover = out / "images/training/.22.png.seglab-tmp"
    leftover.write_bytes(b"half")
    capsys.readouterr()
    assert main(["prepare", "drive", str(src), str(out), "--workers", "1"]) == 0
    assert "drive: 1 converted, 6 already done" in capsys.readouterr().out
    assert not leftover.exists() and read(out / "images/training/22.png").shape == (8, 12, 3)


def test_drive_without_test_labels_says_so(tmp_path, capsys):
    build_drive(tmp_path / "dl")
    make_zip(tmp_path / "dl/test.zip", {"test/images/01_test.tif": enc(".tif", photo())})  # today's download
    assert main(["prepare", "drive", str(tmp_path / "dl"), str(tmp_path / "out")]) == 0
    assert "test.zip has no test/1st_manual/" in capsys.readouterr().out
    assert not (tmp_path / "out/annotations/validation").exists()


def test_extracted_folder_converts_in_place(tmp_path, capsys):
    """SRC may be the extracted download, and OUT the same folder (Cityscapes as MMSegmentation's docs lay it)."""
    root = tmp_path / "cityscapes"
    build_cityscapes(tmp_path / "dl")
    for archive in ("leftImg8bit_trainvaltest.zip", "gtFine_trainvaltest.zip"):
        zipfile.ZipFile(tmp_path / "dl" / archive).extractall(root)
    assert main(["prepare", "cityscapes", str(root), str(root)]) == 0
    assert "3 already done" in capsys.readouterr().out  # the images are in place already
    check_cityscapes(root)


def test_list_names_every_download(capsys):
    assert main(["prepare", "--list"]) == 0
    text = capsys.readouterr().out
    for name in CASES:
        assert f"\n{name} " in text
    for archive in ("leftImg8bit_trainvaltest.zip", "benchmark.tgz", "stare-images.tar", "CHASEDB1.zip",
                    "stuffthingmaps_trainval2017.zip", "5_Labels_all_noBoundary.zip", "RawData.zip"):  # fmt: skip
        assert archive in text


# ---------------------------------------------------------------- facts from MMSegmentation 1.2.2


@pytest.fixture(scope="module")
def facts() -> dict:
    with gzip.open(RECORDS, "rt") as f:
        return json.load(f)


def test_tables_match_mmsegmentation(facts):
    from seglab.data.prepare import cityscapes, coco_stuff

    for key, table in (("cityscapes_id_to_train_id", cityscapes.TABLE), ("coco_stuff10k_map", coco_stuff.TABLE_10K),
                       ("coco_stuff164k_map", coco_stuff.TABLE_164K)):  # fmt: skip
        recorded = {int(k): v for k, v in facts[key].items()}
        assert {k: int(table[k]) for k in recorded} == recorded, key
    # what MMSegmentation leaves unmapped: our tables make it unlabelled (10k: 0, reduced to 255 later)
    assert int(coco_stuff.TABLE_10K[12]) == 0 and int(coco_stuff.TABLE_164K[11]) == 255


def test_tiles_match_mmsegmentation(facts):
    from seglab.data.prepare import isaid, isprs
    from seglab.data.prepare.common import colours_to_index
    from seglab.data.prepare.tiling import isprs_boxes, pad_to, sliding_starts

    for key, prefix in (("potsdam_tiles", "2_10"), ("vaihingen_tiles", "area1")):
        for size, names in facts[key].items():
            h, w = map(int, size.split("x"))
            assert sorted(f"{prefix}_{x0}_{y0}_{x1}_{y1}.png" for x0, y0, x1, y1 in isprs_boxes(h, w, 512)) == names
    for size, names in facts["isaid_tiles"].items():
        h, w = (max(int(v), 896) for v in size.split("x"))
        mine = [f"P0000_{y}_{y + 896}_{x}_{x + 896}.png" for x in sliding_starts(w, 896, 512)
                for y in sliding_starts(h, 896, 512)]  # fmt: skip
        assert sorted(mine) == names, size
    rec = facts["potsdam_label"]
    index = colours_to_index(np.array(rec["bgr"], np.uint8), isprs.PALETTE_BGR)
    for name, tile in rec["tiles"].items():
        x0, y0, x1, y1 = map(int, name[:-4].split("_")[2:])
        assert np.array_equal(index[y0:y1, x0:x1], np.array(tile)), name
    rec = facts["isaid_label"]
    assert [tuple(facts["isaid_palette_rgb"][str(i)]) for i in range(16)] == isaid.PALETTE_RGB
    padded = pad_to(colours_to_index(np.array(rec["rgb"], np.uint8)[:, :, ::-1], isaid.PALETTE_BGR), 8, 255)
    assert np.array_equal(padded, np.array(rec["padded_indices"]))
