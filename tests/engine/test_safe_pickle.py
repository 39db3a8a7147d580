"""A checkpoint's pickle can neither run code nor change the running process: crafted files (raw pickle
opcodes inside a real ``torch.save`` file) load their tensors only, the process is unchanged, and one
warning names the file and what was dropped. Also the messages for files that are not checkpoints."""

from __future__ import annotations

import logging
import pickle
import re
import struct
import sys
import types
import warnings
from collections import OrderedDict
from pathlib import Path

import pytest
import torch

from seglab.errors import CheckpointError
from seglab.fileio.checkpoint import load_checkpoint
from seglab.fileio.safe_pickle import safe_load


class Raw:
    """Pickle opcodes written into the stream as they are; each payload leaves one object on the stack."""

    def __init__(self, ops: bytes) -> None:
        self.ops = ops


class RawPickler(pickle._Pickler):
    dispatch = dict(pickle._Pickler.dispatch)
    dispatch[Raw] = lambda self, obj: self.write(obj.ops)


RAW_PICKLE = types.SimpleNamespace(Pickler=RawPickler, dump=pickle.dump, __name__="raw_pickle")


def name(module: str, attr: str) -> bytes:
    return f"c{module}\n{attr}\n".encode()  # GLOBAL: what the unpickler resolves with find_class


def text(value: str) -> bytes:
    data = value.encode()
    return b"X" + struct.pack("<I", len(data)) + data  # BINUNICODE


def set_attr(module: str, attr: str, key: str = "seglab_pwned", value: bytes = b"\x88") -> Raw:
    """GLOBAL module.attr, then BUILD with slot state {key: value}: setattr on the class/function itself."""
    return Raw(name(module, attr) + b"N}" + text(key) + value + b"s\x86b")


def call(module: str, attr: str, *args: str, as_list: bool = False) -> Raw:
    """GLOBAL module.attr, then REDUCE with string arguments (or one list of them)."""
    strings = b"".join(text(a) for a in args)
    arguments = b"(](" + strings + b"et" if as_list else b"(" + strings + b"t"
    return Raw(name(module, attr) + arguments + b"R")


def snapshot() -> dict:
    """Identity of every attribute of the torch classes, functions and modules a payload aims at."""
    rebuild = torch._utils._rebuild_tensor_v2
    targets = [torch.UntypedStorage, torch.TypedStorage, torch.FloatStorage, torch.Tensor, torch.nn.Parameter]
    targets += [torch.Size, OrderedDict, torch.storage, torch._utils, torch, rebuild]
    state = {repr(t): {k: id(v) for k, v in vars(t).items()} for t in targets}
    state["defaults"] = rebuild.__defaults__
    state["modules"] = sorted(sys.modules)
    return state


def payloads(tmp_path: Path) -> dict[Raw, str]:
    """Each attack, with what the warning must name for it."""
    marker = tmp_path / "pwned"
    (tmp_path / "seglab_evil_module.py").write_text(f"open({str(marker)!r}, 'w').close()\n")
    dropped_state = "set-state on"
    return {
        set_attr("torch", "FloatStorage"): dropped_state,
        set_attr("torch", "UntypedStorage"): dropped_state,
        set_attr("torch.storage", "UntypedStorage"): dropped_state,  # the name legacy files use
        set_attr("torch", "TypedStorage"): "torch.TypedStorage",
        set_attr("torch", "Tensor"): dropped_state,
        set_attr("torch.nn.parameter", "Parameter"): dropped_state,
        set_attr("torch", "Size"): dropped_state,
        set_attr("torch", "float32"): dropped_state,
        set_attr("collections", "OrderedDict"): dropped_state,
        set_attr("torch._utils", "_rebuild_tensor_v2", "__defaults__", b")"): dropped_state,
        Raw(name("torch", "_dynamo")): "torch._dynamo",  # a lazily imported torch submodule
        call("os", "system", f"touch {marker}"): "os.system",
        call("posix", "system", f"touch {marker}"): "posix.system",
        call("builtins", "eval", f"open({str(marker)!r}, 'w')"): "builtins.eval",
        call("__builtin__", "exec", f"open({str(marker)!r}, 'w')"): "builtins.exec",
        call("subprocess", "Popen", "touch", str(marker), as_list=True): "subprocess.Popen",
        call("importlib", "import_module", "seglab_evil_module"): "importlib.import_module",
        Raw(name("seglab_evil_module", "anything")): "seglab_evil_module.anything",
        call("builtins", "getattr", "torch", "save"): "builtins.getattr",
        call("torch.storage", "_load_from_bytes", "x"): "torch.storage._load_from_bytes",  # a nested torch.load
    }


