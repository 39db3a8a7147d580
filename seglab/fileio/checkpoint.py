"""Reading and writing checkpoints in MMSegmentation's layout, safely.

Every source (a path, a URL, ``open-mmlab://``/``torchvision://``/``mmcls://`` names) goes through
``fetch``: URLs are downloaded and checked against the hash prefix of their file name by
``seglab.fileio.download``, and files are read by ``seglab.fileio.safe_pickle.safe_load``, which never runs
code from the file nor lets it change the process. Saving writes a temporary file and renames it, so an
interrupted save never leaves a truncated checkpoint behind.
"""

from __future__ import annotations

import errno
import logging
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from seglab.errors import CheckpointError
from seglab.fileio.band_adaptation import adapt_input_weight, adapted_input_layer, input_conv_keys
from seglab.fileio.download import DownloadError, cached_download
from seglab.fileio.hub import is_hf_uri
from seglab.fileio.hub_models import (
    convert_for_model,
    fetch_hub_source,
    is_model_folder,
    read_model_folder,
    weights_file,
)
from seglab.fileio.pretrained import fetch_pretrained, from_hub_cache, read_safetensors
from seglab.fileio.safe_pickle import not_a_checkpoint, safe_load
from seglab.fileio.sources import (
    TORCHVISION_URLS,
    PretrainedSource,
    hub_cache_path,
    is_url,
    known,
    named_url,
    release_url,
)

__all__ = ["TORCHVISION_URLS", "hub_cache_path", "named_url", "not_a_checkpoint", "release_url", "safe_load"]
logger = logging.getLogger("seglab")
FROM_SCRATCH = "or set model.pretrained=None (and no init_cfg) to train the backbone from scratch"


def extract_state_dict(obj: Any, source: str | Path = "") -> dict[str, torch.Tensor]:
    """The tensors of a checkpoint (MMSegmentation 0.x/1.x ``state_dict`` or a bare dict), ``module.`` stripped;
    ``source`` names the file in errors."""
    name = f"checkpoint '{source}'" if source else "the checkpoint"
    if isinstance(obj, dict) and isinstance(obj.get("state_dict"), dict):
        obj = obj["state_dict"]
    elif isinstance(obj, dict) and isinstance(obj.get("model"), dict):
        obj = obj["model"]
    if not isinstance(obj, dict):
        raise CheckpointError(f"{name} holds no state_dict (it is a {type(obj).__name__}): pass a model checkpoint")
    state = {}
    for key, value in obj.items():
        if isinstance(value, torch.Tensor):
            state[key[len("module.") :] if key.startswith("module.") else key] = value
    if not state:
        keys = ", ".join(map(str, list(obj)[:5])) or "none"
        raise CheckpointError(
            f"{name} holds no tensors in its state_dict (keys: {keys}): it is not a model's weights; "
            "pass the .pth file training saved (or a state_dict saved with torch.save)"
        )
    return state


# ----------------------------------------------------------------------------- locating files
def read_pretrained(source: str) -> dict[str, torch.Tensor]:
    """The tensors of a pre-trained checkpoint; for ``mmcls://`` only its ``backbone.*`` ones, prefix
    stripped, as MMEngine reads such a classification model. A file that came from the Hub is converted
    from its layout (timm, transformers) into MMSegmentation's keys by its family's converter."""
    try:
        path = fetch(source)
    except DownloadError as err:
        raise DownloadError(f"{err}, {FROM_SCRATCH}") from None
    registered = known(source)
    if registered is not None and registered.hub is not None and from_hub_cache(path, registered):
        return convert_hub_state(registered, read_state(path, source))
    if path.is_dir():  # a local Hub folder: its weights file; the backbone's adapt_pretrained reads its layout
        path = weights_file(path)
    state = read_state(path, source)
    if source.startswith("mmcls://"):
        state = {k[len("backbone.") :]: v for k, v in state.items() if k.startswith("backbone.")}
    return state


def read_state(path: Path, source: str | Path = "") -> dict[str, torch.Tensor]:
    """The tensors of a checkpoint file: safetensors read as plain data, anything else through safe_load."""
    if path.suffix == ".safetensors":
        return read_safetensors(path)
    return extract_state_dict(safe_load(path), source)


