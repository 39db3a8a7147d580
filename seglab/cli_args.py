"""The ``seglab`` command line: every subcommand's arguments and help, and the checks of options that
contradict each other (run before a command starts, so a contradiction is one line, never a silent choice).
``seglab.cli`` runs the commands."""

from __future__ import annotations

import argparse
from pathlib import Path

from seglab import __version__
from seglab.errors import SeglabError

CONFIG_HELP = (
    "a config file, mmseg::FAMILY/FILE.py, or the bare name of a shipped config: STEM or FAMILY/STEM "
    "as 'seglab zoo' lists them"
)
CHECKPOINT_HELP = (
    "a .pth file, an http(s) URL (downloaded once into the torch hub cache), or 'zoo': the config's "
    "published checkpoint, once 'seglab zoo --download NAME' has put it in that cache"
)
EXAMPLES = """examples:
  seglab quickstart                                  # a synthetic dataset and a small model, on CPU
  seglab train CONFIG                                # CONFIG: a file or a name from 'seglab zoo'
  seglab zoo --download pspnet_r50-d8_4xb2-40k_cityscapes-512x1024
  seglab infer pspnet_r50-d8_4xb2-40k_cityscapes-512x1024 zoo photo.jpg --out out/

'seglab COMMAND --help' explains the arguments of one command."""


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


