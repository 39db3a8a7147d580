"""Fine-tuned transformers segmentation models loaded into shipped configs: each architecture is built with
transformers at small sizes and random weights, saved as the Hub serves it, loaded by ``init_model(CONFIG,
FOLDER)`` into the shipped config shrunk to the same sizes, and gives the same logits within 1e-4 x max."""

from __future__ import annotations

import logging

import pytest
import torch

from seglab.errors import CheckpointError
from seglab.inference import init_model

from .hub_parity import assert_close, randomise, save_hub_model, shrunk_config

transformers = pytest.importorskip("transformers")

SEGFORMER = "segformer_mit-b0_8xb2-160k_ade20k-512x512"
SEGFORMER_SIZES = dict(depths=[1, 1, 1, 1], hidden_sizes=[8, 16, 24, 32], num_attention_heads=[1, 2, 3, 4])
SEGFORMER_SEGLAB = {
    "model.backbone.embed_dims": 8,
    "model.backbone.num_layers": [1, 1, 1, 1],
    "model.backbone.num_heads": [1, 2, 3, 4],
    "model.backbone.init_cfg": None,
    "model.decode_head.in_channels": [8, 16, 24, 32],
    "model.decode_head.channels": 16,
    "model.decode_head.num_classes": 5,
    "model.decode_head.act_cfg": None,
}


def hub_segformer(tmp_path, **sizes):
    config = transformers.SegformerConfig(**{**SEGFORMER_SIZES, **sizes}, decoder_hidden_size=16, num_labels=5)
    model = randomise(transformers.SegformerForSemanticSegmentation(config))
    return model, save_hub_model(model, tmp_path / "segformer")


def test_segformer_from_a_hub_folder_gives_the_hub_models_logits(tmp_path):
    theirs, folder = hub_segformer(tmp_path)
    ours = init_model(shrunk_config(SEGFORMER, SEGFORMER_SEGLAB), str(folder))
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        expected = theirs(pixel_values=x).logits
        got = ours.decode_head(ours.backbone(x))
    assert_close(got, expected)


def test_a_hub_model_of_another_depth_is_one_line_naming_both(tmp_path):
    _, folder = hub_segformer(tmp_path, depths=[2, 1, 1, 1])
    with pytest.raises(CheckpointError) as err:
        init_model(shrunk_config(SEGFORMER, SEGFORMER_SEGLAB), str(folder))
    message = str(err.value)
    assert len(message.splitlines()) == 1
    assert "depths=[2, 1, 1, 1]" in message and "MixVisionTransformer" in message and str(folder) in message


def test_other_classes_load_everything_but_the_classifier_with_one_warning(tmp_path, caplog):
    theirs, folder = hub_segformer(tmp_path)
    cfg = shrunk_config(SEGFORMER, {**SEGFORMER_SEGLAB, "model.decode_head.num_classes": 3})
    with caplog.at_level(logging.INFO, logger="seglab"):
        ours = init_model(cfg, str(folder))
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING and "classes" in r.getMessage()]
    assert len(warnings) == 1 and "predicts 5 classes" in warnings[0] and "num_classes=3" in warnings[0]
    x = torch.randn(1, 3, 32, 32)
    with torch.no_grad():
        assert_close(ours.backbone(x)[-1], theirs.segformer(x, output_hidden_states=True).hidden_states[-1])


SWIN = "swin-tiny-patch4-window7-in1k-pre_upernet_8xb2-160k_ade20k-512x512"
CONVNEXT = "convnext-tiny_upernet_8xb2-amp-160k_ade20k-512x512"
UPER_HEADS = {
    "model.decode_head.channels": 16,
    "model.decode_head.num_classes": 5,
    "model.auxiliary_head.channels": 8,
    "model.auxiliary_head.num_classes": 5,
    "model.backbone.init_cfg": None,
}


def hub_upernet(tmp_path, backbone, aux_in: int):
    config = transformers.UperNetConfig(
        backbone_config=backbone, hidden_size=16, auxiliary_in_channels=aux_in, auxiliary_channels=8, num_labels=5
    )
    model = randomise(transformers.UperNetForSemanticSegmentation(config))
    return model, save_hub_model(model, tmp_path / "upernet")


