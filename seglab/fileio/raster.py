"""Windowed reading and writing of georeferenced rasters (GeoTIFF) through rasterio, in bounded memory.

rasterio is an optional extra (``geo``), imported when the first scene is opened, so
``import seglab`` stays fast and a missing GDAL breaks only scene commands. A window is ``(y1, y2, x1, x2)``
in pixels. Label rasters are written in full-width strips of whole block rows, so every compressed block is
written once and GDAL's cache never holds more than a strip.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from seglab.errors import ConfigError, DatasetError, install_hint

Window = tuple[int, int, int, int]  # y1, y2, x1, x2
BLOCK = 256  # output tile side: GeoTIFF blocks are multiples of 16; 256 is GDAL's usual choice
GDAL_CACHE_MB = 64  # GDAL's block cache defaults to 5% of RAM; a small one keeps peak memory bounded


def nodata_mask(pixels: np.ndarray, nodata: float | None) -> np.ndarray:
    """The mask of nodata pixels of ``pixels`` (bands last): those whose every band equals ``nodata`` (or is
    NaN when ``nodata`` is NaN); all False without a nodata value. Scene inference, tiling and check-data's
    band statistics share this rule."""
    if nodata is None:
        return np.zeros(pixels.shape[:-1], dtype=bool)
    if np.isnan(nodata):
        return np.isnan(pixels).all(axis=-1)
    return (pixels == nodata).all(axis=-1)


def rasterio_module() -> ModuleType:
    """``rasterio``, or one line saying how to install it."""
    try:
        import rasterio
    except ImportError:
        raise ConfigError(
            "reading and writing GeoTIFF scenes needs rasterio, which is not installed: "
            + install_hint("rasterio", "geo")
        ) from None
    return rasterio


@contextlib.contextmanager
def gdal_env() -> Iterator[None]:
    """GDAL settings for scene I/O: a small block cache (bounded memory)."""
    with rasterio_module().Env(GDAL_CACHEMAX=GDAL_CACHE_MB):
        yield


@dataclass(frozen=True)
class SceneInfo:
    """What a scene's output must copy: size, bands, georeference and the nodata value."""

    height: int
    width: int
    bands: int
    dtype: str
    crs: Any  # rasterio.crs.CRS or None
    transform: Any  # affine.Affine
    nodata: float | None


class SceneReader:
    """An open multi-band raster; ``read(window)`` gives H x W x bands in the file's dtype."""

    def __init__(self, path: str | Path) -> None:
        rasterio = rasterio_module()
        self.path = Path(path)
        if not self.path.is_file():
            raise DatasetError(f"scene '{self.path}' does not exist")
        try:
            self.dataset = rasterio.open(self.path)
        except rasterio.errors.RasterioIOError as err:
            raise DatasetError(f"cannot read '{self.path}' as a raster ({err})") from None
        ds = self.dataset
        self.info = SceneInfo(ds.height, ds.width, ds.count, ds.dtypes[0], ds.crs, ds.transform, ds.nodata)

    def read(self, window: Window) -> np.ndarray:
        y1, y2, x1, x2 = window
        data = self.dataset.read(window=((y1, y2), (x1, x2)))  # bands x h x w
        return np.moveaxis(data, 0, -1)

    def invalid(self, pixels: np.ndarray) -> np.ndarray:
        """H x W mask of nodata pixels: every band equals the nodata value (or is NaN)."""
        return nodata_mask(pixels, self.info.nodata)

    def close(self) -> None:
        self.dataset.close()

    def __enter__(self) -> SceneReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def colormap(palette: Sequence[Sequence[int]]) -> dict[int, tuple[int, int, int, int]]:
    """A GeoTIFF colour table from a class palette (RGB per class)."""
    return {i: (int(c[0]), int(c[1]), int(c[2]), 255) for i, c in enumerate(palette) if i < 256}