def convert_hub_state(source: PretrainedSource, state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """``state`` (a Hub file of ``source``) in MMSegmentation's keys; logs what was converted and dropped."""
    converted = source.convert(state) if source.convert else state
    kept = {id(value) for value in converted.values()}
    rebuilt = sorted(key for key, value in state.items() if id(value) not in kept)
    logger.info(
        f"pre-trained '{source.name}' from the Hub ({source.hub.short}, {source.hub.layout} layout): converted "
        f"{len(converted)} tensors; {len(rebuilt)} of the file's were not passed on as they are (fused, "
        f"transposed, or with no place in the model): {', '.join(rebuilt[:10])}"
    )
    return converted


def fetch(source: str) -> Path:
    """A local path for ``source``: a file, a registered pre-trained checkpoint (a local copy, the Hub, then its
    original URL: ``seglab.fileio.pretrained``), a URL (downloaded to the torch.hub cache and checked there on
    every use) or a named checkpoint (``open-mmlab://NAME``, ``torchvision://NAME``, ``mmcls://NAME``)."""
    if is_hf_uri(str(source)):  # hf://USER/REPO[/FILE]: the Hub cache's file or model folder
        return fetch_hub_source(str(source))
    if is_model_folder(source):  # a folder holding what the Hub serves (config.json + weights)
        return Path(source).expanduser()
    registered = known(source)
    if registered is not None and not Path(str(source)).expanduser().is_file():
        return fetch_pretrained(registered)
    source = named_url(source)
    if is_url(source):
        return cached_download(source)[0]
    path = Path(source).expanduser()
    if not path.is_file():
        url = release_url(path)
        hint = f"; it is published at {url} — download it to that path" if url else ""
        raise CheckpointError(f"checkpoint '{path}' does not exist{hint}")
    return path


# ----------------------------------------------------------------------------- loading into a model
@dataclass
class LoadReport:
    """What a load did: keys the model lacks in the file, extra keys, and shape-mismatched (skipped) keys."""

    missing: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    skipped: list[tuple[str, tuple, tuple]] = field(default_factory=list)
    adapted: list[tuple[str, tuple, tuple, str]] = field(default_factory=list)  # layers reading the image
    first_conv: str | None = None  # the model's first convolution weight, which reads the image
    loaded: int = 0

    def table(self) -> str:
        lines = [f"loaded {self.loaded} tensors"]
        if self.skipped:
            lines.append("skipped (shape in checkpoint != shape in model):")
            lines += [f"  {k}: {tuple(a)} != {tuple(b)}" for k, a, b in self.skipped]
        for key, got, want, rule in self.adapted:
            first = key == self.first_conv
            layer, also = ("the first layer", "") if first else ("the layer", " (this layer also reads the image)")
            lines.append(f"adapted {layer} {key} from {got[1]} to {want[1]} bands {got} -> {want}: {rule}{also}")
        if self.missing:
            lines.append(f"missing in checkpoint ({len(self.missing)}): " + ", ".join(self.missing[:20]))
        if self.unexpected:
            lines.append(f"unexpected in checkpoint ({len(self.unexpected)}): " + ", ".join(self.unexpected[:20]))
        return "\n".join(lines)


def load_state_dict(module: nn.Module, state: dict[str, torch.Tensor], strict: bool = False) -> LoadReport:
    """Copy matching tensors into ``module``; shape mismatches are skipped and reported."""
    own = module.state_dict()
    report = LoadReport()
    usable = {}
    image_keys = input_conv_keys(module)
    report.first_conv = image_keys[0] if image_keys else None
    for key, value in state.items():
        if key not in own:
            report.unexpected.append(key)
        elif tuple(own[key].shape) != tuple(value.shape) and (
            rule := adapted_input_layer(key, value, own[key], image_keys)
        ):
            usable[key] = adapt_input_weight(value, own[key].shape[1])
            report.adapted.append((key, tuple(value.shape), tuple(own[key].shape), rule))
        elif tuple(own[key].shape) != tuple(value.shape):
            report.skipped.append((key, tuple(value.shape), tuple(own[key].shape)))
        else:
            usable[key] = value
    report.missing = [k for k in own if k not in state]
    if strict and (report.missing or report.unexpected or report.skipped):
        raise CheckpointError("checkpoint does not match the model exactly:\n" + report.table())
    module.load_state_dict(usable, strict=False)
    report.loaded = len(usable)
    return report


def load_checkpoint(model: nn.Module, source: str | Path, strict: bool = False, prefix: str = "") -> LoadReport:
    """Load weights from a path or URL into ``model`` and return the report (also logged).

    ``prefix`` keeps only keys under it (e.g. ``backbone.``) and strips it."""
    return apply_checkpoint(model, read_checkpoint(source), source, strict, prefix)


def apply_checkpoint(
    model: nn.Module, checkpoint: Any, source: str | Path, strict: bool = False, prefix: str = ""
) -> LoadReport:
    """Load the tensors of an already-read checkpoint into ``model``; logs what was skipped. A Hub model's
    tensors (transformers layout) are first converted into the model's keys by its families' key maps, and a
    model with an ``adapt_checkpoint(state) -> state`` method converts a layout of its own (the EoMT authors')."""
    state = extract_state_dict(convert_for_model(model, checkpoint), source)
    adapt = getattr(model, "adapt_checkpoint", None)
    state = adapt(state) if callable(adapt) else state
    if prefix:
        state = {k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix)}
    report = load_state_dict(model, state, strict)
    for key, got, want in report.skipped:
        logger.warning(f"skipped {key}: checkpoint shape {got} != model shape {want}")
    logger.info(f"load checkpoint from {source}\n{report.table()}")
    return report


