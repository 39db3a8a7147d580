"""Properties of the random and resizing transforms on generated samples (hypothesis).

Labels are blocks of classes 0..4 and ignore (255); the image carries its label as a grey code
(class * 50, ignore = 250), so after any transform each image pixel must lie between the codes of
the labels around it (``radius`` pixels: bilinear image resampling mixes neighbours, nearest label
resampling does not; the bilinear cases only enlarge, since shrinking averages away rows that
nearest sampling skips, and shrinking is checked exactly with nearest interpolation). Label values are never interpolated: only values present before, or the pad /
fill value, appear afterwards. Each test runs a fixed, small number of derandomised examples."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest
from hypothesis import Phase, given, settings
from hypothesis import strategies as st

from seglab.errors import DatasetError
from seglab.registry import TRANSFORMS

# no 'explain' phase: it imports libcst (seconds) and writes .hypothesis/patches on a failure
SETTINGS = settings(
    max_examples=12,
    deadline=None,
    derandomize=True,
    database=None,
    phases=(Phase.explicit, Phase.generate, Phase.shrink),
)
CODE = np.zeros(256, np.int32)
CODE[:5] = np.arange(5) * 50
CODE[255] = 250
VALUES = [0, 1, 2, 3, 4, 255]


@st.composite
def label_maps(draw, min_side: int = 4, max_side: int = 24) -> np.ndarray:
    """A label map of rectangular blocks (2-6 rows x 2-6 columns of random classes or ignore)."""
    h = draw(st.integers(min_side, max_side))
    w = draw(st.integers(min_side, max_side))
    rows = sorted(set(draw(st.lists(st.integers(1, h - 1), min_size=1, max_size=5))))
    cols = sorted(set(draw(st.lists(st.integers(1, w - 1), min_size=1, max_size=5))))
    values = draw(st.lists(st.sampled_from(VALUES), min_size=36, max_size=36))
    label = np.zeros((h, w), np.uint8)
    for i, (y1, y2) in enumerate(zip([0, *rows], [*rows, h])):
        for j, (x1, x2) in enumerate(zip([0, *cols], [*cols, w])):
            label[y1:y2, x1:x2] = values[(i * 6 + j) % 36]
    return label


def make_sample(label: np.ndarray) -> dict:
    img = np.repeat(CODE[label].astype(np.uint8)[..., None], 3, axis=2)
    h, w = label.shape
    return {
        "img": img,
        "gt_seg_map": label.copy(),
        "seg_fields": ["gt_seg_map"],
        "img_shape": (h, w),
        "ori_shape": (h, w),
    }


def assert_aligned(out: dict, radius: int, border_code: int | None = None, cropped: bool = False) -> None:
    """Every image pixel lies within the label codes of its (2*radius+1)^2 neighbourhood (±1 rounding);
    ``border_code`` is what lies beyond the edges (the fill of a rotation), else the edge repeats;
    ``cropped`` skips the ``radius``-wide frame, where the image mixed in rows the crop cut off."""
    img, seg = out["img"], out["gt_seg_map"]
    assert img.shape[:2] == seg.shape == tuple(out["img_shape"])
    code = CODE[seg].astype(np.uint8)
    if border_code is None:
        code = cv2.copyMakeBorder(code, radius, radius, radius, radius, cv2.BORDER_REPLICATE)
    else:
        code = cv2.copyMakeBorder(code, radius, radius, radius, radius, cv2.BORDER_CONSTANT, value=border_code)
    kernel = np.ones((2 * radius + 1, 2 * radius + 1), np.uint8)
    inner = (slice(radius, code.shape[0] - radius), slice(radius, code.shape[1] - radius))
    low = cv2.erode(code, kernel, borderType=cv2.BORDER_REPLICATE)[inner].astype(int)
    high = cv2.dilate(code, kernel, borderType=cv2.BORDER_REPLICATE)[inner].astype(int)
    channel = img[..., 0].astype(int)
    bad = (channel < low - 1) | (channel > high + 1)
    if cropped:
        bad[:radius], bad[-radius:], bad[:, :radius], bad[:, -radius:] = False, False, False, False
    assert not bad.any(), f"{bad.sum()} of {bad.size} image pixels do not match the labels around them"


def assert_labels_from(out_label: np.ndarray, before: np.ndarray, *extra: int) -> None:
    allowed = set(np.unique(before).tolist()) | set(extra)
    assert set(np.unique(out_label).tolist()) <= allowed


@SETTINGS
@given(label=label_maps(), seed=st.integers(0, 2**31), rotate=st.floats(0, 1), degree=st.floats(1, 90))
def test_random_rot_flip(label, seed, rotate, degree):
    np.random.seed(seed)
    out = TRANSFORMS.build(dict(type="RandomRotFlip", rotate_prob=rotate, flip_prob=0.5, degree=degree))(
        make_sample(label)
    )
    assert_labels_from(out["gt_seg_map"], label, 0)  # rotated-in corners are 0, as MMSegmentation's
    assert_aligned(out, radius=2, border_code=0)
    assert sorted(out["img"].shape[:2]) == sorted(label.shape)
    if out["img"].shape[:2] != label.shape or (out["img"].shape[:2] == label.shape and not rotate):
        assert (out["gt_seg_map"] == 255).sum() == (label == 255).sum()  # a 90-degree turn keeps every pixel


@SETTINGS
@given(label=label_maps(), seed=st.integers(0, 2**31), holes=st.integers(1, 4), ratio=st.floats(0.05, 0.6))
def test_random_cut_out(label, seed, holes, ratio):
    np.random.seed(seed)
    cut = TRANSFORMS.build(
        dict(
            type="RandomCutOut",
            prob=0.8,
            n_holes=(0, holes),
            cutout_ratio=(ratio, ratio),
            fill_in=(250,) * 3,
            seg_fill_in=255,
        )
    )
    out = cut(make_sample(label))
    assert_labels_from(out["gt_seg_map"], label, 255)
    assert_aligned(out, radius=0)
    changed = out["gt_seg_map"] != label
    assert (out["gt_seg_map"][changed] == 255).all() and (out["gt_seg_map"][label == 255] == 255).all()


@SETTINGS
@given(
    labels=st.lists(label_maps(2, 14), min_size=4, max_size=4),
    seed=st.integers(0, 2**31),
    scale=st.tuples(st.integers(14, 20), st.integers(14, 20)),
)
def test_random_mosaic(labels, seed, scale):
    samples = [make_sample(label) for label in labels]
    np.random.seed(seed)
    mosaic = TRANSFORMS.build(dict(type="RandomMosaic", prob=1.0, img_scale=scale, pad_val=250, seg_pad_val=255))
    out = mosaic(dict(samples[0], mix_results=samples[1:]))
    assert out["img"].shape == (2 * scale[0], 2 * scale[1], 3) and out["img_shape"] == out["img"].shape[:2]
    assert_labels_from(out["gt_seg_map"], np.concatenate([x.ravel() for x in labels]), 255)
    upscale = max(min(scale[0] / x.shape[0], scale[1] / x.shape[1]) for x in labels)
    assert_aligned(out, radius=math.ceil(upscale) + 1, cropped=True)


@SETTINGS
@given(
    label=label_maps(),
    seed=st.integers(0, 2**31),
    scales=st.lists(st.tuples(st.integers(2, 40), st.integers(2, 40)), min_size=1, max_size=4),
    keep_ratio=st.booleans(),
)
def test_random_choice_resize_nearest_is_exact(label, seed, scales, keep_ratio):
    np.random.seed(seed)
    resize = TRANSFORMS.build(
        dict(type="RandomChoiceResize", scales=scales, keep_ratio=keep_ratio, interpolation="nearest")
    )
    out = resize(make_sample(label))
    w, h = scales[out["scale_idx"]]
    if keep_ratio:
        factor = min(max(w, h) / max(label.shape), min(w, h) / min(label.shape))
        assert out["img"].shape[:2] == (int(label.shape[0] * factor + 0.5), int(label.shape[1] * factor + 0.5))
    else:
        assert out["img"].shape[:2] == (h, w)
    assert_labels_from(out["gt_seg_map"], label)
    assert_aligned(out, radius=0)


@SETTINGS
@given(label=label_maps(), short=st.integers(24, 40), max_size=st.integers(48, 60))
def test_resize_shortest_edge(label, short, max_size):
    out = TRANSFORMS.build(dict(type="ResizeShortestEdge", scale=short, max_size=max_size))(make_sample(label))
    h, w = out["img"].shape[:2]
    assert max(h, w) <= max_size + 1 and (min(h, w) in (short - 1, short, short + 1) or max(h, w) >= max_size - 1)
    assert_labels_from(out["gt_seg_map"], label)
    ratio = max(h / label.shape[0], w / label.shape[1])
    assert_aligned(out, radius=math.ceil(ratio) + 1)


@SETTINGS
@given(label=label_maps(), divisor=st.integers(1, 16))
def test_resize_to_multiple(label, divisor):
    out = TRANSFORMS.build(dict(type="ResizeToMultiple", size_divisor=divisor))(make_sample(label))
    h, w = out["img"].shape[:2]
    assert (
        h % divisor == 0
        and w % divisor == 0
        and 0 <= h - label.shape[0] < divisor
        and 0 <= w - label.shape[1] < divisor
    )
    assert out["pad_shape"] == (h, w)
    assert_labels_from(out["gt_seg_map"], label)
    assert_aligned(out, radius=2)


@SETTINGS
@given(label=label_maps(), factor=st.floats(0.1, 3.0))
def test_seg_rescale_touches_only_labels(label, factor):
    s = make_sample(label)
    h, w = label.shape
    size = (int(h * factor + 0.5), int(w * factor + 0.5))
    if min(size) < 1:
        with pytest.raises(DatasetError, match="SegRescale: scale_factor=.* to nothing"):
            TRANSFORMS.build(dict(type="SegRescale", scale_factor=factor))(s)
        return
    out = TRANSFORMS.build(dict(type="SegRescale", scale_factor=factor))(dict(s, img=s["img"].copy()))
    assert out["gt_seg_map"].shape == size
    np.testing.assert_array_equal(out["img"], s["img"])
    assert_labels_from(out["gt_seg_map"], label)


@SETTINGS
@given(label=label_maps(), width=st.integers(1, 5))
def test_generate_edge_marks_only_class_boundaries(label, width):
    out = TRANSFORMS.build(dict(type="GenerateEdge", edge_width=width))(make_sample(label))
    edge = out["gt_edge_map"]
    assert edge.shape == label.shape and set(np.unique(edge).tolist()) <= {0, 1}
    valid = label != 255
    boundary = np.zeros_like(valid)
    boundary[1:] |= (label[1:] != label[:-1]) & valid[1:] & valid[:-1]
    boundary[:, :-1] |= (label[:, :-1] != label[:, 1:]) & valid[:, :-1] & valid[:, 1:]
    assert edge.any() == boundary.any()  # no boundary between two classes, no edge


@st.composite
def volumes(draw):
    shape = tuple(draw(st.lists(st.integers(2, 9), min_size=3, max_size=3)))
    seg = draw(st.sampled_from([0, 1, 2, 3])) * np.ones(shape, np.float32)
    z, y, x = (draw(st.integers(0, s - 1)) for s in shape)
    seg[: z + 1, y:, : x + 1] = draw(st.sampled_from([0, 1, 2]))
    img = np.stack([seg, -seg, np.full(shape, 7, np.float32)])
    return {"img": img, "gt_seg_map": seg.copy(), "img_shape": shape, "img_path": "v.nii.gz"}


@SETTINGS
@given(
    volume=volumes(),
    seed=st.integers(0, 2**31),
    crop=st.lists(st.integers(1, 6), min_size=3, max_size=3),
    fg=st.booleans(),
)
def test_biomedical_crop_keeps_image_and_labels_together(volume, seed, crop, fg):
    np.random.seed(seed)
    out = TRANSFORMS.build(dict(type="BioMedical3DRandomCrop", crop_shape=tuple(crop), keep_foreground=fg))(volume)
    expected = tuple(min(c, s) for c, s in zip(crop, volume["gt_seg_map"].shape))
    assert out["gt_seg_map"].shape == expected and out["img"].shape == (3, *expected) and out["img_shape"] == expected
    np.testing.assert_array_equal(out["img"][0], out["gt_seg_map"])
    np.testing.assert_array_equal(out["img"][1], -out["gt_seg_map"])


@SETTINGS
@given(volume=volumes(), seed=st.integers(0, 2**31), axes=st.sets(st.sampled_from([0, 1, 2]), min_size=1))
def test_biomedical_flip_moves_image_and_labels_together(volume, seed, axes):
    np.random.seed(seed)
    flip = TRANSFORMS.build(
        dict(type="BioMedical3DRandomFlip", prob=0.5, axes=tuple(sorted(axes)), swap_label_pairs=[(1, 2)])
    )
    before = volume["gt_seg_map"].copy()
    out = flip(volume)
    swapped = np.where(out["img"][0] == 1, 2, np.where(out["img"][0] == 2, 1, out["img"][0]))
    np.testing.assert_array_equal(swapped, out["gt_seg_map"])
    assert out["gt_seg_map"].shape == before.shape and sorted(np.unique(out["gt_seg_map"])) == sorted(
        np.unique(np.where(before == 1, 2, np.where(before == 2, 1, before)))
    )
    for axis, flipped in enumerate(out["do_flip"]):
        assert not flipped or axis in axes


@SETTINGS
@given(volume=volumes(), seed=st.integers(0, 2**31))
def test_biomedical_intensity_transforms_keep_shape_and_labels(volume, seed):
    np.random.seed(seed)
    before = volume["gt_seg_map"].copy()
    pipeline = [
        dict(type="BioMedicalGaussianNoise", prob=1.0),
        dict(type="BioMedicalRandomGamma", prob=1.0, per_channel=True, retain_stats=True),
    ]
    for cfg in pipeline:
        volume = TRANSFORMS.build(cfg)(volume)
    assert volume["img"].shape == (3, *before.shape) and volume["img"].dtype == np.float32
    assert np.isfinite(volume["img"]).all()
    np.testing.assert_array_equal(volume["gt_seg_map"], before)
