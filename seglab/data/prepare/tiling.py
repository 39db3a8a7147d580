"""Cutting large aerial images into tiles, the way MMSegmentation's converters place them.

ISPRS (Potsdam, Vaihingen): ``size`` x ``size`` tiles on a grid of step ``size`` (MMSegmentation's
``stride_size`` does not change which tiles come out), the last row and column moved back to end at the
border. iSAID: tiles every ``size - overlap`` pixels, the last ones moved back likewise; images smaller
than a tile are padded at the bottom/right first.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np


def isprs_starts(length: int, size: int) -> list[int]:
    """Tile starts along one axis: 0, size, 2*size, ... and ``length - size`` for the last tile."""
    if length <= size:
        return [0]
    return list(range(0, length - size, size)) + [length - size]


def isprs_boxes(h: int, w: int, size: int) -> Iterator[tuple[int, int, int, int]]:
    """(x0, y0, x1, y1) of every tile, rows of x within columns of y as MMSegmentation orders them."""
    for y0 in isprs_starts(h, size):
        for x0 in isprs_starts(w, size):
            yield x0, y0, min(x0 + size, w), min(y0 + size, h)


def sliding_starts(length: int, size: int, step: int) -> list[int]:
    """Starts every ``step`` pixels, each moved back so its tile ends inside ``length`` (duplicates dropped)."""
    return sorted({min(s, length - size) for s in range(0, length, step)})


def pad_to(img: np.ndarray, size: int, value: int) -> np.ndarray:
    """Pad at the bottom/right so both sides are at least ``size``."""
    h, w = img.shape[:2]
    if h >= size and w >= size:
        return img
    pad = [(0, max(size - h, 0)), (0, max(size - w, 0))] + [(0, 0)] * (img.ndim - 2)
    return np.pad(img, pad, constant_values=value)
