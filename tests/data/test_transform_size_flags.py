"""Every catalogued transform declares truthfully whether it changes the image size (``changes_size``).

The pre-flight batch-padding check trusts that flag, so each transform runs on a tiny non-square sample
(12x16, or a 4x12x16 volume for the biomedical ones) with a few seeds, and the flag must say whether the
image's H×W (Z×Y×X) changed. A new transform that needs arguments to build gets them in ``ARGS``, chosen so
that a size-changing transform does change this sample."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from seglab import catalog
from seglab.errors import ConfigError
from seglab.registry import TRANSFORMS

H, W, Z = 12, 16, 4
SEEDS = range(6)
FLIP = dict(type="RandomFlip", prob=1.0)
ARGS = {
    "Resize": dict(scale=(8, 6)),
    "RandomResize": dict(scale=(W, H), ratio_range=(0.5, 0.75)),
    "RandomCrop": dict(crop_size=(6, 8)),
    "Pad": dict(size=(20, 20)),
    "RandomRotate": dict(prob=1.0, degree=30, auto_bound=True),
    "RandomRotFlip": dict(rotate_prob=0.0, flip_prob=1.0),
    "ResizeShortestEdge": dict(scale=6, max_size=100),
    "RandomChoiceResize": dict(scales=[(8, 6)]),
    "SegRescale": dict(scale_factor=0.5),
    "RandomFlip": dict(prob=1.0),
    "RandomCutOut": dict(prob=1.0, n_holes=2, cutout_shape=(4, 4)),
    "RandomMosaic": dict(prob=1.0, img_scale=(8, 8)),
    "RandomDepthMix": dict(prob=1.0),
    "RandomChoice": dict(transforms=[[FLIP]]),
    "RandomApply": dict(transforms=[FLIP], prob=1.0),
    "TestTimeAug": dict(transforms=[[FLIP]]),
    "Albu": dict(transforms=[dict(type="HorizontalFlip", p=1.0)]),
    "LoadBiomedicalImageFromFile": dict(decode_backend="numpy"),
    "LoadBiomedicalAnnotation": dict(decode_backend="numpy"),
    "BioMedical3DRandomCrop": dict(crop_shape=(2, 6, 8)),
    "BioMedical3DPad": dict(pad_shape=(6, 14, 18)),
    "BioMedical3DRandomFlip": dict(prob=1.0, axes=(0, 1, 2)),
    "BioMedicalGaussianNoise": dict(prob=1.0),
    "BioMedicalGaussianBlur": dict(prob=1.0, prob_per_channel=1.0),
    "BioMedicalRandomGamma": dict(prob=1.0),
}


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, str]:
    """Image, label, depth and volume files of the sample's own size, for the loaders."""
    folder = tmp_path_factory.mktemp("sizes")
    rng = np.random.default_rng(0)
    arrays = {
        "img_path": rng.integers(0, 255, (H, W, 3), dtype=np.uint8),
        "seg_map_path": rng.integers(0, 4, (H, W), dtype=np.uint8),
        "depth_map_path": rng.integers(0, 5000, (H, W), dtype=np.uint16),
    }
    paths = {}
    for key, array in arrays.items():
        paths[key] = str(folder / f"{key}.png")
        cv2.imwrite(paths[key], array)
    paths["img_path2"] = paths["img_path"]
    np.save(folder / "volume.npy", rng.random((2, Z, H, W)).astype(np.float32))
    np.save(folder / "labels.npy", rng.integers(0, 3, (Z, H, W)).astype(np.uint8))
    paths["volume"], paths["labels"] = str(folder / "volume.npy"), str(folder / "labels.npy")
    return paths


def sample(files: dict[str, str], volumetric: bool) -> dict:
    """A fresh sample as the transforms meet it mid-pipeline (image and labels loaded, paths kept)."""
    rng = np.random.default_rng(1)
    if volumetric:
        seg = rng.integers(0, 3, (Z, H, W)).astype(np.uint8)
        img = rng.random((1, Z, H, W)).astype(np.float32)
        paths = dict(img_path=files["volume"], seg_map_path=files["labels"])
        return dict(paths, img=img, gt_seg_map=seg, img_shape=(Z, H, W), ori_shape=(Z, H, W), seg_fields=[])
    img = rng.integers(0, 255, (H, W, 3), dtype=np.uint8)
    seg = rng.integers(0, 4, (H, W), dtype=np.uint8)
    depth = rng.random((H, W)).astype(np.float32)
    paths = {k: files[k] for k in ("img_path", "img_path2", "seg_map_path", "depth_map_path")}
    base = dict(paths, img=img, img2=img.copy(), gt_seg_map=seg, gt_depth_map=depth, img_shape=(H, W))
    base.update(ori_shape=(H, W), seg_fields=["gt_seg_map", "gt_depth_map"], reduce_zero_label=False)
    mix = [dict(img=img.copy(), gt_seg_map=seg.copy(), gt_depth_map=depth.copy()) for _ in range(3)]
    return dict(base, mix_results=mix)


def image_size(results: dict, volumetric: bool) -> tuple[int, ...]:
    """H×W of the sample's image (Z×Y×X of a volume), also when packed (CxHxW) or a test-time list."""
    img = results["inputs"] if "inputs" in results else results["img"]
    img = img[0] if isinstance(img, list) else img
    shape = tuple(img.shape)
    if "inputs" in results:
        return shape[-2:]
    return shape[1:] if volumetric else shape[:2]


def size_change(transform, files: dict[str, str], volumetric: bool) -> tuple[bool, list]:
    """Whether ``transform`` changed the image size for any seed, and the (before, after) sizes seen."""
    sizes = set()
    for seed in SEEDS:
        np.random.seed(seed)
        results = sample(files, volumetric)
        before = image_size(results, volumetric)
        sizes.add((before, image_size(transform(results), volumetric)))
    return any(before != after for before, after in sizes), sorted(sizes)


@pytest.mark.parametrize("name", sorted(catalog.TRANSFORMS))
def test_a_transform_declares_whether_it_changes_the_image_size(name, files):
    volumetric = "biomedical" in name.lower()
    try:
        transform = TRANSFORMS.build(dict(type=name, **ARGS.get(name, {})))
    except ConfigError as err:
        if "not installed" in str(err):
            pytest.skip(str(err))
        raise AssertionError(f"{name} does not build from ARGS ({err}); give it example arguments there") from err
    changed, sizes = size_change(transform, files, volumetric)
    declared = type(transform).changes_size
    assert changed == declared, (
        f"{name}.changes_size is {declared}, but on this sample it {'changed' if changed else 'kept'} the image "
        f"size {sizes}: set changes_size = {changed} on the class (or, if these ARGS hide its size change, "
        "pick ones that show it)"
    )


def test_a_resizer_that_forgets_the_flag_is_caught(files):
    class ForgetfulResize(TRANSFORMS.get("Resize")):
        changes_size = False

    changed, _ = size_change(ForgetfulResize(scale=(8, 6)), files, volumetric=False)
    assert changed and not ForgetfulResize.changes_size  # the check above would fail for it
