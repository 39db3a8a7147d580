"""Multi-band models and data: first-layer adaptation of RGB checkpoints, the mean/std band check, band-aware
transforms, per-band statistics in check-data, and the one line naming the ``geo`` extra without rasterio."""

from __future__ import annotations

import copy
import sys

import numpy as np
import pytest
import torch

from seglab.cli import main
from seglab.errors import ConfigError, DatasetError
from seglab.fileio.checkpoint import load_checkpoint
from seglab.models.builder import build_model

# Also the scene tests' model; it lives here, in a file that does not need rasterio, so that these tests run without it.
# UNet with one stage of two 3x3 convs and a 1x1 classifier: receptive-field radius 2, below half the overlap (8),
# so the centre-crop rule gives exactly what one forward over the whole scene gives
TINY_4BAND = dict(
    type="EncoderDecoder",
    data_preprocessor=dict(type="SegDataPreProcessor", mean=[100.0] * 4, std=[50.0] * 4, size=(32, 32)),
    backbone=dict(
        type="UNet", in_channels=4, base_channels=8, num_stages=1, strides=(1,), enc_num_convs=(2,),
        dec_num_convs=(), downsamples=(), enc_dilations=(1,), dec_dilations=(),
    ),
    decode_head=dict(
        type="FCNHead", in_channels=8, in_index=0, channels=8, num_convs=0, concat_input=False, num_classes=3,
        dropout_ratio=0.0, norm_cfg=dict(type="BN"),
    ),
    test_cfg=dict(mode="whole"),
)  # fmt: skip
FIRST_CONV = "backbone.encoder.0.0.convs.0.conv.weight"


def tiny(bands: int, **backbone) -> dict:
    cfg = copy.deepcopy(TINY_4BAND)
    cfg["data_preprocessor"].update(mean=[100.0] * bands, std=[50.0] * bands)
    cfg["backbone"].update(in_channels=bands, **backbone)
    return cfg


@pytest.fixture
def rgb_checkpoint(tmp_path):
    torch.manual_seed(0)
    model = build_model(tiny(3)).eval()
    for module in model.modules():  # BN statistics that are not the identity, so they must load too
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-1, 1)
            module.running_var.uniform_(0.5, 2)
    path = tmp_path / "rgb.pth"
    torch.save({"state_dict": model.state_dict()}, path)
    return model, path


@pytest.mark.parametrize("bands", [4, 13])
def test_load_from_adapts_an_rgb_first_layer_and_matches_the_rgb_model_on_zero_extra_bands(rgb_checkpoint, bands):
    rgb, path = rgb_checkpoint
    model = build_model(tiny(bands)).eval()
    report = load_checkpoint(model, path)
    assert not report.skipped and [a[0] for a in report.adapted] == [FIRST_CONV]
    assert f"adapted the first layer {FIRST_CONV} from 3 to {bands} bands" in report.table()
    x = torch.randn(2, 3, 24, 20)
    extra = torch.zeros(2, bands - 3, 24, 20)
    with torch.no_grad():
        assert torch.equal(model.encode_decode(torch.cat([x, extra], 1)), rgb.encode_decode(x))


# Backbones that read the image in a second layer beside their stem, shrunk: (backbone, decode head's in_index,
# neck, the second layer's weight key)
SECOND_READERS = {
    "BiSeNetV1": (
        lambda bands: dict(
            type="BiSeNetV1", in_channels=bands, out_indices=(0,), spatial_channels=(8, 8, 8, 16),
            context_channels=(16, 32, 64), out_channels=16,
            backbone_cfg=dict(type="ResNet", in_channels=bands, depth=18, stem_channels=8, base_channels=8),
        ),
        0, None, "backbone.spatial_path.layer1.conv.weight",
    ),
    "ICNet": (
        lambda bands: dict(
            type="ICNet", in_channels=bands, layer_channels=(16, 64), light_branch_middle_channels=8,
            psp_out_channels=16, out_channels=(8, 16, 16),
            backbone_cfg=dict(
                type="ResNetV1c", in_channels=bands, depth=18, stem_channels=8, base_channels=8,
                dilations=(1, 1, 2, 4), strides=(1, 2, 1, 1), contract_dilation=True,
            ),
        ),
        2, dict(type="ICNeck", in_channels=(8, 16, 16), out_channels=16), "backbone.conv_sub1.0.conv.weight",
    ),
}  # fmt: skip


