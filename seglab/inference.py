"""Two-line inference: ``model = init_model(config, checkpoint)``; ``result = inference_model(model, img)``.

Images go through the config's test pipeline (without label loading), so resizing matches what
validation does; predictions come back at each image's original size.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from torch import nn

from seglab.config import Config
from seglab.config_types import check_config_types
from seglab.data.io import IMAGE_SUFFIXES, write_image
from seglab.data.transforms import Compose, LoadImageFromFile, PackSegInputs
from seglab.errors import ConfigError
from seglab.fileio.checkpoint import apply_checkpoint, read_checkpoint
from seglab.models.builder import build_model
from seglab.models.cpu_kernels import use_cpu_kernels
from seglab.models.fold_bn import fold_batchnorm, folded_pairs, wants_fold
from seglab.models.segmentors.tta import DEFAULT_TTA_SCALES, SegTTAModel, merge_augmented
from seglab.models.winograd import wants_winograd
from seglab.registry import DATASETS, import_custom_modules

__all__ = [
    "DEFAULT_TTA_SCALES",
    "expand_inputs",
    "infer_files",
    "inference_model",
    "init_model",
    "merge_augmented",
    "tta_predict",
]

ImageInput = str | Path | np.ndarray


def _dataset_meta_from_config(cfg: Config) -> dict:
    for key in ("test_dataloader", "val_dataloader", "train_dataloader"):
        dataset = (cfg.get(key) or {}).get("dataset") or {}
        metainfo = dataset.get("metainfo") or {}
        classes = metainfo.get("classes")
        if classes is None and dataset.get("type") in DATASETS:
            classes = getattr(DATASETS.get(dataset["type"]), "METAINFO", {}).get("classes")
            metainfo = {"classes": classes, "palette": DATASETS.get(dataset["type"]).METAINFO.get("palette")}
        if classes:
            return {"classes": tuple(classes), "palette": metainfo.get("palette")}
    return {}


def init_model(
    config: str | Path | Config,
    checkpoint: str | Path | None = None,
    device: str = "cpu",
    cfg_options: dict | None = None,
) -> nn.Module:
    """Build the config's model in eval mode on ``device``, with weights and class names from ``checkpoint``.

    ``config`` may be a shipped config's bare name (``pspnet_r50-d8_4xb2-40k_cityscapes-512x1024``);
    ``checkpoint='zoo'`` is its published checkpoint, once ``seglab zoo --download NAME`` has cached it.
    A folder written by ``seglab publish`` (or its ``hf://USER/REPO`` upload) needs no checkpoint argument."""
    from seglab.publish import published_model
    from seglab.zoo import config_source, resolve_checkpoint

    published = published_model(config) if checkpoint is None and isinstance(config, str | Path) else None
    if published is not None:  # `seglab publish` output (a folder or hf://USER/REPO): config.py read as data
        config, checkpoint = published.config, published.where
    config = config_source(config) if isinstance(config, str) else config
    checkpoint = resolve_checkpoint(config, checkpoint)
    cfg = copy.deepcopy(config) if isinstance(config, Config) else Config.fromfile(config)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    check_config_types(cfg, ("model", "test_dataloader", "test_pipeline", "custom_imports"))
    import_custom_modules(cfg.get("custom_imports"))  # a user's module may register the config's types
    model = build_model(cfg.model, load_pretrained=False)
    meta = _dataset_meta_from_config(cfg)
    if checkpoint is not None:
        ckpt = published.checkpoint if published is not None else read_checkpoint(checkpoint)
        apply_checkpoint(model, ckpt, checkpoint)
        saved = (ckpt.get("meta") or {}).get("dataset_meta")
        if isinstance(saved, dict) and saved.get("classes"):
            meta = {"classes": tuple(saved["classes"]), "palette": saved.get("palette")}
    if not meta.get("classes"):
        meta = {"classes": tuple(str(i) for i in range(model.num_classes))}
    if not meta.get("palette"):
        from seglab.data.datasets.base import make_palette

        meta["palette"] = make_palette(len(meta["classes"]))
    model.cfg = cfg
    model.dataset_meta = meta
    return model.to(device).eval()


def _test_pipeline(model: nn.Module) -> Compose:
    cfg = getattr(model, "cfg", None)
    if cfg is None:
        raise ConfigError("inference_model needs a model from init_model (it carries the config's test pipeline)")
    steps = cfg.get("test_pipeline") or ((cfg.get("test_dataloader") or {}).get("dataset") or {}).get("pipeline")
    if not steps:
        raise ConfigError("the config has no test_pipeline (or test_dataloader.dataset.pipeline) for inference")
    loaders = ("LoadImageFromFile", "LoadSingleRSImageFromFile", "LoadAnnotations", "PackSegInputs")
    kept = [s for s in steps if s.get("type") not in loaders]
    return Compose([*kept, PackSegInputs()])


def _load(img: ImageInput) -> dict:
    if isinstance(img, np.ndarray):
        if img.ndim != 3 or img.shape[2] < 1:
            raise ConfigError(f"an image array must be H x W x bands (BGR for 3 bands), got shape {img.shape}")
        return {"img": img, "img_shape": img.shape[:2], "ori_shape": img.shape[:2]}
    return LoadImageFromFile()({"img_path": str(img)})


@torch.inference_mode()
def _predict(model: nn.Module, packed: list[dict], amp_dtype: torch.dtype | None = None) -> list[dict]:
    device = next(model.parameters()).device
    batch = {"inputs": [p["inputs"].to(device) for p in packed], "data_samples": [p["data_samples"] for p in packed]}
    inputs, samples = model.data_preprocessor(batch, training=False)
    with torch.autocast(device.type, dtype=amp_dtype or torch.bfloat16, enabled=amp_dtype is not None):
        return model.predict(inputs, samples)


def _weights_key(model: nn.Module) -> tuple:
    """Changes whenever a parameter or buffer is replaced, moved or modified in place (optimizer steps,
    ``load_state_dict``, ``.to()``), so a folded copy is never used for weights it was not made from."""
    return tuple((t.data_ptr(), t._version) for t in (*model.parameters(), *model.buffers()))


def _on_cpu(model: nn.Module) -> bool:
    return next(model.parameters(), torch.empty(0)).device.type == "cpu"


def _predict_fast(
    model: nn.Module, packed: list[dict], amp_dtype: torch.dtype | None, fold_bn: bool, winograd: bool
) -> list[dict]:
    """``_predict`` with an evaluation-only copy of ``model``: BatchNorms folded into their convolutions
    (``seglab.models.fold_bn``) and, on CPU, Winograd 3x3 convolutions and channels-last max pooling
    (``seglab.models.cpu_kernels``). The copy is made on first use from this batch (whose predictions come from
    ``model`` itself) and kept until the weights change or other choices are asked for."""
    on_cpu = _on_cpu(model)
    winograd = winograd and on_cpu
    if folded_pairs(model) is not None or not (fold_bn or winograd):  # the user's own folded model, or no copy
        return _predict(model, packed, amp_dtype)
    key = (_weights_key(model), fold_bn, winograd)
    cached = model.__dict__.pop("_seglab_folded_copy", None)  # never deep-copied into a new copy
    if cached is not None and cached[0] == key:
        model.__dict__["_seglab_folded_copy"] = cached
        return _predict(cached[1], packed, amp_dtype)
    if fold_bn:
        fast, outputs = fold_batchnorm(model, lambda m: _predict(m, packed, amp_dtype))
    else:
        fast, outputs = copy.deepcopy(model), _predict(model, packed, amp_dtype)
    if on_cpu:
        use_cpu_kernels(fast, winograd)
    model.__dict__["_seglab_folded_copy"] = (key, fast)  # in __dict__: not a submodule, not in state_dict
    return outputs


def inference_model(
    model: nn.Module,
    imgs: ImageInput | Sequence[ImageInput],
    tta: bool = False,
    tta_scales: Sequence[float] | None = None,
    batch_size: int = 4,
    fold_bn: bool = True,
    amp_dtype: torch.dtype | None = None,
    winograd: bool = True,
) -> dict | list[dict]:
    """Predict one image (path or BGR array) or a list of them.

    Each result has ``pred_sem_seg`` (HxW class indices) and ``seg_logits`` (CxHxW) at the original size.
    ``tta`` averages flipped and rescaled copies (scales: ``tta_scales``, else the config's ``img_ratios``).
    Lists run in batches of up to ``batch_size`` equally sized images, so a list gives what one call per image
    gives, and a long list needs no more memory for features than ``batch_size`` images do.
    ``fold_bn`` predicts with a copy whose BatchNorms are folded into their convolutions (same labels, logits
    equal up to rounding; the copy is kept beside ``model`` until its weights change, so memory for weights
    doubles); ``amp_dtype`` (``torch.bfloat16`` on CPU, ``torch.float16`` on CUDA) runs under autocast;
    ``winograd`` runs that copy's large 3x3 convolutions through Winograd's algorithm on CPU
    (``seglab.models.winograd``: faster, logits equal up to rounding)."""
    single = not isinstance(imgs, list | tuple)
    items = [imgs] if single else list(imgs)
    pipeline = _test_pipeline(model)
    model.eval()
    results: list[dict | None] = [None] * len(items)
    if tta:
        scales = tta_scales or model.cfg.get("img_ratios") or DEFAULT_TTA_SCALES
        for i, img in enumerate(items):
            results[i] = tta_predict(model, img, scales)
    else:
        packed = [pipeline(_load(img)) for img in items]
        groups: dict[tuple, list[int]] = {}
        for i, p in enumerate(packed):
            groups.setdefault(tuple(p["inputs"].shape), []).append(i)
        chunks = [
            ids[k : k + max(batch_size, 1)] for ids in groups.values() for k in range(0, len(ids), max(batch_size, 1))
        ]
        for indices in chunks:
            batch = [packed[i] for i in indices]
            for i, out in zip(indices, _predict_fast(model, batch, amp_dtype, fold_bn, winograd)):
                results[i] = {"pred_sem_seg": out["pred_sem_seg"], "seg_logits": out["seg_logits"].float()}
    return results[0] if single else results


def tta_predict(model: nn.Module, img: ImageInput, scales: Sequence[float]) -> dict:
    """Average class probabilities over rescaled and horizontally flipped copies of one image
    (``seglab.models.segmentors.tta.SegTTAModel``)."""
    return SegTTAModel(model, scales).predict_image(_load(img))


def expand_inputs(inputs: Sequence[str], out_dir: str | Path | None = None) -> list[tuple[Path, str]]:
    """(file, output name) for files, folders (recursive) and glob patterns, in a stable order, each file once.

    Names follow ``seglab.output_names``: paths relative to the folder named (or to the deepest folder
    holding every input named), without extension unless two inputs share a name. With ``out_dir``, an
    output (``NAME.png``, ``NAME_overlay.png``) that would be written twice or replace an input fails here,
    before any work. A path that is not there keeps its stem and is reported as unreadable later."""
    import glob
    import os

    from seglab.output_names import check_outputs, common_root, output_names

    found: list[tuple[Path, bool]] = []  # (path, exists)
    roots: list[Path] = []
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            images = [p for p in sorted(path.rglob("*")) if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()]
            roots += [path] if images else []
            found += [(p, True) for p in images]
        elif path.exists():
            roots.append(path.parent)
            found.append((path, True))
        else:
            matches = [Path(m) for m in sorted(glob.glob(item, recursive=True)) if Path(m).is_file()]
            roots += [m.parent for m in matches]
            found += [(m, True) for m in matches] or [(path, False)]
    unique: dict[str, tuple[Path, bool]] = {}
    for path, exists in found:
        unique.setdefault(os.path.abspath(path) if exists else str(path), (path, exists))
    files = [path for path, exists in unique.values() if exists]
    names = output_names(files, common_root(roots)) if files else []
    if out_dir is not None:
        check_outputs(files, names, [(out_dir, "{}.png"), (out_dir, "{}_overlay.png")])
    named = iter(names)
    return [(path, next(named) if exists else path.stem) for path, exists in unique.values()]


def infer_files(
    model: nn.Module,
    inputs: Sequence[str],
    out_dir: str | Path,
    opacity: float = 0.5,
    tta: bool = False,
    tta_scales: Sequence[float] | None = None,
    amp_dtype: torch.dtype | None = None,
) -> tuple[list[Path], list[tuple[Path, str]]]:
    """Write ``NAME.png`` (palette-indexed labels) and ``NAME_overlay.png`` per input; returns (written, failed).

    NAME mirrors the input's path (``expand_inputs``); a name clash fails before the first image is read.
    Images go through the model ``test_dataloader.batch_size`` at a time (equal sizes batched together), with
    BatchNorm folded unless the config says ``test_cfg.fold_bn=False``, and Winograd 3x3 convolutions on CPU
    unless it says ``test_cfg.winograd=False``."""
    from seglab.errors import SeglabError
    from seglab.progress import progress
    from seglab.visualize import overlay, save_label_png

    out_dir = Path(out_dir)
    classes, palette = model.dataset_meta["classes"], model.dataset_meta["palette"]
    written, failed = [], []
    files = expand_inputs(inputs, out_dir)
    cfg = getattr(model, "cfg", None) or {}
    batch_size = int((cfg.get("test_dataloader") or {}).get("batch_size", 1)) if isinstance(model, nn.Module) else 1
    fold_bn, winograd = wants_fold(cfg), wants_winograd(cfg)  # as for seglab test
    pending: list[tuple[str, np.ndarray]] = []

    def flush() -> None:
        images = [img for _, img in pending]
        if isinstance(model, nn.Module):
            found = inference_model(
                model, images, tta, tta_scales, max(batch_size, 1), fold_bn, amp_dtype, winograd=winograd
            )
            labels = [r["pred_sem_seg"].cpu().numpy() for r in found]
        else:  # an exported model: seglab.deploy.OnnxSegmentor
            labels = [model.predict_labels(img) for img in images]
        for (name, img), label in zip(pending, labels):
            label = label.astype(np.uint8)
            save_label_png(label, palette, out_dir / f"{name}.png")
            write_image(out_dir / f"{name}_overlay.png", overlay(img, label, palette, classes, opacity))
            written.append(out_dir / f"{name}.png")
        pending.clear()

    for path, name in progress(files, "infer"):
        try:
            pending.append((name, _load(path)["img"]))
        except SeglabError as err:
            failed.append((path, str(err)))
            continue
        if len(pending) >= batch_size:
            flush()
    if pending:
        flush()
    return written, failed
