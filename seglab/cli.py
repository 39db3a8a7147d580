"""The ``seglab`` command: train, test, infer, tile, plot, benchmark, quickstart, make-dummy, check-data, prepare, zoo.

User mistakes raise ``SeglabError`` subclasses; they are printed as one line (``--debug`` shows
the traceback) and the command exits with status 2.
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from pathlib import Path

from seglab.cli_args import build_parser, check_conflicts  # noqa: F401 — tests and tools import them here
from seglab.errors import SeglabError
from seglab.openmp_spinning import shorten_openmp_spinning

PREDICTING = ("test", "infer", "benchmark")  # the commands that may run Winograd convolutions on CPU


def load_config(path: str, options: list[str] | None):
    from seglab.config import Config, parse_cfg_options
    from seglab.zoo import config_source

    cfg = Config.fromfile(config_source(path))  # a bare name is a shipped config
    if options:
        cfg.merge_from_dict(parse_cfg_options(options))
    return cfg


def cmd_train(args: argparse.Namespace) -> int:
    from seglab.engine.runner import Runner

    cfg = load_config(args.config, args.cfg_options)
    if args.work_dir:
        cfg.work_dir = args.work_dir
    if args.resume == "auto":
        cfg.resume = True
    elif args.resume:
        cfg.resume = True
        cfg.load_from = args.resume
    if args.amp:
        from seglab.config_types import check_config_types

        check_config_types(cfg)  # optim_wrapper=(1, 2) is one line before --amp spreads it
        cfg.optim_wrapper = {**cfg.optim_wrapper, "type": "AmpOptimWrapper"}
        if args.amp == "force" and not cuda_available():  # an explicit dtype skips the CPU probe (engine/amp.py)
            cfg.optim_wrapper["dtype"] = "bfloat16"
    cfg.launcher = args.launcher  # as MMSegmentation's tools/train.py and test.py
    Runner.from_cfg(cfg).train()
    return 0


def cmd_test(args: argparse.Namespace) -> int:
    from seglab.engine.runner import Runner
    from seglab.zoo import config_source, resolve_checkpoint

    cfg = load_config(args.config, args.cfg_options)
    cfg.load_from = str(resolve_checkpoint(config_source(args.config), args.checkpoint))  # 'zoo': the published one
    if args.work_dir:
        cfg.work_dir = args.work_dir
    if args.show:
        print("--show needs a display; saving pictures instead is --show-dir DIR", file=sys.stderr)
    cfg.launcher = args.launcher  # as MMSegmentation's tools/train.py and test.py
    Runner.from_cfg(cfg).test(args.show_dir, args.confusion_matrix, args.out, args.tta, args.amp)
    return 0


def default_device(requested: str | None) -> str:
    import torch

    return requested or ("cuda" if torch.cuda.is_available() else "cpu")


def cuda_available() -> bool:
    import torch

    return torch.cuda.is_available()


def cmd_infer(args: argparse.Namespace) -> int:
    from seglab.config import parse_cfg_options
    from seglab.freed_memory import keep_freed_memory_for
    from seglab.inference import expand_inputs, infer_files, init_model

    if (args.backend or ("onnxruntime" if args.config.endswith(".onnx") else "pytorch")) == "onnxruntime":
        from seglab.deploy import OnnxSegmentor

        if args.tta or args.cfg_options:
            raise SeglabError("--tta and --cfg-options need the PyTorch backend (a config and a checkpoint)")
        expand_inputs([args.checkpoint, *args.inputs], args.out)  # an output name clash fails before loading
        model, inputs = OnnxSegmentor(args.config, default_device(args.device)), [args.checkpoint, *args.inputs]
    else:
        if not args.inputs:
            raise SeglabError("usage: seglab infer CONFIG CHECKPOINT INPUT... --out DIR (no INPUT given)")
        options = parse_cfg_options(args.cfg_options)
        expand_inputs(args.inputs, args.out)  # an output name clash fails before the model is built
        model, inputs = init_model(args.config, args.checkpoint, default_device(args.device), options), args.inputs
        keep_freed_memory_for(model)
        scenes, inputs = split_scenes(model, args, inputs)
        if scenes and not inputs:
            return 0
    amp_dtype = None
    if args.amp and hasattr(model, "parameters"):  # not an exported (ONNX) model
        from seglab.engine.amp import choose_inference_dtype

        amp_dtype = choose_inference_dtype(next(model.parameters()).device.type, args.amp)
    written, failed = infer_files(model, inputs, args.out, args.opacity, args.tta, args.tta_scales, amp_dtype)
    print(f"wrote labels and overlays for {len(written)} image(s) to {Path(args.out).resolve()}")
    for path, reason in failed:
        print(f"failed: {path}: {reason}", file=sys.stderr)
    if failed:
        print(f"{len(failed)} input(s) failed", file=sys.stderr)
    return 1 if failed else 0


def split_scenes(model, args: argparse.Namespace, inputs: list[str]) -> tuple[list[str], list[str]]:
    """Run scene inference on the .tif/.tiff inputs that are scenes; (scenes, the other inputs)."""
    from seglab.scene_inference import infer_scene, is_scene

    scenes = [item for item in inputs if is_scene(model.cfg, item, args.tile is not None)]
    for item in scenes:
        out = Path(args.out) / f"{Path(item).stem}.tif"
        result = infer_scene(model, item, out, args.tile, args.overlap, args.tile_batch, args.overlay, args.opacity)
        resumed = f" (resumed at row {result.resumed_from_row})" if result.resumed_from_row else ""
        extra = f" and {result.overlay.resolve()}" if result.overlay else ""
        print(f"wrote {out.resolve()}{extra}{resumed}")
    return scenes, [item for item in inputs if item not in scenes]


def cmd_tile(args: argparse.Namespace) -> int:
    from seglab.data.tiling import cut_scene

    counts = cut_scene(
        args.scene, args.label, args.out, args.size, args.overlap, args.val_fraction, args.block, args.seed
    )
    print(
        f"wrote {counts.train} train and {counts.val} val tiles to {Path(args.out).resolve()}/img_dir and ann_dir "
        f"({counts.dropped_at_split_edges} dropped where train and val meet, {counts.skipped_nodata} all nodata)"
    )
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    import importlib.util

    from seglab.config import parse_cfg_options
    from seglab.deploy.onnx_export import default_shape, export_onnx, verify_onnx
    from seglab.inference import init_model

    model = init_model(args.config, args.checkpoint, "cpu", parse_cfg_options(args.cfg_options))
    shape = tuple(args.shape) if args.shape else default_shape(model.cfg)
    out = Path(args.out) if args.out else Path(args.checkpoint).with_suffix(".onnx")
    export_onnx(model, out, shape, args.dynamic_shape, args.argmax)
    kind = "labels" if args.argmax else "logits"
    h, w = shape
    size = f"N x 3 x H x W (example {h}x{w})" if args.dynamic_shape else f"1 x 3 x {h} x {w}"
    print(f"wrote {out.resolve()}: input 'image' {size} float32 BGR 0-255 -> '{kind}'")
    if importlib.util.find_spec("onnxruntime") is None:
        print("onnxruntime is not installed, so the file was not checked: pip install onnxruntime")
        return 0
    check = verify_onnx(model, out, shape, args.dynamic_shape)
    if check["argmax"]:
        print(f"onnxruntime check: {check['max_error']:.2e} of labels differ from PyTorch")
    else:
        error, largest = check["max_error"], check["max_torch"]
        print(f"onnxruntime check: max |logit difference| {error:.2e} (max |logit| {largest:.2f})")
        if error > 1e-4 * max(largest, 1e-6):
            print("warning: larger than float32 rounding; compare predictions before deploying this file")
    return 0


def cmd_plot(args: argparse.Namespace) -> int:
    from seglab.visualize import plot_curves

    png, csv = plot_curves(args.work_dir, args.out or Path(args.work_dir) / "curves.png")
    print(f"curves: {png}\ndata:   {csv}")
    return 0


def cmd_benchmark(args: argparse.Namespace) -> int:
    from seglab.benchmark import benchmark_model
    from seglab.config import parse_cfg_options
    from seglab.freed_memory import keep_freed_memory_for
    from seglab.inference import init_model
    from seglab.models.fold_bn import wants_fold
    from seglab.models.winograd import wants_winograd

    model = init_model(args.config, args.checkpoint, default_device(args.device), parse_cfg_options(args.cfg_options))
    keep_freed_memory_for(model)
    fold_bn, winograd = wants_fold(model.cfg), wants_winograd(model.cfg)
    result = benchmark_model(
        model, args.shape[0], args.shape[1], args.batch, args.iters, args.warmup, fold_bn, winograd
    )
    print(result.table())
    return 0


def cmd_make_dummy(args: argparse.Namespace) -> int:
    from seglab.data.synthetic import DummySpec, make_dummy_dataset

    size = args.size or (256 if args.style == "tutorial" else 128)
    num_classes = 2 if args.style == "tutorial" else args.classes
    spec = DummySpec(Path(args.out), args.style, num_classes, args.train, args.val, size, args.seed)
    try:
        counts = make_dummy_dataset(spec)
    except ValueError as err:
        raise SeglabError(str(err)) from None
    print(
        f"wrote {counts['train']} train and {counts['val']} val images ({size}x{size}, "
        f"{num_classes} classes, style '{args.style}') to {spec.out}/img_dir and {spec.out}/ann_dir"
    )
    return 0


def model_class_facts(model_cfg: dict | None) -> tuple[int | None, int]:
    """(num_classes, ignore_index) for check-data, asked of the model; a config too partial to build
    (check-data runs before a model is complete) falls back to its main head's keys."""
    if not model_cfg:
        return None, 255
    from seglab.models.builder import build_on_meta

    try:
        model = build_on_meta(model_cfg)
        return model.num_classes, model.ignore_index
    except SeglabError:
        head = model_cfg.get("decode_head") or {}
        head = head[-1] if isinstance(head, list) and head else head
        return head.get("num_classes"), head.get("ignore_index", 255)