def second_reader(family: str, bands: int) -> dict:
    backbone, in_index, neck, _ = SECOND_READERS[family]
    cfg = tiny(bands)
    cfg["backbone"] = backbone(bands)
    cfg["decode_head"].update(in_channels=16, channels=16, in_index=in_index)
    return dict(cfg, neck=neck) if neck else cfg


@pytest.mark.parametrize("family", sorted(SECOND_READERS))
def test_load_from_adapts_every_layer_that_reads_the_image(family, tmp_path):
    torch.manual_seed(0)
    rgb = build_model(second_reader(family, 3)).eval()
    for module in rgb.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-1, 1)
            module.running_var.uniform_(0.5, 2)
    torch.save({"state_dict": rgb.state_dict()}, tmp_path / "rgb.pth")
    model = build_model(second_reader(family, 4)).eval()
    report = load_checkpoint(model, tmp_path / "rgb.pth")
    second = SECOND_READERS[family][3]
    assert not report.skipped and not report.missing and len(report.adapted) == 2
    assert second in [a[0] for a in report.adapted]
    line = next(line for line in report.table().splitlines() if second in line)
    assert f"{second} from 3 to 4 bands" in line and line.endswith("(this layer also reads the image)")
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        assert torch.equal(model.encode_decode(torch.cat([x, torch.zeros(1, 1, 64, 64)], 1)), rgb.encode_decode(x))


def test_backbone_pretrained_adapts_the_first_layer_too_and_says_so(rgb_checkpoint, seglab_log):
    rgb, path = rgb_checkpoint
    cfg = tiny(4, init_cfg=dict(type="Pretrained", checkpoint=str(path), prefix="backbone."))
    model = build_model(cfg).eval()
    assert "adapted the first layer encoder.0.0.convs.0.conv.weight from 3 to 4 bands" in seglab_log.text
    x = torch.randn(1, 3, 16, 16)
    with torch.no_grad():
        assert torch.equal(model.backbone(torch.cat([x, torch.zeros(1, 1, 16, 16)], 1))[0], rgb.backbone(x)[0])


def test_a_one_band_model_fed_grey_matches_the_rgb_model_fed_the_same_grey(rgb_checkpoint):
    rgb, path = rgb_checkpoint
    model = build_model(tiny(1)).eval()
    assert load_checkpoint(model, path).adapted
    grey = torch.randn(1, 1, 16, 16)
    with torch.no_grad():
        assert torch.allclose(model.encode_decode(grey), rgb.encode_decode(grey.repeat(1, 3, 1, 1)), atol=1e-5)


def test_mean_std_that_do_not_match_in_channels_is_one_line_naming_both_keys():
    cfg = tiny(4)
    cfg["data_preprocessor"].update(mean=[100.0] * 3, std=[50.0] * 3)
    with pytest.raises(
        ConfigError, match=r"data_preprocessor.mean/std have 3 values but model.backbone.in_channels is 4"
    ):
        build_model(cfg)


def test_photometric_distortion_refuses_a_multi_band_image_in_one_line():
    from seglab.data.transforms import PhotoMetricDistortion

    with pytest.raises(DatasetError, match="PhotoMetricDistortion works on 3-band BGR images, but .* has 4 bands"):
        PhotoMetricDistortion()({"img": np.zeros((8, 8, 4), np.uint8), "img_path": "a.tif"})


@pytest.mark.parametrize("fill_in, band_values", [(7, [7] * 4), ((7,), [7] * 4), ((1, 2, 3, 4), [1, 2, 3, 4])])
def test_random_cutout_fills_every_band_with_one_value_or_one_per_band(fill_in, band_values):
    from seglab.data.transforms import RandomCutOut

    cutout = RandomCutOut(prob=1.0, n_holes=1, cutout_ratio=(1.0, 1.0), fill_in=fill_in)
    np.random.seed(0)
    img = cutout({"img": np.full((8, 8, 4), 200, np.uint8), "img_path": "a.tif"})["img"]
    holes = (img != 200).any(-1)
    assert holes.any() and [sorted(set(img[holes][:, b])) for b in range(4)] == [[v] for v in band_values]