def warnings_about(path: Path, log) -> list[str]:
    messages = [r.getMessage() for r in log.records if r.levelno == logging.WARNING]
    log.clear()
    assert all(f"'{path}'" in m for m in messages), messages
    return messages


@pytest.mark.parametrize("zipped", [True, False], ids=["zip", "legacy"])
def test_a_crafted_checkpoint_loads_tensors_only_and_leaves_the_process_unchanged(
    zipped, tmp_path, monkeypatch, seglab_log
):
    monkeypatch.syspath_prepend(str(tmp_path))  # where an import would find the payload's module
    attacks = payloads(tmp_path)
    weights = {"w": torch.arange(4.0), "b": torch.ones(2, dtype=torch.uint16 if zipped else torch.int64)}

    def save(path: Path, meta: dict) -> Path:
        torch.save(
            {"state_dict": weights, "meta": meta}, path, pickle_module=RAW_PICKLE, _use_new_zipfile_serialization=zipped
        )
        return path

    safe_load(save(tmp_path / "warm.pth", {"x": Raw(name("numpy", "ndarray"))}))  # the loader's own lazy imports
    seglab_log.clear()
    before = snapshot()
    for number, (attack, named) in enumerate(attacks.items()):  # one file per attack: each must load
        path = save(tmp_path / f"attack_{number}.pth", {"payload": attack})
        loaded = safe_load(path)
        assert snapshot() == before and not (tmp_path / "pwned").exists(), named
        assert torch.equal(loaded["state_dict"]["w"], weights["w"]) and not isinstance(
            loaded["meta"]["payload"], torch.Tensor
        )
        messages = warnings_about(path, seglab_log)
        assert len(messages) == 1 and named in messages[0] and "dropped 1 thing " in messages[0], (named, messages)
    path = save(tmp_path / "all.pth", {str(i): attack for i, attack in enumerate(attacks)})
    loaded = safe_load(path)  # all at once: one warning, a few names and the count
    assert snapshot() == before and "seglab_evil_module" not in sys.modules and not (tmp_path / "pwned").exists()
    assert set(loaded["state_dict"]) == {"w", "b"} and loaded["state_dict"]["b"].dtype == weights["b"].dtype
    messages = warnings_about(path, seglab_log)
    assert len(messages) == 1 and re.search(r"dropped 1[5-9] things .* and 1[0-3] more$", messages[0]), messages


def test_the_mmengine_fixture_loads_and_its_message_hub_is_dropped_with_one_warning(reference, seglab_log):
    path = reference / "tiny_dlv3p_mmseg_iter_4.pth"
    loaded = safe_load(path)
    assert len(loaded["state_dict"]) > 100 and getattr(loaded["state_dict"], "_metadata", None)
    warnings = [r.getMessage() for r in seglab_log.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and f"'{path}'" in warnings[0]
    assert "mmengine.logging.history_buffer.HistoryBuffer" in warnings[0] and "numpy" in warnings[0]


def test_a_torchscript_file_is_named_as_such_with_what_to_do(tmp_path):
    path = tmp_path / "model.pt"
    with warnings.catch_warnings():  # torch 2.13 deprecates TorchScript; people still have such files
        warnings.simplefilter("ignore")
        torch.jit.save(torch.jit.script(torch.nn.ReLU()), path)
    with pytest.raises(CheckpointError) as err:
        safe_load(path)
    message = str(err.value)
    assert "\n" not in message and f"'{path}' is a TorchScript archive" in message
    assert "torch.jit.load" in message and "weights_only" not in message and "damaged" not in message


def test_a_checkpoint_without_tensors_names_the_file(tmp_path):
    path = tmp_path / "no_tensors.pth"
    torch.save({"state_dict": {"step": 3}, "meta": {}}, path)
    with pytest.raises(CheckpointError, match=f"checkpoint '{re.escape(str(path))}' holds no tensors"):
        load_checkpoint(torch.nn.Linear(1, 1), path)
    torch.save([1, 2], path)
    with pytest.raises(CheckpointError, match=f"checkpoint '{re.escape(str(path))}' holds no state_dict"):
        load_checkpoint(torch.nn.Linear(1, 1), path)


def test_a_plain_checkpoint_loads_with_no_warning(tmp_path, seglab_log):
    path = tmp_path / "plain.pth"
    torch.save({"state_dict": torch.nn.Linear(2, 2).state_dict(), "meta": {"iter": 4, "name": b"x"}}, path)
    loaded = safe_load(path)
    assert loaded["meta"] == {"iter": 4, "name": b"x"}
    assert not [r for r in seglab_log.records if r.levelno >= logging.WARNING]
