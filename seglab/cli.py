"""The ``seglab`` command: train, test, infer, plot, benchmark, quickstart, make-dummy, check-data, prepare, zoo.

User mistakes raise ``SeglabError`` subclasses; they are printed as one line (``--debug`` shows
the traceback) and the command exits with status 2.
"""

from __future__ import annotations

import argparse
import sys
import traceback
from pathlib import Path

from seglab import __version__
from seglab.errors import SeglabError


def _add_cfg_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--cfg-options",
        nargs="+",
        metavar="KEY=VALUE",
        default=None,
        help="override config keys, e.g. train_cfg.max_iters=100 'crop_size=(256,256)'",
    )


def _add_launcher(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--launcher",
        choices=["none", "pytorch", "slurm", "mpi"],
        default="none",
        help="how the processes were started: pytorch (torchrun), slurm (srun), mpi (mpirun); "
        "none: one process, or torchrun's group when its variables are set",
    )
    parser.add_argument("--local_rank", "--local-rank", type=int, default=0, help=argparse.SUPPRESS)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="seglab", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"seglab {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks for errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    train = sub.add_parser("train", help="train a model from a config")
    train.add_argument("config")
    train.add_argument("--work-dir", help="where logs and checkpoints go (default work_dirs/<config name>)")
    train.add_argument(
        "--resume",
        nargs="?",
        const="auto",
        default=None,
        metavar="PATH",
        help="resume from the work dir's last checkpoint, or from PATH",
    )
    train.add_argument(
        "--amp",
        nargs="?",
        const="auto",
        choices=["auto", "force"],
        default=None,
        help="mixed precision: float16 on CUDA; on CPU bfloat16 unless a quick probe measures it more than 10%% "
        "slower than float32 ('--amp force': bfloat16 without measuring)",
    )
    _add_cfg_options(train)
    _add_launcher(train)

    test = sub.add_parser("test", help="evaluate a checkpoint on the config's test set")
    test.add_argument("config")
    test.add_argument("checkpoint")
    test.add_argument("--work-dir")
    test.add_argument("--show-dir", help="save ground truth | prediction overlays of every image here (names: --out)")
    test.add_argument("--confusion-matrix", action="store_true", help="save a confusion matrix PNG and CSV")
    test.add_argument(
        "--out",
        help="save predicted label maps (palette PNGs) here as NAME.png, NAME being the image's path under "
        "data_prefix.img_path without extension (img_path/city1/x.jpg -> OUT/city1/x.png); images sharing a NAME "
        "keep their extension (scan_jpg.png); a name still shared stops the run before the model is built",
    )
    test.add_argument("--show", action="store_true", help=argparse.SUPPRESS)
    test.add_argument("--wait-time", type=float, default=2, help=argparse.SUPPRESS)
    test.add_argument("--tta", action="store_true", help="flip + multi-scale test-time augmentation (img_ratios)")
    _add_cfg_options(test)
    _add_launcher(test)

    infer = sub.add_parser("infer", help="predict label maps and colour overlays for images")
    infer.add_argument("config", help="config file, or MODEL.onnx with --backend onnxruntime")
    infer.add_argument("checkpoint", help="checkpoint (with --backend onnxruntime: the first INPUT)")
    infer.add_argument("inputs", nargs="*", metavar="INPUT", help="image files, folders (recursive) or glob patterns")
    infer.add_argument(
        "--backend",
        choices=["pytorch", "onnxruntime"],
        default=None,
        help="onnxruntime runs a file from 'seglab export' (default: onnxruntime for a .onnx file)",
    )
    infer.add_argument(
        "--out",
        required=True,
        help="output folder: NAME.png (label map) and NAME_overlay.png per image, NAME being the image's path "
        "relative to the folder named (or to the deepest folder holding every INPUT) without extension; inputs "
        "sharing a NAME keep their extension (scan.jpg -> scan_jpg.png); a name still shared stops the run first",
    )
    infer.add_argument("--opacity", type=float, default=0.5, help="overlay opacity (default 0.5)")
    infer.add_argument("--tta", action="store_true", help="average over flips and rescaled copies")
    infer.add_argument("--tta-scales", type=float, nargs="+", default=None, help="TTA scale factors")
    infer.add_argument("--device", default=None, help="cpu or cuda (default: cuda when available)")
    _add_cfg_options(infer)

    export = sub.add_parser("export", help="write a checkpoint as an ONNX model for whole-image inference")
    export.add_argument("config")
    export.add_argument("checkpoint")
    export.add_argument("--format", choices=["onnx"], default="onnx")
    export.add_argument(
        "--shape", type=int, nargs=2, metavar=("H", "W"), help="input size (default: crop_size, else 512 512)"
    )
    export.add_argument(
        "--dynamic-shape", action="store_true", help="batch, height and width vary (--shape: the example)"
    )
    export.add_argument("--argmax", action="store_true", help="output label maps instead of logits")
    export.add_argument("-o", "--out", default=None, help="output file (default: CHECKPOINT with .onnx)")
    _add_cfg_options(export)

    plot = sub.add_parser("plot", help="draw loss, learning-rate and mIoU curves of a training run")
    plot.add_argument("work_dir")
    plot.add_argument("--out", help="PNG path (default WORK_DIR/curves.png; a CSV is written beside it)")

    bench = sub.add_parser("benchmark", help="parameters, FLOPs and inference speed of a config's model")
    bench.add_argument("config")
    bench.add_argument("checkpoint", nargs="?")
    bench.add_argument("--shape", type=int, nargs=2, default=(512, 512), metavar=("H", "W"))
    bench.add_argument("--batch", type=int, default=1)
    bench.add_argument("--iters", type=int, default=10)
    bench.add_argument("--warmup", type=int, default=2)
    bench.add_argument("--device", default=None)
    _add_cfg_options(bench)

    quick = sub.add_parser("quickstart", help="make a synthetic dataset and train a small DeepLabV3+ on it")
    quick.add_argument("--work-dir", default="work_dirs/quickstart")
    quick.add_argument("--iters", type=int, default=None, help="training iterations (default: enough for a good mIoU)")

    dummy = sub.add_parser("make-dummy", help="write a synthetic img_dir/ann_dir dataset")
    dummy.add_argument("out")
    dummy.add_argument("--style", choices=["learnable", "tutorial"], default="learnable")
    dummy.add_argument("--classes", type=int, default=3, help="number of classes, background included")
    dummy.add_argument("--train", type=int, default=50, help="training images")
    dummy.add_argument("--val", type=int, default=10, help="validation images")
    dummy.add_argument("--size", type=int, default=None, help="image side (default 256 for tutorial, 128 otherwise)")
    dummy.add_argument("--seed", type=int, default=0)

    check = sub.add_parser("check-data", help="find dataset problems before training")
    check.add_argument("target", help="a config file, or a dataset root with img_dir/ and ann_dir/")
    check.add_argument("--num-classes", type=int, default=None)
    check.add_argument("--ignore-index", type=int, default=255)
    _add_cfg_options(check)

    prep = sub.add_parser("prepare", help="turn a dataset download into the layout its _base_ config reads")
    prep.add_argument("name", nargs="?", help="dataset name, e.g. cityscapes (see --list)")
    prep.add_argument("src", nargs="?", help="the folder holding the downloads, one archive, or an extracted copy")
    prep.add_argument("out", nargs="?", help="output folder: the config's data_root, e.g. data/cityscapes")
    prep.add_argument("--list", action="store_true", help="show every dataset, the files it expects and their source")
    prep.add_argument("--workers", type=int, default=None, help="conversion threads (default: CPU count, at most 8)")
    prep.add_argument("--max-member-size", metavar="SIZE", help="bound on one member, e.g. 2G (default: per dataset)")
    prep.add_argument("--max-total-size", metavar="SIZE", help="bound on all bytes read, e.g. 500G")
    prep.add_argument("--max-ratio", type=float, metavar="X", help="bound on uncompressed/compressed size, e.g. 1000")

    zoo = sub.add_parser("zoo", help="list shipped configs with published mIoU and checkpoints; download one")
    zoo.add_argument("filter", nargs="?", help="substring or glob on config name, family or dataset")
    zoo.add_argument("--all", action="store_true", help="also list MMSegmentation configs seglab does not ship")
    zoo.add_argument("--json", action="store_true", help="print JSON instead of a table")
    zoo.add_argument("--download", metavar="CONFIG", help="put CONFIG's published checkpoint in the torch hub cache")

    return parser


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
    Runner.from_cfg(cfg).test(args.show_dir, args.confusion_matrix, args.out, args.tta)
    return 0