def assert_same_logits(ours, theirs, size: int) -> None:
    x = torch.randn(1, 3, size, size)
    with torch.no_grad():
        feats = ours.backbone(x)
        out = theirs(pixel_values=x)
        hub_aux = theirs.auxiliary_head(theirs.backbone.forward_with_filtered_kwargs(x).feature_maps)
        assert_close(ours.auxiliary_head(feats), hub_aux)
        logits = torch.nn.functional.interpolate(ours.decode_head(feats), size=(size, size), mode="bilinear")
    assert_close(logits, out.logits)


def test_upernet_swin_from_a_hub_folder_gives_the_hub_models_logits(tmp_path):
    stages = ["stage1", "stage2", "stage3", "stage4"]
    backbone = transformers.SwinConfig(
        embed_dim=8, depths=[1, 1, 2, 1], num_heads=[1, 1, 2, 2], window_size=2, out_features=stages
    )
    theirs, folder = hub_upernet(tmp_path, backbone, aux_in=32)
    sizes = {
        "model.backbone.embed_dims": 8,
        "model.backbone.depths": [1, 1, 2, 1],
        "model.backbone.num_heads": [1, 1, 2, 2],
        "model.backbone.window_size": 2,
        "model.decode_head.in_channels": [8, 16, 32, 64],
        "model.auxiliary_head.in_channels": 32,
    }
    ours = init_model(shrunk_config(SWIN, {**UPER_HEADS, **sizes}), str(folder))
    assert_same_logits(ours, theirs, 64)


def test_upernet_convnext_from_a_hub_folder_gives_the_hub_models_logits(tmp_path):
    stages = ["stage1", "stage2", "stage3", "stage4"]
    backbone = transformers.ConvNextConfig(hidden_sizes=[8, 16, 24, 32], depths=[1, 1, 2, 1], out_features=stages)
    theirs, folder = hub_upernet(tmp_path, backbone, aux_in=24)
    sizes = {
        "model.backbone.arch": dict(_delete_=True, depths=[1, 1, 2, 1], channels=[8, 16, 24, 32]),
        "model.decode_head.in_channels": [8, 16, 24, 32],
        "model.auxiliary_head.in_channels": 24,
    }
    ours = init_model(shrunk_config(CONVNEXT, {**UPER_HEADS, **sizes}), str(folder))
    assert_same_logits(ours, theirs, 64)


BEIT = "beit-base_upernet_8xb2-160k_ade20k-640x640"


def test_beit_upernet_from_a_hub_folder_gives_the_hub_models_logits(tmp_path):
    config = transformers.BeitConfig(
        hidden_size=16,
        num_hidden_layers=5,
        num_attention_heads=2,
        intermediate_size=32,
        image_size=64,
        use_relative_position_bias=True,
        out_indices=[2, 3, 4, 5],  # transformers reads hidden_states[i - 1]: the outputs of layers 0..3
        layer_scale_init_value=0.1,
        auxiliary_channels=8,
        num_labels=5,
    )
    theirs = randomise(transformers.BeitForSemanticSegmentation(config))
    folder = save_hub_model(theirs, tmp_path / "beit")
    sizes = {
        "model.backbone.embed_dims": 16,
        "model.backbone.num_layers": 5,
        "model.backbone.num_heads": 2,
        "model.backbone.mlp_ratio": 2,
        "model.backbone.img_size": (64, 64),
        "model.backbone.out_indices": [0, 1, 2, 3],
        "model.neck.embed_dim": 16,
        "model.decode_head.in_channels": [16, 16, 16, 16],
        "model.auxiliary_head.in_channels": 16,
    }
    ours = init_model(shrunk_config(BEIT, {**UPER_HEADS, **sizes}), str(folder))
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        assert_close(ours.decode_head(ours.neck(ours.backbone(x))), theirs(pixel_values=x).logits)


