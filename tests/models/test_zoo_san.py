"""SAN (Side Adapter Network) against MMSegmentation 1.2.2 (records in tests/records/zoo/san_*).

CLIP's tokenizer gives MMSegmentation's token ids; a shrunk CLIPTextEncoder and a shrunk SideAdapterCLIPHead
give its outputs for the same weights; a tiny SAN (three class names as prompts) learns; a shipped config
builds and predicts at small widths. Key/shape lists and init statistics are checked in test_zoo_keys.py.
"""

from __future__ import annotations

import os

import pytest
import torch

from seglab import Config, build_model
from seglab.errors import ConfigError
from seglab.models.builder import build_on_meta
from seglab.models.san.convert import convert_openai_clip
from seglab.models.san.tokenizer import tokenize
from seglab.registry import MODELS

from .zoo_parity import RECORDS, assert_tiny_model_learns, config_path, read_record, recorded_state

FIXTURES = read_record("san_fixtures.json.gz")
del FIXTURES["recorder"]  # the script that re-makes the record, not a case


@pytest.fixture(scope="module")
def tensors() -> dict:
    return torch.load(RECORDS / "san_fixtures.pt", weights_only=True)


def recorded_module(name: str, tensors: dict) -> torch.nn.Module:
    case = FIXTURES[name]
    module = MODELS.build(dict(type=case["type"], **case["kwargs"])).eval()
    state = module.state_dict()
    assert [[k, list(v.shape)] for k, v in state.items()] == case["keys"]
    module.load_state_dict(recorded_state(case, tensors[f"{name}/state"], state), strict=True)
    return module


def assert_close(outs: list[torch.Tensor], name: str, tensors: dict) -> None:
    for i, out in enumerate(outs):
        ref = tensors[f"{name}/out/{i}"]
        assert out.shape == ref.shape
        err, scale = (out - ref).abs().max().item(), ref.abs().max().item()
        assert err <= 1e-4 * scale, f"output {i}: max error {err:.3g}, max |reference| {scale:.3g}"


def test_tokenizer_gives_clips_ids_truncated_at_77():
    record = FIXTURES["tokenizer"]
    ids = tokenize(record["prompts"])
    assert ids.shape == (len(record["prompts"]), 77)
    assert [[int(t) for t in row if t] for row in ids] == record["ids"]


def test_text_encoder_matches_mmsegmentation_for_the_same_weights(tensors):
    model = recorded_module("clip_text", tensors)
    ids = tensors["clip_text/ids"]
    assert_close([model.encode_text(ids), model.encode_text(ids, normalize=True)], "clip_text", tensors)


def test_text_encoder_prompts_average_templates_and_append_background():
    torch.manual_seed(0)
    model = build_model(dict(type="CLIPTextEncoder", vocabulary=["cat", "dog", "tree"], embed_dims=8,
                             num_layers=1, num_heads=2, output_dims=8), load_pretrained=False)  # fmt: skip
    with torch.no_grad():
        model.positional_embedding.normal_()
        model.text_projection.normal_()
        embeds = model()
        per_template = [model.encode_text(tokenize(t.format("dog")), normalize=True) for t in model.templates]
    assert len(model.templates) == 14 and embeds.shape == (4, 8)  # cat, dog, tree + background
    scale = model.logit_scale.exp()
    assert torch.allclose(embeds.norm(dim=-1), scale.expand(4))
    dog = torch.nn.functional.normalize(torch.cat(per_template).mean(0), dim=0)
    assert torch.allclose(embeds[1], scale * dog, atol=1e-5)
    assert set(model.cache) == {"cat", "dog", "tree"} and torch.equal(model(), embeds)  # encoded once


def test_side_adapter_head_matches_mmsegmentation_for_the_same_weights(tensors):
    model = recorded_module("san_head", tensors)
    clip = [[tensors[f"inputs/san_head/clip/{i}/{j}"] for j in (0, 1)] for i in range(3)]
    inputs = [tensors["inputs/san_head/image"], clip, tensors["inputs/san_head/embeds"]]
    with torch.no_grad():
        masks, logits = model(inputs, [2])
        pred = model.predict_by_feat([masks[-1], logits[-1]], [dict(img_shape=(64, 80), pad_shape=(64, 80))])
    assert_close([*masks, *logits, pred], "san_head", tensors)


@pytest.mark.parametrize(
    "cfg,message",
    [
        (dict(type="CLIPTextEncoder"), "exactly one of dataset_name and vocabulary"),
        (dict(type="CLIPTextEncoder", dataset_name="mars"), "dataset_name='mars' is not known"),
        (dict(type="CLIPTextEncoder", vocabulary=["a"], templates="imagenet"), "templates='imagenet'"),
    ],
)
def test_user_mistakes_raise_config_error(cfg, message):
    with pytest.raises(ConfigError, match=message):
        build_on_meta(cfg)


