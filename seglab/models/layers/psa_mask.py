"""MMCV's ``PSAMask`` op (PSANet's point-wise spatial attention mask) in plain PyTorch.

MMCV ships it compiled only. The op turns a per-pixel attention over a ``mask_size`` window centred on the
pixel (``(N, mask_h * mask_w, H, W)``) into a dense pixel-to-pixel map ``(N, H * W, H, W)``:

- ``collect``:    out[n, q, p] = mask[n, m, p]
- ``distribute``: out[n, p, q] = mask[n, m, p]

for every pixel ``p = (h, w)`` and window cell ``m = (i, j)`` whose target ``q = (h + i - half_h,
w + j - half_w)`` lies inside the map (``half = (size - 1) // 2``); every other entry is 0. Here it is one
``index_select`` and one ``index_copy`` with index vectors built once per shape, so autograd gives the
backward (the same scatter of gradients as MMCV's hand-written kernel).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

import torch
from torch import nn

from seglab.errors import ConfigError

PSA_TYPES = ("collect", "distribute")


@lru_cache(maxsize=4)  # a training run uses one or two shapes; each entry holds 2 x (H*W)^2 indices at most
def _indices(
    psa_type: str, height: int, width: int, mask_h: int, mask_w: int, device: torch.device
) -> tuple[torch.Tensor, torch.Tensor]:
    """(source, target) flat indices into ``mask.view(N, -1)`` and ``out.view(N, -1)`` for every in-map pair."""
    pixels = height * width
    ph, pw = torch.meshgrid(torch.arange(height), torch.arange(width), indexing="ij")
    ph, pw = ph.reshape(-1, 1), pw.reshape(-1, 1)  # p: rows
    qh, qw = ph.reshape(1, -1), pw.reshape(1, -1)  # q: columns
    i = qh - ph + (mask_h - 1) // 2  # the window cell of p that points at q
    j = qw - pw + (mask_w - 1) // 2
    valid = (i >= 0) & (i < mask_h) & (j >= 0) & (j < mask_w)
    p_index, q_index = valid.nonzero(as_tuple=True)
    cell = i[p_index, q_index] * mask_w + j[p_index, q_index]
    source = cell * pixels + p_index
    target = q_index * pixels + p_index if psa_type == "collect" else p_index * pixels + q_index
    return source.to(device), target.to(device)


def psa_mask(x: torch.Tensor, psa_type: str, mask_size: Sequence[int]) -> torch.Tensor:
    """The dense ``(N, H*W, H, W)`` attention map of ``x`` (``(N, mask_h*mask_w, H, W)``); see the module doc."""
    mask_h, mask_w = mask_size
    n, channels, height, width = x.shape
    if channels != mask_h * mask_w:
        raise ConfigError(
            f"PSAMask({psa_type!r}, mask_size={tuple(mask_size)}) needs {mask_h * mask_w} input channels, got "
            f"{channels}; mask_size must match the attention conv's output"
        )
    pixels = height * width
    # while exporting, tensors made under tracing must not stay in the cache for later eager calls
    make = _indices.__wrapped__ if torch.compiler.is_exporting() else _indices
    source, target = make(psa_type, height, width, mask_h, mask_w, x.device)
    values = x.reshape(n, channels * pixels).index_select(1, source)
    out = x.new_zeros(n, pixels * pixels).index_copy(1, target, values)
    return out.view(n, pixels, height, width)


class PSAMask(nn.Module):
    """MMCV's ``PSAMask(psa_type, mask_size)`` module (no parameters)."""

    def __init__(self, psa_type: str, mask_size: Sequence[int] | int | None = None) -> None:
        super().__init__()
        if psa_type not in PSA_TYPES:
            raise ConfigError(f"PSAMask psa_type must be one of {PSA_TYPES}, got {psa_type!r}")
        if isinstance(mask_size, int):
            mask_size = (mask_size, mask_size)
        if mask_size is None or len(mask_size) != 2 or not all(isinstance(s, int) and s > 0 for s in mask_size):
            raise ConfigError(f"PSAMask mask_size must be two positive ints (height, width), got {mask_size!r}")
        self.psa_type = psa_type
        self.mask_size = tuple(mask_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return psa_mask(x, self.psa_type, self.mask_size)

    def extra_repr(self) -> str:
        return f"psa_type={self.psa_type}, mask_size={self.mask_size}"
