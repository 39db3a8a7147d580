"""EoMT: the transformers layout (``EomtForUniversalSegmentation``) loads into the shipped config's model with the
same logits, at its image size and at another one (position interpolation); a tiny EoMT learns on synthetic data
with the attention-mask annealing on; the annealing ends with no masks, as published."""

from __future__ import annotations

from unittest import mock

import pytest
import torch
import torch.nn.functional as F

from seglab.errors import ConfigError
from seglab.inference import init_model
from seglab.models.backbones.dinov2 import DINOv2
from seglab.models.backbones.eomt_dinov2 import EoMTDINOv2
from seglab.models.segmentors.eomt import EoMT

from ..conftest import TINY_MODEL
from .hub_parity import assert_close, randomise, save_hub_model, shrunk_config
from .test_eomt_dinov3_hf import assert_same_logits
from .zoo_parity import assert_tiny_model_learns, assert_trains_two_iterations

CONFIG = "eomt_dinov2-l_4xb4-39k_ade20k-512x512"
SEGLAB_SIZES = {
    "model.backbone.init_cfg": None,
    "model.backbone.img_size": 64,
    "model.backbone.embed_dims": 32,
    "model.backbone.num_layers": 4,
    "model.backbone.num_heads": 2,
    "model.backbone.num_register_tokens": 2,
    "model.backbone.out_indices": (3,),
    "model.decode_head.in_channels": 32,
    "model.decode_head.num_classes": 4,
    "model.decode_head.num_queries": 5,
    "model.decode_head.num_blocks": 2,
    "model.decode_head.attn_mask_annealing": None,
    "model.decode_head.loss_cls.class_weight": [1.0] * 4 + [0.1],
}


def eomt_class():
    """transformers' class; its module asks torchvision's version while it loads, which the tests' torchvision
    stand-in (tests/torchvision_stand_in.py) cannot give: answer "older" for that one question."""
    transformers = pytest.importorskip("transformers")
    from transformers.utils import import_utils

    with mock.patch.object(import_utils, "is_torchvision_greater_or_equal", lambda version: False):
        return transformers.EomtForUniversalSegmentation


def hub_eomt_model(mask_prob: float, swiglu: bool, image_size: int = 64, state: dict | None = None):
    """A tiny transformers EoMT at ``image_size``: random weights and ``mask_prob``, or ``state`` (its own)."""
    model_class = eomt_class()
    import transformers

    config = transformers.EomtConfig(
        hidden_size=32,
        num_hidden_layers=4,
        num_attention_heads=2,
        image_size=image_size,
        patch_size=16,
        num_blocks=2,
        num_register_tokens=2,
        num_queries=5,
        num_labels=4,
        use_swiglu_ffn=swiglu,
    )
    model = model_class(config)
    if state is not None:
        model.load_state_dict(state)
        return model.eval()
    model = randomise(model)
    model.attn_mask_probs.fill_(mask_prob)  # 1: masks on (an untrained model); 0: annealed away (a trained one)
    return model


def hub_eomt(tmp_path, mask_prob: float, swiglu: bool):
    model = hub_eomt_model(mask_prob, swiglu)
    return model, save_hub_model(model, tmp_path / "eomt")