def create_label_raster(
    path: Path, info: SceneInfo, palette: Sequence[Sequence[int]] | None, nodata: int, dtype: str = "uint8"
) -> None:
    """An empty single-band label GeoTIFF with the scene's size, CRS and transform: tiled, deflate-compressed,
    the palette as its colour table, ``nodata`` (the ignore index) declared. Blocks stay unwritten (sparse)."""
    rasterio = rasterio_module()
    profile = dict(
        driver="GTiff",
        height=info.height,
        width=info.width,
        count=1,
        dtype=dtype,
        crs=info.crs,
        transform=info.transform,
        nodata=nodata,
        tiled=True,
        blockxsize=BLOCK,
        blockysize=BLOCK,
        compress="deflate",
        SPARSE_OK=True,
    )
    if info.width * info.height > 2**32 // 2:
        profile["BIGTIFF"] = "YES"
    path.parent.mkdir(parents=True, exist_ok=True)
    with gdal_env(), rasterio.open(path, "w", **profile) as out:
        if palette is not None and dtype == "uint8":
            out.write_colormap(1, colormap(palette))


def write_label_rows(path: Path, row: int, labels: np.ndarray) -> None:
    """Write full-width ``labels`` (h x W) at ``row`` and close the file, so what is written is on disk."""
    rasterio = rasterio_module()
    with gdal_env(), rasterio.open(path, "r+") as out:
        out.write(labels[None], window=((row, row + labels.shape[0]), (0, labels.shape[1])))


def read_label_raster(path: Path, window: Window | None = None) -> np.ndarray:
    """A single-band raster (or a window of it) as H x W."""
    rasterio = rasterio_module()
    with rasterio.open(path) as src:
        if window is None:
            return src.read(1)
        y1, y2, x1, x2 = window
        return src.read(1, window=((y1, y2), (x1, x2)))


def write_tile(path: Path, pixels: np.ndarray, info: SceneInfo, window: Window) -> None:
    """A small multi-band GeoTIFF (H x W x bands) georeferenced as ``window`` of the scene ``info``."""
    rasterio = rasterio_module()
    from rasterio.windows import Window as RioWindow
    from rasterio.windows import transform as window_transform

    y1, y2, x1, x2 = window
    transform = window_transform(RioWindow(x1, y1, x2 - x1, y2 - y1), info.transform)
    profile = dict(
        driver="GTiff",
        height=y2 - y1,
        width=x2 - x1,
        count=pixels.shape[2],
        dtype=pixels.dtype.name,
        crs=info.crs,
        transform=transform,
        nodata=info.nodata,
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    with rasterio.open(path, "w", **profile) as out:
        out.write(np.moveaxis(pixels, -1, 0))


def decimated_read(reader: SceneReader, side: int = 1024) -> np.ndarray:
    """The scene shrunk to at most ``side`` pixels a side (nearest), H x W x bands: cheap statistics."""
    info = reader.info
    scale = max(info.height, info.width) / side
    shape = (info.bands, max(1, round(info.height / max(scale, 1))), max(1, round(info.width / max(scale, 1))))
    return np.moveaxis(reader.dataset.read(out_shape=shape), 0, -1)


def create_overlay_raster(path: Path, info: SceneInfo) -> None:
    """An empty 3-band uint8 GeoTIFF (RGB overlay) with the scene's georeference, tiled and compressed."""
    rasterio = rasterio_module()
    profile = dict(
        driver="GTiff",
        height=info.height,
        width=info.width,
        count=3,
        dtype="uint8",
        crs=info.crs,
        transform=info.transform,
        tiled=True,
        blockxsize=BLOCK,
        blockysize=BLOCK,
        compress="deflate",
        photometric="RGB",
        SPARSE_OK=True,
    )
    if info.width * info.height * 3 > 2**32 // 2:
        profile["BIGTIFF"] = "YES"
    path.parent.mkdir(parents=True, exist_ok=True)
    with gdal_env(), rasterio.open(path, "w", **profile):
        pass


def write_rgb_rows(path: Path, row: int, rgb: np.ndarray) -> None:
    """Write full-width RGB rows (h x W x 3, uint8) at ``row``."""
    rasterio = rasterio_module()
    with gdal_env(), rasterio.open(path, "r+") as out:
        out.write(np.moveaxis(rgb, -1, 0), window=((row, row + rgb.shape[0]), (0, rgb.shape[1])))
