"""BatchNorm folding on CPU: forward time of a model and of its folded copy, alternated, with the usual suspects
checked (weight layout, added biases, parameters needing gradients, oneDNN fusing BatchNorm itself).

    python benchmarks/fold_speed.py [--cases r18:360x480 r50:360x480 r50:512x1024] [--rounds 7] [--threads N]
                                    [--control] [--bias] [--profile] [--torchscript]

Each case builds a shipped config at random weights with random BatchNorm statistics (``r18``: DeepLabV3+
R18-D8, ``r50``: the tutorial's DeepLabV3+ R50-D8), folds a copy as ``inference_model`` does, and times
``encode_decode`` of one image under ``torch.inference_mode``: one warm-up forward each, then ``--rounds``
rounds of one forward per model, the order swapped every round (A B, B A, ...) so drift falls on both. It prints
the median wall-clock and CPU (process) seconds and the range of the per-round ratios folded/unfolded, the
noise band; ``--control`` adds an identical unfolded copy as a third model, whose ratio range is the band of
two equal models; ``--bias`` times one conv without and with a bias; ``--profile`` prints both models' top ops
by self CPU time; ``--torchscript`` adds the folded model traced, frozen and optimised by TorchScript (measured,
not used: docs/benchmarks.md). The load average is printed with each case: the machine may be shared. Results and the
decision they led to (folding stays on by default): docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import copy
import os
import platform
import statistics
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn

from seglab import Config
from seglab.models.builder import build_model
from seglab.models.fold_bn import fold_batchnorm

REPO = Path(__file__).resolve().parents[1]
CONFIGS = {
    "r18": "deeplabv3plus/deeplabv3plus_r18-d8_4xb2-80k_cityscapes-512x1024",
    "r50": "deeplabv3plus/deeplabv3plus_r50-d8_dummy-test",  # the tutorial's config
}


def cpu_name() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines() if Path("/proc/cpuinfo").exists() else []:
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown CPU"


def load_average() -> str:
    return Path("/proc/loadavg").read_text().split()[0] if Path("/proc/loadavg").exists() else "n/a"


def randomise_batchnorm(model: nn.Module) -> None:
    """Trained-like BatchNorm statistics and affine parameters, so folding changes the weights for real."""
    for module in model.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            module.running_mean.uniform_(-0.2, 0.2)
            module.running_var.uniform_(0.5, 2.0)
            module.weight.data.uniform_(0.5, 1.5)
            module.bias.data.uniform_(-0.2, 0.2)


def eval_model(config: Path, checkpoint: Path | None = None) -> nn.Module:
    """The config's model in eval mode: the checkpoint's weights, or random ones with random BatchNorms."""
    torch.manual_seed(0)
    model = build_model(Config.fromfile(config).model, load_pretrained=False).eval()
    if checkpoint is None:
        randomise_batchnorm(model)
    else:
        state = torch.load(checkpoint, map_location="cpu", weights_only=True)
        model.load_state_dict(state.get("state_dict", state))
    return model


def folded_copy(model: nn.Module) -> nn.Module:
    """A copy of ``model`` folded as ``inference_model`` folds it (pairs learnt from a 64x64 forward)."""
    probe = torch.randn(1, 3, 64, 64)
    return fold_batchnorm(model, lambda m: m.encode_decode(probe))[0]


def unfolded_and_folded(name: str) -> tuple[nn.Module, nn.Module]:
    """The config's model in eval mode with random BatchNorm statistics, and a folded copy of it."""
    model = eval_model(REPO / "seglab" / "configs" / f"{CONFIGS[name]}.py")
    return model, folded_copy(model)


