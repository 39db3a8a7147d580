"""The EoMT authors' own checkpoints (their ``pytorch_model.bin``: DINOv2 on timm, DINOv3 on transformers, as
deltas) load into the shipped configs' models and give the logits of the authors' code at its input size and
at a larger one; recorded by ``tests/records/recorders/record_eomt_authors.py``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from seglab.errors import CheckpointError
from seglab.fileio.checkpoint import load_checkpoint
from seglab.inference import init_model
from seglab.models.heads.eomt_authors import convert_backbone

from .hub_parity import assert_close, shrunk_config

RECORD = Path(__file__).resolve().parents[1] / "records" / "authors" / "eomt_authors.pt"
CONFIGS = {"dinov2": "eomt_dinov2-l_4xb4-39k_ade20k-512x512", "dinov3": "eomt_dinov3-l_4xb4-20k_ade20k-512x512"}
SIZES = (48, 48), (64, 80)
MEAN = torch.tensor([123.675, 116.28, 103.53]).view(1, 3, 1, 1)
STD = torch.tensor([58.395, 57.12, 57.375]).view(1, 3, 1, 1)


@pytest.fixture(scope="module")
def record() -> dict:
    return torch.load(RECORD, weights_only=True)


def authors_state(record: dict, case: str) -> dict[str, torch.Tensor]:
    """The recorded checkpoint, in the authors' keys and order, as float32."""
    flat, state, start = record[f"{case}/state"].float(), {}, 0
    for key, shape in record[f"{case}/keys"]:
        size = torch.Size(shape).numel()
        state[key] = flat[start : start + size].reshape(shape)
        start += size
    assert start == flat.numel()
    return state


def tiny_config(case: str, **overrides):
    """The shipped config at the recorded sizes (width 16, 3 blocks, 3 queries in the last 2, 3 classes)."""
    sizes = {
        "model.backbone.init_cfg": None,
        "model.backbone.img_size": 48,
        "model.backbone.embed_dims": 16,
        "model.backbone.num_layers": 3,
        "model.backbone.num_heads": 2,
        "model.backbone.out_indices": (2,),
        "model.decode_head.in_channels": 16,
        "model.decode_head.num_classes": 3,
        "model.decode_head.num_queries": 3,
        "model.decode_head.num_blocks": 2,
        "model.decode_head.attn_mask_annealing": None,
        "model.decode_head.loss_cls.class_weight": [1.0] * 3 + [0.1],
    }
    return shrunk_config(CONFIGS[case], {**sizes, **overrides})


def as_delta(state: dict[str, torch.Tensor], tmp_path: Path) -> tuple[dict, dict]:
    """(a DINOv3 checkpoint holding half of each backbone tensor, config overrides naming a pre-trained file
    with the other half): loading must add them back, as the authors publish their DINOv3 models."""
    base = tmp_path / "dinov3_base.pth"
    torch.save({k: 0.5 * v for k, v in convert_backbone(state).items()}, base)
    delta = {k: 0.5 * v if k.startswith("network.encoder.backbone.") else v for k, v in state.items()}
    return delta, {"model.delta_base": str(base)}


def assert_their_logits(model, record: dict, case: str) -> None:
    image = record["image"].float()
    for height, width in SIZES:
        x = (image[..., :height, :width] - MEAN) / STD
        for mode, prob in (("masked", 1.0), ("annealed", 0.0)):
            model.decode_head.attn_mask_probs.fill_(prob)
            with torch.no_grad():
                classes, masks = model.extract_feat(x)
            where = f"{case}/{height}x{width}/{mode}"
            assert len(masks) == len(record[f"{where}/mask"])  # one per masked block, then the final one
            for ours, theirs in zip(masks, record[f"{where}/mask"]):
                assert_close(ours, theirs)
            for ours, theirs in zip(classes, record[f"{where}/class"]):
                assert_close(ours, theirs)


@pytest.mark.parametrize("case", ["dinov2", "dinov3"])
def test_authors_checkpoint_gives_their_logits_at_two_sizes(record, case, tmp_path, one_thread):
    state, overrides = authors_state(record, case), {}
    if case == "dinov3":
        state, overrides = as_delta(state, tmp_path)
    path = tmp_path / "pytorch_model.bin"
    torch.save(state, path)
    model = init_model(tiny_config(case, **overrides), str(path))
    if case == "dinov3":  # the authors evaluate their released models without masked attention
        assert model.decode_head.attn_mask_probs.tolist() == [0.0, 0.0]
    assert_their_logits(model, record, case)


HUB_CONFIGS = {
    "transformers": {"architectures": ["EomtForUniversalSegmentation"], "model_type": "eomt", "hidden_size": 16},
    "authors": {"model_type": "eomt", "backbone": "vit_small_patch14_reg4_dinov2", "image_size": 48, "num_blocks": 2},
}


@pytest.mark.parametrize("where", ["load_from", *HUB_CONFIGS])
def test_authors_file_loads_as_load_from_and_from_a_hub_folder(record, where, tmp_path, one_thread):
    """``load_from`` (the runner's loader) and a Hub folder holding ``pytorch_model.bin`` beside the
    transformers ``config.json`` the tue-mps repos serve now, or beside the authors' own earlier one."""
    torch.save(authors_state(record, "dinov2"), tmp_path / "pytorch_model.bin")
    if where == "load_from":
        model = init_model(tiny_config("dinov2"))
        load_checkpoint(model, tmp_path / "pytorch_model.bin")
    else:
        (tmp_path / "config.json").write_text(json.dumps(HUB_CONFIGS[where]))
        model = init_model(tiny_config("dinov2"), str(tmp_path))
    x = (record["image"][..., :48, :48].float() - MEAN) / STD
    model.decode_head.attn_mask_probs.fill_(0.0)
    with torch.no_grad():
        classes, masks = model.extract_feat(x)
    assert_close(masks[-1], record["dinov2/48x48/annealed/mask"][-1])
    assert_close(classes[-1], record["dinov2/48x48/annealed/class"][-1])


def test_dinov3_deltas_without_the_pretrained_backbone_are_one_error(record, tmp_path):
    torch.save(authors_state(record, "dinov3"), tmp_path / "pytorch_model.bin")
    with pytest.raises(CheckpointError, match="holds backbone deltas.*set model.delta_base"):
        init_model(tiny_config("dinov3", **{"model.delta_base": None}), str(tmp_path / "pytorch_model.bin"))


def test_checkpoint_of_another_model_size_is_one_error(record, tmp_path):
    torch.save(authors_state(record, "dinov2"), tmp_path / "pytorch_model.bin")
    wider = tiny_config("dinov2", **{"model.backbone.embed_dims": 32, "model.decode_head.in_channels": 32})
    with pytest.raises(CheckpointError, match="does not fit the config's model"):
        init_model(wider, str(tmp_path / "pytorch_model.bin"))
