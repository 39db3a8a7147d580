"""``seglab export``: a segmentor as one ONNX graph for whole-image inference.

The graph takes what seglab's pipeline hands the model — a float32 NCHW batch of raw 0-255 pixels in the
order images are loaded (BGR, as OpenCV reads them) — and does the data preprocessor's work inside:
channel swap, mean/std, padding to ``size_divisor``. It returns ``logits`` (N,C,H,W) at the input size,
or with ``argmax`` the ``labels`` (N,H,W, int64). Class names, palette, input size, mean/std and the test
pipeline go into the model's ``metadata_props`` so ``seglab infer --backend onnxruntime`` needs only the file.

The exporter is ``torch.onnx.export(dynamo=True)`` (torch.export + onnxscript): it keeps height and
width symbolic where the legacy TorchScript tracer bakes sizes in (it fails on PSPNet/UPerNet pooling
and gives wrong shapes for FPN at sizes other than the example).
"""

from __future__ import annotations

import json
import re
import warnings
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from seglab import __version__
from seglab.deploy.common import INPUT_NAME, LABELS_NAME, LOGITS_NAME, require
from seglab.errors import ConfigError
from seglab.models.prediction import logits_to_labels


class ExportGraph(nn.Module):
    """Raw image batch -> logits (or labels) at the input size: the data preprocessor + ``encode_decode``."""

    def __init__(self, model: nn.Module, argmax: bool = False) -> None:
        super().__init__()
        self.model = model
        prep = model.data_preprocessor
        self.swap_channels = prep.swap_channels
        self.normalize = prep.normalize
        self.pad_val = float(prep.pad_val)
        self.pad_size = prep.test_cfg.get("size")
        self.size_divisor = prep.test_cfg.get("size_divisor")
        self.argmax = argmax
        self.threshold = model.threshold

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        prep = self.model.data_preprocessor
        x = image.flip(1) if self.swap_channels else image
        if self.normalize:
            x = (x - prep.mean) / prep.std
        h, w = x.shape[-2], x.shape[-1]
        x = self._pad(x, h, w)
        # one meta for the whole batch: heads read only pad_shape, and a list of N would fix N in the graph
        logits = self.model.encode_decode(x, [{"pad_shape": tuple(x.shape[-2:])}])[:, :, :h, :w]
        return logits_to_labels(logits, self.threshold) if self.argmax else logits

    def _pad(self, x: torch.Tensor, h, w) -> torch.Tensor:
        """Bottom/right padding as the data preprocessor's ``test_cfg`` (``size`` or ``size_divisor``) asks."""
        if self.pad_size is not None:
            pad_h, pad_w = max(self.pad_size[0] - h, 0), max(self.pad_size[1] - w, 0)
        elif self.size_divisor:
            pad_h, pad_w = (-h) % self.size_divisor, (-w) % self.size_divisor
        else:
            return x
        return F.pad(x, (0, pad_w, 0, pad_h), value=self.pad_val)


def fixed_grid_pools(model: nn.Module) -> list[str]:
    """Modules that pool to a fixed grid larger than 1x1 (PSP's pyramid): ONNX has no adaptive pooling,
    so the exporter computes their windows from the example size and they need a fixed input size."""
    found = []
    for name, module in model.named_modules():
        if isinstance(module, nn.AdaptiveAvgPool2d | nn.AdaptiveMaxPool2d):
            size = module.output_size
            if (size if isinstance(size, tuple) else (size, size)) != (1, 1):
                found.append(f"{name} ({type(module).__name__}({module.output_size}))")
    return found


def blocking_op(err: BaseException, program=None) -> str:
    """'op aten::X in decode_head.conv_seg (Conv2d) at seglab/models/heads/deeplabv3.py:68': the ATen op an exporter
    error names, and where the exported program calls it."""
    chain, seen = [], err
    while seen is not None and len(chain) < 5:
        chain.append(f"{type(seen).__name__}: {seen}")
        seen = seen.__cause__ or seen.__context__
    head = "\n".join("\n".join(text.splitlines()[:30]) for text in chain)
    ops = sorted(set(re.findall(r"aten(?:::|\.)([A-Za-z_][A-Za-z0-9_]*)", head)) - {"default"})
    if ops:
        where = _where_called(program, ops[0]) if program is not None else ""
        return "op " + ", ".join(f"aten::{op}" for op in ops[:3]) + where
    places = re.findall(r"(seglab/models/[\w/]+\.py)\"?,? line (\d+)", "\n".join(chain))
    if places:
        return "at " + ":".join(places[-1])
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    return lines[0][:300] if lines else type(err).__name__


def _where_called(program, op: str) -> str:
    """' in <module path> (<class>) at <file>:<line>' for the first call of ``op`` in an exported program."""
    for node in program.graph.nodes:
        if node.op != "call_function" or f".{op}." not in f".{node.target}.":
            continue
        text = ""
        path, kind = list((node.meta.get("nn_module_stack") or {"": ("", "")}).values())[-1]
        if path:
            text += (
                f" in {str(path).removeprefix('model.')} ({str(getattr(kind, '__name__', kind)).rsplit('.', 1)[-1]})"
            )
        frames = re.findall(r'File "([^"]+)", line (\d+)', node.meta.get("stack_trace") or "")
        if frames:
            file, line = next((f for f in reversed(frames) if "seglab/models/" in f[0]), frames[-1])
            text += f" at {file[file.find('seglab/') :] if 'seglab/' in file else file}:{line}"
        return text
    return ""


def default_shape(cfg) -> tuple[int, int]:
    """The config's ``crop_size`` (what the model trained on), else 512 x 512."""
    crop = cfg.get("crop_size") or (cfg.get("model") or {}).get("test_cfg", {}).get("crop_size")
    return (int(crop[0]), int(crop[1])) if crop else (512, 512)


