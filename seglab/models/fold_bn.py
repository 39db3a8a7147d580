"""Fold eval-mode BatchNorm into the convolution it directly follows, for evaluation and inference only.

``y = bn(conv(x))`` with frozen statistics is one convolution with rescaled weights and a new bias, so a folded
model does one pass over each feature map fewer. Which BatchNorm directly follows which convolution is learnt
from one real forward (``fold_batchnorm(model, run_example)``), not from names: a pair folds when every call of
the BatchNorm takes the output of the same ``nn.Conv2d`` call and nothing else reads that output (an
activation or any op in between, a norm placed before its conv, a feature also used elsewhere, a conv with a
weight hook such as spectral norm: no fold). Modules the example never ran stay as they are.

A folded model is for evaluation only: its ``train()`` raises, so it can never train or be saved as if it held
the checkpoint's weights. ``inplace=False`` (the default) folds a copy and leaves ``model`` untouched.
"""

from __future__ import annotations

import copy
import types
import weakref
from collections.abc import Callable
from typing import Any

import torch
from torch import nn
from torch.overrides import TorchFunctionMode
from torch.utils._pytree import tree_leaves

from seglab.errors import ConfigError

FOLDABLE_NORMS = (nn.BatchNorm2d, nn.SyncBatchNorm)
# calls that read a tensor's metadata, not its values: they do not make it a second consumer
_METADATA = {"size", "dim", "shape", "dtype", "device", "numel", "is_contiguous", "__get__", "ndimension", "ndim"}


class NotFoldableError(RuntimeError):
    """``train()`` on a folded model: it holds rescaled weights and no BatchNorm to train."""


class _Use:
    """One call of a convolution: its output, and who read it."""

    def __init__(self, conv: nn.Conv2d, output: torch.Tensor) -> None:
        self.conv, self.norm, self.other_reads = conv, None, 0
        self.output = weakref.ref(output)  # a weak reference: the trace keeps no feature map alive

    def matches(self, tensor: Any) -> bool:
        return isinstance(tensor, torch.Tensor) and self.output() is tensor


class _Trace(TorchFunctionMode):
    """Watches one forward: conv outputs (forward hooks), BatchNorm inputs (pre-hooks), every other read."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.uses: dict[int, _Use] = {}  # id(conv output) -> its use, while the output is alive
        self.all_uses: list[_Use] = []
        self.calls: dict[nn.Module, int] = {}
        self.inside_norm = 0
        self.handles = []
        for module in model.modules():
            if type(module) is nn.Conv2d and not module._forward_pre_hooks and not module._forward_hooks:
                self.handles.append(module.register_forward_hook(self._conv_done))
            elif type(module) in FOLDABLE_NORMS and module.track_running_stats and module.running_var is not None:
                self.handles.append(module.register_forward_pre_hook(self._norm_start))
                self.handles.append(module.register_forward_hook(self._norm_done))

    def _conv_done(self, conv: nn.Module, args: tuple, output: torch.Tensor) -> None:
        self.calls[conv] = self.calls.get(conv, 0) + 1
        use = _Use(conv, output)
        self.uses[id(output)] = use
        self.all_uses.append(use)

    def _norm_start(self, norm: nn.Module, args: tuple) -> None:
        self.calls[norm] = self.calls.get(norm, 0) + 1
        use = self.uses.get(id(args[0])) if args else None
        if use is not None and use.matches(args[0]) and use.norm is None and use.other_reads == 0:
            use.norm = norm
        self.inside_norm += 1

    def _norm_done(self, norm: nn.Module, args: tuple, output: Any) -> None:
        self.inside_norm -= 1

    def __torch_function__(self, func, types_, args=(), kwargs=None):
        kwargs = kwargs or {}
        if not self.inside_norm and getattr(func, "__name__", "") not in _METADATA:
            for leaf in tree_leaves((args, kwargs)):
                use = self.uses.get(id(leaf))
                if use is not None and use.matches(leaf):
                    use.other_reads += 1
        return func(*args, **kwargs)

    def close(self, outputs: Any) -> None:
        for handle in self.handles:
            handle.remove()
        for leaf in tree_leaves(outputs):  # a conv output returned as it is is read by the caller
            use = self.uses.get(id(leaf))
            if use is not None and use.matches(leaf):
                use.other_reads += 1

    def pairs(self) -> list[tuple[nn.Conv2d, nn.Module]]:
        """(conv, norm) whose every call is conv -> norm with no other reader of the conv's output."""
        found: dict[nn.Module, nn.Module] = {}
        broken: set[nn.Module] = set()
        for use in self.all_uses:
            if use.norm is None or use.other_reads or found.get(use.conv, use.norm) is not use.norm:
                broken.add(use.conv)
            else:
                found[use.conv] = use.norm
        norms_seen = [n for c, n in found.items() if c not in broken]
        return [
            (conv, norm)
            for conv, norm in found.items()
            if conv not in broken
            and norms_seen.count(norm) == 1
            and self.calls.get(norm) == self.calls.get(conv)  # the norm never reads another input
        ]


