"""Inference on a georeferenced scene of any size (``seglab infer CONFIG CKPT scene.tif``), in bounded memory.

Tiles of ``tile`` pixels overlap by ``overlap``; the last tile of a row or column is flush with the edge.
Blending rule (write-once, centre crop): each output pixel takes the label of exactly one tile, the one whose
*core* holds it; neighbouring cores meet in the middle of the two tiles' overlap. So no logits are summed
across tiles, memory is one tile batch plus one row of cores (uint8), and when half the overlap is at least
the model's receptive-field radius the labels equal a whole-image forward. Output rows are written in
full-width strips of whole GeoTIFF blocks; after each strip a sidecar ``OUT.tif.progress.json`` records the
rows on disk and the settings, so an interrupted run resumes there (and refuses other settings).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from seglab.errors import ConfigError, SeglabError
from seglab.fileio import raster
from seglab.models.segmentors.sliding_window import grid_starts, pair
from seglab.progress import progress_counter

Window = tuple[int, int, int, int]  # y1, y2, x1, x2
Span = tuple[int, int]
DEFAULT_TILE, DEFAULT_OVERLAP = 512, 64


def spans_and_cores(size: int, tile: int, overlap: int) -> list[tuple[Span, Span]]:
    """(tile span, core span) along one side: tiles every ``tile - overlap`` pixels, the last flush with the
    edge; cores partition ``[0, size)`` and meet in the middle of each overlap."""
    if not 0 <= overlap < tile:
        raise ConfigError(f"the tile overlap must be at least 0 and below the tile size {tile}, got {overlap}")
    spans = grid_starts(size, tile, tile - overlap)
    bounds = [0] + [(spans[i + 1][0] + spans[i][1]) // 2 for i in range(len(spans) - 1)] + [size]
    return [(span, (bounds[i], bounds[i + 1])) for i, span in enumerate(spans)]


def tile_settings(model: nn.Module, tile: int | None, overlap: int | None) -> tuple[tuple[int, int], tuple[int, int]]:
    """(tile, overlap) as (h, w): the arguments, else the model's slide ``crop_size`` and ``crop - stride``,
    else 512 and 64."""
    test_cfg = getattr(model, "test_cfg", None) or {}
    if tile is None and test_cfg.get("mode") == "slide":
        crop, stride = pair(test_cfg.get("crop_size"), "crop_size"), pair(test_cfg.get("stride"), "stride")
        if overlap is None:
            return crop, (max(crop[0] - stride[0], 0), max(crop[1] - stride[1], 0))
        return crop, (overlap, overlap)
    side = tile or DEFAULT_TILE
    gap = DEFAULT_OVERLAP if overlap is None else overlap
    return (side, side), (min(gap, side - 1), min(gap, side - 1))


def check_bands(model: nn.Module, bands: int, source: str) -> None:
    """One line when the scene's band count differs from the model's ``mean``/``std``."""
    mean = getattr(model.data_preprocessor, "mean", None)
    if mean is not None and mean.numel() != bands:
        raise ConfigError(
            f"{source} has {bands} band(s) but model.data_preprocessor.mean/std have {mean.numel()} values: "
            "the model was made for another band count"
        )


def is_scene(cfg: object, path: str | Path, tiles_asked: bool) -> bool:
    """A .tif/.tiff file is a scene (read in windows, written as a GeoTIFF) when tiles were asked for or the
    config loads its images with ``LoadSingleRSImageFromFile``."""
    if Path(path).suffix.lower() not in (".tif", ".tiff") or not Path(path).is_file():
        return False
    if tiles_asked:
        return True
    get = getattr(cfg, "get", None)
    pipelines = [get("test_pipeline"), get("train_pipeline")] if get else []
    steps = [step for pipeline in pipelines if isinstance(pipeline, list) for step in pipeline]
    return any(isinstance(step, dict) and step.get("type") == "LoadSingleRSImageFromFile" for step in steps)


@torch.no_grad()
def predict_tiles(model: nn.Module, tiles: list[np.ndarray]) -> list[np.ndarray]:
    """Class indices (h x w) for H x W x bands tiles, normalised by the model's data preprocessor."""
    device = next(model.parameters()).device
    inputs = [torch.from_numpy(np.ascontiguousarray(t.transpose(2, 0, 1))).to(device).float() for t in tiles]
    samples = [{"img_shape": t.shape[:2], "ori_shape": t.shape[:2]} for t in tiles]
    batch, samples = model.data_preprocessor({"inputs": inputs, "data_samples": samples}, training=False)
    return [out["pred_sem_seg"].cpu().numpy() for out in model.predict(batch, samples)]