def default_device(requested: str | None) -> str:
    import torch

    return requested or ("cuda" if torch.cuda.is_available() else "cpu")


def cuda_available() -> bool:
    import torch

    return torch.cuda.is_available()


def cmd_infer(args: argparse.Namespace) -> int:
    from seglab.config import parse_cfg_options
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
    written, failed = infer_files(model, inputs, args.out, args.opacity, args.tta, args.tta_scales)
    print(f"wrote labels and overlays for {len(written)} image(s) to {Path(args.out).resolve()}")
    for path, reason in failed:
        print(f"failed: {path}: {reason}", file=sys.stderr)
    if failed:
        print(f"{len(failed)} input(s) failed", file=sys.stderr)
    return 1 if failed else 0


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
    from seglab.inference import init_model

    model = init_model(args.config, args.checkpoint, default_device(args.device), parse_cfg_options(args.cfg_options))
    result = benchmark_model(model, args.shape[0], args.shape[1], args.batch, args.iters, args.warmup)
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


def cmd_check_data(args: argparse.Namespace) -> int:
    from seglab.config_types import check_config_types
    from seglab.data.check import check_dataset, splits_from_config, splits_from_folder

    target = Path(args.target)
    if target.suffix == ".py":
        cfg = load_config(args.target, args.cfg_options)
        check_config_types(cfg)  # model=(1, 2): one line naming the key
        specs, num_classes, ignore_index, classes = splits_from_config(cfg)
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
    "export": cmd_export,
    "plot": cmd_plot,
    "benchmark": cmd_benchmark,
    "zoo": cmd_zoo,
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
    try:
        return COMMANDS[args.command](args)
    except SeglabError as err:
        if args.debug:
            traceback.print_exc()
        print(f"error: {error_message(err)}", file=sys.stderr)
        return getattr(err, "exit_code", 2)  # TrainingInterrupted: 128 + the signal, as the shell reports it
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