def read_checkpoint(source: str | Path) -> dict:
    """The whole checkpoint (meta, state_dict, optimizer ...) as plain data."""
    path = fetch(str(source))
    if path.is_dir():
        return read_model_folder(path, source)
    obj = {"state_dict": read_safetensors(path)} if path.suffix == ".safetensors" else safe_load(path)
    if not isinstance(obj, dict):
        raise CheckpointError(
            f"checkpoint '{source}' holds no state_dict (it is a {type(obj).__name__}): pass a model checkpoint"
        )
    return obj


# ----------------------------------------------------------------------------- saving
SAVE_FAILURES = {  # errno -> (what happened, the fix)
    errno.ENOSPC: ("the disk is full", "free space there or point work_dir (or checkpoint out_dir) at another disk"),
    errno.EDQUOT: ("the disk quota is exceeded", "free space there or point work_dir at another disk"),
    errno.EACCES: ("permission denied", "make the folder writable or choose another work_dir"),
    errno.EPERM: ("permission denied", "make the folder writable or choose another work_dir"),
    errno.EROFS: ("the file system is read-only", "choose a work_dir on a writable disk"),
}


def save_checkpoint(obj: dict, path: str | Path) -> Path:
    """Write ``obj`` to ``path`` atomically (temp file in the same folder, then rename).

    A failed write (disk full, no permission) removes the temp file and raises one CheckpointError that
    says how many bytes the checkpoint needs and how many are free; files already there stay as they were."""
    path = Path(path)
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        with os.fdopen(fd, "wb") as f:
            sink = _KeepWriteError(f)
            try:
                torch.save(obj, sink)
            except RuntimeError:
                if sink.error is not None:  # torch's zip writer reports a failed write as a RuntimeError
                    raise sink.error from None
                raise
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as err:
        if tmp:
            Path(tmp).unlink(missing_ok=True)
        raise CheckpointError(save_failure(path, obj, err)) from None
    except BaseException:
        if tmp:
            Path(tmp).unlink(missing_ok=True)
        raise
    return path


class _KeepWriteError:
    """Passes writes to ``file`` and keeps the OSError (ENOSPC, EDQUOT ...) a write raised."""

    def __init__(self, file: Any) -> None:
        self.file = file
        self.error: OSError | None = None

    def write(self, data: bytes) -> int:
        try:
            return self.file.write(data)
        except OSError as err:
            self.error = err
            raise

    def flush(self) -> None:
        self.file.flush()


def serialized_size(obj: Any) -> int:
    """The bytes ``torch.save(obj)`` writes, counted without storing them."""

    class Counter:
        size = 0

        def write(self, data: bytes) -> int:
            self.size += len(data)
            return len(data)

        def flush(self) -> None:
            pass

    counter = Counter()
    torch.save(obj, counter)
    return counter.size


def save_failure(path: Path, obj: Any, err: OSError) -> str:
    what, fix = SAVE_FAILURES.get(err.errno, (err.strerror or str(err), "check the folder and the disk"))
    folder = next((p for p in [path.parent, *path.parent.parents] if p.exists()), Path("/"))
    needed, free = serialized_size(obj), shutil.disk_usage(folder).free
    return (
        f"cannot save checkpoint '{path}': {what} (the checkpoint needs {needed:,} bytes = {needed / 2**20:.1f} MiB; "
        f"{free:,} bytes are free in '{folder}'). No existing checkpoint or last_checkpoint was changed: "
        f"{fix}, then continue with --resume"
    )


def write_marker(work_dir: Path, checkpoint: Path) -> None:
    """Point ``work_dir/last_checkpoint`` at ``checkpoint``, atomically: a full disk leaves the old one."""
    save_text(work_dir / "last_checkpoint", str(Path(checkpoint).resolve()))


def save_text(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.replace(tmp, path)
    except OSError as err:
        Path(tmp).unlink(missing_ok=True)
        what, fix = SAVE_FAILURES.get(err.errno, (err.strerror or str(err), "check the folder and the disk"))
        raise CheckpointError(f"cannot write '{path}': {what}; its previous content is unchanged: {fix}") from None