def find_conv_bn_pairs(model: nn.Module, run_example: Callable[[nn.Module], Any]) -> tuple[list[tuple[str, str]], Any]:
    """Names of the (conv, BatchNorm) pairs that fold, learnt from ``run_example(model)`` (one forward without
    gradients), and what that call returned."""
    names = {module: name for name, module in model.named_modules()}
    trace = _Trace(model)
    try:
        with torch.no_grad(), trace:
            outputs = run_example(model)
    finally:
        for handle in trace.handles:
            handle.remove()
    trace.close(outputs)
    return [(names[conv], names[norm]) for conv, norm in trace.pairs()], outputs


@torch.no_grad()
def fold_into_conv(conv: nn.Conv2d, norm: nn.Module) -> None:
    """Give ``conv`` the weights and bias of ``norm(conv(x))`` with ``norm``'s running statistics."""
    scale = torch.rsqrt(norm.running_var.double() + norm.eps)
    if norm.weight is not None:
        scale = scale * norm.weight.double()
    bias = conv.bias.double() if conv.bias is not None else torch.zeros_like(scale)
    bias = (bias - norm.running_mean.double()) * scale
    if norm.bias is not None:
        bias = bias + norm.bias.double()
    weight = conv.weight.double() * scale.reshape(-1, *([1] * (conv.weight.dim() - 1)))
    conv.weight = nn.Parameter(weight.to(conv.weight.dtype), requires_grad=False)
    conv.bias = nn.Parameter(bias.to(conv.weight.dtype), requires_grad=False)


def _guarded_train(self: nn.Module, mode: bool = True) -> nn.Module:
    if mode:
        raise NotFoldableError(
            "this model has BatchNorm folded into its convolutions for evaluation; train the unfolded model "
            "(seglab.inference folds a copy, so the original is untouched)"
        )
    return nn.Module.train(self, False)


def folded_pairs(model: nn.Module) -> int | None:
    """How many BatchNorms ``fold_batchnorm`` folded into ``model``; None for a model it never folded."""
    return getattr(model, "_seglab_bn_folded", None)


def fold_batchnorm(
    model: nn.Module, run_example: Callable[[nn.Module], Any], inplace: bool = False
) -> tuple[nn.Module, Any]:
    """An eval-only model with each BatchNorm that directly follows a convolution folded into it (replaced by
    ``nn.Identity``), and what ``run_example(model)`` returned on the unfolded model (a real prediction,
    so the trace costs no extra forward). A model in training mode is never folded (ValueError)."""
    if model.training:
        raise ValueError("fold_batchnorm folds eval-mode models only; call model.eval() first")
    pairs, outputs = find_conv_bn_pairs(model, run_example)
    folded = model if inplace else copy.deepcopy(model)
    for conv_name, norm_name in pairs:
        fold_into_conv(folded.get_submodule(conv_name), folded.get_submodule(norm_name))
        parent_name, _, attr = norm_name.rpartition(".")
        parent = folded.get_submodule(parent_name)
        if isinstance(parent, nn.ModuleDict):
            parent[attr] = nn.Identity()
        elif isinstance(parent, nn.Sequential | nn.ModuleList):
            parent[int(attr)] = nn.Identity()
        else:
            setattr(parent, attr, nn.Identity())
    folded._seglab_bn_folded = len(pairs)
    folded.train = types.MethodType(_guarded_train, folded)  # deepcopy re-binds it to the copy
    return folded, outputs


def wants_fold(cfg: Any) -> bool:
    """``test_cfg.fold_bn`` (seglab's key, default True): whether ``seglab test`` and ``seglab infer`` fold."""
    value = (cfg.get("test_cfg") or {}).get("fold_bn", True)
    if not isinstance(value, bool):
        raise ConfigError(f"test_cfg.fold_bn must be True or False, got {value!r}")
    return value