def predict_windows(
    model: nn.Module,
    read: Callable[[Window], np.ndarray],
    height: int,
    width: int,
    tile: tuple[int, int] = (DEFAULT_TILE, DEFAULT_TILE),
    overlap: tuple[int, int] = (DEFAULT_OVERLAP, DEFAULT_OVERLAP),
    batch_size: int = 4,
    invalid: Callable[[np.ndarray], np.ndarray] | None = None,
    ignore_index: int = 255,
    first_row: int = 0,
) -> Iterator[tuple[int, Window, np.ndarray]]:
    """(tile row, core window, labels of the core) for each tile in row-major order, from tile row
    ``first_row``; ``read(window)`` gives H x W x bands pixels (your own I/O). Pixels ``invalid`` marks
    (nodata) get ``ignore_index``; a tile that is all nodata is not run through the model."""
    model.eval()
    rows = spans_and_cores(height, tile[0], overlap[0])
    cols = spans_and_cores(width, tile[1], overlap[1])
    queue: list[tuple[int, Window, Window, np.ndarray, np.ndarray | None]] = []

    def run(queue: list) -> Iterator[tuple[int, Window, np.ndarray]]:
        todo = [item for item in queue if item[4] is None or not item[4].all()]
        predicted = iter(predict_tiles(model, [item[3] for item in todo]) if todo else [])
        for r, (y1, _, x1, _), (cy1, cy2, cx1, cx2), _, mask in queue:
            if mask is not None and mask.all():
                yield r, (cy1, cy2, cx1, cx2), np.full((cy2 - cy1, cx2 - cx1), ignore_index, dtype=np.int64)
                continue
            labels = next(predicted)
            if mask is not None:
                labels = np.where(mask, ignore_index, labels)
            yield r, (cy1, cy2, cx1, cx2), labels[cy1 - y1 : cy2 - y1, cx1 - x1 : cx2 - x1]

    for r in range(first_row, len(rows)):
        (y1, y2), (cy1, cy2) = rows[r]
        for (x1, x2), (cx1, cx2) in cols:
            pixels = read((y1, y2, x1, x2))
            mask = invalid(pixels) if invalid is not None else None
            queue.append((r, (y1, y2, x1, x2), (cy1, cy2, cx1, cx2), pixels, mask))
            if len(queue) >= batch_size:
                yield from run(queue)
                queue = []
    if queue:
        yield from run(queue)


class OverlayWriter:
    """``OUT_overlay.tif``: the scene's first three bands (stretched between their 2nd and 98th percentiles,
    measured on a decimated read) blended with the palette colours of the labels."""

    def __init__(
        self, reader: raster.SceneReader, out: Path, palette: list | None, opacity: float, ignore: int, fresh: bool
    ) -> None:
        self.reader, self.opacity, self.ignore = reader, opacity, ignore
        self.path = out.with_name(out.stem + "_overlay.tif")
        self.bands = [0, 1, 2] if reader.info.bands >= 3 else [0, 0, 0]
        sample = raster.decimated_read(reader)[..., self.bands].astype(np.float64)
        valid = ~reader.invalid(raster.decimated_read(reader))
        values = sample[valid] if valid.any() else sample.reshape(-1, 3)
        self.low, self.high = np.percentile(values, 2, axis=0), np.percentile(values, 98, axis=0)
        colours = np.zeros((256, 3), np.float32)
        colours[: len(palette or [])] = np.asarray(palette or np.zeros((0, 3)), np.float32)[:256]
        self.colours = colours
        if fresh or not self.path.is_file():
            raster.create_overlay_raster(self.path, reader.info)

    def write(self, row: int, labels: np.ndarray) -> None:
        width = self.reader.info.width
        pixels = self.reader.read((row, row + len(labels), 0, width))[..., self.bands].astype(np.float32)
        rgb = np.clip((pixels - self.low) / np.maximum(self.high - self.low, 1e-6) * 255, 0, 255)
        painted = labels != self.ignore  # nodata keeps the scene's colours
        blend = rgb * (1 - self.opacity) + self.colours[labels] * self.opacity
        rgb = np.where(painted[..., None], blend, rgb)
        raster.write_rgb_rows(self.path, row, rgb.astype(np.uint8))


@dataclass
class SceneResult:
    labels: Path
    overlay: Path | None
    resumed_from_row: int
    tiles_run: int