def suspects(model: nn.Module, folded: nn.Module) -> list[str]:
    """One line per suspect that could make the folded copy slower than it should be."""
    before = dict(model.named_modules())
    convs = [(n, m) for n, m in folded.named_modules() if isinstance(m, nn.Conv2d)]
    changed = [(n, m) for n, m in convs if not torch.equal(m.weight, before[n].weight)]  # the folded ones
    layout = all(
        m.weight.is_contiguous() and m.weight.stride() == before[n].weight.stride() and m.weight.dtype == torch.float32
        for n, m in changed
    )
    biased = sum(before[n].bias is None for n, _ in changed)
    norms = sum(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.modules())
    inplace = [m.inplace for m in folded.modules() if isinstance(m, nn.ReLU)]
    return [
        f"BatchNorms folded: {len(changed)} of {norms}; convs given a bias they did not have: {biased}",
        f"folded weights contiguous, float32, same strides as before: {layout}",
        f"ReLUs in place: {sum(inplace)} of {len(inplace)} (as in the unfolded model: "
        f"{[m.inplace for m in model.modules() if isinstance(m, nn.ReLU)] == inplace})",
        f"parameters needing gradients in the folded copy: {sum(p.requires_grad for p in folded.parameters())} "
        f"of {sum(1 for _ in folded.parameters())} (no effect under inference_mode; timed as they are)",
        f"oneDNN (torch.backends.mkldnn) available/enabled: {torch.backends.mkldnn.is_available()}/"
        f"{torch.backends.mkldnn.enabled}",
    ]


def bias_cost(model: nn.Module, size: tuple[int, int], rounds: int) -> str:
    """A 3x3 conv of the backbone's last stage alone, without and with a bias: does oneDNN slow down with one?"""
    conv = [m for m in model.backbone.modules() if isinstance(m, nn.Conv2d) and m.kernel_size == (3, 3)][-1]
    plain = nn.Conv2d(conv.in_channels, conv.out_channels, 3, padding=conv.padding, dilation=conv.dilation, bias=False)
    biased = copy.deepcopy(plain)
    biased.bias = nn.Parameter(torch.zeros(conv.out_channels))
    x = torch.randn(1, conv.in_channels, size[0] // 8, size[1] // 8)
    times = alternate({"no bias": lambda: plain(x), "bias": lambda: biased(x)}, rounds * 3)["CPU"]
    return (
        f"one {conv.in_channels}->{conv.out_channels} 3x3 conv (dilation {conv.dilation[0]}) on "
        f"{tuple(x.shape[2:])}, CPU ms without / with bias: {1e3 * statistics.median(times['no bias']):.2f} / "
        f"{1e3 * statistics.median(times['bias']):.2f}, per-round ratio {ratio_band(times, 'bias', 'no bias')}"
    )


def alternate(ways: dict[str, Callable[[], object]], rounds: int) -> dict[str, dict[str, list[float]]]:
    """Per clock ("wall", "CPU"), each way's seconds per round, after one warm-up call of each."""
    names = list(ways)
    times: dict[str, dict[str, list[float]]] = {"wall": {n: [] for n in names}, "CPU": {n: [] for n in names}}
    for way in ways.values():  # warm-up: oneDNN primitives, allocator
        way()
    for r in range(rounds):
        for name in names if r % 2 == 0 else names[::-1]:
            start_wall, start_cpu = time.perf_counter(), time.process_time()
            ways[name]()
            times["wall"][name].append(time.perf_counter() - start_wall)
            times["CPU"][name].append(time.process_time() - start_cpu)
    return times


def ratio_band(times: dict[str, list[float]], way: str, base: str) -> str:
    """min-median-max over rounds of ``way``'s time / ``base``'s time in the same round."""
    ratios = sorted(b / a for a, b in zip(times[base], times[way]))
    return f"{ratios[0]:.3f}-{statistics.median(ratios):.3f}-{ratios[-1]:.3f}"


def profile_table(model: nn.Module, image: torch.Tensor, forwards: int = 3, rows: int = 8) -> str:
    """Top ops by self CPU time over ``forwards`` forwards (after one untimed)."""
    from torch.profiler import ProfilerActivity, profile

    model.encode_decode(image)
    with profile(activities=[ProfilerActivity.CPU], record_shapes=True) as prof:
        for _ in range(forwards):
            model.encode_decode(image)
    return prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=rows)