# ------------------------------------------------------------------------------------------ learning
TINY_VIT = """type='VisionTransformer', img_size=(32, 32), patch_size=4, patch_pad=0, embed_dims=16, num_layers=3,
    num_heads=2, mlp_ratio=2, out_origin=True, out_indices=(1, 2), with_cls_token=True, output_cls_token=True,
    patch_bias=False, pre_norm=True, norm_cfg=dict(type='LN', eps=1e-5), act_cfg=dict(type='QuickGELU'),
    interpolate_mode='bicubic', frozen_exclude=['all']"""
TINY_SAN = f"""
model = dict(_delete_=True, type='MultimodalEncoderDecoder', asymetric_input=True, encoder_resolution=0.5,
    data_preprocessor=dict(type='SegDataPreProcessor', mean=[122.7709, 116.7460, 104.0937],
                           std=[68.5005, 66.6322, 70.3232], bgr_to_rgb=True, pad_val=0, seg_pad_val=255,
                           size=(64, 64)),
    image_encoder=dict({TINY_VIT}),
    text_encoder=dict(type='CLIPTextEncoder', vocabulary=['background', 'square', 'circle'], embed_dims=16,
                      num_layers=1, num_heads=2, output_dims=16),
    decode_head=dict(type='SideAdapterCLIPHead', num_classes=3, deep_supervision_idxs=[1],
        san_cfg=dict(in_channels=3, clip_channels=16, embed_dims=16, patch_size=8, num_queries=8,
                     cfg_encoder=dict(num_encode_layer=2, num_heads=2, mlp_ratio=2), fusion_index=[0, 1, 2],
                     cfg_decoder=dict(num_heads=2, num_layers=1, embed_channels=16, mlp_channels=16, num_mlp=2,
                                      rescale=True), norm_cfg=dict(type='LN', eps=1e-6)),
        maskgen_cfg=dict(sos_token_num=8, num_layers=1, embed_dims=16, num_heads=2, mlp_ratio=2, out_dims=16,
                         act_cfg=dict(type='QuickGELU'), norm_cfg=dict(type='LN', eps=1e-5), frozen_exclude=['all']),
        train_cfg=dict(num_points=256, oversample_ratio=3.0, importance_sample_ratio=0.75,
            assigner=dict(type='HungarianAssigner', match_costs=[dict(type='ClassificationCost', weight=2.0),
                dict(type='CrossEntropyLossCost', weight=5.0, use_sigmoid=True),
                dict(type='DiceCost', weight=5.0, pred_act=True, eps=1.0)])),
        loss_decode=[dict(type='CrossEntropyLoss', loss_name='loss_cls_ce', loss_weight=2.0,
                          class_weight=[1.0, 1.0, 1.0, 0.1]),
                     dict(type='CrossEntropyLoss', use_sigmoid=True, loss_name='loss_mask_ce', loss_weight=5.0),
                     dict(type='DiceLoss', ignore_index=None, naive_dice=True, eps=1, loss_name='loss_mask_dice',
                          loss_weight=5.0)]),
    test_cfg=dict(mode='whole'))
"""


def _tiny_san_model() -> dict:
    namespace: dict = {}
    exec(TINY_SAN, namespace)  # the fragment is plain Python: model = dict(_delete_=True, ...)
    return {k: v for k, v in namespace["model"].items() if k not in ("_delete_", "type")}


TINY_SAN_MODEL = dict(type="MultimodalEncoderDecoder", **_tiny_san_model())  # also test_model_types.py's row


def synthetic_batch() -> tuple[torch.Tensor, list[dict]]:
    """Two 64 px images: a bright square (class 1) and a dark disc (class 2) on a grey background."""
    images, samples = torch.full((2, 3, 64, 64), 120.0), []
    yy, xx = torch.meshgrid(torch.arange(64), torch.arange(64), indexing="ij")
    for b, (y, x) in enumerate(((8, 12), (30, 26))):
        label = torch.zeros(1, 64, 64, dtype=torch.long)
        square = (yy >= y) & (yy < y + 24) & (xx >= x) & (xx < x + 24)
        disc = (yy - (60 - y)) ** 2 + (xx - (60 - x)) ** 2 < 14**2
        images[b][:, square], images[b][:, disc] = 230.0, 20.0
        label[0][square], label[0][disc] = 1, 2
        samples.append(dict(gt_sem_seg=label, img_shape=(64, 64), ori_shape=(64, 64)))
    return images, samples


