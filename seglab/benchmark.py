"""``seglab benchmark``: parameters, FLOPs (PyTorch's flop counter) and inference throughput of a config's model."""

from __future__ import annotations

import time
from dataclasses import dataclass

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode


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

    def table(self) -> str:
        rows = [
            ("parameters", f"{self.params:,} ({self.params / 1e6:.2f} M)"),
            ("FLOPs / image", f"{self.flops:,} ({self.flops / 1e9:.2f} GFLOPs; 1 multiply-add = 2 FLOPs)"),
            ("input", f"{self.batch} x 3 x {self.height} x {self.width}"),
            ("device", self.device),
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


@torch.no_grad()
def benchmark_model(
    model: nn.Module, height: int, width: int, batch: int = 1, iters: int = 10, warmup: int = 2
) -> BenchmarkResult:
    model.eval()
    device = next(model.parameters()).device
    x = torch.randn(batch, 3, height, width, device=device)
    for _ in range(warmup):
        model.inference(x)
    if device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(iters):
        model.inference(x)
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
    )