def model_fingerprint(model: nn.Module) -> str:
    """A short hash of the model's weights: a resumed run must use the same ones."""
    digest = hashlib.sha256()
    for key, value in model.state_dict().items():
        digest.update(key.encode())
        digest.update(value.detach().cpu().contiguous().view(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()[:16]


def sidecar_path(out: Path) -> Path:
    return out.with_name(out.name + ".progress.json")


def resume_row(out: Path, settings: dict) -> int:
    """Rows already written by an interrupted run with the same ``settings`` (0 for a fresh run); a file left by
    a run with other settings is refused, naming what differs."""
    sidecar = sidecar_path(out)
    if not (sidecar.is_file() and out.is_file()):
        return 0
    try:
        saved = json.loads(sidecar.read_text())
        before, rows = saved["settings"], int(saved["rows_done"])
    except (ValueError, KeyError, TypeError):
        raise SeglabError(f"'{sidecar}' is damaged: delete it and '{out}' to start the scene again") from None
    differ = [key for key in sorted(set(before) | set(settings)) if before.get(key) != settings.get(key)]
    if differ:
        raise SeglabError(
            f"'{out}' is an interrupted run made with other settings ({', '.join(differ)} differ): "
            f"delete it and '{sidecar.name}' to start again, or choose another --out"
        )
    return rows


def write_sidecar(out: Path, settings: dict, rows_done: int) -> None:
    sidecar = sidecar_path(out)
    tmp = sidecar.with_name(sidecar.name + ".tmp")
    tmp.write_text(json.dumps({"settings": settings, "rows_done": rows_done}, indent=1))
    os.replace(tmp, sidecar)


def infer_scene(
    model: nn.Module,
    scene: str | Path,
    out: str | Path,
    tile: int | None = None,
    overlap: int | None = None,
    batch_size: int = 4,
    overlay: bool = False,
    opacity: float = 0.5,
) -> SceneResult:
    """Write ``out`` (single-band label GeoTIFF: the scene's CRS, transform and size, the palette as colour
    table, nodata as the model's ignore index) and with ``overlay`` ``OUT_overlay.tif`` (RGB). Resumes an
    interrupted run of the same settings from its sidecar file."""
    scene, out = Path(scene), Path(out)
    if out.resolve() == scene.resolve():
        raise SeglabError(f"the output '{out}' would replace the scene it is read from: choose another --out")
    ignore_index = int(getattr(model, "ignore_index", 255))
    if not 0 <= ignore_index <= 255 or int(getattr(model, "num_classes", 0)) > 255:
        raise ConfigError("scene label maps are uint8: the model needs at most 255 classes and ignore_index <= 255")
    palette = (getattr(model, "dataset_meta", None) or {}).get("palette")
    tile_hw, overlap_hw = tile_settings(model, tile, overlap)
    with raster.gdal_env(), raster.SceneReader(scene) as reader:
        info = reader.info
        check_bands(model, info.bands, f"scene '{scene}'")
        stat = scene.stat()
        settings = {
            "scene": str(scene.resolve()),
            "scene_bytes": stat.st_size,
            "scene_mtime_ns": stat.st_mtime_ns,
            "tile": list(tile_hw),
            "overlap": list(overlap_hw),
            "ignore_index": ignore_index,
            "weights": model_fingerprint(model),
            "overlay": bool(overlay),
        }
        done = resume_row(out, settings)
        if done == 0:
            raster.create_label_raster(out, info, palette, ignore_index)
        painter = OverlayWriter(reader, out, palette, opacity, ignore_index, fresh=done == 0) if overlay else None
        rows = spans_and_cores(info.height, tile_hw[0], overlap_hw[0])
        first = next(r for r, (_, core) in enumerate(rows) if core[1] > done) if done < info.height else len(rows)
        columns = len(spans_and_cores(info.width, tile_hw[1], overlap_hw[1]))
        counter = progress_counter(len(rows) * columns, f"infer {scene.name}", first * columns, "tile")
        pending, pending_row, strip, strip_core = None, done, None, None

        def flush(final: bool) -> None:
            nonlocal pending, pending_row
            keep = len(pending) if final else (len(pending) // raster.BLOCK) * raster.BLOCK
            if keep:
                raster.write_label_rows(out, pending_row, pending[:keep].astype(np.uint8))
                if painter is not None:
                    painter.write(pending_row, pending[:keep])
                pending, pending_row = pending[keep:], pending_row + keep
                write_sidecar(out, settings, pending_row)

        def finish_strip() -> None:
            nonlocal pending
            cut = max(done - strip_core[0], 0)  # a resumed row starts at the first row not on disk
            part = strip[cut:]
            pending = part if pending is None else np.concatenate([pending, part])
            flush(final=False)

        windows = predict_windows(
            model, reader.read, info.height, info.width, tile_hw, overlap_hw, batch_size, reader.invalid,
            ignore_index, first,
        )  # fmt: skip
        current = None
        for row, (cy1, cy2, cx1, cx2), labels in windows:
            if row != current:
                if strip is not None:
                    finish_strip()
                current, strip, strip_core = row, np.empty((cy2 - cy1, info.width), np.uint8), (cy1, cy2)
            strip[:, cx1:cx2] = labels
            counter.update()
        if strip is not None:
            finish_strip()
        if pending is not None:
            flush(final=True)
        counter.close()
    sidecar_path(out).unlink(missing_ok=True)
    return SceneResult(out, painter.path if painter else None, done, (len(rows) - first) * columns)
