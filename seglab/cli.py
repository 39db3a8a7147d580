"""The ``seglab`` command: train, test, infer, plot, benchmark, quickstart, make-dummy, check-data, prepare.

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
        help="accepted for MMSegmentation habits; torchrun's environment decides",
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
    train.add_argument("--amp", action="store_true", help="mixed precision (bfloat16 on CPU, float16 on CUDA)")
    _add_cfg_options(train)
    _add_launcher(train)

    test = sub.add_parser("test", help="evaluate a checkpoint on the config's test set")
    test.add_argument("config")
    test.add_argument("checkpoint")
    test.add_argument("--work-dir")
    test.add_argument("--show-dir", help="save ground truth | prediction overlays of every image here")
    test.add_argument("--confusion-matrix", action="store_true", help="save a confusion matrix PNG and CSV")
    test.add_argument("--out", help="save predicted label maps (palette PNGs) here")
    test.add_argument("--show", action="store_true", help=argparse.SUPPRESS)
    test.add_argument("--wait-time", type=float, default=2, help=argparse.SUPPRESS)
    test.add_argument("--tta", action="store_true", help="flip + multi-scale test-time augmentation (img_ratios)")
    _add_cfg_options(test)
    _add_launcher(test)

    infer = sub.add_parser("infer", help="predict label maps and colour overlays for images")
    infer.add_argument("config")
    infer.add_argument("checkpoint")
    infer.add_argument("inputs", nargs="+", metavar="INPUT", help="image files, folders (recursive) or glob patterns")
    infer.add_argument("--out", required=True, help="output folder")
    infer.add_argument("--opacity", type=float, default=0.5, help="overlay opacity (default 0.5)")
    infer.add_argument("--tta", action="store_true", help="average over flips and rescaled copies")
    infer.add_argument("--tta-scales", type=float, nargs="+", default=None, help="TTA scale factors")
    infer.add_argument("--device", default=None, help="cpu or cuda (default: cuda when available)")
    _add_cfg_options(infer)

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

    return parser


def load_config(path: str, options: list[str] | None):
    from seglab.config import Config, parse_cfg_options

    cfg = Config.fromfile(path)
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
        cfg.optim_wrapper = {**cfg.optim_wrapper, "type": "AmpOptimWrapper"}
    Runner.from_cfg(cfg).train()
    return 0


def cmd_test(args: argparse.Namespace) -> int:
    from seglab.engine.runner import Runner

    cfg = load_config(args.config, args.cfg_options)
    cfg.load_from = args.checkpoint
    if args.work_dir:
        cfg.work_dir = args.work_dir
    if args.show:
        print("--show needs a display; saving pictures instead is --show-dir DIR", file=sys.stderr)
    Runner.from_cfg(cfg).test(args.show_dir, args.confusion_matrix, args.out, args.tta)
    return 0


def default_device(requested: str | None) -> str:
    import torch

    return requested or ("cuda" if torch.cuda.is_available() else "cpu")


def cmd_infer(args: argparse.Namespace) -> int:
    from seglab.config import parse_cfg_options
    from seglab.inference import infer_files, init_model

    model = init_model(args.config, args.checkpoint, default_device(args.device), parse_cfg_options(args.cfg_options))
    written, failed = infer_files(model, args.inputs, args.out, args.opacity, args.tta, args.tta_scales)
    print(f"wrote labels and overlays for {len(written)} image(s) to {Path(args.out).resolve()}")
    for path, reason in failed:
        print(f"failed: {path}: {reason}", file=sys.stderr)
    if failed:
        print(f"{len(failed)} input(s) failed", file=sys.stderr)
    return 1 if failed else 0


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
    from seglab.data.check import check_dataset, splits_from_config, splits_from_folder

    target = Path(args.target)
    if target.suffix == ".py":
        cfg = load_config(args.target, args.cfg_options)
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
    """Exits 1 (not 2) on a wrong or incomplete download, like check-data on a broken dataset."""
    from seglab.data.prepare import list_text, prepare

    if args.list:
        print(list_text())
        return 0
    try:
        if not (args.name and args.src and args.out):
            raise SeglabError("usage: seglab prepare NAME SRC OUT; 'seglab prepare --list' shows the names")
        print(prepare(args.name, args.src, args.out, args.workers))
    except SeglabError as err:
        if args.debug:
            traceback.print_exc()
        print(f"error: {error_message(err)}", file=sys.stderr)
        return 1
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
    "plot": cmd_plot,
    "benchmark": cmd_benchmark,
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
