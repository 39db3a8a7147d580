"""``seglab infer CONFIG hf://USER/REPO IMAGE --out DIR`` against a local stand-in for the Hub: the fine-tuned
model downloads, converts and writes its prediction; with ``HF_HUB_OFFLINE=1`` the cached model still works and
an uncached one stops with one line."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from seglab.cli import main
from seglab.zoo import config_source

from .fileio.hub_server import FakeHub
from .models.hub_parity import randomise, save_hub_model

transformers = pytest.importorskip("transformers")

TINY_SEGFORMER = """_base_ = '{base}'
model = dict(
    backbone=dict(embed_dims=8, num_layers=[1, 1, 1, 1], num_heads=[1, 2, 3, 4], init_cfg=None),
    decode_head=dict(in_channels=[8, 16, 24, 32], channels=16, num_classes=5, act_cfg=None))
"""


def test_infer_with_a_hub_model_writes_the_prediction_and_works_offline_once_cached(tmp_path, monkeypatch, capsys):
    config = transformers.SegformerConfig(
        depths=[1, 1, 1, 1], hidden_sizes=[8, 16, 24, 32], num_attention_heads=[1, 2, 3, 4],
        decoder_hidden_size=16, num_labels=5,
    )  # fmt: skip
    folder = save_hub_model(randomise(transformers.SegformerForSemanticSegmentation(config)), tmp_path / "hub")
    cfg = tmp_path / "tiny_segformer.py"
    cfg.write_text(TINY_SEGFORMER.format(base=config_source("segformer_mit-b0_8xb2-160k_ade20k-512x512")))
    image = tmp_path / "demo.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (40, 56, 3), dtype=np.uint8)).save(image)
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "cache"))
    hub = FakeHub()
    try:
        for name in ("config.json", "model.safetensors"):
            hub.files[("someone/tiny-segformer", name)] = (folder / name).read_bytes()
        monkeypatch.setenv("HF_ENDPOINT", hub.url)
        assert main(["infer", str(cfg), "hf://someone/tiny-segformer", str(image), "--out", str(tmp_path / "a")]) == 0
    finally:
        hub.close()
    written = sorted(p for p in (tmp_path / "a").rglob("*") if p.is_file())
    assert written, "no prediction written"
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert main(["infer", str(cfg), "hf://someone/tiny-segformer", str(image), "--out", str(tmp_path / "b")]) == 0
    assert sorted(p.name for p in (tmp_path / "b").rglob("*") if p.is_file()) == [p.name for p in written]
    capsys.readouterr()
    assert main(["infer", str(cfg), "hf://someone/not-cached", str(image), "--out", str(tmp_path / "c")]) != 0
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "someone/not-cached" in err, err
