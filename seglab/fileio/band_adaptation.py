"""First-layer adaptation: an RGB (3-band) pre-trained checkpoint loaded into a model for another band count.

Rule (seglab's, a documented alternative to timm's "repeat the RGB kernel and scale by 3/N"): with N > 3
bands, bands 1-3 keep the RGB kernel unchanged and bands 4..N start at zero; with N < 3, the kernels of the
RGB channels from N onwards are summed into the last band. So at the start the adapted model gives exactly the
RGB model's output when bands 1-3 hold the RGB input (any extra bands add nothing until training moves their
weights, and their gradients are not zero), and a 1-band model fed a grey image matches the RGB model fed that
grey image three times. timm's rule has no such equality for N = 4 or 13 (it scales the RGB response by 3/N).
Put the bands the checkpoint saw first, in its channel order (after ``bgr_to_rgb``).

Every layer that reads the image gets the rule, not only the first: BiSeNetV1's spatial path, BiSeNetV2's
semantic branch and ICNet's light branch read it beside the ResNet or detail-branch stem. A weight is adapted
when it belongs to a plain (ungrouped) ``Conv2d`` of the model whose input channels are the model's band count
N (the first convolution's), and its checkpoint shape differs from the model's only in dim 1, 3 against N.
Layers that see the image concatenated with features (CGNet's input injection, C + N channels) or whose
kernel count depends on N (ERFNet's first down-sampler, ``enc_downsample_channels[0]`` - N kernels) cannot
keep the checkpoint's shapes: they stay as initialised, and the load logs "skipped KEY: checkpoint shape ...
!= model shape ..." for each of their tensors."""

from __future__ import annotations

import torch
from torch import nn

RULE = "RGB kernel kept for bands 1-3, other bands start at zero"
RULE_FEWER = "RGB kernels of channels {n} and up summed into band {n}"


def input_conv_keys(module: nn.Module) -> tuple[str, ...]:
    """The state-dict keys of the convolution weights that read the image: the first ``Conv2d``'s, then (in a
    model for N != 3 bands) those of the other ungrouped ``Conv2d`` layers with N input channels; empty when
    the model has no ``Conv2d``."""
    convs = [
        (f"{name}.weight" if name else "weight", m) for name, m in module.named_modules() if isinstance(m, nn.Conv2d)
    ]
    if not convs:
        return ()
    first_key, first = convs[0]
    others = [key for key, m in convs[1:] if m.in_channels == first.in_channels != 3 and m.groups == 1]
    return (first_key, *others)


def adapt_input_weight(weight: torch.Tensor, bands: int) -> torch.Tensor:
    """A (O, 3, kh, kw) RGB kernel for ``bands`` input bands, by the rule in this module's docstring."""
    out = weight.new_zeros((weight.shape[0], bands, *weight.shape[2:]))
    if bands >= 3:
        out[:, :3] = weight
    else:
        out[:, : bands - 1] = weight[:, : bands - 1]
        out[:, bands - 1] = weight[:, bands - 1 :].sum(1)
    return out


def adapted_input_layer(key: str, value: torch.Tensor, target: torch.Tensor, image_keys: tuple[str, ...]) -> str | None:
    """The rule's description when ``key`` is one of ``image_keys`` (``input_conv_keys``'s answer) and
    ``value``, its checkpoint's RGB kernel, differs from ``target`` only in having 3 bands, else None."""
    if key not in image_keys or value.ndim != 4 or target.ndim != 4 or value.shape[1] != 3 or target.shape[1] == 3:
        return None
    if value.shape[0] != target.shape[0] or value.shape[2:] != target.shape[2:]:
        return None
    return RULE if target.shape[1] > 3 else RULE_FEWER.format(n=target.shape[1])
