"""Peak memory and time of scene inference (``seglab.scene_inference.infer_scene``) on a generated 4-band scene.

    python benchmarks/scene_memory.py --size 20000 --size 4000 --dir /tmp/scenes

Each size runs in its own process: the scene (uint8, tiled GeoTIFF, written strip by strip) is generated
by a separate process, then a tiny 4-band model infers it with 512-pixel tiles overlapping by 64; the child reports its peak RSS
(``ru_maxrss``, torch included) and the seconds of each phase. Not part of the test suite.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

TINY_4BAND = dict(
    type="EncoderDecoder",
    data_preprocessor=dict(type="SegDataPreProcessor", mean=[100.0] * 4, std=[50.0] * 4),
    backbone=dict(
        type="UNet", in_channels=4, base_channels=8, num_stages=1, strides=(1,), enc_num_convs=(2,),
        dec_num_convs=(), downsamples=(), enc_dilations=(1,), dec_dilations=(),
    ),
    decode_head=dict(
        type="FCNHead", in_channels=8, in_index=0, channels=8, num_convs=0, concat_input=False, num_classes=4,
        dropout_ratio=0.0, norm_cfg=dict(type="BN"),
    ),
    test_cfg=dict(mode="whole"),
)  # fmt: skip


def write_scene(path: Path, size: int, strip: int = 512) -> None:
    """A size x size 4-band uint8 GeoTIFF (tiled, uncompressed) of smooth stripes plus noise, strip by strip."""
    import rasterio
    from rasterio.transform import from_origin

    profile = dict(
        driver="GTiff", height=size, width=size, count=4, dtype="uint8", crs="EPSG:32633", nodata=0,
        transform=from_origin(500000.0, 4000000.0, 1.0, 1.0), tiled=True, blockxsize=512, blockysize=512,
        BIGTIFF="YES", interleave="pixel",
    )  # fmt: skip
    rng = np.random.default_rng(0)
    x = np.arange(size, dtype=np.float32)
    with rasterio.Env(GDAL_CACHEMAX=64), rasterio.open(path, "w", **profile) as out:
        for y in range(0, size, strip):
            h = min(strip, size - y)
            yy = np.arange(y, y + h, dtype=np.float32)[:, None]
            base = 100 + 60 * np.sin(x[None] / 700.0) * np.cos(yy / 900.0)
            bands = np.stack([base + 20 * k for k in range(4)]) + rng.integers(0, 8, (4, h, size))
            out.write(np.clip(bands, 1, 255).astype(np.uint8), window=((y, y + h), (0, size)))


def child(size: int, folder: Path) -> dict:
    import torch

    from seglab.models.builder import build_model
    from seglab.scene_inference import infer_scene

    torch.manual_seed(0)
    folder.mkdir(parents=True, exist_ok=True)
    scene, out = folder / f"scene_{size}.tif", folder / f"labels_{size}.tif"
    start = time.perf_counter()  # generated in another process: its float temporaries stay out of ru_maxrss
    subprocess.run([sys.executable, __file__, "--generate", str(size), "--dir", str(folder)], check=True)
    generated = time.perf_counter() - start
    model = build_model(TINY_4BAND).eval()
    model.dataset_meta = {
        "classes": ("a", "b", "c", "d"),
        "palette": [[0, 0, 0], [255, 0, 0], [0, 255, 0], [0, 0, 255]],
    }
    out.unlink(missing_ok=True)
    start = time.perf_counter()
    infer_scene(model, scene, out, tile=512, overlap=64, batch_size=4)
    inferred = time.perf_counter() - start
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    scene.unlink()
    return {
        "size": size,
        "generate_s": round(generated, 1),
        "infer_s": round(inferred, 1),
        "peak_rss_mb": round(peak_mb),
        "output_mb": round(out.stat().st_size / 2**20, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, action="append", help="scene side in pixels (repeatable; default 20000)")
    parser.add_argument("--dir", default="/tmp/seglab_scene_memory", help="where the scene and labels are written")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--generate", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.generate:
        write_scene(Path(args.dir) / f"scene_{args.generate}.tif", args.generate)
        return
    if args.child:
        print(json.dumps(child(args.child, Path(args.dir))))
        return
    torch_threads = subprocess.run(
        [sys.executable, "-c", "import torch; print(torch.get_num_threads())"], capture_output=True, text=True
    ).stdout.strip()
    print(f"torch threads: {torch_threads}")
    for size in args.size or [20000]:
        run = subprocess.run(
            [sys.executable, __file__, "--child", str(size), "--dir", args.dir], capture_output=True, text=True
        )
        if run.returncode:
            print(run.stderr[-2000:])
            continue
        result = json.loads(run.stdout.strip().splitlines()[-1])
        print(
            f"{size} x {size} x 4 bands: generate {result['generate_s']} s, infer {result['infer_s']} s, "
            f"peak RSS {result['peak_rss_mb']} MB, label GeoTIFF {result['output_mb']} MB"
        )


if __name__ == "__main__":
    main()
