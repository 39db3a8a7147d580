"""``build_model``: a segmentor from ``cfg.model``, initialised as MMSegmentation initialises it, with
backbone pre-training applied when asked."""

from __future__ import annotations

import copy
import importlib
import logging
from pathlib import Path
from typing import Any

import torch
from torch import nn

from seglab.errors import ConfigError
from seglab.fileio import hub_models, sources
from seglab.fileio.checkpoint import apply_checkpoint, read_pretrained
from seglab.models.hub_models import convert_hub_model
from seglab.models.preprocessor import check_band_count
from seglab.models.weight_init import init_weights, pretrained_cfgs
from seglab.registry import MODELS

logger = logging.getLogger("seglab")


def load_weight_tables() -> None:
    """Import every family's ``*_weights.py`` (its pre-trained sources, registered with ``seglab.fileio``):
    found by file name, so a new family adds a file and touches nothing here."""
    root = Path(__file__).resolve().parent
    for path in sorted(root.rglob("*_weights.py")):
        module = ".".join(path.relative_to(root.parent.parent).with_suffix("").parts)
        importlib.import_module(module)


sources.set_loader(load_weight_tables)  # read when a pre-trained name is first looked up, not at import
hub_models.set_model_converter(convert_hub_model)  # Hub models (transformers layout) -> config's keys


def build_model(cfg: dict, load_pretrained: bool = True) -> nn.Module:
    """Build the segmentor, run its ``init_cfg`` walk (what MMEngine's runner does before training) and
    load its ``Pretrained`` weights.

    ``load_pretrained=False`` builds it as if the config named no pre-trained weights (``load_from`` or
    resume overwrite them anyway): every module then gets its default init, e.g. He-normal ResNet convs
    rather than the PyTorch defaults MMSegmentation leaves under an unloaded ``Pretrained`` entry."""
    model = build_initialised(cfg, keep_pretrained=load_pretrained)
    if load_pretrained:
        init_pretrained(model)
    return model


def build_initialised(cfg: dict, keep_pretrained: bool = True) -> nn.Module:
    """The segmentor after its ``init_cfg`` walk, before any download: the runner checks the model
    against the data first, then calls ``init_pretrained``. ``keep_pretrained=False`` drops the
    ``Pretrained`` entries (see ``build_model``)."""
    if not isinstance(cfg, dict):
        raise ConfigError("the config has no 'model' dict")
    model = MODELS.build(cfg if keep_pretrained else without_pretrained(cfg))
    check_band_count(model)  # mean/std vs in_channels: one line before any weight is loaded
    init_weights(model)
    return model


def without_pretrained(cfg: Any) -> Any:
    """A copy of a model config with ``pretrained=None`` and no ``Pretrained`` entries in any ``init_cfg``."""
    cfg = copy.deepcopy(cfg)
    _drop_pretrained(cfg)
    return cfg


def _drop_pretrained(node: Any) -> None:
    if isinstance(node, list | tuple):
        for item in node:
            _drop_pretrained(item)
    if not isinstance(node, dict):
        return
    if isinstance(node.get("pretrained"), str):
        node["pretrained"] = None
    init_cfg = node.get("init_cfg")
    if pretrained_cfgs(init_cfg):
        cfgs = [init_cfg] if isinstance(init_cfg, dict) else init_cfg
        node["init_cfg"] = [c for c in cfgs if not (isinstance(c, dict) and c.get("type") == "Pretrained")] or None
    for value in node.values():
        _drop_pretrained(value)


def build_on_meta(cfg: dict) -> nn.Module:
    """The segmentor's structure without memory or initialisation (on the meta device): enough to ask it
    facts such as ``num_classes`` or parameter shapes."""
    if not isinstance(cfg, dict):
        raise ConfigError("the config has no 'model' dict")
    with torch.device("meta"):
        return MODELS.build(cfg)


def init_pretrained(model: nn.Module) -> None:
    """Load the ``dict(type='Pretrained', checkpoint=...)`` entries of every submodule's ``init_cfg``.

    Descendants load before their ancestors, so an outer module's checkpoint wins, as in MMEngine. A module
    with an ``adapt_pretrained(state) -> state`` method (a backbone whose authors published weights in
    their own layout) converts the file's tensors first, so the original release loads as it is."""
    for name, module in reversed(list(model.named_modules())):
        for init_cfg in pretrained_cfgs(getattr(module, "init_cfg", None)):
            source = init_cfg.get("checkpoint")
            if not source:
                raise ConfigError(f"{name or 'model'}.init_cfg type 'Pretrained' needs a 'checkpoint'")
            logger.info(f"loading pre-trained weights for {name or 'model'} from {source}")
            state = read_pretrained(str(source))
            prefix = init_cfg.get("prefix", "")
            if prefix:
                state = {k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix)}
            adapt = getattr(module, "adapt_pretrained", None)
            apply_checkpoint(module, adapt(state) if callable(adapt) else state, source)
