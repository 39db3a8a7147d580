"""``seglab benchmark``: parameters, FLOPs (PyTorch's flop counter) and inference throughput of a config's model,
timed as ``seglab test`` and ``seglab infer`` predict with it (BatchNorm folded, and on CPU Winograd 3x3
convolutions and channels-last max pooling, as the config's ``test_cfg`` asks)."""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from seglab.models.cpu_kernels import use_cpu_kernels
from seglab.models.fold_bn import fold_batchnorm
from seglab.openmp_spinning import openmp_spinning


@dataclass
class BenchmarkResult:
    params: int
    flops: int
    batch: int
    height: int
    width: int
    ms_per_image: float
    images_per_s: float
    device: str
    timed: str = "the model as built"

    def table(self) -> str:
        rows = [
            ("parameters", f"{self.params:,} ({self.params / 1e6:.2f} M)"),
            ("FLOPs / image", f"{self.flops:,} ({self.flops / 1e9:.2f} GFLOPs; 1 multiply-add = 2 FLOPs)"),
            ("input", f"{self.batch} x 3 x {self.height} x {self.width}"),
            ("device", self.device),
            ("timed", self.timed),
            ("ms / image", f"{self.ms_per_image:.2f}"),
            ("images / s", f"{self.images_per_s:.2f}"),
        ]
        width = max(len(k) for k, _ in rows)
        return "\n".join(f"{k:<{width}}  {v}" for k, v in rows)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


@torch.no_grad()
def count_flops(model: nn.Module, height: int, width: int) -> int:
    """FLOPs of one forward pass (logits at input size) for one image."""
    device = next(model.parameters()).device
    x = torch.zeros(1, 3, height, width, device=device)
    with FlopCounterMode(display=False) as counter:
        model(x, mode="tensor")
    return int(counter.get_total_flops())


def prediction_model(model: nn.Module, x: torch.Tensor, fold_bn: bool, winograd: bool) -> tuple[nn.Module, str]:
    """An evaluation-only copy of ``model`` made as ``seglab test`` makes its model, and what was done to it."""
    done = []
    if fold_bn:
        model, _ = fold_batchnorm(model, lambda m: m.inference(x))
        done.append(f"{model._seglab_bn_folded} BatchNorm(s) folded (test_cfg.fold_bn)")
    if x.device.type == "cpu" and (fold_bn or winograd):
        model = model if fold_bn else copy.deepcopy(model)
        kernels = use_cpu_kernels(model, winograd)
        if winograd:
            done.append(
                f"{kernels.winograd} 3x3 convolution(s) eligible for Winograd (test_cfg.winograd), idle OpenMP "
                f"threads: {openmp_spinning()}"
            )
        done.append(f"{kernels.dilated_depthwise} dilated depthwise convolution(s) as shifted sums")
        done.append(f"{kernels.pooling} max pooling(s) in channels-last layout")
    return model, "; ".join(done) or "the model as built"


@torch.no_grad()
def benchmark_model(
    model: nn.Module,
    height: int,
    width: int,
    batch: int = 1,
    iters: int = 10,
    warmup: int = 2,
    fold_bn: bool = True,
    winograd: bool = True,
) -> BenchmarkResult:
    """Time ``iters`` forwards (after ``warmup``) of the model as prediction runs it (``prediction_model``)."""
    model.eval()
    device = next(model.parameters()).device
    x = torch.randn(batch, 3, height, width, device=device)
    timed_model, timed = prediction_model(model, x, fold_bn, winograd)
    for _ in range(warmup):
        timed_model.inference(x)
    if device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(iters):
        timed_model.inference(x)
    if device.type == "cuda":
        torch.cuda.synchronize()
    seconds = (time.perf_counter() - start) / (iters * batch)
    return BenchmarkResult(
        count_parameters(model),
        count_flops(model, height, width),
        batch,
        height,
        width,
        seconds * 1000,
        1 / seconds,
        str(device),
        timed,
    )