# the published recipe's AdamW with a learning rate and warm-up for 60 iterations
TINY_TRAINING = """
optim_wrapper = dict(_delete_=True, type='OptimWrapper', optimizer=dict(type='AdamW', lr=0.003, weight_decay=0.0001))
param_scheduler = [dict(type='LinearLR', start_factor=1e-3, by_epoch=False, begin=0, end=5),
                   dict(type='PolyLR', eta_min=0.0, power=1.0, begin=5, end=60, by_epoch=False)]
"""


def distinct_class_embeddings(model: torch.nn.Module) -> dict:
    """An untrained text tower embeds the three class names almost alike (cosine 0.99); pre-trained CLIP's do
    not. Distinct embeddings stand in for them through the encoder's cache."""
    distinct = dict(zip(model.text_encoder.class_names, torch.eye(16)[:3]))
    model.text_encoder.cache.update(distinct)
    return distinct


def test_tiny_san_learns_with_distinct_class_embeddings(tiny_config, one_thread, monkeypatch):
    """mIoU 69-85 over seeds 0-2 in 60 iterations (with the random text tower's own embeddings: 23-52)."""
    from seglab.engine.runner import Runner

    build = Runner._build_model

    def build_with_distinct_embeddings(self, *args, **kwargs):
        model = build(self, *args, **kwargs)  # after its move to the device, which empties the cache
        distinct_class_embeddings(model)
        return model

    monkeypatch.setattr(Runner, "_build_model", build_with_distinct_embeddings)
    assert_tiny_model_learns(tiny_config, TINY_SAN, "SideAdapterCLIPHead", training=TINY_TRAINING)


def test_tiny_san_fits_a_batch_with_the_published_optimiser(one_thread):
    """Every supervised layer's losses (deep supervision included) fall by half and over 90% of the batch's
    pixels come out right after 40 AdamW steps; the class embeddings survive the change to eval mode."""
    torch.manual_seed(0)
    model = build_model(TINY_SAN_MODEL, load_pretrained=False)
    distinct = distinct_class_embeddings(model)
    images, samples = synthetic_batch()
    inputs, samples = model.data_preprocessor(dict(inputs=list(images), data_samples=samples), training=True)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=0.003, weight_decay=0.0001)
    first = None
    for _ in range(40):
        losses = model.loss(inputs, samples)
        first = first or {k: v.item() for k, v in losses.items()}
        optimizer.zero_grad()
        sum(losses.values()).backward()
        optimizer.step()
    assert sorted(first) == sorted(
        f"decode.{p}loss_{n}" for p in ("", "d1.") for n in ("cls_ce", "mask_ce", "mask_dice")
    )
    assert all(losses[k].item() < 0.5 * first[k] for k in first), (first, {k: v.item() for k, v in losses.items()})
    model.eval()
    assert model.text_encoder.cache == distinct  # kept over the change of mode
    with torch.no_grad():
        pred = torch.stack([p["pred_sem_seg"] for p in model.predict(inputs, samples)])
    truth = torch.stack([s["gt_sem_seg"][0] for s in samples])
    assert (pred == truth).float().mean() > 0.9


def test_pretrained_clip_in_mmsegmentations_converted_layout_loads_into_its_three_parts(tmp_path, seglab_log):
    """``model.pretrained`` is one file for image encoder, text encoder and recognition layers (the layout
    MMSegmentation's clip2mmseg.py writes); the side adapter keeps its own initialisation."""
    torch.manual_seed(1)
    source = build_model(TINY_SAN_MODEL, load_pretrained=False).state_dict()
    parts = ("image_encoder.", "text_encoder.", "decode_head.rec_with_attnbias.")
    clip = {k: v for k, v in source.items() if k.startswith(parts) and "bg_embed" not in k}
    torch.save(clip, tmp_path / "clip.pth")
    torch.manual_seed(2)
    state = build_model(dict(TINY_SAN_MODEL, pretrained=str(tmp_path / "clip.pth"))).state_dict()
    assert all(torch.equal(state[k], v) for k, v in clip.items())
    key = "decode_head.side_adapter_network.pos_embed"
    assert key not in clip and not torch.equal(state[key], source[key])


