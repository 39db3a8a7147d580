"""Winograd 3x3 convolutions (``seglab.models.winograd``) against oneDNN's direct kernel on CPU: one layer at a
time over a sweep of sizes, then whole models.

    python benchmarks/winograd_speed.py [--sweep] [--pooling] [--depthwise] [--aspp] [--models r18:360x480 ...]
                                        [--rounds 5] [--threads N]

``--sweep`` times one 3x3 convolution (in = out channels) both ways for channels 32-512, maps from 23x30 to
180x240 and dilation 1, 2 and 4 (dilated ones through the mosaic of phases), and prints the time ratio
direct / Winograd per size: the thresholds in ``seglab/models/winograd.py`` come from this table.
``--pooling`` times max pooling of NCHW maps against channels-last and back (``seglab/models/pool_layout.py``).
``--depthwise`` times depthwise 3x3 convolutions against their shifted sums for dilations 2-36
(``seglab/models/dilated_depthwise.py``: its threshold comes from this table). ``--aspp`` times DeepLabV3+'s
ASPP (R18-D8 and R50-D8) with its bottleneck split for prediction and concatenating (``ASPPHead``). ``--models``
builds each config at random weights with random BatchNorm statistics, folds it as ``seglab test`` does, and
times ``encode_decode`` of one image with and without the CPU kernels (Winograd, shifted sums, channels-last
pooling), alternated over ``--rounds`` rounds (order swapped each round); it prints the median seconds, the
per-round ratio range, the largest logit difference relative to the largest logit, and the share of pixels
whose class is unchanged. Freed memory is kept for reuse, as ``seglab test`` keeps it
(``seglab/freed_memory.py``).
"""

from __future__ import annotations

import argparse
import copy
import functools
import os
import statistics
import sys

import torch
import torch.nn.functional as F
from conv_ceiling import folded_model, median_seconds  # benchmarks/ is the script's folder
from fold_speed import CONFIGS, REPO, alternate, cpu_name

from seglab.freed_memory import keep_freed_memory
from seglab.models.cpu_kernels import use_cpu_kernels
from seglab.models.dilated_depthwise import shifted_sum
from seglab.models.winograd import available, mosaic_conv

MODELS = {
    **CONFIGS,
    "pspnet": "pspnet/pspnet_r50-d8_4xb2-40k_cityscapes-512x1024",
    "upernet": "upernet/upernet_r50_4xb2-40k_cityscapes-512x1024",
    "fcn": "fcn/fcn_r50-d8_4xb2-40k_cityscapes-512x1024",
    "unet": "unet/unet-s5-d16_fcn_4xb4-160k_cityscapes-512x1024",
    "hrnet": "hrnet/fcn_hr18_4xb2-40k_cityscapes-512x1024",
}


@torch.inference_mode()
def sweep(repeats: int) -> None:
    print("one 3x3 convolution, in = out channels: direct (oneDNN) ms / Winograd ms = ratio (above 1: faster)")
    print(f"{'channels':>8s} {'map':>8s} {'dilation':>8s} {'direct ms':>10s} {'Winograd ms':>12s} {'ratio':>6s}")
    for channels in (32, 64, 128, 256, 512):
        for h, w in ((23, 30), (45, 60), (64, 128), (90, 120), (180, 240)):
            if channels * h * w > 512 * 90 * 120:
                continue
            for d in (1, 2, 4):
                x = torch.randn(1, channels, h, w)
                weight, bias = torch.randn(channels, channels, 3, 3) * 0.05, torch.zeros(channels)
                direct = median_seconds(functools.partial(F.conv2d, x, weight, bias, padding=d, dilation=d), repeats)
                winograd = median_seconds(functools.partial(mosaic_conv, x, weight, bias, d), repeats)
                print(f"{channels:8d} {f'{h}x{w}':>8s} {d:8d} {1e3 * direct:10.2f} {1e3 * winograd:12.2f} "
                      f"{direct / winograd:6.2f}", flush=True)  # fmt: skip


@torch.inference_mode()
def depthwise(repeats: int) -> None:
    print("\ndepthwise 3x3 convolution: direct (oneDNN) ms / shifted sums ms = ratio (above 1: faster)")
    print(f"{'channels':>8s} {'map':>8s} {'dilation':>8s} {'direct ms':>10s} {'shifted ms':>11s} {'ratio':>6s}")
    for channels, (h, w) in ((512, (45, 60)), (2048, (45, 60)), (2048, (64, 128)), (512, (128, 256))):
        for d in (2, 4, 6, 7, 8, 12, 18, 24, 36):
            x = torch.randn(1, channels, h, w)
            weight, bias = torch.randn(channels, 1, 3, 3), torch.randn(channels)
            direct = functools.partial(F.conv2d, x, weight, bias, padding=d, dilation=d, groups=channels)
            a, b = (
                median_seconds(direct, repeats),
                median_seconds(functools.partial(shifted_sum, x, weight, bias, d), repeats),
            )
            print(f"{channels:8d} {f'{h}x{w}':>8s} {d:8d} {1e3 * a:10.2f} {1e3 * b:11.2f} {a / b:6.2f}", flush=True)


def aspp_forward(head: torch.nn.Module, x: torch.Tensor, grad: bool) -> torch.Tensor:
    with torch.set_grad_enabled(grad):  # no gradients: the split bottleneck
        return head.aspp(x)