def resized_hub_eomt(theirs, image_size: int):
    """The same weights in a transformers EoMT built for ``image_size``, its position table resized as
    transformers' ``Dinov2WithRegistersModel`` resizes one at run time (bicubic, antialiased): transformers'
    EoMT runs only at its config's size, so this is the reference for position interpolation."""
    import transformers
    from transformers.models.dinov2_with_registers.modeling_dinov2_with_registers import (
        Dinov2WithRegistersEmbeddings,
    )

    config = theirs.config
    dinov2 = transformers.Dinov2WithRegistersConfig(
        hidden_size=config.hidden_size, patch_size=config.patch_size, image_size=config.image_size,
        num_register_tokens=config.num_register_tokens,
    )  # fmt: skip
    embeddings = Dinov2WithRegistersEmbeddings(dinov2)
    table = theirs.embeddings.position_embeddings.weight.detach()[None]
    embeddings.position_embeddings.data = torch.cat((torch.zeros_like(table[:, :1]), table), dim=1)
    tokens = torch.zeros(1, 1 + (image_size // config.patch_size) ** 2, config.hidden_size)
    with torch.no_grad():
        resized = embeddings.interpolate_pos_encoding(tokens, image_size, image_size)
    state = dict(theirs.state_dict())
    state["embeddings.position_embeddings.weight"] = resized[0, 1:]
    return hub_eomt_model(0.0, config.use_swiglu_ffn, image_size, state)


@pytest.mark.parametrize(("mask_prob", "swiglu"), [(1.0, False), (0.0, True)])
def test_hub_eomt_folder_gives_the_hub_models_logits(tmp_path, mask_prob, swiglu, one_thread):
    theirs, folder = hub_eomt(tmp_path, mask_prob, swiglu)
    sizes = {**SEGLAB_SIZES, "model.backbone.ffn_type": "swiglufused" if swiglu else "mlp"}
    ours = init_model(shrunk_config(CONFIG, sizes), str(folder))
    assert isinstance(ours, EoMT)
    assert ours.decode_head.attn_mask_probs.tolist() == [mask_prob] * 2
    # the pre-training size, then another one, where ours interpolates its 4x4 position grid to 6x6
    for size, reference in ((64, theirs), (96, resized_hub_eomt(theirs, 96))):
        assert_same_logits(ours, reference, size, masked=bool(mask_prob))
    with torch.no_grad():  # a non-square input (transformers' EoMT has no such size)
        cls_other, mask_other = ours.extract_feat(torch.randn(1, 3, 96, 80))
    assert mask_other[-1].shape == (1, 5, 24, 20) and torch.isfinite(cls_other[-1]).all()


def tiny_eomt(annealing: dict | None = None) -> dict:
    backbone = dict(type="DINOv2", img_size=64, patch_size=8, embed_dims=32, num_layers=3, num_heads=2)
    head = dict(
        type="EoMTHead",
        in_channels=32,
        num_classes=3,
        num_queries=6,
        num_blocks=2,
        attn_mask_annealing=annealing,
        loss_cls=dict(
            type="mmdet.CrossEntropyLoss", use_sigmoid=False, loss_weight=2.0, class_weight=[1.0] * 3 + [0.1]
        ),
        train_cfg=dict(
            num_points=256,
            assigner=dict(
                type="mmdet.HungarianAssigner",
                match_costs=[
                    dict(type="mmdet.ClassificationCost", weight=2.0),
                    dict(type="mmdet.CrossEntropyLossCost", weight=5.0, use_sigmoid=True),
                    dict(type="mmdet.DiceCost", weight=5.0, pred_act=True, eps=1.0),
                ],
            ),
        ),
    )
    return dict(backbone=backbone, decode_head=head)


# the model-types row (tests/models/test_model_types.py): a whole tiny EoMT
TINY_EOMT_MODEL = dict(data_preprocessor=TINY_MODEL["data_preprocessor"], **tiny_eomt())


def test_tiny_eomt_learns_with_the_annealing_on(tiny_config, one_thread):
    """20 iterations of batch 4, the masks annealed away by iteration 13 (mIoU 80-85 over seeds 0-2)."""
    parts = tiny_eomt(dict(start_iters=[0, 3], end_iters=[10, 13]))
    fragment = f"""
model = dict(type='EoMT', auxiliary_head=None, backbone=dict(_delete_=True, **{parts["backbone"]!r}),
             decode_head=dict(_delete_=True, **{parts["decode_head"]!r}))
train_dataloader = dict(batch_size=4)
"""
    training = """
optim_wrapper = dict(_delete_=True, type='OptimWrapper', optimizer=dict(type='AdamW', lr=0.004, weight_decay=0.05),
                     clip_grad=dict(max_norm=1.0, norm_type=2))
param_scheduler = [dict(type='PolyLR', eta_min=0, power=0.9, begin=0, end=20, by_epoch=False)]
"""
    assert_tiny_model_learns(tiny_config, fragment, "EoMTHead", iters=20, training=training)


def build_tiny(annealing: dict | None) -> EoMT:
    torch.manual_seed(0)
    parts = tiny_eomt(annealing)
    return EoMT(backbone=parts["backbone"], decode_head=parts["decode_head"])


def test_attention_masks_anneal_to_none_by_the_end_of_the_schedule(one_thread):
    model = build_tiny(dict(start_iters=[0, 2], end_iters=[4, 6], power=0.9))
    head = model.decode_head
    samples = [{"gt_sem_seg": torch.randint(0, 3, (1, 32, 32))}]
    seen = []
    model.train()
    for _ in range(7):
        model.loss(torch.randn(1, 3, 32, 32), samples)
        seen.append(head.attn_mask_probs.tolist())
    assert seen[0] == [1.0, 1.0] and 0 < seen[3][1] < 1 and seen[2][0] == pytest.approx(0.5**0.9)
    assert seen[-1] == [0.0, 0.0] and int(head.annealing_iter) == 7  # a buffer: saved with checkpoints
    model.eval()
    x = torch.randn(1, 3, 32, 32)
    with torch.no_grad():
        cls_preds, mask_preds = model.extract_feat(x)
        assert len(cls_preds) == 1  # no masked block runs any more
        head.attn_mask_probs.fill_(1.0)
        masked_cls, _ = model.extract_feat(x)
    assert len(masked_cls) == 3 and not torch.allclose(masked_cls[-1], cls_preds[-1])
    logits = model.encode_decode(x)
    assert logits.shape == (1, 3, 32, 32)


def test_annealing_and_wiring_mistakes_raise_config_errors():
    with pytest.raises(ConfigError, match="attn_mask_annealing needs"):
        build_tiny(dict(start_iters=[0], end_iters=[4]))
    parts = tiny_eomt()
    with pytest.raises(ConfigError, match="auxiliary_head=None"):
        EoMT(backbone=parts["backbone"], decode_head=parts["decode_head"], auxiliary_head=dict(parts["decode_head"]))


def test_dinov2_weights_load_with_their_patch_embedding_resampled_to_16(one_thread):
    """DINOv2's 14x14 patch kernel becomes a 16x16 one that answers a patch resized to 16x16 as the original
    answers the original patch; the position grid is resized to img_size / 16."""
    torch.manual_seed(0)
    dinov2 = DINOv2(img_size=56, patch_size=14, embed_dims=32, num_layers=1, num_heads=2, num_register_tokens=4)
    ours = EoMTDINOv2(img_size=64, patch_size=16, embed_dims=32, num_layers=1, num_heads=2, num_register_tokens=4)
    ours.load_state_dict(ours.adapt_pretrained(dinov2.state_dict()))
    patch = torch.randn(2, 3, 14, 14)
    resized = F.interpolate(patch, size=(16, 16), mode="bicubic", antialias=True, align_corners=False)
    theirs = dinov2.patch_embed(patch)[0]
    assert_close(ours.patch_embed(resized)[0], theirs)
    assert ours.pos_embed.shape == (1, 1 + 4 * 4, 32)


def test_shipped_config_trains_from_the_command_line(learnable_data, tmp_path, one_thread):
    """The EoMT-S ADE20K config (its pipeline, schedule, losses and annealing) on a 4-block, 96-wide ViT without
    pre-trained weights, 64 px data, sliding-window validation: two iterations from ``seglab train``."""
    options = [
        "model.backbone.init_cfg=None",
        "model.backbone.num_layers=4",
        "model.backbone.embed_dims=96",
        "model.backbone.num_heads=3",
        "model.decode_head.in_channels=96",
        "model.decode_head.train_cfg.num_points=256",
        "model.test_cfg.crop_size=(64,64)",
        "model.test_cfg.stride=(32,32)",
    ]
    config = "eomt/eomt_dinov2-s_4xb4-39k_ade20k-512x512"
    assert_trains_two_iterations(config, options, learnable_data, tmp_path / "work")
