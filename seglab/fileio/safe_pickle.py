"""Loading a checkpoint without letting the file run code or change the running process.

``safe_load`` tries PyTorch's weights-only unpickler first. Files that carry other objects (MMEngine's
``message_hub``, NumPy scalars, config objects) are read again with ``SafeUnpickler``: it resolves only a
fixed allow-list (tensor-rebuild functions, storage types, dtypes, ``torch.Size``, ``Parameter``,
``OrderedDict``, plain builtins) and replaces every other name by an inert placeholder, never importing a
module; a set-state (BUILD) step runs only where a checkpoint legitimately has one (the ``_metadata`` of a
state_dict) and is dropped everywhere else, so no class or function can be written to. What was dropped
is reported once per load, naming the file.
"""

from __future__ import annotations

import _compat_pickle
import builtins
import functools
import logging
import pickle
import types
import zipfile
from collections import OrderedDict
from pathlib import Path
from typing import Any

import torch

from seglab.errors import CheckpointError
from seglab.fileio.sources import release_url

logger = logging.getLogger("seglab")

TORCHSCRIPT = "a TorchScript archive (a model saved with torch.jit.save)"
SHOWN = 6  # dropped names listed in the warning


class _Inert:
    """Stands in for anything a checkpoint names outside the allow-list; calling or filling it does nothing."""

    dotted = "?"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        pass

    def __call__(self, *args: Any, **kwargs: Any) -> _Inert:
        return type(self)()

    def __setstate__(self, state: Any) -> None:
        pass

    def __setitem__(self, key: Any, value: Any) -> None:
        pass

    def append(self, item: Any) -> None:
        pass

    def extend(self, items: Any) -> None:
        pass

    def add(self, item: Any) -> None:
        pass

    def __repr__(self) -> str:
        return f"<dropped {self.dotted}>"


def _without_hooks(rebuild: Any, at: int) -> Any:
    """``rebuild`` with its ``backward_hooks`` argument (always empty in files PyTorch writes) emptied."""

    @functools.wraps(rebuild)
    def call(*args: Any) -> Any:
        return rebuild(*args[:at], OrderedDict(), *args[at + 1 :])

    return call


def _parameter_with_state(drop: Any, data: Any, requires_grad: bool, hooks: Any, state: Any) -> torch.nn.Parameter:
    if state:
        drop("state of torch.nn.Parameter")
    return torch.nn.Parameter(data, requires_grad)


def _from_type_v2(drop: Any, func: Any, new_type: Any, args: Any, state: Any) -> Any:
    """A tensor (sub)class rebuilt by an allow-listed ``func``; only Tensor/Parameter kept, its state dropped."""
    tensor = func(*args)
    if new_type in (torch.Tensor, torch.nn.Parameter) and isinstance(tensor, torch.Tensor):
        tensor = tensor if type(tensor) is new_type else tensor.as_subclass(new_type)
    if state:
        drop("state of torch.Tensor")
    return tensor


def _latin1(drop: Any, text: Any, encoding: str = "latin1") -> bytes:
    """``_codecs.encode(text, 'latin1')``: how protocol-2 pickles write bytes; other codecs are dropped."""
    if isinstance(text, str) and encoding in ("latin1", "latin-1"):
        return text.encode("latin1")
    drop(f"_codecs.encode(..., {encoding!r})")
    return b""


@functools.lru_cache(maxsize=1)
def allowed() -> dict[tuple[str, str], Any]:
    """(module, name) -> object: everything a file may name and get the real thing for."""
    from torch import _utils

    table: dict[tuple[str, str], Any] = {
        ("torch._utils", "_rebuild_tensor"): _utils._rebuild_tensor,
        ("torch._utils", "_rebuild_tensor_v2"): _without_hooks(_utils._rebuild_tensor_v2, 5),
        ("torch._utils", "_rebuild_tensor_v3"): _without_hooks(_utils._rebuild_tensor_v3, 5),
        ("torch._utils", "_rebuild_parameter"): _without_hooks(_utils._rebuild_parameter, 2),
        ("torch._utils", "_rebuild_qtensor"): _without_hooks(_utils._rebuild_qtensor, 6),
        ("torch", "Size"): torch.Size,
        ("torch", "Tensor"): torch.Tensor,
        ("torch", "device"): torch.device,
        ("torch", "UntypedStorage"): torch.UntypedStorage,  # new dtypes (uint16, float8 ...) and legacy files
        ("torch.storage", "UntypedStorage"): torch.UntypedStorage,
        ("torch.nn.parameter", "Parameter"): torch.nn.Parameter,
        ("collections", "OrderedDict"): OrderedDict,
    }
    table.update({("torch", name): value for name, value in vars(torch).items() if isinstance(value, torch.dtype)})
    for name in ("set", "frozenset", "tuple", "list", "dict", "slice", "complex", "bytes", "bytearray"):
        table["builtins", name] = getattr(builtins, name)
    return table


