"""microsoft/beit-large-finetuned-ade-640-640 in its shipped config: the Hub model's architecture (24 blocks,
transformers' out_indices [7, 11, 15, 23], relative position bias) at width 16 and 64x64, random weights, saved
as the Hub serves it, loads into ``beit-large_upernet_hf-microsoft_ade20k-640x640`` narrowed only, with no
warning, and gives the same logits within 1e-4 x max."""

from __future__ import annotations

import logging

import pytest
import torch

from seglab.inference import init_model

from .hub_parity import assert_close, randomise, save_hub_model, shrunk_config
from .test_hub_models import BEIT_TINY, UPER_HEADS

transformers = pytest.importorskip("transformers")
BEIT_LARGE_HF = "beit-large_upernet_hf-microsoft_ade20k-640x640"


def test_the_beit_large_hub_config_gives_the_hub_models_logits(tmp_path, caplog):
    """The config's blocks 5, 9, 13, 21 are what the Hub model feeds its neck: nothing warns, logits agree."""
    config = transformers.BeitConfig(
        hidden_size=16, num_hidden_layers=24, num_attention_heads=2, intermediate_size=32, image_size=64,
        use_relative_position_bias=True, out_indices=[7, 11, 15, 23], auxiliary_channels=8, num_labels=5,
    )  # fmt: skip
    theirs = randomise(transformers.BeitForSemanticSegmentation(config))
    folder = save_hub_model(theirs, tmp_path / "beit-large")
    with caplog.at_level(logging.WARNING, logger="seglab"):
        ours = init_model(shrunk_config(BEIT_LARGE_HF, {**UPER_HEADS, **BEIT_TINY}), str(folder))
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        assert_close(ours.decode_head(ours.neck(ours.backbone(x))), theirs(pixel_values=x).logits)