BEIT_HF = "beit-base_upernet_hf-microsoft_ade20k-640x640"
BEIT_TINY = {
    "model.backbone.embed_dims": 16,
    "model.backbone.num_heads": 2,
    "model.backbone.mlp_ratio": 2,
    "model.backbone.img_size": (64, 64),
    "model.neck.embed_dim": 16,
    "model.decode_head.in_channels": [16, 16, 16, 16],
    "model.auxiliary_head.in_channels": 16,
}


@pytest.fixture(scope="module")
def hub_beit_ade(tmp_path_factory):
    """microsoft/beit-base-finetuned-ade-640-640's architecture (12 blocks, out_indices [3, 5, 7, 11], relative
    position bias, as transformers' conversion script configures it) at width 16 and 64x64."""
    config = transformers.BeitConfig(
        hidden_size=16, num_attention_heads=2, intermediate_size=32, image_size=64, use_relative_position_bias=True,
        out_indices=[3, 5, 7, 11], auxiliary_channels=8, num_labels=5,
    )  # fmt: skip
    theirs = randomise(transformers.BeitForSemanticSegmentation(config))
    return theirs, save_hub_model(theirs, tmp_path_factory.mktemp("beit-ade"))


def test_the_beit_hub_config_gives_the_hub_models_logits_and_normalisation(hub_beit_ade, caplog):
    """The shipped config as it is (blocks 1, 3, 5, 9 into the neck), only narrowed: no warning, same logits."""
    theirs, folder = hub_beit_ade
    with caplog.at_level(logging.WARNING, logger="seglab"):
        ours = init_model(shrunk_config(BEIT_HF, {**UPER_HEADS, **BEIT_TINY}), str(folder))
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        assert_close(ours.decode_head(ours.neck(ours.backbone(x))), theirs(pixel_values=x).logits)
    processor = transformers.BeitImageProcessor()  # what the Hub's preprocessor_config.json leaves at default
    assert ours.data_preprocessor.mean.flatten().tolist() == [255 * m for m in processor.image_mean]
    assert ours.data_preprocessor.std.flatten().tolist() == [255 * s for s in processor.image_std]


def test_the_beit_hub_model_in_mmsegmentations_beit_config_warns_naming_the_blocks(hub_beit_ade, caplog):
    theirs, folder = hub_beit_ade
    with caplog.at_level(logging.WARNING, logger="seglab"):
        ours = init_model(shrunk_config(BEIT, {**UPER_HEADS, **BEIT_TINY}), str(folder))
    (warning,) = [r.getMessage() for r in caplog.records if "out_indices" in r.getMessage()]
    assert "model.backbone.out_indices=[1, 3, 5, 9]" in warning and len(warning.splitlines()) == 1
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        difference = ours.decode_head(ours.neck(ours.backbone(x))) - theirs(pixel_values=x).logits
    assert difference.abs().max() > 1e-2  # blocks 3, 5, 7, 11 are not what the Hub model reads


def test_hf_uri_load_from_and_a_pytorch_model_bin_folder_load_the_same_model(tmp_path, monkeypatch):
    from seglab.fileio.checkpoint import load_checkpoint
    from seglab.fileio.pretrained import read_safetensors
    from seglab.models.builder import build_model

    from ..fileio.hub_server import FakeHub

    theirs, folder = hub_segformer(tmp_path)
    cfg = shrunk_config(SEGFORMER, SEGFORMER_SEGLAB)
    hub = FakeHub()
    try:
        for name in ("config.json", "model.safetensors"):
            hub.files[("someone/tiny-segformer", name)] = (folder / name).read_bytes()
        monkeypatch.setenv("HF_ENDPOINT", hub.url)
        monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub_cache"))
        from_hub = init_model(cfg, "hf://someone/tiny-segformer")
        trained = build_model(cfg.model, load_pretrained=False)
        load_checkpoint(trained, "hf://someone/tiny-segformer")  # what load_from='hf://...' runs
    finally:
        hub.close()
    bin_folder = tmp_path / "bin"
    bin_folder.mkdir()
    (bin_folder / "config.json").write_bytes((folder / "config.json").read_bytes())
    legacy = read_safetensors(folder / "model.safetensors")  # the Hub's key names (transformers 5 renames in memory)
    torch.save(legacy, bin_folder / "pytorch_model.bin")
    from_bin = init_model(cfg, str(bin_folder))
    x = torch.randn(1, 3, 32, 32)
    with torch.no_grad():
        expected = theirs(pixel_values=x).logits
        for ours in (from_hub, from_bin, trained.eval()):
            assert_close(ours.decode_head(ours.backbone(x)), expected)


