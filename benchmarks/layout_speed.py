"""CPU inference choices measured on a folded model: ``channels_last`` vs the default layout, and how many
sliding windows run per forward (``model.test_cfg.slide_batch_size``).

    python benchmarks/layout_speed.py [--repeats 3] [--threads N]

Random weights with random BatchNorm statistics, folded as ``seglab test`` folds them. Each way is timed
``--repeats`` times, the ways interleaved (A B A B ...) so load from other jobs falls on all of them; the
median seconds per forward (or per slide pass) is printed.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import torch
from torch import nn

from seglab import Config
from seglab.models.builder import build_model
from seglab.models.fold_bn import fold_batchnorm

REPO = Path(__file__).resolve().parents[1]
WHOLE = "deeplabv3plus/deeplabv3plus_r18-d8_4xb2-80k_cityscapes-512x1024"
SLIDE = {  # config -> image size: each gives 4 or more windows
    "deeplabv3plus/deeplabv3plus_r18-d8_4xb2-80k_cityscapes-769x769": (1024, 1282),
    "unet/unet-s5-d16_fcn_4xb4-40k_chase-db1-128x128": (480, 480),
}


def folded_model(config: str) -> nn.Module:
    """The config's model at random weights, random BatchNorm statistics, folded for evaluation."""
    torch.manual_seed(0)
    model = build_model(Config.fromfile(REPO / "seglab" / "configs" / f"{config}.py").model, load_pretrained=False)
    for module in model.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            module.running_mean.uniform_(-0.5, 0.5)
            module.running_var.uniform_(0.5, 2.0)
    probe = torch.randn(1, 3, 64, 64)
    folded, _ = fold_batchnorm(model.eval(), lambda m: m.encode_decode(probe))
    return folded


def median_seconds(ways: dict[str, callable], repeats: int) -> dict[str, float]:
    times: dict[str, list[float]] = {name: [] for name in ways}
    for way in ways.values():  # warm-up
        way()
    for _ in range(repeats):
        for name, way in ways.items():
            start = time.perf_counter()
            way()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in times.items()}


@torch.inference_mode()
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    model = folded_model(WHOLE)
    image = torch.randn(1, 3, 512, 512)
    last = model.to(memory_format=torch.channels_last)
    contiguous = folded_model(WHOLE)
    result = median_seconds(
        {
            "contiguous": lambda: contiguous.encode_decode(image),
            "channels_last": lambda: last.encode_decode(image.contiguous(memory_format=torch.channels_last)),
        },
        args.repeats,
    )
    print(f"{WHOLE} 512x512, s/forward: {result}", flush=True)

    for config, size in SLIDE.items():
        model = folded_model(config)
        image = torch.randn(1, 3, *size)

        def slide(batch: int, model: nn.Module = model, image: torch.Tensor = image) -> None:
            model.test_cfg["slide_batch_size"] = batch
            model.slide_inference(image)

        result = median_seconds({f"{b} windows": (lambda b=b: slide(b)) for b in (1, 2, 4)}, args.repeats)
        print(f"{config} {size[0]}x{size[1]}, s/slide pass: {result}", flush=True)


if __name__ == "__main__":
    main()