def names_shipped_config(target: str) -> bool:
    """Whether check-data's TARGET is a bare shipped config name (no such folder, a config of that name ships)."""
    from seglab.zoo import find_shipped, is_config_name

    if not is_config_name(target):
        return False
    try:
        find_shipped(target)
    except SeglabError:
        return False
    return True


def cmd_check_data(args: argparse.Namespace) -> int:
    from seglab.config_types import check_config_types
    from seglab.data.check import check_dataset, splits_from_config, splits_from_folder
    from seglab.registry import import_custom_modules

    target = Path(args.target)
    if target.suffix == ".py" or names_shipped_config(args.target):
        cfg = load_config(args.target, args.cfg_options)
        check_config_types(cfg)  # model=(1, 2): one line naming the key
        import_custom_modules(cfg.get("custom_imports"))  # a user's module may register the dataset or model types
        specs, classes = splits_from_config(cfg)
        num_classes, ignore_index = model_class_facts(cfg.get("model"))
        num_classes = args.num_classes or num_classes
    else:
        specs, num_classes, ignore_index, classes = (
            splits_from_folder(target),
            args.num_classes,
            args.ignore_index,
            None,
        )
    report = check_dataset(specs, num_classes, ignore_index, classes)
    print(report.text())
    return 1 if report.errors else 0