def example_images(shape: tuple[int, int], batch: int) -> torch.Tensor:
    """Random 0-255 float images, the same on every call."""
    generator = torch.Generator().manual_seed(0)
    return torch.rand(batch, 3, *shape, generator=generator) * 255


def export_onnx(
    model: nn.Module,
    out: str | Path,
    shape: tuple[int, int] = (512, 512),
    dynamic: bool = False,
    argmax: bool = False,
) -> Path:
    """Write ``model`` (from ``init_model``) as an ONNX file with seglab's metadata; returns the path.

    ``shape`` is the fixed (H, W) of a batch of one, or with ``dynamic`` only the example: batch, height
    and width then vary. An op or module the exporter cannot convert raises a ConfigError naming it."""
    onnx = require("onnx")
    require("onnxscript")
    name = type(getattr(model, "main_head", model)).__name__
    pools = fixed_grid_pools(model) if dynamic else []
    if pools:
        raise ConfigError(
            f"{name} cannot be exported with --dynamic-shape: {pools[0]} pools to a fixed grid, which ONNX "
            "cannot express for a variable input size; export with a fixed --shape H W instead"
        )
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    graph = ExportGraph(model.cpu().eval(), argmax).eval()
    # a batch of 2 keeps the batch axis dynamic (torch.export fixes axes whose example size is 0 or 1)
    example = example_images(tuple(shape), 2 if dynamic else 1)
    axes = {0: torch.export.Dim.DYNAMIC, 2: torch.export.Dim.DYNAMIC, 3: torch.export.Dim.DYNAMIC}
    program = None
    try:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            program = torch.export.export(graph, (example,), dynamic_shapes=(axes,) if dynamic else None, strict=False)
            onnx_program = torch.onnx.export(
                program,
                (example,),
                dynamo=True,
                input_names=[INPUT_NAME],
                output_names=[LABELS_NAME if argmax else LOGITS_NAME],
                verbose=False,
            )
            onnx_program.save(str(out))
    except Exception as err:  # the exporter raises many types; the user needs the op and where it is
        raise ConfigError(
            f"{name} cannot be exported to ONNX: {blocking_op(err, program)} (--debug shows the exporter's trace)"
        ) from err
    proto = onnx.load(str(out))
    for key, value in export_metadata(model, tuple(shape), dynamic, argmax).items():
        proto.metadata_props.add(key=key, value=value)
    onnx.save(proto, str(out))
    return out


def export_metadata(model: nn.Module, shape: tuple[int, int], dynamic: bool, argmax: bool) -> dict[str, str]:
    """seglab's facts about the graph, JSON-encoded (the keys are ``seglab.deploy.common.METADATA_KEYS``)."""
    prep = model.data_preprocessor
    cfg = getattr(model, "cfg", None)
    pipeline = []
    if cfg is not None:
        steps = cfg.get("test_pipeline") or ((cfg.get("test_dataloader") or {}).get("dataset") or {}).get("pipeline")
        skip = ("LoadImageFromFile", "LoadAnnotations", "PackSegInputs")
        pipeline = [dict(s) for s in steps or [] if s.get("type") not in skip]
    values = {
        "seglab_version": __version__,
        "classes": list(model.class_names()),
        "palette": [list(map(int, c)) for c in (model.dataset_meta or {}).get("palette") or []],
        "input_size": None if dynamic else list(shape),
        "channel_order": "BGR",
        "mean": prep.mean.flatten().tolist() if prep.normalize else None,
        "std": prep.std.flatten().tolist() if prep.normalize else None,
        "argmax": argmax,
        "align_corners": bool(model.align_corners),
        "threshold": model.threshold,
        "test_pipeline": pipeline,
    }
    return {key: json.dumps(value, default=list) for key, value in values.items()}


def verify_onnx(model: nn.Module, path: str | Path, shape: tuple[int, int], dynamic: bool = False) -> dict:
    """Run the file with onnxruntime and PyTorch on random 0-255 images of ``shape`` (and, for a dynamic
    graph, a batch of 2 at another size).

    Returns ``max_error`` (largest absolute logit difference; for an argmax graph the fraction of differing
    labels), ``max_torch`` (largest absolute PyTorch logit) and ``shapes`` (the N, H, W tried)."""
    ort = require("onnxruntime")
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    argmax = session.get_outputs()[0].name == LABELS_NAME
    graph = ExportGraph(model.cpu().eval(), argmax).eval()
    h, w = shape
    shapes = [(1, h, w)] + ([(2, h + 16, w + 48)] if dynamic else [])
    max_error = max_torch = 0.0
    for n, hh, ww in shapes:
        image = example_images((hh, ww), n)
        with torch.no_grad():
            expected = graph(image).numpy()
        try:
            got = session.run(None, {INPUT_NAME: image.numpy()})[0]
        except Exception as err:  # onnxruntime's own error types
            raise ConfigError(
                f"{path}: onnxruntime failed on a {n}x3x{hh}x{ww} input ({str(err).splitlines()[0][:200]}): the graph "
                "keeps a size from the export example; export with a fixed --shape H W"
            ) from None
        if got.shape != expected.shape:
            raise ConfigError(f"{path}: onnxruntime gave shape {got.shape}, PyTorch {expected.shape}")
        if argmax:
            max_error = max(max_error, float(np.mean(got != expected)))
        else:
            max_error = max(max_error, float(np.abs(got - expected).max()))
            max_torch = max(max_torch, float(np.abs(expected).max()))
    return {"max_error": max_error, "max_torch": max_torch, "shapes": shapes, "argmax": argmax}
