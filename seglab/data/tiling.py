"""``seglab tile SCENE LABEL OUT``: cut a labelled scene into the ``img_dir``/``ann_dir`` layout.

Tiles are GeoTIFFs (every band, georeferenced) and PNG label maps. The train/val split is by area, so
neighbouring, overlapping tiles never land on both sides: the scene is divided into square *blocks* of
several tiles, whole blocks go to val (seeded, ``val_fraction`` of the blocks that hold a whole tile), and a
tile that touches blocks of both splits is dropped. Tiles that are all nodata are skipped.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from seglab.data.io import write_image
from seglab.errors import DatasetError, SeglabError
from seglab.fileio import raster
from seglab.progress import progress

SPLITS = ("train", "val")


@dataclass
class TileCounts:
    train: int = 0
    val: int = 0
    dropped_at_split_edges: int = 0
    skipped_nodata: int = 0


def tile_starts(size: int, tile: int, overlap: int) -> list[int]:
    """Tile origins every ``tile - overlap`` pixels, the last flush with the edge (one tile when it fits)."""
    if tile <= 0 or not 0 <= overlap < tile:
        raise SeglabError(f"--size must be positive and --overlap in [0, size): got size {tile}, overlap {overlap}")
    if size <= tile:
        return [0]
    starts = list(range(0, size - tile, tile - overlap))
    return [*starts, size - tile]


def val_blocks(holds_a_tile: np.ndarray, fraction: float, seed: int) -> np.ndarray:
    """A boolean map of the blocks that go to val: ``round(fraction * n)`` of the ``n`` blocks that hold a whole
    tile (at least one, never all), seeded. A sliver block at the scene's edge holds none and stays train."""
    candidates = np.flatnonzero(holds_a_tile)
    count = len(candidates)
    chosen = np.zeros(holds_a_tile.size, dtype=bool)
    take = min(max(round(fraction * count), 1 if fraction > 0 else 0), count - 1) if count > 1 else 0
    chosen[candidates[np.random.default_rng(seed).permutation(count)[:take]]] = True
    return chosen.reshape(holds_a_tile.shape)


def cut_scene(
    scene: str | Path,
    label: str | Path,
    out: str | Path,
    size: int = 512,
    overlap: int = 64,
    val_fraction: float = 0.2,
    block: int | None = None,
    seed: int = 0,
) -> TileCounts:
    """Write ``OUT/img_dir/{train,val}/NAME_Y_X.tif`` and ``OUT/ann_dir/{train,val}/NAME_Y_X.png``.

    ``block`` is the side of the split blocks in pixels (default four tiles); label pixels where the label
    raster has its nodata value become 255."""
    scene, label, out = Path(scene), Path(label), Path(out)
    if not 0 <= val_fraction < 1:
        raise SeglabError(f"--val-fraction must be in [0, 1), got {val_fraction}")
    block = block or 4 * size
    with raster.gdal_env(), raster.SceneReader(scene) as image, raster.SceneReader(label) as labels:
        info = image.info
        if (labels.info.height, labels.info.width) != (info.height, info.width):
            raise DatasetError(
                f"label raster '{label}' is {labels.info.width}x{labels.info.height} but scene '{scene}' is "
                f"{info.width}x{info.height}: they must cover the same pixels"
            )
        if labels.info.bands != 1:
            raise DatasetError(f"label raster '{label}' has {labels.info.bands} bands; it must have one (class ids)")
        counts = TileCounts()
        ys, xs = tile_starts(info.height, size, overlap), tile_starts(info.width, size, overlap)
        windows = [(y, min(y + size, info.height), x, min(x + size, info.width)) for y in ys for x in xs]
        holds_a_tile = np.zeros((-(-info.height // block), -(-info.width // block)), dtype=bool)
        for y1, y2, x1, x2 in windows:
            if y1 // block == (y2 - 1) // block and x1 // block == (x2 - 1) // block:
                holds_a_tile[y1 // block, x1 // block] = True
        if val_fraction > 0 and holds_a_tile.sum() < 2:
            fix = f"--block must be at least --size {size}" if block < size else "give a smaller --block"
            raise SeglabError(
                f"--val-fraction {val_fraction} needs two blocks that each hold a whole tile, but the "
                f"{info.width}x{info.height} scene has {int(holds_a_tile.sum())} with --block {block}: {fix}, "
                "or --val-fraction 0"
            )
        val = val_blocks(holds_a_tile, val_fraction, seed)
        for y1, y2, x1, x2 in progress(windows, f"tile {scene.name}"):
            sides = set(val[y1 // block : (y2 - 1) // block + 1, x1 // block : (x2 - 1) // block + 1].ravel())
            if len(sides) > 1:
                counts.dropped_at_split_edges += 1
                continue
            pixels = image.read((y1, y2, x1, x2))
            nodata = image.invalid(pixels)
            if nodata.all():
                counts.skipped_nodata += 1
                continue
            ann = labels.read((y1, y2, x1, x2))[..., 0]
            missing = labels.invalid(ann[..., None]) | nodata
            ann = np.where(missing, 255, ann).astype(np.uint8)
            split = SPLITS[int(sides.pop())]
            name = f"{scene.stem}_{y1}_{x1}"
            raster.write_tile(out / "img_dir" / split / f"{name}.tif", pixels, info, (y1, y2, x1, x2))
            write_image(out / "ann_dir" / split / f"{name}.png", ann)
            setattr(counts, split, getattr(counts, split) + 1)
    return counts