def _add_inference_amp(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--amp",
        nargs="?",
        const="auto",
        choices=["auto", "force"],
        default=None,
        help="predict under autocast: float16 on CUDA; on CPU bfloat16 unless a quick probe measures it more "
        "than 10%% slower than float32 ('--amp force': bfloat16 without measuring)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="seglab",
        description="Run MMSegmentation 1.x configs in plain PyTorch.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"seglab {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks for errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", title="commands")

    def command(name: str, text: str) -> argparse.ArgumentParser:
        return sub.add_parser(name, help=text, description=text[0].upper() + text[1:] + ".")

    train = command("train", "train a model from a config")
    train.add_argument("config", help=CONFIG_HELP)
    train.add_argument("--work-dir", help="where logs and checkpoints go (default work_dirs/<config name>)")
    train.add_argument(
        "--resume",
        nargs="?",
        const="auto",
        default=None,
        metavar="PATH",
        help="continue an interrupted run: from PATH, else from the config's load_from when it is set, "
        "else from the work dir's last checkpoint",
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

    test = command("test", "evaluate a checkpoint on the config's test set")
    test.add_argument("config", help=CONFIG_HELP)
    test.add_argument("checkpoint", help=CHECKPOINT_HELP)
    test.add_argument("--work-dir", help="where the log and metrics go (default work_dirs/<config name>)")
    test.add_argument("--show-dir", help="save ground truth | prediction overlays of every image here (names: --out)")
    test.add_argument("--confusion-matrix", action="store_true", help="save a confusion matrix PNG and CSV")
    test.add_argument(
        "--out",
        help="save predicted label maps (palette PNGs) here as NAME.png, NAME being the image's path under "
        "data_prefix.img_path without extension (img_path/city1/x.jpg -> OUT/city1/x.png); images sharing a NAME "
        "keep their extension (scan_jpg.png); a name still shared stops the run before the model is built",
    )
    test.add_argument(
        "--show",
        action="store_true",
        help="MMSegmentation's on-screen display, which seglab lacks: accepted only with --show-dir",
    )
    test.add_argument("--wait-time", type=float, default=2, help=argparse.SUPPRESS)
    test.add_argument(
        "--tta",
        action="store_true",
        help="test-time augmentation: the config's tta_pipeline (TestTimeAug), as MMSegmentation's --tta; "
        "without one, the average over flips and the img_ratios scales (default 0.5 0.75 1.0 1.25 1.5 1.75)",
    )
    _add_inference_amp(test)
    _add_cfg_options(test)
    _add_launcher(test)

    infer = command("infer", "predict label maps and colour overlays for images")
    infer.add_argument("config", help=CONFIG_HELP + "; or a MODEL.onnx from 'seglab export'")
    infer.add_argument("checkpoint", help=CHECKPOINT_HELP + " (after a MODEL.onnx: the first INPUT)")
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
    infer.add_argument(
        "--tta-scales",
        type=float,
        nargs="+",
        default=None,
        metavar="S",
        help="scale factors for --tta (default: the config's img_ratios, else 0.5 0.75 1.0 1.25 1.5 1.75)",
    )
    infer.add_argument("--device", default=None, help="cpu or cuda (default: cuda when available)")
    _add_inference_amp(infer)
    scene = infer.add_argument_group(
        "scenes (a .tif/.tiff INPUT, when the config loads images with LoadSingleRSImageFromFile or --tile is "
        "given: read in windows with rasterio, written as OUT/NAME.tif with the scene's CRS and transform)"
    )
    scene.add_argument("--tile", type=int, default=None, help="tile side (default: slide crop_size, else 512)")
    scene.add_argument("--overlap", type=int, default=None, help="tile overlap (default: crop - stride, else 64)")
    scene.add_argument("--tile-batch", type=int, default=4, help="tiles per forward pass (default 4)")
    scene.add_argument("--overlay", action="store_true", help="also write OUT/NAME_overlay.tif (bands 1-3, RGB)")
    _add_cfg_options(infer)

    tile = command("tile", "cut a scene and its label raster into img_dir/ann_dir tiles, split by area")
    tile.add_argument("scene", help="a multi-band GeoTIFF (any raster rasterio reads)")
    tile.add_argument("label", help="a single-band raster of class ids covering the same pixels")
    tile.add_argument("out", help="dataset root to write: img_dir/{train,val}/*.tif and ann_dir/{train,val}/*.png")
    tile.add_argument("--size", type=int, default=512, help="tile side in pixels (default 512)")
    tile.add_argument("--overlap", type=int, default=64, help="overlap of neighbouring tiles (default 64)")
    tile.add_argument("--val-fraction", type=float, default=0.2, help="share of the scene's area for val (default 0.2)")
    tile.add_argument(
        "--block",
        type=int,
        default=None,
        help="side of the square areas assigned whole to train or val (default 4 x --size); tiles touching both "
        "are dropped, so no pixel is in both splits",
    )
    tile.add_argument("--seed", type=int, default=0, help="which blocks go to val (default 0)")

    export = command("export", "write a checkpoint as an ONNX model for whole-image inference")
    export.add_argument("config", help=CONFIG_HELP)
    export.add_argument("checkpoint", help=CHECKPOINT_HELP + " (with 'zoo' or a URL, name the output: --out)")
    export.add_argument("--format", choices=["onnx"], default="onnx", help="the only format: onnx")
    export.add_argument(
        "--shape", type=int, nargs=2, metavar=("H", "W"), help="input size (default: crop_size, else 512 512)"
    )
    export.add_argument(
        "--dynamic-shape", action="store_true", help="batch, height and width vary (--shape: the example)"
    )
    export.add_argument("--argmax", action="store_true", help="output label maps instead of logits")
    export.add_argument("-o", "--out", default=None, help="output file (default: CHECKPOINT's file with .onnx)")
    _add_cfg_options(export)

    plot = command("plot", "draw loss, learning-rate and mIoU curves of a training run")
    plot.add_argument("work_dir", help="the training run's work dir")
    plot.add_argument("--out", help="PNG path (default WORK_DIR/curves.png; a CSV is written beside it)")

    bench = command("benchmark", "parameters, FLOPs and inference speed of a config's model, as seglab test runs it")
    bench.add_argument("config", help=CONFIG_HELP)
    bench.add_argument(
        "checkpoint", nargs="?", help="optional (speed does not depend on the weights): " + CHECKPOINT_HELP
    )
    bench.add_argument(
        "--shape", type=int, nargs=2, default=(512, 512), metavar=("H", "W"), help="input size (default 512 512)"
    )
    bench.add_argument("--batch", type=int, default=1, help="images per forward pass (default 1)")
    bench.add_argument("--iters", type=int, default=10, help="timed forward passes (default 10)")
    bench.add_argument("--warmup", type=int, default=2, help="untimed forward passes before them (default 2)")
    bench.add_argument("--device", default=None, help="cpu or cuda (default: cuda when available)")
    _add_cfg_options(bench)

    quick = command("quickstart", "make a synthetic dataset and train a small DeepLabV3+ on it")
    quick.add_argument(
        "--work-dir",
        default="work_dirs/quickstart",
        help="where the dataset, config, checkpoints, curves and predictions go (default work_dirs/quickstart)",
    )
    quick.add_argument(
        "--iters", type=int, default=None, help="training iterations (default 600, enough for an mIoU above 90)"
    )

    dummy = command("make-dummy", "write a synthetic img_dir/ann_dir dataset")
    dummy.add_argument("out", help="the dataset root to write (img_dir/ and ann_dir/ go inside)")
    dummy.add_argument(
        "--style",
        choices=["learnable", "tutorial"],
        default="learnable",
        help="learnable (default): coloured shapes a small model learns; tutorial: MMSegmentation's tutorial "
        "data, noise with one rectangle labelled 1 (2 classes, not learnable)",
    )
    dummy.add_argument(
        "--classes",
        type=int,
        default=None,
        help="number of classes, background included (default 3; not with tutorial)",
    )
    dummy.add_argument("--train", type=int, default=50, help="training images (default: 50)")
    dummy.add_argument("--val", type=int, default=10, help="validation images (default: 10)")
    dummy.add_argument("--size", type=int, default=None, help="image side (default 256 for tutorial, 128 otherwise)")
    dummy.add_argument("--seed", type=int, default=0, help="random seed (default 0)")

    check = command("check-data", "find dataset problems before training")
    check.add_argument(
        "target", help="a config file, a shipped config name, or a dataset root with img_dir/ and ann_dir/"
    )
    check.add_argument(
        "--num-classes", type=int, default=None, help="flag label values at or above it (default: the config's)"
    )
    check.add_argument(
        "--ignore-index",
        type=int,
        default=None,
        help="label value that marks unlabelled pixels, for a dataset root (default 255; a config has its own)",
    )
    _add_cfg_options(check)

    prep = command("prepare", "turn a dataset download into the layout its _base_ config reads")
    prep.add_argument("name", nargs="?", help="dataset name, e.g. cityscapes (see --list)")
    prep.add_argument("src", nargs="?", help="the folder holding the downloads, one archive, or an extracted copy")
    prep.add_argument("out", nargs="?", help="output folder: the config's data_root, e.g. data/cityscapes")
    prep.add_argument("--list", action="store_true", help="show every dataset, the files it expects and their source")
    prep.add_argument("--workers", type=int, default=None, help="conversion threads (default: CPU count, at most 8)")
    prep.add_argument("--max-member-size", metavar="SIZE", help="bound on one member, e.g. 2G (default: per dataset)")
    prep.add_argument("--max-total-size", metavar="SIZE", help="bound on all bytes read, e.g. 500G")
    prep.add_argument("--max-ratio", type=float, metavar="X", help="bound on uncompressed/compressed size, e.g. 1000")

    zoo = command("zoo", "list shipped configs with published mIoU and checkpoints; download one")
    zoo.add_argument("filter", nargs="?", help="substring or glob on config name, family or dataset")
    zoo.add_argument("--all", action="store_true", help="also list MMSegmentation configs seglab does not ship")
    zoo.add_argument("--json", action="store_true", help="print JSON instead of a table")
    zoo.add_argument("--download", metavar="CONFIG", help="put CONFIG's published checkpoint in the torch hub cache")
    zoo.add_argument(
        "--pretrained",
        metavar="CONFIG",
        help="fetch every pre-trained backbone checkpoint CONFIG names (local copy, the Hub, then the original URL)",
    )
    zoo.add_argument(
        "--pretrained-table",
        metavar="MARKDOWN",
        help="rewrite the generated sources table in MARKDOWN (docs/pretrained.md) from the *_weights.py tables",
    )

    pub = command("publish", "write a trained model as config.py + model.safetensors + README.md; upload it")
    pub.add_argument("work_dir", help="the folder training wrote (work_dirs/<config>)")
    pub.add_argument("out_dir", help="the folder to write config.py, model.safetensors and README.md into")
    pub.add_argument(
        "--checkpoint",
        dest="publish_checkpoint",  # not a checkpoint to load (no URL, no 'zoo'): a file of WORK_DIR
        metavar="FILE",
        help="the checkpoint of WORK_DIR to publish (default: the best, else the latest)",
    )
    pub.add_argument("--to", metavar="hf://USER/REPO", help="upload the folder to this Hub repo (token: HF_TOKEN)")

    return parser


def _option_keys(options: list[str] | None) -> set[str]:
    return {option.split("=", 1)[0].strip() for option in options or []}


def check_conflicts(args: argparse.Namespace) -> None:
    """Options that contradict each other are one-line errors, not silently ignored; then fills the defaults that
    depend on other options (argparse has no such defaults)."""
    command = args.command
    if command == "train" and args.resume:
        keys = _option_keys(args.cfg_options)
        if "resume" in keys:
            raise SeglabError("--resume and --cfg-options resume=... both say where to resume from: give one")
        if args.resume != "auto" and "load_from" in keys:
            raise SeglabError("--resume PATH and --cfg-options load_from=... both name the checkpoint: give one")
    if command == "test" and args.show and not args.show_dir:
        raise SeglabError("--show needs a display, which seglab does not open: save the pictures with --show-dir DIR")
    if command == "infer" and (args.tile is not None or args.overlap is not None) and args.tta:
        raise SeglabError("--tile/--overlap are for scenes, which run without --tta: give one")
    if command == "infer" and args.tta_scales and not args.tta:
        raise SeglabError("--tta-scales only applies with --tta")
    if command == "export" and not args.out and (args.checkpoint == "zoo" or "://" in args.checkpoint):
        raise SeglabError(f"checkpoint '{args.checkpoint}' is not a file to write the model beside: give --out FILE")
    if command == "make-dummy":
        if args.style == "tutorial" and args.classes is not None:
            raise SeglabError("--style tutorial always has 2 classes: --classes applies to --style learnable")
        args.classes = 3 if args.classes is None else args.classes
    if command == "check-data":
        if args.ignore_index is not None and Path(args.target).suffix == ".py":
            raise SeglabError("--ignore-index is for a dataset root: a config's ignore_index is read from the config")
        args.ignore_index = 255 if args.ignore_index is None else args.ignore_index
    if command == "prepare" and args.list and (args.name or args.src or args.out):
        raise SeglabError("--list shows every dataset: give it alone, or NAME SRC OUT without --list")
    if command == "zoo" and args.download and (args.filter or args.all or args.json):
        given = [flag for flag, on in (("FILTER", args.filter), ("--all", args.all), ("--json", args.json)) if on]
        raise SeglabError(f"--download takes one config name; {' and '.join(given)} apply to the listing only")
