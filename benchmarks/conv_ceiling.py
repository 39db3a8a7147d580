"""How fast a model's prediction could be on this CPU: its convolutions timed one by one, against the forward.

    python benchmarks/conv_ceiling.py [--cases r18:360x480 r50:360x480] [--repeats 5] [--threads N]
                                      [--config CONFIG --checkpoint CKPT --size HxW]

Each case builds a config (``r18``: DeepLabV3+ R18-D8, ``r50``: the tutorial's DeepLabV3+ R50-D8; or any
``--config``, with ``--checkpoint`` when given) with random BatchNorm statistics, folds it as ``seglab test``
does, and runs ``encode_decode`` on one image under ``torch.inference_mode`` while recording the input of every
convolution (and linear layer). Then it times, on this CPU, with the same threads:

- the whole forward (median of ``--repeats``),
- each convolution alone on its recorded input (median of ``--repeats``, after one warm-up call), summed:
  the time the forward would take if everything that is not a convolution took no time at all;
- the arithmetic of each convolution (2 x multiply-adds), so the rate each reaches and the best rate of any
  (this CPU's practical peak for these kernels).

It prints the convolutions' share of the forward, their rate, the best per-layer rate, and the two floors:
the convolutions alone, and all their arithmetic at the best rate. Under ``benchmarks/infer_speed.py
--ceiling`` the floor is set against MMSegmentation's test loop measured in the same run: the largest
speed-up over MMSegmentation that any change keeping float32 convolutions could give.
"""

from __future__ import annotations

import argparse
import functools
import os
import statistics
import time
from pathlib import Path

import torch
from fold_speed import CONFIGS, REPO, cpu_name, eval_model, folded_copy  # benchmarks/ is the script's folder
from torch import nn

LAYERS = (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)


def folded_model(config: Path, checkpoint: Path | None) -> nn.Module:
    """The config's model in eval mode (random BatchNorm statistics unless a checkpoint is given), folded."""
    return folded_copy(eval_model(config, checkpoint))


def multiply_adds(layer: nn.Module, x: torch.Tensor, out: torch.Tensor) -> int:
    """Multiply-adds of one call: each output element of a convolution sums (inputs per group) x (kernel)
    products; each input element of a transposed convolution meets (outputs per group) x (kernel) weights."""
    if isinstance(layer, nn.Linear):
        return out.numel() * layer.in_features
    kernel = layer.kernel_size[0] * layer.kernel_size[1]
    if isinstance(layer, nn.ConvTranspose2d):
        return x.numel() * layer.out_channels // layer.groups * kernel
    return out.numel() * layer.in_channels // layer.groups * kernel


def median_seconds(call, repeats: int) -> float:
    call()  # warm-up: oneDNN primitive for this shape, allocator
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


@torch.inference_mode()
def ceiling(model: nn.Module, image: torch.Tensor, repeats: int) -> dict:
    """Forward seconds, the convolutions' seconds one by one, their multiply-adds and the best per-layer rate."""
    calls: list[tuple[str, nn.Module, torch.Tensor, int]] = []

    def record(name):
        def hook(layer, inputs, out):
            calls.append((name, layer, inputs[0].clone(), multiply_adds(layer, inputs[0], out)))

        return hook

    handles = [m.register_forward_hook(record(n)) for n, m in model.named_modules() if isinstance(m, LAYERS)]
    model.encode_decode(image)
    for handle in handles:
        handle.remove()
    forward = median_seconds(lambda: model.encode_decode(image), repeats)
    per_layer = [(name, median_seconds(functools.partial(layer, x), repeats), macs) for name, layer, x, macs in calls]
    conv_seconds = sum(seconds for _, seconds, _ in per_layer)
    flops = 2 * sum(macs for _, _, macs in per_layer)
    best_name, best_seconds, best_macs = max(per_layer, key=lambda row: row[2] / row[1])
    return {
        "forward_s": forward,
        "conv_s": conv_seconds,
        "layers": len(per_layer),
        "gflop": flops / 1e9,
        "best_gflops": 2 * best_macs / best_seconds / 1e9,
        "best_layer": best_name,
    }


def report(result: dict) -> list[str]:
    share = result["conv_s"] / result["forward_s"]
    rate = result["gflop"] / result["conv_s"]
    arithmetic_floor = result["gflop"] / result["best_gflops"]
    return [
        f"forward: {result['forward_s']:.3f} s; {result['layers']} convolution/linear calls, "
        f"{result['gflop']:.1f} GFLOP",
        f"those calls timed one by one: {result['conv_s']:.3f} s, {100 * share:.1f}% of the forward, "
        f"{rate:.0f} GFLOP/s",
        f"best rate of any one layer: {result['best_gflops']:.0f} GFLOP/s ({result['best_layer']})",
        f"floors: convolutions alone {result['conv_s']:.3f} s (forward / floor = {1 / share:.2f}x); "
        f"all their arithmetic at the best rate {arithmetic_floor:.3f} s "
        f"(forward / floor = {result['forward_s'] / arithmetic_floor:.2f}x)",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", nargs="+", default=["r18:360x480", "r50:360x480"], help="MODEL:HxW")
    parser.add_argument("--config", type=Path, help="any config instead of --cases (with --size)")
    parser.add_argument("--checkpoint", type=Path, help="weights for --config (default: random)")
    parser.add_argument("--size", default="360x480", help="HxW of the image for --config")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--json", action="store_true", help="print one JSON line per case (for infer_speed.py)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    cases = [(str(args.config), args.size)] if args.config else [c.partition(":")[::2] for c in args.cases]
    if not args.json:
        print(f"CPU: {cpu_name()}, {os.cpu_count()} CPUs, {torch.get_num_threads()} threads; torch {torch.__version__}")
    for name, size_text in cases:
        config = Path(name) if args.config else REPO / "seglab" / "configs" / f"{CONFIGS[name]}.py"
        size = tuple(int(v) for v in (size_text or "360x480").split("x"))
        model = folded_model(config, args.checkpoint)
        image = torch.randn(1, 3, *size, generator=torch.Generator().manual_seed(1))
        result = ceiling(model, image, args.repeats)
        if args.json:
            import json

            print(json.dumps(result))
            continue
        print(f"\n== {config.stem}, {size[0]}x{size[1]}, folded")
        for line in report(result):
            print("  " + line)


if __name__ == "__main__":
    main()