def cmd_prepare(args: argparse.Namespace) -> int:
    """Exits 1 on a wrong or incomplete download, like check-data on a broken dataset; 2 on an unsafe one."""
    from seglab.data.prepare import list_text, prepare

    if args.list:
        print(list_text())
        return 0
    try:
        if not (args.name and args.src and args.out):
            raise SeglabError("usage: seglab prepare NAME SRC OUT; 'seglab prepare --list' shows the names")
        bounds = args.max_member_size, args.max_total_size, args.max_ratio
        print(prepare(args.name, args.src, args.out, args.workers, *bounds))
    except SeglabError as err:
        if args.debug:
            traceback.print_exc()
        print(f"error: {error_message(err)}", file=sys.stderr)
        return getattr(err, "exit_code", 1)  # 2: refused as unsafe (a name escaping OUT, a size bound)
    return 0


def cmd_zoo(args: argparse.Namespace) -> int:
    """Exits 1 when a download fails (offline, refused, damaged), like prepare on a broken download."""
    import json

    from seglab import zoo

    if getattr(args, "pretrained_table", None):
        import seglab.models.builder  # noqa: F401 — installs the loader of the families' *_weights.py tables
        from seglab.fileio.sources_table import write_table

        print(f"{args.pretrained_table}: {'updated' if write_table(args.pretrained_table) else 'already up to date'}")
        return 0
    if getattr(args, "pretrained", None):
        try:
            for name, where in zoo.download_pretrained(args.pretrained):
                print(f"{name}: {where}")
        except zoo.DownloadError as err:
            print(f"error: {err}", file=sys.stderr)
            return 1
        return 0
    if args.download:
        try:
            path, fresh = zoo.download(args.download)
        except zoo.DownloadError as err:
            print(f"error: {err}", file=sys.stderr)
            return 1
        print(f"{'downloaded' if fresh else 'already cached'}: {path}")
        return 0
    rows = zoo.entries(args.filter, include_unshipped=args.all)
    if args.json:
        print(json.dumps({"summary": zoo.summary(), "configs": [e.to_json() for e in rows]}, indent=1))
        return 0
    if rows:
        print(zoo.format_table(rows))
    else:
        print(f"no {'' if args.all else 'shipped '}config matches '{args.filter}'")
    print(zoo.summary_line())
    return 0