DPT = "dpt_vit-l16_hf-intel_ade20k-480x480"


@pytest.mark.parametrize("batch_norm", [True, False], ids=["bn-residuals", "biased-residuals"])
def test_dpt_from_a_hub_folder_gives_the_hub_models_logits(tmp_path, batch_norm):
    config = transformers.DPTConfig(
        hidden_size=16,
        num_hidden_layers=4,
        num_attention_heads=2,
        intermediate_size=32,
        image_size=64,
        backbone_out_indices=[0, 1, 3, 2],
        neck_hidden_sizes=[4, 8, 16, 16],
        fusion_hidden_size=8,
        use_batch_norm_in_fusion_residual=batch_norm,
        num_labels=5,
    )
    theirs = randomise(transformers.DPTForSemanticSegmentation(config))
    folder = save_hub_model(theirs, tmp_path / "dpt")
    sizes = {
        "model.backbone.embed_dims": 16,
        "model.backbone.num_layers": 4,
        "model.backbone.num_heads": 2,
        "model.backbone.mlp_ratio": 2,
        "model.backbone.img_size": 64,
        "model.backbone.out_indices": [0, 1, 3, 2],
        "model.decode_head.in_channels": [16] * 4,
        "model.decode_head.embed_dims": 16,
        "model.decode_head.post_process_channels": [4, 8, 16, 16],
        "model.decode_head.channels": 8,
        "model.decode_head.num_classes": 5,
    }
    ours = init_model(shrunk_config(DPT, sizes), str(folder))
    x = torch.randn(1, 3, 96, 96)  # not the 64x64 of the position embedding: both resize it (square only)
    with torch.no_grad():
        logits = ours.decode_head(ours.backbone(x))
        logits = torch.nn.functional.interpolate(logits, size=(96, 96), mode="bilinear", align_corners=True)
        assert_close(logits, theirs(pixel_values=x).logits)


def test_dpt_in_a_config_that_computes_differently_warns_in_one_line_each(tmp_path, caplog):
    config = transformers.DPTConfig(
        hidden_size=16, num_hidden_layers=4, num_attention_heads=2, intermediate_size=32, image_size=64,
        backbone_out_indices=[0, 1, 2, 3], neck_hidden_sizes=[4, 8, 16, 16], fusion_hidden_size=8, num_labels=5,
    )  # fmt: skip
    folder = save_hub_model(randomise(transformers.DPTForSemanticSegmentation(config)), tmp_path / "dpt")
    sizes = {
        "model.pretrained": None,
        "model.backbone.embed_dims": 16,
        "model.backbone.num_layers": 4,
        "model.backbone.num_heads": 2,
        "model.backbone.mlp_ratio": 2,
        "model.backbone.img_size": 64,
        "model.backbone.patch_bias": True,
        "model.backbone.out_indices": [0, 1, 2, 3],
        "model.decode_head.in_channels": [16] * 4,
        "model.decode_head.embed_dims": 16,
        "model.decode_head.post_process_channels": [4, 8, 16, 16],
        "model.decode_head.channels": 8,
        "model.decode_head.num_classes": 5,
    }
    with caplog.at_level(logging.WARNING, logger="seglab"):
        init_model(shrunk_config("dpt_vit-b16_8xb2-160k_ade20k-512x512", sizes), str(folder))
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("interpolate_mode='bilinear'" in w for w in warnings), warnings
    assert any("align_corners=True" in w for w in warnings), warnings
    assert all(len(w.splitlines()) == 1 for w in warnings)
