"""First-layer adaptation: an RGB (3-band) pre-trained checkpoint loaded into a model for another band count.

Rule (seglab's, a documented alternative to timm's "repeat the RGB kernel and scale by 3/N"): with N > 3
bands, bands 1-3 keep the RGB kernel unchanged and bands 4..N start at zero; with N < 3, the kernels of the
RGB channels from N onwards are summed into the last band. So at the start the adapted model gives exactly the
RGB model's output when bands 1-3 hold the RGB input (any extra bands add nothing until training moves their
weights, and their gradients are not zero), and a 1-band model fed a grey image matches the RGB model fed that
grey image three times. timm's rule has no such equality for N = 4 or 13 (it scales the RGB response by 3/N).
Put the bands the checkpoint saw first, in its channel order (after ``bgr_to_rgb``).
"""

from __future__ import annotations

import torch
from torch import nn

RULE = "RGB kernel kept for bands 1-3, other bands start at zero"
RULE_FEWER = "RGB kernels of channels {n} and up summed into band {n}"


def input_conv_key(module: nn.Module) -> str | None:
    """The state-dict key of the weight of the first ``Conv2d`` (the layer that sees the image), if any."""
    for name, child in module.named_modules():
        if isinstance(child, nn.Conv2d):
            return f"{name}.weight" if name else "weight"
    return None


def adapt_input_weight(weight: torch.Tensor, bands: int) -> torch.Tensor:
    """A (O, 3, kh, kw) RGB kernel for ``bands`` input bands, by the rule in this module's docstring."""
    out = weight.new_zeros((weight.shape[0], bands, *weight.shape[2:]))
    if bands >= 3:
        out[:, :3] = weight
    else:
        out[:, : bands - 1] = weight[:, : bands - 1]
        out[:, bands - 1] = weight[:, bands - 1 :].sum(1)
    return out


def adapted_first_layer(key: str, value: torch.Tensor, target: torch.Tensor, first_key: str | None) -> str | None:
    """The rule's description when ``value`` (a checkpoint's RGB first-layer kernel) can be adapted to
    ``target``'s band count, else None."""
    if key != first_key or value.ndim != 4 or target.ndim != 4 or value.shape[1] != 3 or target.shape[1] == 3:
        return None
    if value.shape[0] != target.shape[0] or value.shape[2:] != target.shape[2:]:
        return None
    return RULE if target.shape[1] > 3 else RULE_FEWER.format(n=target.shape[1])
