"""``--amp`` on CPU measures before it commits.

bfloat16 autocast halves a CPU's training time when it has native bfloat16 arithmetic (AVX512-BF16, AMX)
and can double it when it does not (every op converts in and out). So when mixed precision is asked for
on CPU without naming a dtype, a sub-second probe times a few representative convolutions (forward and
backward) in float32 and under bfloat16 autocast, and training stays in float32 when bfloat16 is more than
10% slower.
``seglab train --amp force`` or ``optim_wrapper=dict(type='AmpOptimWrapper', dtype='bfloat16')`` skips
the probe and keeps bfloat16. ``seglab test --amp`` and ``seglab infer --amp`` choose the same way with a
forward-only probe (``choose_inference_dtype``); on CUDA they run float16 autocast. Either way the log names the
choice and the measured ratio.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from seglab import dist

logger = logging.getLogger("seglab")

SLOWER = 1.1  # bfloat16 time / float32 time above which --amp trains in float32 (within 10%: what was asked for)


@dataclass
class ProbeResult:
    float32_s: float
    bfloat16_s: float

    @property
    def ratio(self) -> float:
        """bfloat16 time / float32 time: below 1 means bfloat16 is faster."""
        return self.bfloat16_s / self.float32_s


def probe_bfloat16_speed(
    budget_s: float = 0.5, size: int = 32, channels: int = 256, backward: bool = True
) -> ProbeResult:
    """Fastest time of two 3x3 convolutions (forward + backward; the shape of a ResNet-50-D8's third stage on a
    256 px crop, where most of its time goes) in float32 and under bfloat16 autocast, interleaved so a busy
    machine slows both alike; stops after ``budget_s`` (at least 2 runs of each). The fastest run is the one
    least disturbed by other processes. Small convolutions favour float32 (the casts dominate), so a smaller
    probe would misjudge real models. ``backward=False`` times the forward alone (inference)."""
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(1, channels, size, size, generator=generator, requires_grad=True)
    w1 = torch.randn(channels, channels, 3, 3, generator=generator).mul_(0.05).requires_grad_()
    w2 = torch.randn(channels, channels, 3, 3, generator=generator).mul_(0.05).requires_grad_()

    def step(bf16: bool) -> float:
        start = time.perf_counter()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16), torch.set_grad_enabled(backward):
            out = F.conv2d(F.relu(F.conv2d(x, w1, padding=1)), w2, padding=1)
        if backward:
            out.float().sum().backward()
        return time.perf_counter() - start

    step(False), step(True)  # warm-up: the first calls pick kernels
    times: dict[bool, list[float]] = {False: [], True: []}
    deadline = time.perf_counter() + budget_s
    while len(times[True]) < 2 or (time.perf_counter() < deadline and len(times[True]) < 20):
        for bf16 in (False, True):
            times[bf16].append(step(bf16))
    return ProbeResult(min(times[False]), min(times[True]))


def cpu_bfloat16_support() -> str:
    """'avx512_bf16', 'amx_bf16', both, or 'none' from /proc/cpuinfo (Linux); '' when unknown."""
    try:
        with open("/proc/cpuinfo") as f:
            flags = next((line.split(":", 1)[1].split() for line in f if line.startswith("flags")), [])
    except OSError:
        return ""
    found = [flag for flag in ("avx512_bf16", "amx_bf16") if flag in flags]
    return ", ".join(found) or "none"


def choose_amp_dtype(
    amp_dtype: torch.dtype | None,
    device_type: str,
    optim_wrapper: dict,
    probe: Callable[[], ProbeResult] | None = None,
) -> torch.dtype | None:
    """The autocast dtype to train with: ``amp_dtype`` unless it is bfloat16 on CPU chosen by default
    (``optim_wrapper`` names no ``dtype``) and the probe measures it slower than float32 (then None)."""
    if device_type != "cpu" or amp_dtype != torch.bfloat16 or optim_wrapper.get("dtype") is not None:
        return amp_dtype
    result = dist.broadcast_object((probe or probe_bfloat16_speed)())  # every process trains as rank 0 measured
    if result.ratio <= SLOWER:
        logger.info(
            f"--amp: bfloat16 autocast measured {1 / result.ratio:.2f}x the speed of float32 on this CPU "
            f"(bfloat16 instructions: {cpu_bfloat16_support() or 'unknown'}); training in bfloat16"
        )
        return amp_dtype
    support = cpu_bfloat16_support()
    logger.warning(
        f"--amp: bfloat16 autocast measured {result.ratio:.2f}x slower than float32 on this CPU"
        f"{f' (bfloat16 instructions: {support})' if support else ''}; training in float32. "
        "Use --amp force or optim_wrapper.dtype='bfloat16' to keep bfloat16"
    )
    return None


def choose_inference_dtype(device_type: str, amp: str | None) -> torch.dtype | None:
    """The autocast dtype for ``seglab test/infer --amp`` (``amp``: None, 'auto' or 'force'): float16 on CUDA;
    on CPU bfloat16 when 'force' or when a forward-only probe measures it within 10% of float32, else None."""
    if not amp:
        return None
    if device_type == "cuda":
        logger.info("--amp: float16 autocast for inference on CUDA")
        return torch.float16
    if amp == "force":
        logger.info("--amp force: bfloat16 autocast for inference, without measuring")
        return torch.bfloat16
    result = dist.broadcast_object(probe_bfloat16_speed(backward=False))
    support = cpu_bfloat16_support()
    which = f" (bfloat16 instructions: {support})" if support else ""
    if result.ratio <= SLOWER:
        logger.info(
            f"--amp: bfloat16 inference measured {1 / result.ratio:.2f}x the speed of float32 on this CPU{which}; "
            "predicting in bfloat16"
        )
        return torch.bfloat16
    logger.warning(
        f"--amp: bfloat16 inference measured {result.ratio:.2f}x slower than float32 on this CPU{which}; "
        "predicting in float32 (--amp force keeps bfloat16)"
    )
    return None