def test_random_cutout_with_a_fill_per_rgb_band_refuses_a_multi_band_image_in_one_line():
    from seglab.data.transforms import RandomCutOut

    with pytest.raises(DatasetError, match=r"^RandomCutOut: 'fill_in' has 3 values but image 'a.tif' has 4 bands"):
        RandomCutOut(prob=1.0, n_holes=1, cutout_shape=(2, 2))({"img": np.zeros((8, 8, 4)), "img_path": "a.tif"})
    with pytest.raises(ConfigError, match="RandomCutOut: 'fill_in' must be a number or a list of numbers"):
        RandomCutOut(prob=1.0, n_holes=1, cutout_shape=(2, 2), fill_in="black")


def test_check_data_reports_band_counts_and_per_band_statistics(tmp_path, capsys):
    tifffile = pytest.importorskip("tifffile")
    from PIL import Image

    for split in ("train", "val"):
        (tmp_path / "img_dir" / split).mkdir(parents=True)
        (tmp_path / "ann_dir" / split).mkdir(parents=True)
        bands = np.stack([np.full((6, 5), 10 * (b + 1), np.uint16) for b in range(4)], -1)
        bands[0, 0, 3] = 44  # band 4: mean (29 * 40 + 44) / 30 = 40.13, std 0.72
        tifffile.imwrite(tmp_path / "img_dir" / split / "a.tif", bands)
        Image.fromarray(np.zeros((6, 5), np.uint8)).save(tmp_path / "ann_dir" / split / "a.png")
    assert main(["check-data", str(tmp_path), "--num-classes", "2"]) == 0
    out = capsys.readouterr().out
    assert "[train] 1 image(s) with 4 band(s): per-band mean [10.0, 20.0, 30.0, 40.13] std [0.0, 0.0, 0.0, 0.72]" in out


def test_check_data_leaves_out_the_pixels_a_geotiff_declares_nodata(tmp_path, capsys):
    rasterio = pytest.importorskip("rasterio")
    from PIL import Image
    from rasterio.transform import from_origin

    bands = np.stack([np.full((6, 5), 10 * (b + 1), np.uint16) for b in range(4)])
    bands[:, :2] = 0  # 10 nodata pixels (every band is the nodata value) ...
    bands[0, 5, 4] = 0  # ... and one pixel with a single zero band, which is data: band 1 mean 190 / 20 = 9.5
    profile = dict(driver="GTiff", height=6, width=5, count=4, dtype="uint16", nodata=0, crs="EPSG:32633")
    for split in ("train", "val"):
        (tmp_path / "img_dir" / split).mkdir(parents=True)
        (tmp_path / "ann_dir" / split).mkdir(parents=True)
        with rasterio.open(
            tmp_path / "img_dir" / split / "a.tif", "w", transform=from_origin(5e5, 4e6, 10, 10), **profile
        ) as out:
            out.write(bands)
        Image.fromarray(np.zeros((6, 5), np.uint8)).save(tmp_path / "ann_dir" / split / "a.png")
    assert main(["check-data", str(tmp_path), "--num-classes", "2"]) == 0
    out = capsys.readouterr().out
    assert (
        "[train] 1 image(s) with 4 band(s): per-band mean [9.5, 20.0, 30.0, 40.0] std [2.18, 0.0, 0.0, 0.0] "
        "(model.data_preprocessor mean/std, file band order); 10 nodata pixel(s) left out (1 image(s) declare nodata)"
    ) in out


def test_scene_commands_without_rasterio_name_the_extra(monkeypatch, tmp_path, capsys):
    monkeypatch.setitem(sys.modules, "rasterio", None)
    assert main(["tile", str(tmp_path / "a.tif"), str(tmp_path / "b.tif"), str(tmp_path / "out")]) == 2
    assert (
        "needs rasterio, which is not installed: pip install rasterio (or, in your seglab clone, pip install -e '.[geo]')"
        in capsys.readouterr().err
    )
