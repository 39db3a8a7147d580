"""ImageNet backbones from the Hub in the transformers layout (``nvidia/mit-b*``, ``microsoft/swin-*``): the
transformers model at small sizes with random weights, saved as the Hub serves it, converted by the
registered source's key map and loaded into seglab's backbone gives the same stage features (1e-4 x max)."""

from __future__ import annotations

import io

import pytest
import torch
import torch.nn.functional as F

from seglab.fileio.checkpoint import load_state_dict
from seglab.fileio.pretrained import read_safetensors
from seglab.fileio.sources import KNOWN, known
from seglab.models import builder
from seglab.models.builder import load_weight_tables
from seglab.registry import MODELS

from ..fileio.conftest import plant_hub_file
from .hub_parity import assert_close, randomise, save_hub_model, shrunk_config

transformers = pytest.importorskip("transformers")
load_weight_tables()


def sources(family: str) -> list:
    return [s for s in KNOWN.values() if s.family == family and s.hub and s.hub.layout == "transformers"]


def test_every_transformers_source_of_mit_and_swin_has_a_key_map():
    assert len(sources("MixVisionTransformer")) == 6 and len(sources("SwinTransformer")) == 10
    assert all(s.hub_usable for s in sources("MixVisionTransformer") + sources("SwinTransformer"))


def test_mit_from_an_imagenet_hub_model_gives_the_same_stage_features(tmp_path):
    config = transformers.SegformerConfig(
        depths=[1, 2, 1, 1], hidden_sizes=[8, 16, 24, 32], num_attention_heads=[1, 2, 3, 4]
    )
    theirs = randomise(transformers.SegformerForImageClassification(config))
    state = read_safetensors(save_hub_model(theirs, tmp_path / "mit") / "model.safetensors")
    ours = MODELS.build(
        dict(type="MixVisionTransformer", embed_dims=8, num_layers=[1, 2, 1, 1], num_heads=[1, 2, 3, 4])
    ).eval()
    for source in sources("MixVisionTransformer"):
        report = load_state_dict(ours, source.convert(state))
        assert not report.missing and not report.skipped
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        expected = theirs.segformer(x, output_hidden_states=True).hidden_states
        for got, want in zip(ours(x), expected, strict=True):
            assert_close(got, want)


def test_swin_from_an_imagenet_hub_model_gives_the_same_stage_features(tmp_path):
    config = transformers.SwinConfig(
        embed_dim=8, depths=[1, 1, 2, 1], num_heads=[1, 1, 2, 2], window_size=2, image_size=64
    )
    theirs = randomise(transformers.SwinForImageClassification(config))
    state = read_safetensors(save_hub_model(theirs, tmp_path / "swin") / "model.safetensors")
    ours = MODELS.build(
        dict(type="SwinTransformer", embed_dims=8, depths=[1, 1, 2, 1], num_heads=[1, 1, 2, 2], window_size=2)
    ).eval()
    converted = sources("SwinTransformer")[0].convert(state)
    report = load_state_dict(ours, converted)
    assert not report.skipped and all(k.startswith("norm") or "relative_position_index" in k for k in report.missing)
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        hidden = theirs.swin(x, output_hidden_states=True, output_hidden_states_before_downsampling=True)
        for i, (got, want) in enumerate(zip(ours(x), hidden.reshaped_hidden_states[1:], strict=True)):
            norm = getattr(ours, f"norm{i}")  # the output norms are seglab's own (ImageNet models have none)
            want = F.layer_norm(want.permute(0, 2, 3, 1), norm.normalized_shape, norm.weight, norm.bias, norm.eps)
            assert_close(got, want.permute(0, 3, 1, 2))


def test_a_segformer_config_loads_its_hub_pytorch_model_bin_through_the_pretrained_path(tmp_path, monkeypatch):
    """The config's own source (mit_b0), its Hub file planted as the repo serves it (``pytorch_model.bin`` with
    transformers' names) in an offline Hub cache, loaded by ``init_pretrained`` into the config's backbone
    (shrunk): the same stage features."""
    sizes = dict(depths=[1, 2, 1, 1], hidden_sizes=[8, 16, 24, 32], num_attention_heads=[1, 2, 3, 4])
    theirs = randomise(transformers.SegformerForImageClassification(transformers.SegformerConfig(**sizes)))
    state = read_safetensors(save_hub_model(theirs, tmp_path / "mit") / "model.safetensors")
    overrides = {"model.backbone.embed_dims": 8, "model.backbone.num_layers": [1, 2, 1, 1]}
    cfg = shrunk_config(
        "segformer_mit-b0_8xb2-160k_ade20k-512x512", {**overrides, "model.backbone.num_heads": [1, 2, 3, 4]}
    )
    source = known(cfg.model.backbone.init_cfg["checkpoint"])
    assert source.hub.repo == "nvidia/mit-b0" and source.hub.filename == "pytorch_model.bin"
    cache = tmp_path / "hf_hub"
    buffer = io.BytesIO()
    torch.save(state, buffer)
    plant_hub_file(cache, source.hub, buffer.getvalue())
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch_home"))
    monkeypatch.delenv("SEGLAB_OPENMMLAB_MIRROR", raising=False)
    monkeypatch.setattr(torch.hub, "_hub_dir", None)
    ours = MODELS.build(cfg.model.backbone).eval()
    builder.init_pretrained(ours)
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        expected = theirs.segformer(x, output_hidden_states=True).hidden_states
        for got, want in zip(ours(x), expected, strict=True):
            assert_close(got, want)
