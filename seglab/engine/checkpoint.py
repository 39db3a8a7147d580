"""Reading and writing checkpoints in MMSegmentation's layout, safely.

Loading never runs code from the file: it tries PyTorch's weights-only unpickler first, and for
files that carry other objects (MMEngine's ``message_hub``, NumPy scalars, config objects) it
unpickles with a loader that replaces every class or function the file names by an inert
placeholder, so only tensors and plain containers come out. Saving writes a temporary file and
renames it, so an interrupted save never leaves a truncated checkpoint behind.
"""

from __future__ import annotations

import errno
import logging
import os
import pickle
import re
import shutil
import tempfile
import types
import zipfile
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from seglab.errors import CheckpointError

logger = logging.getLogger("seglab")

THIRD_PARTY = "https://download.openmmlab.com/pretrain/third_party"
OPEN_MMLAB_URLS = {  # the names shipped configs use, with MMEngine's URLs for them
    "resnet18_v1c": f"{THIRD_PARTY}/resnet18_v1c-b5776b93.pth",
    "resnet50_v1c": f"{THIRD_PARTY}/resnet50_v1c-2cccc1ad.pth",
    "resnet101_v1c": f"{THIRD_PARTY}/resnet101_v1c-e67eebb6.pth",
    "resnest50": f"{THIRD_PARTY}/resnest50_d2-7497a55b.pth",
    "resnest101": f"{THIRD_PARTY}/resnest101_d2-f3b931b2.pth",
    "resnest200": f"{THIRD_PARTY}/resnest200_d2-ca88e41f.pth",
    "resnext50_32x4d": f"{THIRD_PARTY}/resnext50-32x4d-0ab1a123.pth",
    "resnext101_32x4d": f"{THIRD_PARTY}/resnext101_32x4d-a5af3160.pth",
    "resnext101_64x4d": f"{THIRD_PARTY}/resnext101_64x4d-ee2c6f71.pth",
    "msra/hrnetv2_w18_small": f"{THIRD_PARTY}/hrnetv2_w18_small-b5a04e21.pth",
    "msra/hrnetv2_w18": f"{THIRD_PARTY}/hrnetv2_w18-00eb2006.pth",
    "msra/hrnetv2_w48": f"{THIRD_PARTY}/hrnetv2_w48-d2186c55.pth",
    "contrib/mobilenet_v3_large": f"{THIRD_PARTY}/mobilenet_v3_large-bc2c3fd3.pth",
    "contrib/mobilenet_v3_small": f"{THIRD_PARTY}/mobilenet_v3_small-47085aa1.pth",
}
MMCLS_URLS = {  # mmcls://NAME: an MMClassification model; its backbone.* tensors are the backbone's weights
    "mobilenet_v2": "https://download.openmmlab.com/mmclassification/v0/mobilenet_v2/"
    "mobilenet_v2_batch256_imagenet_20200708-3b2dc3af.pth",
}
TORCHVISION_URLS = {  # ImageNet weights of plain ResNets, named as torchvision's files
    "resnet18": "https://download.pytorch.org/models/resnet18-5c106cde.pth",
    "resnet34": "https://download.pytorch.org/models/resnet34-333f7ec4.pth",
    "resnet50": "https://download.pytorch.org/models/resnet50-19c8e357.pth",
    "resnet101": "https://download.pytorch.org/models/resnet101-5d3b4d8f.pth",
    "resnet152": "https://download.pytorch.org/models/resnet152-b121ed2d.pth",
}
SCHEMES = {"open-mmlab://": OPEN_MMLAB_URLS, "torchvision://": TORCHVISION_URLS, "mmcls://": MMCLS_URLS}
MMSEG_RELEASE = "https://download.openmmlab.com/mmsegmentation/v0.5"
_RELEASE_NAME = re.compile(r"^(?P<config>(?P<family>[a-z0-9]+)_.+?)_\d{8}_\d{6}-[0-9a-f]{8}\.pth$")


