"""UNet and memory-bounded sliding-window / test-time-augmentation inference (records in
tests/records/zoo/unet_*).

UNet (InterpConv, DeconvModule, strided and dilated stages, no upsampling) and the FCN/PSP/ASPP heads on
it give MMSegmentation's outputs for the same weights; a tiny UNet learns; a shipped UNet config runs
``seglab test`` in slide mode on images larger than its crop; sliding-window inference and the TTA average
equal their straightforward definitions (pad every window to full size and sum; average a list) while
allocating one full-size map instead of one per window.

Every config's key/shape list and the fresh-initialisation statistics are checked in test_zoo_keys.py.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch.utils._python_dispatch import TorchDispatchMode

from seglab.cli import main
from seglab.errors import ConfigError
from seglab.inference import merge_augmented
from seglab.models.builder import build_on_meta
from seglab.models.prediction import logits_to_probabilities, probabilities_to_labels
from seglab.registry import MODELS

from .zoo_parity import HEAD, RECORDS, assert_tiny_model_learns, config_path, read_record, recorded_state

FIXTURES = read_record("unet_fixtures.json.gz")
del FIXTURES["recorder"]  # the script that re-makes the record, not a case


# ------------------------------------------------------------------------------------------ numeric fixtures
@pytest.fixture(scope="module")
def fixture_tensors() -> dict:
    return torch.load(RECORDS / "unet_fixtures.pt", weights_only=True)


@pytest.mark.parametrize("name", sorted(FIXTURES))
def test_outputs_match_mmsegmentation_for_the_same_weights(name, fixture_tensors, one_thread):
    case = FIXTURES[name]
    module = MODELS.build(dict(type=case["type"], **case["kwargs"])).eval()
    state = module.state_dict()
    assert [[k, list(v.shape)] for k, v in state.items()] == case["keys"]
    module.load_state_dict(recorded_state(case, fixture_tensors[f"{name}/state"], state), strict=True)
    x = fixture_tensors[f"{name}/in/0"]
    with torch.no_grad():
        if case["call"] == "backbone":
            outs = list(module(x))
        else:  # the whole model's logits at the input size: UNet, decode head, resize
            outs = [module.encode_decode(x, [dict(pad_shape=tuple(x.shape[2:]), img_shape=tuple(x.shape[2:]))])]
    assert [list(o.shape) for o in outs] == case["output_shapes"]
    for i, o in enumerate(outs):
        ref = fixture_tensors[f"{name}/out/{i}"]
        err, scale = (o - ref).abs().max().item(), ref.abs().max().item()
        assert err <= 1e-4 * scale, f"output {i}: max error {err:.3g}, max |reference| {scale:.3g}"


# ------------------------------------------------------------------------------------------ options and mistakes
@pytest.mark.parametrize(
    "cfg,message",
    [
        (dict(dcn=dict(type="DCNv2")), "UNet option 'dcn' is not implemented"),
        (dict(plugins=[dict(cfg=dict(type="ContextBlock"))]), "UNet option 'plugins' is not implemented"),
        (dict(strides=(1, 1, 1, 1)), r"UNet strides=\(1, 1, 1, 1\) needs 5 values"),
        (dict(dec_dilations=(1, 1)), r"dec_dilations=\(1, 1\) needs 4 values .* after the first"),
        (dict(upsample_cfg=dict(type="bilinear")), "upsample_cfg must be dict\\(type='InterpConv'\\)"),
        (dict(upsample_cfg=dict(type="DeconvModule", kernel_size=3)), "DeconvModule kernel_size=3"),
        (dict(upsample_cfg=dict(type="InterpConv", bad=1)), "unexpected keyword argument 'bad'"),
    ],
)
def test_user_mistakes_raise_config_error(cfg, message):
    with pytest.raises(ConfigError, match=message):
        build_on_meta(dict(type="UNet", base_channels=2, **cfg))


def test_input_not_divisible_by_the_downsample_rate_names_the_fix():
    unet = MODELS.build(dict(type="UNet", base_channels=2, downsamples=(True, True, False, True)))
    assert unet.downsample_rate == 8
    with pytest.raises(ConfigError, match=r"UNet input size \(20, 24\) is not a multiple of its downsample rate 8"):
        unet(torch.zeros(1, 3, 20, 24))


def test_norm_eval_keeps_batch_norm_statistics_frozen_in_training():
    unet = MODELS.build(dict(type="UNet", base_channels=2, num_stages=2, strides=(1, 1), enc_num_convs=(1, 1),
                             dec_num_convs=(1,), downsamples=(True,), enc_dilations=(1, 1), dec_dilations=(1,),
                             norm_eval=True)).train()  # fmt: skip
    assert not any(m.training for m in unet.modules() if isinstance(m, torch.nn.BatchNorm2d))


# ------------------------------------------------------------------------------------------ learning
# a three-stage UNet at base width 4 (levels of 16, 8, 4 channels; the last at full resolution): 40 iterations
# reach mIoU 87-91 (seeds 0-1), in about half the time of the four-stage width-8 one
UNET = """backbone=dict(_delete_=True, type='UNet', base_channels=4, num_stages=3, strides=(1, 1, 1),
    enc_num_convs=(2, 2, 2), dec_num_convs=(2, 2), downsamples=(True, True), enc_dilations=(1, 1, 1),
    dec_dilations=(1, 1), norm_cfg=dict(type='BN', requires_grad=True))"""
TINY_FAMILIES = {
    "unet": (
        "FCNHead",
        f"model = dict({UNET}, auxiliary_head=None, decode_head=dict(_delete_=True, type='FCNHead', in_channels=4, "
        f"in_index=2, num_convs=1, concat_input=False, {HEAD}))",
    ),
}


@pytest.mark.parametrize("family", sorted(TINY_FAMILIES))
def test_tiny_unet_learns(family, tiny_config, one_thread):
    head_type, fragment = TINY_FAMILIES[family]
    assert_tiny_model_learns(tiny_config, fragment, head_type, iters=40)


# ------------------------------------------------------------------------------------------ slide mode from the CLI
def test_shipped_unet_config_tests_in_slide_mode_on_images_larger_than_its_crop(tmp_path, one_thread):
    """DRIVE's config (64x64 crop, stride 42): 96x96 images -> 2x2 windows each; a saved tiny model."""
    root = tmp_path / "drive"
    rng = np.random.default_rng(0)
    for split in ("training", "validation"):
        (root / "images" / split).mkdir(parents=True)
        (root / "annotations" / split).mkdir(parents=True)
        for i in range(2):
            label = (rng.random((96, 96)) > 0.7).astype(np.uint8)
            image = np.repeat(label[:, :, None] * 200 + 20, 3, axis=2).astype(np.uint8)
            cv2.imwrite(str(root / "images" / split / f"{i}.png"), image)
            cv2.imwrite(str(root / "annotations" / split / f"{i}_manual1.png"), label)
    options = [
        "model.backbone.base_channels=2",
        "model.decode_head.in_channels=2",
        "model.decode_head.channels=4",
        "model.auxiliary_head.in_channels=4",
        "model.auxiliary_head.channels=4",
        *[f"{loader}.{key}" for loader in ("val_dataloader", "test_dataloader")
          for key in (f"dataset.data_root={root}", "num_workers=0", "persistent_workers=False")],
        "test_dataloader.dataset.pipeline.1.scale=(96,96)",
    ]  # fmt: skip
    from seglab import Config, build_model
    from seglab.config import parse_cfg_options

    config = config_path("unet/unet-s5-d16_fcn_4xb4-40k_drive-64x64")
    cfg = Config.fromfile(config)
    cfg.merge_from_dict(parse_cfg_options(options))
    assert cfg.model.test_cfg == dict(mode="slide", crop_size=(64, 64), stride=(42, 42))
    torch.manual_seed(0)
    torch.save({"state_dict": build_model(cfg.model, load_pretrained=False).state_dict()}, tmp_path / "unet.pth")
    out = tmp_path / "out"
    args = ["test", str(config), str(tmp_path / "unet.pth"), "--work-dir", str(tmp_path / "work"), "--out", str(out)]
    assert main([*args, "--cfg-options", *options]) == 0
    written = sorted(out.glob("*.png"))
    assert [p.name for p in written] == ["0.png", "1.png"]
    assert all(cv2.imread(str(p), cv2.IMREAD_UNCHANGED).shape[:2] == (96, 96) for p in written)


