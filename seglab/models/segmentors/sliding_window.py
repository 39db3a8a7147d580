"""Sliding-window inference that never holds more than the output map and one batch of windows.

MMSegmentation pads every window's logits to the full image and adds them up, which for a 4096x4096
Cityscapes image is a 1.3 GB temporary per window. Here each window's logits are added in place into
the output, windows run ``batch_size`` at a time, and the overlap counts come from the window grid
(a pixel is covered by as many rows as columns of windows: ``rows[y] * cols[x]``), so no full-size count
map exists either. The result is the same, operation for operation, as padding and summing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import torch

from seglab.errors import ConfigError

Window = tuple[int, int, int, int]  # y1, y2, x1, x2


def pair(value: object, key: str) -> tuple[int, int]:
    """``(h, w)`` from an int or a pair; MMSegmentation's ``_base_/models/*unet*`` give plain ints."""
    if isinstance(value, int) and value > 0:
        return value, value
    if isinstance(value, list | tuple) and len(value) == 2 and all(isinstance(v, int) and v > 0 for v in value):
        return int(value[0]), int(value[1])
    raise ConfigError(f"model.test_cfg.{key} must be (h, w) positive ints, e.g. {key}=(512, 512), got {value!r}")


def grid_starts(size: int, crop: int, stride: int) -> list[tuple[int, int]]:
    """(start, end) of each window along one side: every ``stride`` pixels, the last flush with the edge."""
    count = max(size - crop + stride - 1, 0) // stride + 1
    spans = []
    for i in range(count):
        end = min(i * stride + crop, size)
        spans.append((max(end - crop, 0), end))
    return spans


def slide_windows(h_img: int, w_img: int, crop: tuple[int, int], stride: tuple[int, int]) -> Iterator[Window]:
    """The windows in MMSegmentation's order: row by row, left to right."""
    for y1, y2 in grid_starts(h_img, crop[0], stride[0]):
        for x1, x2 in grid_starts(w_img, crop[1], stride[1]):
            yield y1, y2, x1, x2


def coverage(size: int, crop: int, stride: int, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    """How many windows of one row (or column) of the grid cover each pixel along that side."""
    count = torch.zeros(size, device=device, dtype=dtype)
    for start, end in grid_starts(size, crop, stride):
        count[start:end] += 1
    return count


def slide_logits(
    encode: Callable[[torch.Tensor], torch.Tensor],
    inputs: torch.Tensor,
    out_channels: int,
    crop: tuple[int, int],
    stride: tuple[int, int],
    batch_size: int = 1,
) -> torch.Tensor:
    """Average of ``encode(window)`` over the overlapping windows of ``inputs`` (N, C, H, W).

    ``encode`` maps (B, C, h, w) windows to (B, out_channels, h, w) logits; ``batch_size`` windows (each
    with all N images) go through it at once. Peak memory: the output plus one window batch's forward."""
    if stride[0] <= 0 or stride[1] <= 0:
        raise ConfigError(f"model.test_cfg.stride must be positive, got {stride}")
    n, _, h_img, w_img = inputs.shape
    logits = inputs.new_zeros((n, out_channels, h_img, w_img))
    windows = list(slide_windows(h_img, w_img, crop, stride))
    for k in range(0, len(windows), batch_size):
        group = windows[k : k + batch_size]
        crops = [inputs[:, :, y1:y2, x1:x2] for y1, y2, x1, x2 in group]
        out = encode(crops[0] if len(crops) == 1 else torch.cat(crops))
        for j, (y1, y2, x1, x2) in enumerate(group):
            logits[:, :, y1:y2, x1:x2] += out[j * n : (j + 1) * n]
        del out, crops
    rows = coverage(h_img, crop[0], stride[0], logits.device, logits.dtype)
    cols = coverage(w_img, crop[1], stride[1], logits.device, logits.dtype)
    band = max(1, (1 << 20) // max(w_img, 1))  # divide in bands of ~1M pixels: no full-size count map
    for y in range(0, h_img, band):
        logits[:, :, y : y + band] /= rows[y : y + band, None] * cols[None, :]
    return logits