# ----------------------------------------------------------------------------- safe loading
class _Inert:
    """Stands in for any object a checkpoint names; calling or filling it does nothing."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        pass

    def __setstate__(self, state: Any) -> None:
        pass

    def __call__(self, *args: Any, **kwargs: Any) -> _Inert:
        return _Inert()


_TORCH_REBUILD = {
    "_rebuild_tensor",
    "_rebuild_tensor_v2",
    "_rebuild_tensor_v3",
    "_rebuild_parameter",
    "_rebuild_parameter_with_state",
    "_rebuild_from_type_v2",
    "_rebuild_qtensor",
    "_rebuild_device_tensor_from_numpy",
}


class _SafeUnpickler(pickle.Unpickler):
    """Resolves only tensor-rebuilding functions, dtypes and plain containers; all else is inert."""

    def find_class(self, module: str, name: str) -> Any:
        if module in ("torch._utils", "torch._tensor") and name in _TORCH_REBUILD:
            return super().find_class(module, name)
        if module == "torch" and (name.endswith("Storage") or isinstance(getattr(torch, name, None), torch.dtype)):
            return super().find_class(module, name)
        if module == "torch" and name == "Size":
            return torch.Size
        if module == "torch.nn.parameter" and name == "Parameter":
            return torch.nn.Parameter
        if (module, name) == ("collections", "OrderedDict"):
            return OrderedDict
        if module == "builtins" and name in ("set", "frozenset", "tuple", "list", "dict", "slice", "complex"):
            return super().find_class(module, name)
        return _Inert


_safe_pickle = types.SimpleNamespace(
    Unpickler=_SafeUnpickler, load=lambda f, **kw: _SafeUnpickler(f, **kw).load(), __name__="seglab_safe_pickle"
)


def safe_load(path: str | Path) -> Any:
    """Load a checkpoint file without executing anything it names."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint '{path}' does not exist")
    looks_like = not_a_checkpoint(path)
    if looks_like:
        raise CheckpointError(unreadable(path, looks_like))
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        pass  # objects beyond tensors inside: fall back to the inert loader
    except (RuntimeError, EOFError, OSError) as err:
        raise CheckpointError(unreadable(path, f"a damaged PyTorch file ({err})")) from None
    try:
        return torch.load(path, map_location="cpu", weights_only=False, pickle_module=_safe_pickle)
    except Exception as err:  # noqa: BLE001 — any failure here means an unreadable file
        raise CheckpointError(unreadable(path, f"a damaged PyTorch file ({type(err).__name__}: {err})")) from None


def not_a_checkpoint(path: Path) -> str | None:
    """What a file that cannot be a PyTorch checkpoint looks like (None when it may be one)."""
    size = path.stat().st_size
    if size == 0:
        return "an empty file"
    with open(path, "rb") as f:
        head = f.read(512)
    if head.startswith(b"PK\x03\x04"):
        try:
            with zipfile.ZipFile(path) as archive:
                archive.infolist()
        except (zipfile.BadZipFile, OSError):
            return "a truncated zip file (the download stopped early)"
        return None
    if head.startswith(b"\x80"):
        return None  # a legacy (non-zip) pickle checkpoint
    text = head.lstrip().lower()
    if text.startswith((b"<!doctype", b"<html", b"<?xml", b"<head", b"<body")):
        return "an HTML page (a web page saved in place of the file, often an error or sign-in page)"
    if text.startswith((b"{", b"[")):
        return "a JSON text file"
    if all(32 <= b < 127 or b in (9, 10, 13) for b in head):
        return "a text file"
    return "a file that is not a PyTorch checkpoint"


def unreadable(path: Path, looks_like: str) -> str:
    url = release_url(path)
    source = f" from {url}" if url else ""
    return (
        f"checkpoint '{path}' ({path.stat().st_size:,} bytes) cannot be read: it looks like {looks_like}. "
        f"Download it again{source}"
    )


def extract_state_dict(obj: Any) -> dict[str, torch.Tensor]:
    """The tensors of a checkpoint (MMSegmentation 0.x/1.x ``state_dict`` or a bare dict), ``module.`` stripped."""
    if isinstance(obj, dict) and isinstance(obj.get("state_dict"), dict):
        obj = obj["state_dict"]
    elif isinstance(obj, dict) and isinstance(obj.get("model"), dict):
        obj = obj["model"]
    if not isinstance(obj, dict):
        raise CheckpointError("the checkpoint holds no state_dict")
    state = {}
    for key, value in obj.items():
        if isinstance(value, torch.Tensor):
            state[key[len("module.") :] if key.startswith("module.") else key] = value
    if not state:
        raise CheckpointError("the checkpoint's state_dict holds no tensors")
    return state