# ------------------------------------------------------------------------------------------ slide and TTA memory
def reference_slide(model, inputs: torch.Tensor) -> torch.Tensor:
    """The definition (MMSegmentation's code path): every window's logits padded to full size and summed."""
    (h_crop, w_crop), (h_stride, w_stride) = model.test_cfg["crop_size"], model.test_cfg["stride"]
    n, _, h_img, w_img = inputs.shape
    logits = inputs.new_zeros((n, model.out_channels, h_img, w_img))
    counts = inputs.new_zeros((n, 1, h_img, w_img))
    for h_idx in range(max(h_img - h_crop + h_stride - 1, 0) // h_stride + 1):
        for w_idx in range(max(w_img - w_crop + w_stride - 1, 0) // w_stride + 1):
            y2, x2 = min(h_idx * h_stride + h_crop, h_img), min(w_idx * w_stride + w_crop, w_img)
            y1, x1 = max(y2 - h_crop, 0), max(x2 - w_crop, 0)
            crop = inputs[:, :, y1:y2, x1:x2]
            crop_logits = model.encode_decode(crop, [{"pad_shape": tuple(crop.shape[2:])}] * n)
            logits += F.pad(crop_logits, (x1, w_img - x2, y1, h_img - y2))
            counts[:, :, y1:y2, x1:x2] += 1
    return logits / counts


class LargeTensors(TorchDispatchMode):
    """Collects the storages of op outputs with at least ``numel`` elements (full-size maps)."""

    def __init__(self, numel: int) -> None:
        super().__init__()
        self.numel, self.storages = numel, set()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        for o in out if isinstance(out, tuple | list) else [out]:
            if isinstance(o, torch.Tensor) and o.numel() >= self.numel:
                self.storages.add(o.untyped_storage().data_ptr())
        return out


def tiny_model(test_cfg: dict) -> torch.nn.Module:
    torch.manual_seed(0)
    model = MODELS.build(
        dict(
            type="EncoderDecoder",
            backbone=dict(type="UNet", base_channels=2, num_stages=3, strides=(1, 1, 1), enc_num_convs=(1, 1, 1),
                          dec_num_convs=(1, 1), downsamples=(True, True), enc_dilations=(1, 1, 1),
                          dec_dilations=(1, 1)),
            decode_head=dict(type="FCNHead", in_channels=2, in_index=2, channels=4, num_convs=1, num_classes=5),
            test_cfg=test_cfg,
        )
    )  # fmt: skip
    return model.eval()


@pytest.mark.parametrize(
    "size,crop,stride",
    [((70, 92), (32, 48), (20, 28)), ((24, 100), (32, 32), (16, 24)), ((40, 40), (40, 40), (12, 12))],
)
def test_slide_inference_equals_padding_and_summing_with_one_full_size_map(size, crop, stride, one_thread):
    model = tiny_model(dict(mode="slide", crop_size=crop, stride=stride))
    x = torch.randn(2, 3, *size)
    with torch.no_grad():
        expected = reference_slide(model, x)
        with LargeTensors(expected.numel()) as large:
            got = model.inference(x)
        assert torch.equal(got, expected)  # same operations in the same order: bit for bit
        if crop[0] * crop[1] < size[0] * size[1]:  # (a window as large as the image has full-size features)
            assert len(large.storages) == 1  # the output; the reference makes one more per window
        model.test_cfg["slide_batch_size"] = 3  # several windows per forward: same up to rounding
        torch.testing.assert_close(model.inference(x), expected, rtol=1e-5, atol=1e-6)


def test_slide_settings_are_checked():
    model = tiny_model(dict(mode="slide", crop_size=(16, 16), stride=(8, 8), slide_batch_size=0))
    with pytest.raises(ConfigError, match="slide_batch_size must be an int >= 1, got 0"):
        model.inference(torch.zeros(1, 3, 16, 16))
    model.test_cfg.update(slide_batch_size=1, stride=(8, -1))
    with pytest.raises(ConfigError, match=r"stride must be \(h, w\) positive ints"):
        model.inference(torch.zeros(1, 3, 16, 16))
    model.test_cfg.update(stride=8, crop_size=16)  # MMSegmentation's _base_ unet files give plain ints
    assert model.inference(torch.zeros(1, 3, 24, 24)).shape == (1, 5, 24, 24)


def test_tta_running_average_equals_the_mean_of_every_copy(one_thread):
    model = tiny_model(dict(mode="slide", crop_size=(16, 16), stride=(12, 12)))
    torch.manual_seed(1)
    image = torch.randint(0, 255, (3, 24, 40), dtype=torch.uint8)
    copies = []
    for scale in (1.0, 1.5):
        size = (int(24 * scale) // 4 * 4, int(40 * scale) // 4 * 4)
        resized = F.interpolate(image[None].float(), size=size, mode="bilinear")[0].round().to(torch.uint8)
        for flip in (False, True):
            sample = dict(ori_shape=(24, 40), img_shape=size, flip=flip, flip_direction="horizontal")
            copies.append({"inputs": [resized.flip(-1) if flip else resized], "data_samples": [sample]})
    with torch.no_grad():
        outs = [model.predict(*model.data_preprocessor(c, training=False))[0] for c in copies]
        expected = sum(logits_to_probabilities(o["seg_logits"][None])[0] for o in outs) / len(outs)
        merged = merge_augmented(model, iter(copies))  # consumed one copy at a time
    assert torch.equal(merged["seg_logits"], expected)
    assert torch.equal(merged["pred_sem_seg"], probabilities_to_labels(expected))
    assert merged["ori_shape"] == (24, 40) and merged["seg_logits"].shape == (5, 24, 40)
    with pytest.raises(ConfigError, match="produced no augmented copies"):
        merge_augmented(model, [])
