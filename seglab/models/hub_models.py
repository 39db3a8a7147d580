"""Fine-tuned transformers segmentation models (``hf://nvidia/segformer-b0-finetuned-ade-512-512``, or a folder
holding what the Hub serves) loaded into a config's model: the ``architectures`` entry of the Hub's
``config.json`` names the family converter (a key map beside that family, no transformers import), which
reuses its backbone's map; this module checks the result against the model and reports in one line when
the Hub model and the config's model differ (classes, depth, width).

``seglab.catalog.HUB_MODELS`` maps transformers class names (not seglab's) to the converters
(``"module:function"``), imported only when a Hub model of that class is loaded.
"""

from __future__ import annotations

import importlib
import logging
import re
from collections.abc import Iterable

import torch
from torch import nn

from seglab.catalog import HUB_MODELS
from seglab.errors import CheckpointError

logger = logging.getLogger("seglab")
CLASSIFIERS = ("conv_seg.", "cls_embed.", "classifier.")  # tensors whose shape is the number of classes
_SIZE_KEYS = ("hidden_sizes", "depths", "embed_dim", "hidden_size", "num_hidden_layers", "num_queries")


def convert_hub_model(model: nn.Module, config: dict, state: dict[str, torch.Tensor], source: str) -> dict:
    """``state`` (a transformers model named by ``config``) in ``model``'s keys, checked against ``model``:
    a different number of classes is one warning (the classifier is then skipped, as for any checkpoint),
    a different depth or width is one CheckpointError naming both models."""
    arch = (config.get("architectures") or ["?"])[0]
    converted, dropped = hub_converter(arch, source)(config, state, model)
    own = model.state_dict()
    wrong = [k for k, v in converted.items() if k in own and own[k].shape != v.shape]
    structural = [k for k in wrong if not k.split(".", 1)[-1].startswith(CLASSIFIERS)]
    parts = {k.split(".", 1)[0] for k in own}
    absent = [k for k in converted if k.split(".", 1)[0] not in parts]  # e.g. an auxiliary head the config lacks
    converted = {k: v for k, v in converted.items() if k.split(".", 1)[0] in parts}
    dropped = [*dropped, *absent]
    extra = [k for k in converted if k not in own]
    missing = [k for k in own if k not in converted and k.startswith("backbone.") and not _buffer(k)]
    hub_desc = f"{source} ({arch}, {hub_summary(config)})"
    model_desc = f"the config's model ({type(model.backbone).__name__}, num_classes={model.num_classes})"
    if structural or extra or missing:
        first = (
            f"{structural[0]} is {tuple(converted[structural[0]].shape)} there, {tuple(own[structural[0]].shape)} here"
            if structural
            else f"{(extra or missing)[0]} is {'only in the Hub model' if extra else 'not in the Hub model'}"
        )
        raise CheckpointError(
            f"{hub_desc} does not fit {model_desc}: {len(structural)} tensors differ in shape, {len(extra)} have no "
            f"place, {len(missing)} backbone tensors are not in the Hub model (e.g. {first}); use the config made "
            "for that Hub model ('seglab zoo' lists them beside their Hub repos)"
        )
    if wrong:
        logger.warning(f"{hub_desc} predicts {hub_classes(config)} classes, {model_desc}: its classifier is not loaded")
    unloaded = [k for k in own if k not in converted and not _buffer(k)]
    logger.info(
        f"{source}: converted {len(converted)} tensors from the {arch} layout; skipped {len(dropped)} Hub tensors "
        f"with no place in seglab's model ({_first(dropped)}); left unloaded {len(unloaded)} ({_first(unloaded)})"
    )
    return converted


def hub_converter(arch: str, source: str = "this Hub model"):
    """The converter ``(hub_config, hub_state, model) -> (state, dropped keys)`` the catalog names for ``arch``."""
    if arch not in HUB_MODELS:
        raise CheckpointError(f"{source} is a {arch}: seglab converts only {', '.join(sorted(HUB_MODELS))}")
    module, function = HUB_MODELS[arch].split(":")
    return getattr(importlib.import_module(module), function)


def hub_summary(config: dict) -> str:
    """The sizes that tell two Hub models apart: classes, widths, depths (also of a nested backbone_config)."""
    parts = [f"num_labels={hub_classes(config)}"]
    for where in (config, config.get("backbone_config") or {}):
        parts += [f"{key}={where[key]}" for key in _SIZE_KEYS if key in where]
    return ", ".join(parts)


def hub_classes(config: dict) -> int:
    return len(config.get("id2label") or {}) or int(config.get("num_labels", 0))


def _buffer(key: str) -> bool:
    return key.endswith(("num_batches_tracked", "relative_position_index", "attn_mask"))


def _first(keys: list[str], count: int = 5) -> str:
    return ", ".join(keys[:count]) + (" ..." if len(keys) > count else "") if keys else "none"


# ----------------------------------------------------------------------------- helpers for the key maps
def rename(state: dict, rules: Iterable[tuple[str, str]], prefix: str = "") -> tuple[dict, list[str]]:
    """Tensors whose key (after ``prefix``) matches one of ``rules`` (regex, replacement), renamed; and the
    keys under ``prefix`` no rule matched."""
    compiled = [(re.compile(f"^{pattern}$"), repl) for pattern, repl in rules]
    out, unmatched = {}, []
    for key, value in state.items():
        if not key.startswith(prefix):
            continue
        rest = key[len(prefix) :]
        for pattern, repl in compiled:
            if pattern.match(rest):
                out[pattern.sub(repl, rest)] = value
                break
        else:
            unmatched.append(key)
    return out, unmatched


def fuse_qkv(state: dict, names: tuple[str, str, str], target: str) -> None:
    """Concatenate separate query/key/value tensors (``names`` with ``{}`` for weight/bias) into ``target``'s
    ``in_proj_weight``/``in_proj_bias`` (nn.MultiheadAttention's layout), in place; a missing bias is zeros."""
    for leaf in ("weight", "bias"):
        parts = [state.pop(name.format(leaf), None) for name in names]
        if all(p is None for p in parts):
            continue
        shape = next(p for p in parts if p is not None).shape
        parts = [torch.zeros(shape) if p is None else p for p in parts]
        state[f"{target}.in_proj_{leaf}"] = torch.cat(parts, dim=0)


def as_conv1x1(weight: torch.Tensor) -> torch.Tensor:
    """A Linear weight (out, in) as a 1x1 conv weight (out, in, 1, 1)."""
    return weight.reshape(*weight.shape, 1, 1) if weight.dim() == 2 else weight


def identity_norm(channels: int, prefix: str, bias: torch.Tensor | None = None, eps: float = 1e-5) -> dict:
    """BatchNorm tensors that pass values through (eval mode) and add ``bias``: a conv with bias followed by no
    norm becomes seglab's conv-without-bias + BN."""
    return {
        f"{prefix}.weight": torch.ones(channels),
        f"{prefix}.bias": torch.zeros(channels) if bias is None else bias,
        f"{prefix}.running_mean": torch.zeros(channels),
        f"{prefix}.running_var": torch.full((channels,), 1.0 - eps),
    }
