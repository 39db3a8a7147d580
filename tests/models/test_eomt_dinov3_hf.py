"""EoMT on DINOv3 in transformers' layout (``EomtDinov3ForUniversalSegmentation``, absolute weights) loads into
the shipped DINOv3 EoMT config's model with transformers' logits, masks on and annealed away, plain and gated
MLP, at its image size and at another one; the authors' delta file beside such a config.json still has its
DINOv3 base added."""

from __future__ import annotations

import json
import logging
from unittest import mock

import pytest
import torch

from seglab.inference import init_model
from seglab.models.segmentors.eomt import EoMT

from .hub_parity import assert_close, randomise, save_hub_model, shrunk_config
from .test_eomt_authors import MEAN, RECORD, STD, as_delta, authors_state
from .test_eomt_authors import tiny_config as authors_tiny_config

CONFIG = "eomt_dinov3-l_4xb4-20k_ade20k-512x512"
SIZES = {  # model.delta_base stays the config's gated hf:// file: loading must not reach for it
    "model.backbone.init_cfg": None,
    "model.backbone.img_size": 64,
    "model.backbone.embed_dims": 32,
    "model.backbone.num_layers": 4,
    "model.backbone.num_heads": 2,
    "model.backbone.out_indices": (3,),
    "model.decode_head.in_channels": 32,
    "model.decode_head.num_classes": 4,
    "model.decode_head.num_queries": 5,
    "model.decode_head.num_blocks": 2,
    "model.decode_head.attn_mask_annealing": None,
    "model.decode_head.loss_cls.class_weight": [1.0] * 4 + [0.1],
}


def eomt_dinov3_classes():
    """transformers' config and model classes; their module asks torchvision's version while it loads, which
    the tests' torchvision stand-in cannot give: answer "older" for that one question."""
    transformers = pytest.importorskip("transformers")
    from transformers.utils import import_utils

    with mock.patch.object(import_utils, "is_torchvision_greater_or_equal", lambda version: False):
        return transformers.EomtDinov3Config, transformers.EomtDinov3ForUniversalSegmentation


def hub_eomt_dinov3(image_size: int, gated: bool, state: dict | None = None):
    """A tiny transformers EoMT-DINOv3 at ``image_size`` (4 storage tokens, RoPE base 100, norm eps 1e-5 as the
    converted tue-mps models have), random weights or ``state``."""
    config_class, model_class = eomt_dinov3_classes()
    config = config_class(
        hidden_size=32,
        num_hidden_layers=4,
        num_attention_heads=2,
        intermediate_size=128,
        image_size=image_size,
        patch_size=16,
        num_blocks=2,
        num_register_tokens=4,
        num_queries=5,
        num_labels=4,
        layer_norm_eps=1e-5,
        use_gated_mlp=gated,
        hidden_act="silu" if gated else "gelu",  # the gated (S+/H+) DINOv3 models are SwiGLU
    )
    model = model_class(config)
    if gated:  # transformers runs the head's mask MLP and upscaling with hidden_act too: GELU, as the authors
        model.mask_head.activation = torch.nn.GELU()
        for layer in model.upscale_block.block:
            layer.activation = torch.nn.GELU()
    if state is None:
        return randomise(model)
    model.load_state_dict(state)
    return model.eval()


def assert_same_logits(ours: EoMT, theirs, size: int, masked: bool) -> None:
    x = torch.randn(2, 3, size, size)
    with torch.no_grad():
        cls_preds, mask_preds = ours.extract_feat(x)
        out = theirs(pixel_values=x)
    assert len(cls_preds) == (3 if masked else 1)  # one prediction per masked block, then the final one
    assert_close(cls_preds[-1], out.class_queries_logits)
    assert_close(mask_preds[-1], out.masks_queries_logits)


@pytest.mark.parametrize(("mask_prob", "gated"), [(1.0, False), (0.0, True)])
def test_transformers_eomt_dinov3_folder_gives_its_logits_at_two_sizes(tmp_path, caplog, mask_prob, gated, one_thread):
    theirs = hub_eomt_dinov3(64, gated)
    theirs.attn_mask_probs.fill_(mask_prob)  # 1: masks on (an untrained model); 0: annealed away (a trained one)
    folder = save_hub_model(theirs, tmp_path / "eomt_dinov3")
    sizes = {**SIZES, "model.backbone.ffn_type": "swiglu" if gated else "mlp"}
    sizes["model.backbone.mlp_ratio"] = 6.0 if gated else 4.0  # SwiGLU keeps 2/3: 128 wide, as transformers'
    with caplog.at_level(logging.WARNING, logger="seglab"):
        ours = init_model(shrunk_config(CONFIG, sizes), str(folder))
    warned = [r.getMessage() for r in caplog.records if "EomtDinov3 Hub model differs" in r.getMessage()]
    assert warned == (["the EomtDinov3 Hub model differs from the config's model in hidden_act silu in the mask MLP "
                       "and upscaling (GELU here, as in the authors' EoMT)"] if gated else [])  # fmt: skip
    assert isinstance(ours, EoMT) and ours.decode_head.attn_mask_probs.tolist() == [mask_prob] * 2
    assert ours.backbone.blocks[0].attn.qkv.bias[32:64].abs().max() == 0  # transformers has no key bias
    assert_same_logits(ours, theirs, 64, masked=bool(mask_prob))
    # transformers' model runs only at its config's image_size (its grid is fixed there), but RoPE has no
    # table: the same weights in a model built for 96 px are the reference at 96 px
    assert_same_logits(ours, hub_eomt_dinov3(96, gated, theirs.state_dict()), 96, masked=bool(mask_prob))


def test_different_rope_base_or_norm_eps_is_one_warning(tmp_path, caplog, one_thread):
    theirs = hub_eomt_dinov3(64, gated=False)
    folder = save_hub_model(theirs, tmp_path / "eomt_dinov3")
    config = json.loads((folder / "config.json").read_text())
    config["rope_parameters"]["rope_theta"], config["layer_norm_eps"] = 10000.0, 1e-6
    (folder / "config.json").write_text(json.dumps(config))
    with caplog.at_level(logging.WARNING, logger="seglab"):
        init_model(shrunk_config(CONFIG, SIZES), str(folder))
    warnings = [r.getMessage() for r in caplog.records if "EomtDinov3 Hub model differs" in r.getMessage()]
    assert len(warnings) == 1 and "rope_theta 10000" in warnings[0] and "layer_norm_eps 1e-06" in warnings[0]


def test_authors_delta_file_beside_an_eomt_dinov3_config_gets_its_base_added(tmp_path, one_thread):
    """A folder with the authors' ``pytorch_model.bin`` (``network.*``: deltas) and a transformers config.json
    naming this class goes to the authors' converter, which adds ``delta_base``."""
    record = torch.load(RECORD, weights_only=True)
    state, overrides = as_delta(authors_state(record, "dinov3"), tmp_path)
    torch.save(state, tmp_path / "pytorch_model.bin")
    config = {"architectures": ["EomtDinov3ForUniversalSegmentation"], "model_type": "eomt_dinov3"}
    (tmp_path / "config.json").write_text(json.dumps(config))
    model = init_model(authors_tiny_config("dinov3", **overrides), str(tmp_path))
    x = (record["image"][..., :48, :48].float() - MEAN) / STD
    with torch.no_grad():
        classes, masks = model.extract_feat(x)
    assert_close(masks[-1], record["dinov3/48x48/annealed/mask"][-1])
    assert_close(classes[-1], record["dinov3/48x48/annealed/class"][-1])
