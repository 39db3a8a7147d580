"""Record MMSegmentation 1.2.2's and MMCV 2.1.0's transforms on small inputs (``tests/records/transforms/``).

Run with the reference environment's Python (plus ``rasterio``, ``nibabel``, ``tifffile``, ``albumentations``):
    $HOME/mmref/bin/python tests/records/recorders/record_transforms.py \
        tests/records/transforms/mmseg_1.2.2_transforms.json.gz

Each case runs one transform config through MMSegmentation's own ``TRANSFORMS`` registry (NumPy's global
generator seeded first where the case has a seed) and stores the config as a Python literal, the input sample
and the output keys that matter; arrays are base64 of their raw bytes with dtype and shape. ``files`` holds the
input files the loader cases read. GDAL: MMSegmentation's ``LoadSingleRSImageFromFile`` calls
``osgeo.gdal.Open(path).ReadAsArray()``; here a stand-in ``osgeo.gdal`` module answers that call with
``rasterio.open(path).read()``, i.e. the GDAL library bundled in rasterio's wheel reading the same file.
Running it twice writes identical bytes (inputs are seeded, files deterministic, gzip without a timestamp).
"""

from __future__ import annotations

import base64
import copy
import gzip
import json
import sys
import tempfile
import types
import warnings
from importlib.metadata import version
from pathlib import Path
from typing import Any

import numpy as np
from _transform_cases import deterministic_cases, loader_cases, seeded_image_cases, volume_cases

RECORDER = "tests/records/recorders/record_transforms.py"
DROPPED = {"seg_fields", "reduce_zero_label", "mix_results"}  # inputs that carry no outcome


def install_gdal_stand_in() -> None:
    """Give MMSegmentation an ``osgeo.gdal`` whose ``Open(path).ReadAsArray()`` is GDAL's read via rasterio."""
    import rasterio
    from rasterio.errors import NotGeoreferencedWarning

    class Dataset:
        def __init__(self, path: str) -> None:
            self.path = path

        def ReadAsArray(self) -> np.ndarray:  # noqa: N802 - GDAL's name
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", NotGeoreferencedWarning)
                with rasterio.open(self.path) as source:
                    bands = source.read()
            return bands[0] if bands.shape[0] == 1 else bands  # GDAL gives (H, W) for one band

    gdal = types.ModuleType("osgeo.gdal")
    gdal.Open = lambda path: Dataset(str(path))  # type: ignore[attr-defined]
    gdal.__version__ = rasterio.__gdal_version__  # type: ignore[attr-defined]
    osgeo = types.ModuleType("osgeo")
    osgeo.gdal = gdal  # type: ignore[attr-defined]
    sys.modules["osgeo"] = osgeo
    sys.modules["osgeo.gdal"] = gdal