# ----------------------------------------------------------------------------- locating files
def release_url(path: str | Path) -> str | None:
    """The download URL of a published MMSegmentation checkpoint, recognised by its file name."""
    match = _RELEASE_NAME.match(Path(path).name)
    if not match:
        return None
    return f"{MMSEG_RELEASE}/{match['family']}/{match['config']}/{Path(path).name}"


def hub_cache_path(url: str) -> Path:
    return Path(torch.hub.get_dir()) / "checkpoints" / Path(url).name


def named_url(source: str) -> str:
    """The URL behind ``open-mmlab://NAME``, ``torchvision://NAME`` or ``mmcls://NAME``; other sources as given."""
    for scheme, table in SCHEMES.items():
        if source.startswith(scheme):
            name = source[len(scheme) :]
            if name not in table:
                raise CheckpointError(f"unknown pretrained name '{source}'; known: {sorted(table)}")
            return table[name]
    return source


def read_pretrained(source: str) -> dict[str, torch.Tensor]:
    """The tensors of a pre-trained checkpoint; for ``mmcls://`` only its ``backbone.*`` ones, prefix
    stripped, as MMEngine reads such a classification model."""
    state = extract_state_dict(safe_load(fetch(source)))
    if source.startswith("mmcls://"):
        state = {k[len("backbone.") :]: v for k, v in state.items() if k.startswith("backbone.")}
    return state


def fetch(source: str) -> Path:
    """A local path for ``source``: a file, an http(s) URL (torch.hub cache) or a named checkpoint
    (``open-mmlab://NAME``, ``torchvision://NAME``, ``mmcls://NAME``)."""
    source = named_url(source)
    if not source.startswith(("http://", "https://")):
        path = Path(source).expanduser()
        if not path.is_file():
            url = release_url(path)
            hint = f"; it is published at {url} — download it to that path" if url else ""
            raise CheckpointError(f"checkpoint '{path}' does not exist{hint}")
        return path
    cached = hub_cache_path(source)
    if cached.is_file():
        return cached
    cached.parent.mkdir(parents=True, exist_ok=True)
    try:
        logger.info(f"downloading {source} to {cached}")
        torch.hub.download_url_to_file(source, str(cached), progress=True)
    except Exception as err:  # noqa: BLE001 — network errors come in many types
        raise CheckpointError(
            f"cannot download {source} ({type(err).__name__}). Place the file at {cached} by hand, "
            "or set model.pretrained=None (and no init_cfg) to train the backbone from scratch"
        ) from None
    return cached


# ----------------------------------------------------------------------------- loading into a model
@dataclass
class LoadReport:
    """What a load did: keys the model lacks in the file, extra keys, and shape-mismatched (skipped) keys."""

    missing: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    skipped: list[tuple[str, tuple, tuple]] = field(default_factory=list)
    loaded: int = 0

    def table(self) -> str:
        lines = [f"loaded {self.loaded} tensors"]
        if self.skipped:
            lines.append("skipped (shape in checkpoint != shape in model):")
            lines += [f"  {k}: {tuple(a)} != {tuple(b)}" for k, a, b in self.skipped]
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
    for key, value in state.items():
        if key not in own:
            report.unexpected.append(key)
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
    return apply_checkpoint(model, safe_load(fetch(str(source))), source, strict, prefix)


def apply_checkpoint(
    model: nn.Module, checkpoint: Any, source: str | Path, strict: bool = False, prefix: str = ""
) -> LoadReport:
    """Load the tensors of an already-read checkpoint into ``model``; logs what was skipped."""
    state = extract_state_dict(checkpoint)
    if prefix:
        state = {k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix)}
    report = load_state_dict(model, state, strict)
    for key, got, want in report.skipped:
        logger.warning(f"skipped {key}: checkpoint shape {got} != model shape {want}")
    logger.info(f"load checkpoint from {source}\n{report.table()}")
    return report


def read_checkpoint(source: str | Path) -> dict:
    """The whole checkpoint (meta, state_dict, optimizer ...) as plain data."""
    obj = safe_load(fetch(str(source)))
    if not isinstance(obj, dict):
        raise CheckpointError(f"checkpoint '{source}' is not a dict")
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
