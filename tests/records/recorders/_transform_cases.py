"""The 118 transform cases of ``record_transforms.py``: seeded inputs and the configs run on them.

Each case is a dict: ``name``, ``cfg`` (a transform config), ``sample`` (the input), ``seed`` (NumPy's global
seed set before the call, or None) and ``note``. Kept apart so the recorder itself stays short.
"""

from __future__ import annotations

from typing import Any

import numpy as np


# ----------------------------------------------------------------------------- inputs
def block_labels(h: int, w: int) -> np.ndarray:
    """A label map of rectangular blocks of classes 0-4 with an ignored (255) corner."""
    seg = np.zeros((h, w), np.uint8)
    seg[:, w * 7 // 20 :] = 1
    seg[h * 5 // 16 : h * 11 // 16, w * 3 // 20 : w * 14 // 20] = 2
    seg[h * 9 // 16, w * 17 // 20] = 3
    seg[h * 12 // 16 :, w * 15 // 20 :] = 4
    seg[: h * 3 // 16, : w * 4 // 20] = 255
    return seg


def image_sample(h: int = 16, w: int = 20, seed: int = 0, dtype: Any = np.uint8) -> dict:
    """A seeded RGB image with its block labels, as MMSegmentation's loaders leave a sample."""
    img = np.random.default_rng(seed).integers(0, 256, (h, w, 3)).astype(dtype)
    return dict(
        img=img,
        gt_seg_map=block_labels(h, w),
        seg_fields=["gt_seg_map"],
        img_shape=(h, w),
        ori_shape=(h, w),
        img_path="x.png",
        reduce_zero_label=False,
    )


def mix_sample(h: int, w: int, seed: int) -> dict:
    """One of RandomMosaic's three extra samples: seeded image and random labels 0-4."""
    sample = image_sample(h, w, seed)
    sample["gt_seg_map"] = np.random.default_rng(seed + 100).integers(0, 5, (h, w)).astype(np.uint8)
    return sample


def volume_sample() -> dict:
    """A seeded two-channel 6x7x8 volume with float labels 0-3 (as the biomedical loaders give them)."""
    rng = np.random.default_rng(7)
    img = rng.normal(100.0, 30.0, (2, 6, 7, 8)).astype(np.float32)
    seg = np.zeros((6, 7, 8), np.float32)
    seg[1:5, 2:6, 1:4] = 1
    seg[2:4, 1:3, 4:7] = 2
    seg[4:6, 4:7, 5:8] = 3
    return dict(img=img, gt_seg_map=seg, img_shape=(6, 7, 8), ori_shape=(6, 7, 8), img_path="v.nii.gz")


# ----------------------------------------------------------------------------- cases
def case(name: str, cfg: dict, sample: dict, seed: int | None = None, note: str = "") -> dict:
    """One case spec; ``seed`` None means the transform draws nothing random."""
    return dict(name=name, cfg=cfg, sample=sample, seed=seed, note=note)


def deterministic_cases() -> list[dict]:
    """Transforms that draw nothing random, in the record's order (cases 0-30)."""
    img = image_sample
    as_float = img(dtype=np.float32)
    as_float["img"] = as_float["img"] / 4 + 3.5
    pair = dict(img(), img2=img(seed=1)["img"])
    return [
        case("Rerange default", {"type": "Rerange"}, img()),
        case("Rerange -1..1", {"type": "Rerange", "min_value": -1, "max_value": 1.0}, img()),
        case("Rerange float32", {"type": "Rerange", "min_value": 0, "max_value": 1}, as_float),
        case("CLAHE default", {"type": "CLAHE"}, img()),
        case("CLAHE 2 (4,4)", {"type": "CLAHE", "clip_limit": 2.0, "tile_grid_size": (4, 4)}, img()),
        *[case(f"AdjustGamma {g}", {"type": "AdjustGamma", "gamma": g}, img()) for g in (0.5, 1.0, 1.7, 3)],
        case("RGB2Gray default", {"type": "RGB2Gray"}, img()),
        case("RGB2Gray 1ch", {"type": "RGB2Gray", "out_channels": 1}, img()),
        case("RGB2Gray weights", {"type": "RGB2Gray", "out_channels": 2, "weights": (0.2, 0.3, 0.5)}, img()),
        *[case(f"SegRescale {f}", {"type": "SegRescale", "scale_factor": f}, img()) for f in (0.5, 0.37, 2, 1.3)],
        case("GenerateEdge default", {"type": "GenerateEdge"}, img()),
        case("GenerateEdge 2 ignore 4", {"type": "GenerateEdge", "edge_width": 2, "ignore_index": 4}, img()),
        case("ResizeToMultiple 32", {"type": "ResizeToMultiple"}, img()),
        case(
            "ResizeToMultiple 7 bicubic",
            {"type": "ResizeToMultiple", "size_divisor": 7, "interpolation": "bicubic"},
            img(),
        ),
        case(
            "ResizeToMultiple 6 nearest",
            {"type": "ResizeToMultiple", "size_divisor": 6, "interpolation": "nearest"},
            img(),
        ),
        case("ResizeShortestEdge 12", {"type": "ResizeShortestEdge", "scale": 12, "max_size": 100}, img()),
        case(
            "ResizeShortestEdge (40, 22) max 30",
            {"type": "ResizeShortestEdge", "scale": (40, 22), "max_size": 30},
            img(),
        ),
        case(
            "ResizeShortestEdge portrait 25",
            {"type": "ResizeShortestEdge", "scale": 25, "max_size": 1000},
            img(20, 16),
        ),
        case(
            "RandomChoiceResize one keep_ratio",
            {"type": "RandomChoiceResize", "scales": [(40, 20)], "keep_ratio": True},
            img(),
            0,
        ),
        case(
            "RandomChoiceResize one exact",
            {"type": "RandomChoiceResize", "scales": [(13, 29)], "keep_ratio": False},
            img(),
            0,
        ),
        case(
            "RandomChoiceResize tuple", {"type": "RandomChoiceResize", "scales": (30, 9), "keep_ratio": True}, img(), 0
        ),
        case(
            "RandomChoiceResize shortest edge",
            {"type": "RandomChoiceResize", "scales": [18], "resize_type": "ResizeShortestEdge", "max_size": 64},
            img(),
            0,
        ),
        case("LoadImageFromNDArray", {"type": "LoadImageFromNDArray"}, {"img": img()["img"]}),
        case("LoadImageFromNDArray float", {"type": "LoadImageFromNDArray", "to_float32": True}, {"img": img()["img"]}),
        case("ConcatCDInput", {"type": "ConcatCDInput"}, pair),
    ]


def seeded_image_cases() -> list[dict]:
    """Random image transforms under NumPy seeds 0-7, then TestTimeAug (cases 31-62)."""
    img = image_sample
    cases = []
    for seed in range(4):
        cases += [
            case(
                "RandomChoiceResize scales",
                {"type": "RandomChoiceResize", "scales": [(30, 10), (12, 24), (50, 50)], "keep_ratio": True},
                img(),
                seed,
            ),
            case(
                "RandomCutOut ratio",
                {
                    "type": "RandomCutOut",
                    "prob": 0.7,
                    "n_holes": (1, 3),
                    "cutout_ratio": [(0.2, 0.2), (0.3, 0.1)],
                    "seg_fill_in": 255,
                },
                img(),
                seed,
            ),
            case(
                "RandomCutOut shape",
                {"type": "RandomCutOut", "prob": 1.0, "n_holes": 2, "cutout_shape": (5, 3), "fill_in": (10, 20, 30)},
                img(),
                seed,
            ),
            case(
                "RandomChoice",
                {
                    "type": "RandomChoice",
                    "transforms": [
                        [{"type": "RGB2Gray"}],
                        [{"type": "AdjustGamma", "gamma": 2.0}],
                        [{"type": "SegRescale", "scale_factor": 0.5}],
                    ],
                    "prob": [0.5, 0.25, 0.25],
                },
                img(),
                seed,
            ),
        ]
    rot = {"type": "RandomRotFlip", "rotate_prob": 0.4, "flip_prob": 0.6, "degree": 25}
    note = "labels are compared only where no rotation happened (MMSegmentation rotates labels bilinearly)"
    cases += [case("RandomRotFlip", rot, img(), seed, note) for seed in range(8)]
    mosaic = {
        "type": "RandomMosaic",
        "prob": 0.9,
        "img_scale": (12, 18),
        "center_ratio_range": (0.5, 1.5),
        "seg_pad_val": 255,
    }
    mixed = dict(img(), mix_results=[mix_sample(10, 14, 1), mix_sample(16, 8, 2), mix_sample(7, 9, 3)])
    cases += [case("RandomMosaic", mosaic, mixed, seed) for seed in range(3)]
    depth = dict(img(), seg_fields=["gt_seg_map", "gt_depth_map"], depth_rescale_factor=0.001)
    depth["gt_depth_map"] = (np.arange(16 * 20).reshape(16, 20) * 37).astype(np.float32) * np.float32(0.001)
    cases += [case("RandomDepthMix", {"type": "RandomDepthMix", "prob": 0.6}, depth, seed) for seed in range(4)]
    resize = [{"type": "Resize", "scale_factor": r, "keep_ratio": True} for r in (0.5, 1.25)]
    flip = [{"type": "RandomFlip", "prob": p, "direction": "horizontal"} for p in (0.0, 1.0)]
    tta = {"type": "TestTimeAug", "transforms": [resize, flip, [{"type": "PackSegInputs"}]]}
    return cases + [case("TestTimeAug", tta, img())]


def volume_cases() -> list[dict]:
    """Random 3-D transforms under seeds 0-3, then BioMedical3DPad on an image only (cases 63-99)."""
    vol = volume_sample
    blur = {"type": "BioMedicalGaussianBlur", "prob": 1.0, "prob_per_channel": 1.0, "sigma_range": (0.6, 1.4)}
    blur.update(different_sigma_per_channel=False, different_sigma_per_axis=False)
    gamma = {"type": "BioMedicalRandomGamma", "prob": 1.0, "gamma_range": (0.7, 1.5)}
    gamma.update(invert_image=True, retain_stats=True)
    cases = []
    for seed in range(4):
        cases += [
            case("BioMedical3DRandomCrop fg", {"type": "BioMedical3DRandomCrop", "crop_shape": (3, 4, 5)}, vol(), seed),
            case(
                "BioMedical3DRandomCrop any",
                {"type": "BioMedical3DRandomCrop", "crop_shape": 4, "keep_foreground": False},
                vol(),
                seed,
            ),
            case(
                "BioMedicalGaussianNoise",
                {"type": "BioMedicalGaussianNoise", "prob": 0.8, "mean": 0.5, "std": 2.0},
                vol(),
                seed,
            ),
            case(
                "BioMedicalGaussianBlur",
                {"type": "BioMedicalGaussianBlur", "prob": 0.9, "prob_per_channel": 0.7},
                vol(),
                seed,
            ),
            case("BioMedicalGaussianBlur shared sigma", blur, vol(), seed),
            case("BioMedicalRandomGamma", {"type": "BioMedicalRandomGamma", "prob": 0.8}, vol(), seed),
            case("BioMedicalRandomGamma stats invert", gamma, vol(), seed),
            case(
                "BioMedical3DRandomFlip",
                {"type": "BioMedical3DRandomFlip", "prob": 0.5, "axes": (0, 1, 2), "swap_label_pairs": [(1, 2)]},
                vol(),
                seed,
            ),
            case(
                "BioMedical3DRandomFlip axes 1 2",
                {"type": "BioMedical3DRandomFlip", "prob": 0.5, "axes": (1, 2)},
                vol(),
                seed,
            ),
        ]
    pad_img = np.random.default_rng(5).normal(0, 1, (1, 5, 6, 6)).astype(np.float32)
    note = "Y == X so MMSegmentation's use of the Y size for X padding does not show; labels are left out (it empties them)"
    pad = {"type": "BioMedical3DPad", "pad_shape": (8, 9, 9), "pad_val": -1.5}
    return cases + [case("BioMedical3DPad image", pad, {"img": pad_img, "img_shape": (5, 6, 6)}, note=note)]


def loader_cases(gdal_version: str) -> list[dict]:
    """Biomedical, depth and remote-sensing loaders reading ``write_files``' files, then Albu (cases 100-117)."""
    bio = "LoadBiomedicalImageFromFile"
    cases = [
        case(f"{bio} nifti 3d", {"type": bio}, {"img_path": "vol3.nii.gz"}),
        case(f"{bio} nifti 4d xyz", {"type": bio, "to_xyz": True, "to_float32": False}, {"img_path": "vol4.nii.gz"}),
        case(f"{bio} numpy", {"type": bio, "decode_backend": "numpy"}, {"img_path": "vol.npy"}),
        case("LoadBiomedicalAnnotation nifti", {"type": "LoadBiomedicalAnnotation"}, {"seg_map_path": "seg3.nii.gz"}),
        case(
            "LoadBiomedicalAnnotation nifti xyz int",
            {"type": "LoadBiomedicalAnnotation", "to_xyz": True, "to_float32": False},
            {"seg_map_path": "seg3.nii.gz"},
        ),
        case(
            "LoadBiomedicalData numpy seg", {"type": "LoadBiomedicalData", "with_seg": True}, {"img_path": "data.npy"}
        ),
        case(
            "LoadBiomedicalData nifti",
            {"type": "LoadBiomedicalData", "decode_backend": "nifti"},
            {"img_path": "vol4.nii.gz"},
        ),
        case(
            "LoadDepthAnnotation",
            {"type": "LoadDepthAnnotation", "depth_rescale_factor": 0.001},
            {"depth_map_path": "depth.png"},
        ),
        case(
            "LoadDepthAnnotation uint16",
            {"type": "LoadDepthAnnotation", "to_float32": False, "depth_rescale_factor": 1},
            {"depth_map_path": "depth.png"},
        ),
    ]
    note = f"GDAL {gdal_version} (rasterio's wheel) ReadAsArray, then MMSegmentation's own einsum ijk->jki + float32"
    for name in ("rgbn_u16_contig.tif", "f32_planar.tif", "u8_deflate.tif", "b_date2.tif"):
        cases.append(
            case(
                f"LoadSingleRSImageFromFile {name}",
                {"type": "LoadSingleRSImageFromFile"},
                {"img_path": name},
                note=note,
            )
        )
    for name in ("rgb.png", "rgba.png", "rgb16.png", "photo.jpg"):
        cases.append(
            case(
                f"LoadSingleRSImageFromFile {name}",
                {"type": "LoadSingleRSImageFromFile"},
                {"img_path": name},
                note=note,
            )
        )
    albu = {"type": "Albu"}
    albu["transforms"] = [
        {"type": "HorizontalFlip", "p": 1.0},
        {"type": "RandomBrightnessContrast", "brightness_limit": (0.2, 0.2), "contrast_limit": (0.1, 0.1), "p": 1.0},
        {"type": "OneOf", "transforms": [{"type": "VerticalFlip", "p": 1.0}], "p": 1.0},
    ]
    return cases + [case("Albu deterministic", albu, image_sample(), note="albumentations 2.0.8")]