class SafeUnpickler(pickle._Unpickler):  # the Python unpickler: its BUILD step can be replaced
    """Resolves only ``allowed()`` names (typed storages as PyTorch's own ``StorageType``); every other name
    becomes an inert placeholder and is recorded in ``dropped``; BUILD never writes to a class or function."""

    dropped: dict[str, None] = {}  # replaced per load by ``pickle_module``

    def find_class(self, module: str, name: str) -> Any:
        if self.proto < 3 and self.fix_imports:  # protocol 2 spells Python 3 names the Python 2 way
            module, name = _compat_pickle.NAME_MAPPING.get((module, name), (module, name))
            module = _compat_pickle.IMPORT_MAPPING.get(module, module)
        found = allowed().get((module, name))
        if found is not None:
            return found
        if module == "torch" and name in _typed_storages():
            from torch.serialization import StorageType

            return StorageType(name)  # an object holding the dtype, as torch.load's own unpickler returns
        if module == "torch._tensor" and name == "_rebuild_from_type_v2":
            return functools.partial(_from_type_v2, self._drop)
        if module == "torch._utils" and name == "_rebuild_parameter_with_state":
            return functools.partial(_parameter_with_state, self._drop)
        if (module, name) == ("_codecs", "encode"):
            return functools.partial(_latin1, self._drop)
        dotted = f"{module}.{name}"
        self._drop(dotted)
        return type("Dropped", (_Inert,), {"dotted": dotted, "__module__": __name__})

    def _drop(self, what: str) -> None:
        self.dropped[what] = None

    def load_build(self) -> None:
        state = self.stack.pop()
        target = self.stack[-1]
        if isinstance(target, _Inert) or (isinstance(target, type) and issubclass(target, _Inert)) or not state:
            return  # a placeholder (already reported), or nothing to set
        if type(target) is OrderedDict and isinstance(state, dict) and set(state) <= {"_metadata"}:
            target.__dict__.update(state)  # a state_dict's _metadata (module versions), as torch writes it
            return
        kind = "class" if isinstance(target, type) else "function" if callable(target) else "object"
        self.dropped[f"set-state on {kind} {_dotted(target)}"] = None

    dispatch = dict(pickle._Unpickler.dispatch)
    dispatch[pickle.BUILD[0]] = load_build


def _dotted(obj: Any) -> str:
    named = obj if isinstance(obj, type | types.FunctionType | types.BuiltinFunctionType) else type(obj)
    return f"{getattr(named, '__module__', '?')}.{getattr(named, '__qualname__', type(named).__name__)}"


@functools.lru_cache(maxsize=1)
def _typed_storages() -> frozenset[str]:
    from torch.storage import _storage_type_to_dtype_map

    return frozenset(_storage_type_to_dtype_map())


def pickle_module(dropped: dict[str, None]) -> types.SimpleNamespace:
    """A stand-in for the ``pickle`` module for ``torch.load``: its unpickler records into ``dropped``."""
    unpickler = type("SafeUnpickler", (SafeUnpickler,), {"dropped": dropped})
    return types.SimpleNamespace(
        Unpickler=unpickler, load=lambda f, **kw: unpickler(f, **kw).load(), __name__="seglab_safe_pickle"
    )


def safe_load(path: str | Path) -> Any:
    """Load a checkpoint file without executing anything it names; what the file's pickle carried beyond
    tensors and plain data is dropped, with one warning naming the file."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint '{path}' does not exist")
    looks_like = not_a_checkpoint(path)
    if looks_like == TORCHSCRIPT:
        raise CheckpointError(
            f"'{path}' is {TORCHSCRIPT}, not a checkpoint: open it with torch.jit.load, or give seglab the .pth "
            "checkpoint it was exported from (the file training saved, or a state_dict saved with torch.save)"
        )
    if looks_like:
        raise CheckpointError(unreadable(path, looks_like))
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        pass  # objects beyond tensors inside: read again with the safe unpickler
    except (RuntimeError, EOFError, OSError) as err:
        raise CheckpointError(unreadable(path, f"a damaged PyTorch file ({_first_line(err)})")) from None
    dropped: dict[str, None] = {}
    try:
        obj = torch.load(path, map_location="cpu", weights_only=False, pickle_module=pickle_module(dropped))
    except Exception as err:  # noqa: BLE001 — any failure here means an unreadable file
        raise CheckpointError(unreadable(path, f"a damaged PyTorch file ({_first_line(err)})")) from None
    if dropped:
        names = list(dropped)
        more = f" and {len(names) - SHOWN} more" if len(names) > SHOWN else ""
        logger.warning(
            f"checkpoint '{path}': dropped {len(names)} thing{'s' if len(names) > 1 else ''} its pickle names beyond "
            f"tensors and plain data, none of them run (the tensors loaded): {', '.join(names[:SHOWN])}{more}"
        )
    return obj


def _first_line(err: BaseException) -> str:
    """The first line of an error (PyTorch's own advice, such as passing weights_only=False, left out)."""
    text = str(err).strip().splitlines()[0] if str(err).strip() else ""
    return f"{type(err).__name__}: {text[:200]}" if text else type(err).__name__


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
                names = archive.namelist()
        except (zipfile.BadZipFile, OSError):
            return "a truncated zip file (the download stopped early)"
        if any(name == "constants.pkl" or name.endswith("/constants.pkl") for name in names):
            return TORCHSCRIPT
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
    """One line: the file, its size, what it looks like, and where to download it again."""
    url = release_url(path)
    source = f" from {url}" if url else ""
    return (
        f"checkpoint '{path}' ({path.stat().st_size:,} bytes) cannot be read: it looks like {looks_like}. "
        f"Download it again{source}"
    )