def cmd_publish(args: argparse.Namespace) -> int:
    from seglab.publish import publish, upload

    folder = publish(args.work_dir, args.out_dir, args.publish_checkpoint, repo=args.to or "")
    print(f"published: {folder} (config.py, model.safetensors, README.md)")
    if args.to:
        commit = upload(folder, args.to)
        print(f"uploaded: {args.to} at commit {commit or '?'}; load it with init_model('{args.to}')")
    return 0


def cmd_quickstart(args: argparse.Namespace) -> int:
    from seglab.quickstart import run_quickstart

    run_quickstart(Path(args.work_dir), args.iters)
    return 0


COMMANDS = {
    "train": cmd_train,
    "test": cmd_test,
    "make-dummy": cmd_make_dummy,
    "check-data": cmd_check_data,
    "prepare": cmd_prepare,
    "quickstart": cmd_quickstart,
    "infer": cmd_infer,
    "tile": cmd_tile,
    "export": cmd_export,
    "plot": cmd_plot,
    "benchmark": cmd_benchmark,
    "zoo": cmd_zoo,
    "publish": cmd_publish,
}


def error_message(err: Exception) -> str:
    """The user-facing line; errors re-raised from DataLoader workers carry the worker's traceback."""
    text = str(err)
    if "Original Traceback" in text:
        last = [line for line in text.splitlines() if line.strip()][-1]
        text = last.split(": ", 1)[1] if ": " in last else last
    return text


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    if args.command in PREDICTING:
        shorten_openmp_spinning()  # before the command imports torch (seglab/openmp_spinning.py)
    try:
        check_conflicts(args)
        return COMMANDS[args.command](args)
    except SeglabError as err:
        if args.debug:
            traceback.print_exc()
        print(f"error: {error_message(err)}", file=sys.stderr)
        return getattr(err, "exit_code", 2)  # TrainingInterrupted: 128 + the signal, as the shell reports it
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `seglab zoo | head`: the reader left; say nothing more, as other tools do
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error when Python flushes
        return 141  # 128 + SIGPIPE, what the shell reports for a tool killed by it