def torchscript_optimized(folded: nn.Module, image: torch.Tensor) -> torch.jit.ScriptModule:
    """``folded.encode_decode`` traced at ``image``'s size, frozen and passed through ``optimize_for_inference``
    (oneDNN's blocked layout kept between convolutions, convolution + add + ReLU fused); prints the time it took."""

    class EncodeDecode(nn.Module):
        def __init__(self, model: nn.Module) -> None:
            super().__init__()
            self.model = model

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.model.encode_decode(x)

    started = time.perf_counter()
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tracer warnings about Python values taken as constants
        traced = torch.jit.trace(EncodeDecode(folded).eval(), image, check_trace=False)
        optimized = torch.jit.optimize_for_inference(torch.jit.freeze(traced))
    print(f"  TorchScript trace + freeze + optimize: {time.perf_counter() - started:.1f} s", flush=True)
    return optimized


@torch.inference_mode()
def run_case(case: str, args: argparse.Namespace) -> None:
    name, _, size_text = case.partition(":")
    size = tuple(int(v) for v in (size_text or "360x480").split("x"))
    model, folded = unfolded_and_folded(name)
    print(f"\n== {CONFIGS[name]}, {size[0]}x{size[1]} (load {load_average()})", flush=True)
    for line in suspects(model, folded):
        print("  " + line)
    image = torch.randn(1, 3, *size, generator=torch.Generator().manual_seed(1))
    ways = {"unfolded": lambda: model.encode_decode(image), "folded": lambda: folded.encode_decode(image)}
    if args.control:
        twin = copy.deepcopy(model)
        ways["unfolded twin (control)"] = lambda: twin.encode_decode(image)
    if args.torchscript:
        scripted = torchscript_optimized(folded, image)
        ways["folded, TorchScript"] = lambda: scripted(image)
        gap = (scripted(image) - folded.encode_decode(image)).abs().max().item()
        print(f"  TorchScript vs folded: max |logit difference| {gap:.2e}", flush=True)
    times = alternate(ways, args.rounds)
    print(f"  {'model':24s} {'wall s':>7s} {'CPU s':>7s}  per-round ratio to unfolded, min-median-max: wall | CPU")
    for way in ways:
        bands = f"{ratio_band(times['wall'], way, 'unfolded')} | {ratio_band(times['CPU'], way, 'unfolded')}"
        wall, cpu = statistics.median(times["wall"][way]), statistics.median(times["CPU"][way])
        print(f"  {way:24s} {wall:7.3f} {cpu:7.3f}  {bands if way != 'unfolded' else ''}")
    print(f"  (load after: {load_average()})", flush=True)
    if args.bias:
        print("  " + bias_cost(model, size, args.rounds), flush=True)
    if args.profile:
        for way, module in (("unfolded", model), ("folded", folded)):
            print(f"  profile, {way}, 3 forwards (load {load_average()}):\n{profile_table(module, image)}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--cases",
        nargs="+",
        default=["r18:360x480", "r50:360x480", "r50:512x1024"],
        help="MODEL:HxW, MODEL one of " + ", ".join(CONFIGS),
    )
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--control", action="store_true", help="time an identical unfolded copy too (noise band)")
    parser.add_argument("--bias", action="store_true", help="time one conv without and with a bias")
    parser.add_argument("--profile", action="store_true", help="torch.profiler top ops of both models")
    script_help = "time the folded model traced, frozen and optimize_for_inference'd too (tried, not used)"
    parser.add_argument("--torchscript", action="store_true", help=script_help)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"CPU: {cpu_name()}, {os.cpu_count()} CPUs; torch {torch.__version__}, load {load_average()}")
    print(torch.__config__.parallel_info().strip())
    for case in args.cases:
        run_case(case, args)


if __name__ == "__main__":
    main()
