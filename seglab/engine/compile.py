"""The ``compile`` config key (MMEngine's runner argument): ``torch.compile`` for training and evaluation.

``compile=True`` uses torch's defaults; ``compile=dict(backend=..., mode=..., dynamic=...)`` passes those
arguments to ``torch.compile``. MMEngine compiles the model's ``train_step``; seglab compiles the
``forward`` of each part of the segmentor (backbone, neck, heads), so validation and test run the compiled
network too. The compiled function replaces ``forward`` on the module object itself: parameters stay where
they were, so state-dict keys stay plain (no ``_orig_mod.``), checkpoints and resume are unchanged, EMA
swaps weights in place and DistributedDataParallel wraps the segmentor as before.
"""

from __future__ import annotations

import inspect
import logging

import torch
from torch import nn

from seglab.errors import ConfigError

logger = logging.getLogger("seglab")

SKIPPED_PARTS = ("data_preprocessor",)  # works on lists of images, not one tensor: left eager


def compile_options(value: object) -> dict | None:
    """``cfg.compile`` as ``torch.compile`` keyword arguments, or None when compiling is off."""
    if value is None or value is False:
        return None
    if value is True:
        return {}
    if not isinstance(value, dict):
        raise ConfigError(f"compile={value!r} must be True, False or a dict of torch.compile arguments")
    accepted = [name for name in inspect.signature(torch.compile).parameters if name != "model"]
    unknown = sorted(set(value) - set(accepted))
    if unknown:
        raise ConfigError(f"compile: unknown torch.compile argument(s) {unknown}; accepted: {', '.join(accepted)}")
    return dict(value)


def check_compiler(options: dict, device: torch.device) -> None:
    """Inductor (the default backend) builds C++ on CPU; without a compiler, fail now in one line
    instead of with a long trace at the first iteration."""
    if device.type != "cpu" or options.get("backend") not in (None, "inductor") or options.get("disable"):
        return
    try:
        from torch._inductor.cpp_builder import get_cpp_compiler
    except ImportError:  # a torch without this helper: let torch.compile report it
        return
    try:
        get_cpp_compiler()
    except Exception as error:  # torch raises InvalidCxxCompiler (or a lookup error) when none runs
        raise ConfigError(
            "compile: torch.compile's default backend (inductor) needs a C++ compiler on CPU and none was found "
            "(install g++, or set CXX); or set compile=dict(backend='aot_eager'), or remove compile"
        ) from error


def compiled_parts(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """(name, module) of each part of ``model`` whose ``forward`` gets compiled."""
    parts = []
    for name, child in model.named_children():
        if name in SKIPPED_PARTS:
            continue
        if isinstance(child, nn.ModuleList | nn.ModuleDict):  # several auxiliary heads: each one
            parts.extend((f"{name}.{sub}", module) for sub, module in child.named_children())
        else:
            parts.append((name, child))
    return parts


def compile_model(model: nn.Module, value: object, device: torch.device) -> nn.Module:
    """Compile ``model``'s parts in place as ``cfg.compile`` asks; returns ``model`` (the same object)."""
    options = compile_options(value)
    if options is None:
        return model
    check_compiler(options, device)
    parts = compiled_parts(model)
    for _, module in parts:
        if "forward" not in vars(module):  # compiling twice (train, then test on the same model) is a no-op
            module.forward = torch.compile(module.forward, **options)
    shown = ", ".join(f"{k}={v!r}" for k, v in options.items()) or "default arguments"
    logger.info(
        f"compile: torch.compile ({shown}) on {', '.join(name for name, _ in parts)}; "
        "the first iterations (and the first validation) are slow while it compiles"
    )
    return model