def test_openai_clip_layout_converts_as_mmsegmentations_clip2mmseg_and_loads(tmp_path, seglab_log):
    layouts = torch.load(RECORDS / "san_convert.pt", weights_only=True)
    converted = convert_openai_clip(layouts["original"], visual_split=2)
    assert list(converted) == list(layouts["converted"])
    assert all(torch.equal(converted[k], v) for k, v in layouts["converted"].items())
    torch.save(layouts["original"], tmp_path / "ViT-B-16.pt")
    model = dict(TINY_SAN_MODEL, pretrained=str(tmp_path / "ViT-B-16.pt"))
    model["image_encoder"] = dict(
        model["image_encoder"], img_size=(8, 8), num_layers=2, out_indices=(0, 1), mlp_ratio=4
    )
    model["text_encoder"] = dict(
        model["text_encoder"], total_vocab_size=64, context_length=12, num_layers=2, output_dims=8
    )
    model["decode_head"] = dict(
        model["decode_head"], maskgen_cfg=dict(model["decode_head"]["maskgen_cfg"], out_dims=8, mlp_ratio=4)
    )
    state = build_model(model).state_dict()
    assert all(torch.equal(state[k], v) for k, v in converted.items())
    assert "converted the original OpenAI CLIP layout" in seglab_log.text


# ------------------------------------------------------------------------------------------ shipped configs
def test_shipped_config_builds_and_predicts_at_small_widths(one_thread):
    cfg = Config.fromfile(config_path("san/san-vit-b16_voc12aug-640x640"))
    model = cfg.model
    model.pretrained = None
    model.image_encoder.update(embed_dims=32, num_heads=2, num_layers=3, out_indices=(0, 1, 2))
    model.text_encoder.update(embed_dims=16, num_heads=2, num_layers=1, output_dims=16)
    model.decode_head.san_cfg.update(
        clip_channels=32, embed_dims=24, num_queries=10, cfg_encoder=dict(num_encode_layer=2, num_heads=2, mlp_ratio=2)
    )
    model.decode_head.san_cfg.cfg_decoder.update(num_heads=2, embed_channels=16, mlp_channels=16)
    model.decode_head.maskgen_cfg.update(sos_token_num=10, num_layers=1, embed_dims=32, num_heads=2, out_dims=16)
    model.decode_head.deep_supervision_idxs = [1]
    torch.manual_seed(0)
    net = build_model(model, load_pretrained=False).eval()
    assert len(net.text_encoder.class_names) == 20 and net.num_classes == 20
    with torch.no_grad():
        out = net.predict(torch.randn(1, 3, 64, 96), [dict(img_shape=(64, 96), ori_shape=(60, 90))])
    assert out[0]["seg_logits"].shape == (20, 60, 90) and out[0]["pred_sem_seg"].shape == (60, 90)
    net.train()
    gt = torch.randint(0, 21, (1, 64, 96))
    gt[gt == 20] = 255
    with pytest.raises(ConfigError, match="class_weight has 172 entries; training needs num_classes"):
        net.loss(torch.randn(1, 3, 64, 96), [dict(gt_sem_seg=gt)])  # MMSegmentation's config, as published
    net.decode_head.losses["loss_cls_ce"].class_weight = [1.0] * 20 + [0.1]
    losses = net.loss(torch.randn(1, 3, 64, 96), [dict(gt_sem_seg=gt)])
    assert sorted(losses) == sorted(
        f"decode.{p}loss_{n}" for p in ("", "d1.") for n in ("cls_ce", "mask_ce", "mask_dice")
    )
    sum(losses.values()).backward()
    assert net.decode_head.side_adapter_network.query_embed.grad is not None
    trainable = {k.split(".")[0] for k, p in net.named_parameters() if p.requires_grad}
    assert trainable == {"image_encoder", "text_encoder", "decode_head"}
    assert [k for k, p in net.image_encoder.named_parameters() if p.requires_grad] == ["pos_embed"]
    assert [k for k, p in net.text_encoder.named_parameters() if p.requires_grad] == ["bg_embed"]


@pytest.mark.skipif(not os.environ.get("SEGLAB_TEST_EXPORT_ZOO"), reason="~5-15 s: runs with SEGLAB_TEST_EXPORT_ZOO=1")
def test_tiny_san_exports_to_onnx_with_the_class_embeddings_inside(tmp_path, one_thread):
    """The text encoder runs while tracing: the exported graph holds the prompts' embeddings as constants."""
    pytest.importorskip("onnxruntime")
    from seglab.deploy.onnx_export import export_onnx, verify_onnx

    torch.manual_seed(0)
    model = build_model(TINY_SAN_MODEL, load_pretrained=False).eval()
    check = verify_onnx(model, export_onnx(model, tmp_path / "san.onnx", (64, 96)), (64, 96))
    assert check["max_torch"] > 0.1 and check["max_error"] <= 1e-4 * check["max_torch"], check