def aspp_split(rounds: int) -> None:
    """The ASPP head's bottleneck with the image-pooling channels split off (no gradients) against the same head
    concatenating them (gradients on, no parameter needing one, so every other kernel is the same)."""
    print("\nASPP (image pooling, branches, bottleneck) of the folded head on its 45x60 input, CPU kernels on")
    for name in ("r18", "r50"):
        head = folded_model(REPO / "seglab" / "configs" / f"{MODELS[name]}.py", None).decode_head
        use_cpu_kernels(head, winograd=True)
        for parameter in head.parameters():
            parameter.requires_grad_(False)
        x = torch.randn(1, head.in_channels, 45, 60, generator=torch.Generator().manual_seed(1))

        split = functools.partial(aspp_forward, head, x, False)
        concatenated = functools.partial(aspp_forward, head, x, True)
        gap = ((split() - concatenated()).abs().max() / concatenated().abs().max()).item()
        times = alternate({"concatenated": concatenated, "split": split}, rounds)["wall"]
        ratios = sorted(a / b for a, b in zip(times["concatenated"], times["split"]))
        a, b = statistics.median(times["concatenated"]), statistics.median(times["split"])
        print(f"{MODELS[name].split('/')[-1]}: concatenated {1e3 * a:.1f} ms, split {1e3 * b:.1f} ms, "
              f"{a / b:.2f}x ({ratios[0]:.2f}-{ratios[-1]:.2f}); largest gap / largest value {gap:.1e}", flush=True)  # fmt: skip


@torch.inference_mode()
def pooling(repeats: int) -> None:
    print("\nmax pooling: NCHW ms / channels-last and back ms (copies included), values equal")
    cases = (((1, 64, 180, 240), 3, 2, 1), ((1, 64, 256, 512), 3, 2, 1), ((1, 64, 180, 240), 2, 2, 0),
             ((1, 128, 90, 120), 2, 2, 0), ((2, 64, 180, 240), 3, 2, 1))  # fmt: skip
    for shape, kernel, stride, padding in cases:
        x = torch.randn(*shape)
        plain = functools.partial(F.max_pool2d, x, kernel, stride, padding)
        fast = functools.partial(channels_last_pool, x, kernel, stride, padding)
        assert torch.equal(plain(), fast())
        a, b = median_seconds(plain, repeats), median_seconds(fast, repeats)
        print(
            f"{str(shape):>20s} {kernel}x{kernel}/{stride}: {1e3 * a:7.2f} / {1e3 * b:7.2f} = {a / b:.2f}", flush=True
        )


def channels_last_pool(x: torch.Tensor, kernel: int, stride: int, padding: int) -> torch.Tensor:
    return F.max_pool2d(x.contiguous(memory_format=torch.channels_last), kernel, stride, padding).contiguous()


@torch.inference_mode()
def compare_model(name: str, size: tuple[int, int], rounds: int) -> None:
    model = folded_model(REPO / "seglab" / "configs" / f"{MODELS[name]}.py", None)
    fast = copy.deepcopy(model)
    count = use_cpu_kernels(fast, winograd=True).winograd  # as seglab test does on CPU
    image = torch.randn(1, 3, *size, generator=torch.Generator().manual_seed(1)) * 50
    reference, logits = model.encode_decode(image), fast.encode_decode(image)
    gap = ((logits - reference).abs().max() / reference.abs().max()).item()
    same = (logits.argmax(1) == reference.argmax(1)).float().mean().item()
    ways = {"direct": lambda: model.encode_decode(image), "Winograd": lambda: fast.encode_decode(image)}
    times = alternate(ways, rounds)["wall"]
    ratios = sorted(a / b for a, b in zip(times["direct"], times["Winograd"]))
    direct, winograd = statistics.median(times["direct"]), statistics.median(times["Winograd"])
    print(
        f"| {MODELS[name].split('/')[-1]} | {size[0]}x{size[1]} | {count} | {direct:.3f} | {winograd:.3f} | "
        f"{direct / winograd:.2f} ({ratios[0]:.2f}-{ratios[-1]:.2f}) | {gap:.1e} | {100 * same:.3f}% |",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sweep", action="store_true", help="time single convolutions over a sweep of sizes")
    parser.add_argument("--pooling", action="store_true", help="time max pooling NCHW vs channels-last")
    parser.add_argument("--depthwise", action="store_true", help="time dilated depthwise convolutions vs shifted sums")
    parser.add_argument("--aspp", action="store_true", help="time the ASPP bottleneck split vs concatenated")
    parser.add_argument("--models", nargs="*", default=[], help="MODEL:HxW, MODEL one of " + ", ".join(MODELS))
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    kept = keep_freed_memory()  # as seglab test does on CPU
    print(f"CPU: {cpu_name()}, {os.cpu_count()} CPUs, {torch.get_num_threads()} threads; torch {torch.__version__}; "
          f"load {os.getloadavg()[0]:.1f}; freed memory kept: {kept}")  # fmt: skip
    if not available():
        sys.exit("this PyTorch build has no NNPACK (or it did not initialise on this CPU): nothing to compare")
    if args.sweep:
        sweep(args.rounds)
    if args.pooling:
        pooling(args.rounds * 3)
    if args.depthwise:
        depthwise(args.rounds)
    if args.aspp:
        aspp_split(args.rounds * 3)
    if args.models:
        print("\n| config | input | 3x3 convs eligible | direct s | CPU kernels s | speed-up (per round) | "
              "max logit gap / max logit | pixels alike |\n|---|---|---|---|---|---|---|---|")  # fmt: skip
    for spec in args.models:
        name, _, size = spec.partition(":")
        compare_model(name, tuple(int(v) for v in (size or "360x480").split("x")), args.rounds)
    print(f"(load after: {os.getloadavg()[0]:.1f})")


if __name__ == "__main__":
    main()