def encode(value: Any) -> Any:
    """Arrays and tensors as base64 of raw bytes; tuples as lists; NumPy scalars as Python numbers."""
    if hasattr(value, "detach"):
        value = value.detach().cpu().numpy()
    if isinstance(value, np.ndarray):
        value = np.ascontiguousarray(value)
        raw = base64.b64encode(value.tobytes()).decode()
        return {"__array__": raw, "dtype": str(value.dtype), "shape": list(value.shape)}
    if isinstance(value, bytes):
        return {"__bytes__": base64.b64encode(value).decode()}
    if isinstance(value, dict):
        return {key: encode(v) for key, v in value.items()}
    if isinstance(value, list | tuple):
        return [encode(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


def write_files(folder: Path) -> dict[str, bytes]:
    """Write the loader cases' input files into folder; return their bytes by name."""
    import cv2
    import nibabel
    import tifffile

    rng = np.random.default_rng(11)
    affine = np.diag([0.8, 0.9, 1.5, 1.0])
    nifti = {
        "vol3.nii.gz": rng.normal(0, 50, (5, 6, 7)).astype(np.float32),
        "vol4.nii.gz": rng.integers(-200, 400, (5, 6, 7, 2)).astype(np.int16),
        "seg3.nii.gz": rng.integers(0, 4, (5, 6, 7)).astype(np.uint8),
    }
    for name, data in nifti.items():
        nibabel.save(nibabel.Nifti1Image(data, affine), str(folder / name))
    np.save(folder / "vol.npy", rng.normal(0, 1, (3, 4, 5, 6)).astype(np.float32))
    data = rng.normal(0, 1, (3, 4, 5, 6)).astype(np.float32)
    data[-1] = rng.integers(0, 3, (4, 5, 6))  # LoadBiomedicalData takes the last channel as labels
    np.save(folder / "data.npy", data)
    cv2.imwrite(str(folder / "depth.png"), rng.integers(0, 20000, (12, 10)).astype(np.uint16))

    def tif(name: str, array: np.ndarray, **kwargs: Any) -> None:
        tifffile.imwrite(folder / name, array, **kwargs)

    tif(
        "rgbn_u16_contig.tif",
        rng.integers(0, 60000, (9, 11, 4)).astype(np.uint16),
        photometric="minisblack",
        planarconfig="contig",
    )
    tif(
        "f32_planar.tif",
        rng.normal(0, 10, (3, 9, 11)).astype(np.float32),
        photometric="minisblack",
        planarconfig="separate",
    )
    tif("u8_deflate.tif", rng.integers(0, 256, (9, 11, 3)).astype(np.uint8), photometric="rgb", compression="zlib")
    tif(
        "b_date2.tif",
        rng.integers(0, 60000, (9, 11, 4)).astype(np.uint16),
        photometric="minisblack",
        planarconfig="contig",
    )
    cv2.imwrite(str(folder / "rgb.png"), rng.integers(0, 256, (9, 11, 3)).astype(np.uint8))
    cv2.imwrite(str(folder / "rgba.png"), rng.integers(0, 256, (9, 11, 4)).astype(np.uint8))
    cv2.imwrite(str(folder / "rgb16.png"), rng.integers(0, 65536, (9, 11, 3)).astype(np.uint16))
    smooth = cv2.GaussianBlur(rng.integers(0, 256, (16, 24, 3)).astype(np.uint8), (5, 5), 1.5)
    # 4:4:4 chroma: rasterio's GDAL decodes with IJG libjpeg 9, whose 4:2:0 chroma upsampling differs from
    # libjpeg-turbo's (OpenCV, distribution GDALs) by up to ~13 levels; without subsampling they agree exactly.
    full_chroma = [cv2.IMWRITE_JPEG_SAMPLING_FACTOR, cv2.IMWRITE_JPEG_SAMPLING_FACTOR_444]
    cv2.imwrite(str(folder / "photo.jpg"), smooth, [cv2.IMWRITE_JPEG_QUALITY, 90, *full_chroma])
    names = list(nifti) + ["vol.npy", "data.npy", "depth.png", "rgbn_u16_contig.tif", "f32_planar.tif"]
    names += ["u8_deflate.tif", "b_date2.tif", "rgb.png", "rgba.png", "rgb16.png", "photo.jpg"]
    return {name: (folder / name).read_bytes() for name in names}


# ----------------------------------------------------------------------------- running
def kept_output(out: dict, sample: dict, files: dict) -> dict:
    """The outcome: every key but bookkeeping inputs and the paths of recorded files (the test rewrites those)."""
    return {
        key: value
        for key, value in out.items()
        if key not in DROPPED and not (key.endswith("_path") and sample.get(key) in files)
    }


def tta_output(out: dict) -> dict:
    """TestTimeAug's packed lists: inputs, label maps and the metadata seglab compares."""
    meta_keys = ("img_shape", "ori_shape", "scale_factor", "flip", "flip_direction")
    samples = out["data_samples"]
    return dict(
        inputs=list(out["inputs"]),
        gt_sem_seg=[s.gt_sem_seg.data for s in samples],
        meta=[{key: s.metainfo[key] for key in meta_keys} for s in samples],
    )


def run_case(spec: dict, folder: Path, files: dict) -> dict:
    """Run one case through MMSegmentation's registry and return its JSON-ready record."""
    from mmseg.registry import TRANSFORMS

    sample = spec["sample"]
    recorded_input = encode(sample)
    results = copy.deepcopy(sample)
    for key, value in sample.items():
        if key.endswith("_path") and value in files:
            results[key] = str(folder / value)
    if spec["cfg"]["type"] == "LoadDepthAnnotation":
        results["seg_fields"] = []  # MMSegmentation's loader appends to it
    if spec["seed"] is not None:
        np.random.seed(spec["seed"])
    out = TRANSFORMS.build(copy.deepcopy(spec["cfg"]))(results)
    output = tta_output(out) if spec["name"] == "TestTimeAug" else kept_output(out, sample, files)
    return dict(
        name=spec["name"],
        cfg=repr(spec["cfg"]),
        seed=spec["seed"],
        input=recorded_input,
        output=encode(output),
        note=spec["note"],
    )


def main(out_path: Path) -> None:
    """Run every case through MMSegmentation and write the gzipped JSON record to out_path."""
    install_gdal_stand_in()
    import rasterio
    from mmseg.utils import register_all_modules

    register_all_modules()
    warnings.filterwarnings("ignore")
    specs = deterministic_cases() + seeded_image_cases() + volume_cases() + loader_cases(rasterio.__gdal_version__)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        files = write_files(folder)
        cases = [run_case(spec, folder, files) for spec in specs]
    packages = ("mmsegmentation", "mmcv-lite", "mmengine", "numpy", "opencv-python", "scipy", "nibabel", "tifffile")
    versions = {name: version(name) for name in packages + ("rasterio", "albumentations")}
    versions["gdal"] = rasterio.__gdal_version__
    record = dict(versions=versions, files=encode(files), cases=cases, recorder=RECORDER)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(record, separators=(",", ":"))
    out_path.write_bytes(gzip.compress(text.encode(), mtime=0))
    print(f"-> {out_path} ({out_path.stat().st_size} bytes, {len(cases)} cases)")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
