"""Helpers for the Hub-model parity tests: a transformers model at small sizes with random weights (random BN
statistics too, so a wrong BN mapping shows), saved as the Hub serves it, and a shipped config shrunk to
the same sizes through overrides."""

from __future__ import annotations

from pathlib import Path

import torch

from seglab.config import Config
from seglab.zoo import config_source


def randomise(model: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    """Every parameter and BN statistic drawn at random (transformers zero-initialises some biases)."""
    torch.manual_seed(seed)
    with torch.no_grad():
        for name, tensor in model.state_dict().items():
            if not tensor.is_floating_point():
                continue
            if name.endswith("running_var"):
                tensor.uniform_(0.5, 1.5)
            elif name.endswith(("norm.weight", "layer_norm.weight", "layernorm.weight")) or "norm" in name:
                tensor.uniform_(0.5, 1.5) if name.endswith("weight") else tensor.uniform_(-0.2, 0.2)
            else:
                tensor.normal_(0, 0.2)
    return model.eval()


def save_hub_model(model: torch.nn.Module, folder: Path) -> Path:
    """``save_pretrained`` as the Hub serves it (config.json + model.safetensors)."""
    model.save_pretrained(folder)
    assert (folder / "config.json").is_file() and (folder / "model.safetensors").is_file()
    return folder


def shrunk_config(name: str, overrides: dict) -> Config:
    """A shipped config (bare name) with ``overrides`` merged, no pre-trained weights named."""
    cfg = Config.fromfile(str(config_source(name)))
    cfg.merge_from_dict(overrides)
    return cfg


def assert_close(ours: torch.Tensor, theirs: torch.Tensor) -> None:
    """Within 1e-4 x the largest magnitude, as every parity fixture in seglab."""
    assert ours.shape == theirs.shape, (ours.shape, theirs.shape)
    tol = 1e-4 * theirs.abs().max().item()
    assert (ours - theirs).abs().max().item() <= tol, (ours - theirs).abs().max().item()
