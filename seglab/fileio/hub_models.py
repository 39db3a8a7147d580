"""Whole models as the Hub serves them: ``hf://USER/REPO`` or a local folder holding ``config.json`` and
``model.safetensors`` (or ``pytorch_model.bin``), read as a checkpoint whose tensors are still in the Hub's
(transformers) layout. The models layer installs the converter (``set_model_converter``) that turns them into
the config's model's keys when the checkpoint is applied; this layer never imports a model family.

``pytorch_model.bin`` is read with the safe unpickler; safetensors files are plain data.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import nn

from seglab.errors import CheckpointError
from seglab.fileio import hub
from seglab.fileio.pretrained import read_safetensors
from seglab.fileio.safe_pickle import safe_load

CONFIG_FILE = "config.json"
WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")
HUB_META = "hub_model"  # checkpoint["meta"][HUB_META] = {"config": config.json, "source": what the user named}
Converter = Callable[[nn.Module, dict, dict, str], dict]
_converter: Converter | None = None


def set_model_converter(converter: Converter) -> None:
    """Install ``converter(model, hub_config, hub_state, source) -> state in the model's keys`` (the models
    layer passes it in, so fileio needs no model family)."""
    global _converter
    _converter = converter


def is_model_folder(path: str | Path) -> bool:
    """Whether ``path`` is a folder holding a model as the Hub serves it (a weights file, usually config.json)."""
    path = Path(path).expanduser()
    return path.is_dir() and any((path / name).is_file() for name in WEIGHT_FILES)


def weights_file(folder: Path) -> Path:
    """The folder's weights: ``model.safetensors`` first (plain data), else ``pytorch_model.bin``."""
    for name in WEIGHT_FILES:
        if (folder / name).is_file():
            return folder / name
    raise CheckpointError(f"'{folder}' holds none of {', '.join(WEIGHT_FILES)}: it is not a Hub model folder")


def fetch_hub_source(source: str) -> Path:
    """A local path for ``hf://USER/REPO[@REV][/FILE]``: the named file, or (no FILE) the Hub cache's snapshot
    folder holding the repo's ``config.json`` and its weights file."""
    repo, revision, filename = hub.parse_hf_uri(source)
    if filename:
        return hub.hub_download(repo, filename, revision)
    config = hub.hub_download(repo, CONFIG_FILE, revision)
    errors = []
    for name in WEIGHT_FILES:
        try:
            hub.hub_download(repo, name, revision)
            return config.parent
        except hub.HubError as err:
            errors.append(str(err))
    raise hub.HubError(f"{source} has neither {' nor '.join(WEIGHT_FILES)}: {' | '.join(errors)}")


def read_model_folder(folder: str | Path, source: str | Path = "") -> dict[str, Any]:
    """A checkpoint dict for a Hub model folder: its tensors under ``state_dict`` and its ``config.json`` (if
    any) under ``meta[HUB_META]``, for the converter to read when the checkpoint meets a model."""
    folder = Path(folder).expanduser()
    path = weights_file(folder)
    if path.suffix == ".safetensors":
        state = read_safetensors(path)
    else:
        loaded = safe_load(path)
        state = {k: v for k, v in loaded.items() if isinstance(v, torch.Tensor)} if isinstance(loaded, dict) else {}
    config: dict = {}
    if (folder / CONFIG_FILE).is_file():
        try:
            config = json.loads((folder / CONFIG_FILE).read_text(encoding="utf-8"))
        except ValueError as err:
            raise CheckpointError(f"'{folder / CONFIG_FILE}' is not JSON ({err}); download it again") from None
    return {"state_dict": state, "meta": {HUB_META: {"config": config, "source": str(source or folder)}}}


def convert_for_model(model: nn.Module, checkpoint: Any) -> Any:
    """``checkpoint`` with its Hub-layout tensors converted into ``model``'s keys (unchanged when it is not a
    transformers model folder: e.g. a folder ``seglab publish`` wrote is already in seglab's keys)."""
    meta = checkpoint.get("meta") if isinstance(checkpoint, dict) else None
    info = (meta or {}).get(HUB_META) if isinstance(meta, dict) else None
    if not isinstance(info, dict) or not info.get("config", {}).get("architectures"):
        return checkpoint
    if _converter is None:
        raise CheckpointError("no converter for Hub models is installed (import seglab.models.builder first)")
    state = _converter(model, info["config"], checkpoint["state_dict"], info["source"])
    return {**checkpoint, "state_dict": state}
