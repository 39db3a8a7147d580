"""Peak memory of sliding-window inference on a 4096x4096 image with a shipped Cityscapes config.

    python benchmarks/slide_memory.py [--config pspnet/pspnet_r50-d8_4xb2-40k_cityscapes-512x1024] [--full]

The config runs in slide mode with a 512x1024 crop and a 768x768 stride (its own test_cfg values when it
is in slide mode already). Each measurement runs in a fresh process and reads the process's peak resident
memory (``ru_maxrss``) before and after the call, so the figure is what the call added on top of the model
and the input image:

- ``window``: one window batch through ``encode_decode`` (the unavoidable working set of a forward);
- ``slide``:  ``slide_inference`` over the whole image (seglab: logits added in place into the output);
- ``padded``: the straightforward way (MMSegmentation's): each window's logits padded to full size and summed.

It prints ``slide / (window + output map)``; the target is below 2. Without ``--full`` the ResNet is a
ResNet-18 at width 16 (the full R50-D8 takes tens of minutes per pass on two CPU cores); the output map,
which dominates on a 4096x4096 image, is the same size either way.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SMALL = {
    "model.pretrained": None,
    "model.backbone.depth": 18,
    "model.backbone.stem_channels": 16,
    "model.backbone.base_channels": 16,
    "model.decode_head.in_channels": 128,
    "model.decode_head.channels": 16,
    "model.auxiliary_head": None,
}


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def padded_slide(model, inputs):
    """MMSegmentation's slide inference: a full-size padded copy of every window's logits."""
    import torch.nn.functional as F

    (h_crop, w_crop), (h_stride, w_stride) = model.test_cfg["crop_size"], model.test_cfg["stride"]
    n, _, h_img, w_img = inputs.shape
    logits = inputs.new_zeros((n, model.out_channels, h_img, w_img))
    counts = inputs.new_zeros((n, 1, h_img, w_img))
    for h_idx in range(max(h_img - h_crop + h_stride - 1, 0) // h_stride + 1):
        for w_idx in range(max(w_img - w_crop + w_stride - 1, 0) // w_stride + 1):
            y2, x2 = min(h_idx * h_stride + h_crop, h_img), min(w_idx * w_stride + w_crop, w_img)
            y1, x1 = max(y2 - h_crop, 0), max(x2 - w_crop, 0)
            crop = inputs[:, :, y1:y2, x1:x2]
            crop_logits = model.encode_decode(crop, [{"pad_shape": tuple(crop.shape[2:])}] * n)
            logits += F.pad(crop_logits, (x1, w_img - x2, y1, h_img - y2))
            counts[:, :, y1:y2, x1:x2] += 1
    return logits / counts


def measure(what: str, config: str, full: bool, size: int, threads: int) -> dict:
    """Runs in the child process: build, then one measured call."""
    import torch

    from seglab import Config
    from seglab.models.builder import build_model

    torch.set_num_threads(threads)
    cfg = Config.fromfile(REPO / "configs" / f"{config}.py")
    cfg.merge_from_dict({} if full else SMALL)
    test_cfg = dict(cfg.model.get("test_cfg") or {})
    if test_cfg.get("mode") != "slide":
        cfg.model.test_cfg = dict(mode="slide", crop_size=(512, 1024), stride=(768, 768))
    model = build_model(cfg.model, load_pretrained=False).eval()
    crop = tuple(model.test_cfg["crop_size"])
    inputs = torch.randn(1, 3, size, size)
    with torch.no_grad():
        model.encode_decode(torch.randn(1, 3, 64, 64))  # lazy initialisations happen outside the measurement
        before = peak_mb()
        if what == "window":
            model.encode_decode(inputs[:, :, : crop[0], : crop[1]].contiguous())
        elif what == "slide":
            model.slide_inference(inputs)
        else:
            padded_slide(model, inputs)
        after = peak_mb()
    output_mb = inputs.shape[0] * model.out_channels * size * size * 4 / 2**20
    return dict(added_mb=after - before, peak_mb=after, output_mb=output_mb, test_cfg=model.test_cfg)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", default="pspnet/pspnet_r50-d8_4xb2-40k_cityscapes-512x1024")
    parser.add_argument("--full", action="store_true", help="the config's full-width model (slow on CPU)")
    parser.add_argument("--size", type=int, default=4096)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--skip-padded", action="store_true", help="do not measure the padded reference")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(args.child, args.config, args.full, args.size, args.threads)))
        return
    runs = {}
    for what in ("window", "slide") + (() if args.skip_padded else ("padded",)):
        cmd = [sys.executable, __file__, "--child", what, "--config", args.config, "--size", str(args.size)]
        cmd += ["--threads", str(args.threads)] + (["--full"] if args.full else [])
        out = subprocess.run(cmd, check=True, capture_output=True, text=True, cwd=REPO).stdout
        runs[what] = json.loads(out.strip().splitlines()[-1])
    model = "full-width model" if args.full else "ResNet-18 at width 16 instead of the config's R50 (CPU time)"
    output = runs["slide"]["output_mb"]
    window = runs["window"]["added_mb"]
    print(f"config {args.config} ({model}); image {args.size}x{args.size}; test_cfg {runs['slide']['test_cfg']}")
    print(f"output map (1 x C x H x W float32): {output:8.0f} MB")
    for what, run in runs.items():
        print(f"{what:>7}: added {run['added_mb']:8.0f} MB over model + input   (process peak {run['peak_mb']:.0f} MB)")
    ratio = runs["slide"]["added_mb"] / (window + output)
    print(f"slide / (one window batch + output map) = {ratio:.2f}  (target < 2)")
    if "padded" in runs:
        print(f"padded / (one window batch + output map) = {runs['padded']['added_mb'] / (window + output):.2f}")


if __name__ == "__main__":
    main()
