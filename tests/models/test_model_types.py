"""Every registered model type builds, runs forward and backward from a tiny config.

A new family adds one row per type it registers; the first test fails until it does."""

from __future__ import annotations

import copy

import pytest
import torch

from seglab.models.heads.decode_head import BaseCascadeDecodeHead
from seglab.registry import MODELS

from ..conftest import TINY_MODEL
from .test_eomt import TINY_EOMT_MODEL
from .test_zoo_mask2former import TINY_HEAD as TINY_MASK2FORMER_HEAD
from .test_zoo_mask2former import TINY_MASKFORMER_HEAD
from .test_zoo_san import TINY_SAN_MODEL


class PriorConcatHead(BaseCascadeDecodeHead):
    """A minimal later cascade stage (seglab's own come with the OCRNet and PointRend families)."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.conv = torch.nn.Conv2d(self.in_channels + self.num_classes, self.channels, 1)

    def forward(self, inputs, prev_output):
        x = self._transform_inputs(inputs)
        prev = torch.nn.functional.interpolate(prev_output, size=x.shape[2:], mode="bilinear")
        return self.cls_seg(self.conv(torch.cat([x, prev], dim=1)))


NORM = dict(type="BN", requires_grad=True)
RESNET = dict(depth=18, stem_channels=8, base_channels=8, norm_cfg=NORM)
# Heads and necks get random features of these shapes (channels, height, width), one per backbone level.
FEATURES = [(8, 16, 16), (16, 8, 8), (32, 8, 8), (64, 8, 8)]
HEAD = dict(channels=8, num_classes=3, norm_cfg=NORM)

TIMM_RESNET = dict(layers=(1, 1, 1, 1), channels=(4, 8, 8, 8), stem_width=4)
ROWS: dict[str, dict] = {
    # segmentors: a whole model
    "EncoderDecoder": dict(model=TINY_MODEL),
    # SAN: the head and text encoder are trained through the whole model ('head' is what part_of rows build)
    "MultimodalEncoderDecoder": dict(model=TINY_SAN_MODEL, head=TINY_SAN_MODEL),
    "SideAdapterCLIPHead": dict(part_of="MultimodalEncoderDecoder"),
    # EoMT: the head runs the ViT's last blocks, so it trains through the whole model
    "EoMT": dict(model=TINY_EOMT_MODEL, head=TINY_EOMT_MODEL),
    "EoMTHead": dict(part_of="EoMT"),
    "EoMTDINOv2": dict(backbone=dict(img_size=32, patch_size=16, embed_dims=8, num_layers=2, num_heads=2, out_indices=(1,))),
    "CLIPTextEncoder": dict(part_of="MultimodalEncoderDecoder"),
    "CascadeEncoderDecoder": dict(
        model={
            **TINY_MODEL,
            "type": "CascadeEncoderDecoder",
            "num_stages": 2,
            "decode_head": [
                {**TINY_MODEL["auxiliary_head"], "in_channels": 128, "in_index": 3},
                dict(type=PriorConcatHead, in_channels=128, in_index=3, channels=8, num_classes=3),
            ],
        }
    ),
    # the data preprocessor
    "SegDataPreProcessor": dict(preprocessor=dict(mean=[1, 2, 3], std=[2, 2, 2], size=(32, 32))),
    # backbones
    "ResNet": dict(backbone=RESNET),
    "ResNetV1c": dict(backbone={**RESNET, "dilations": (1, 1, 2, 4), "strides": (1, 2, 1, 1)}),
    "ResNetV1d": dict(backbone=RESNET),
    "ResNeXt": dict(backbone=dict(depth=50, stem_channels=8, base_channels=8, groups=2, base_width=4, norm_cfg=NORM)),
    "ResNeSt": dict(backbone=dict(depth=50, stem_channels=8, base_channels=4, norm_cfg=NORM)),
    "HRNet": dict(
        backbone=dict(
            norm_cfg=NORM,
            extra={
                f"stage{i}": dict(
                    num_modules=1,
                    num_branches=i,
                    block="BOTTLENECK" if i == 1 else "BASIC",
                    num_blocks=(1,) * i,
                    num_channels=tuple(4 * 2**b for b in range(i)),
                )
                for i in (1, 2, 3, 4)
            },
        )
    ),
    "SwinTransformer": dict(backbone=dict(embed_dims=4, depths=[2, 1, 1, 1], num_heads=[1, 1, 2, 2], window_size=3)),
    "MixVisionTransformer": dict(backbone=dict(embed_dims=4, num_heads=[1, 2, 2, 4], num_layers=[1, 1, 1, 1])),
    "PCPVT": dict(backbone=dict(embed_dims=[4, 8, 8, 8], num_heads=[1, 2, 2, 2], depths=[1, 1, 1, 1])),
    "SVT": dict(backbone=dict(embed_dims=[4, 8, 8, 8], num_heads=[1, 2, 2, 2], depths=[2, 1, 1, 1],
                              windiow_sizes=[3, 3, 3, 3], sr_ratios=[8, 4, 2, 1], mlp_ratios=[4, 4, 4, 4])),  # fmt: skip
    "BEiT": dict(backbone=dict(img_size=64, embed_dims=8, num_layers=2, num_heads=2, out_indices=[0, 1], final_norm=True)),
    "MAE": dict(backbone=dict(img_size=64, embed_dims=8, num_layers=2, num_heads=2, out_indices=-1)),
    "MSCAN": dict(backbone=dict(embed_dims=[4, 8, 8, 8], depths=[1, 1, 1, 1], norm_cfg=NORM)),
    # timm's ResNet-18 shrunk (timm is a test extra; tests/models/test_timm_backbone.py builds 23 other models)
    "TIMMBackbone": dict(backbone=dict(model_name="resnet18", pretrained=False, **TIMM_RESNET)),
    "mmpretrain.TIMMBackbone": dict(backbone=dict(model_name="resnet18", **TIMM_RESNET)),
    "DINOv2": dict(backbone=dict(img_size=32, patch_size=8, embed_dims=8, num_layers=2, num_heads=2, out_indices=(0, 1))),
    "DINOv3": dict(backbone=dict(img_size=32, patch_size=8, embed_dims=8, num_layers=2, num_heads=2, out_indices=(0, 1))),
    "VisionTransformer": dict(
        backbone=dict(img_size=32, patch_size=8, embed_dims=8, num_layers=2, num_heads=2, out_indices=(0, 1))
    ),
    "ConvNeXt": dict(
        backbone=dict(
            arch=dict(depths=[1, 1, 1, 1], channels=[4, 8, 8, 8]),
            out_indices=[0, 1, 2, 3],
            gap_before_final_norm=False,
            use_grn=True,
        )
    ),
    "mmpretrain.ConvNeXt": dict(
        backbone=dict(
            arch=dict(depths=[1, 1, 2, 1], channels=[4, 8, 8, 8]),
            out_indices=[1, 3],
            gap_before_final_norm=False,
            drop_path_rate=0.2,
            layer_scale_init_value=1.0,
        )
    ),
    "PoolFormer": dict(backbone=dict(arch=dict(layers=[1, 1, 1, 1], embed_dims=[4, 8, 8, 8]), out_indices=(0, 2, 4))),
    "mmpretrain.PoolFormer": dict(
        backbone=dict(
            arch=dict(layers=[1, 1, 2, 1], embed_dims=[4, 8, 12, 16]), out_indices=(0, 2, 4, 6), drop_path_rate=0.1
        )
    ),
    "UNet": dict(backbone=dict(base_channels=4, norm_cfg=NORM, upsample_cfg=dict(type="DeconvModule"))),
    "CGNet": dict(backbone=dict(num_channels=(8, 8, 8), num_blocks=(1, 2), reductions=(2, 4), norm_cfg=NORM)),
    "ERFNet": dict(
        backbone=dict(
            enc_downsample_channels=(4, 8, 12),
            enc_stage_non_bottlenecks=(1, 2),
            enc_non_bottleneck_dilations=(2,),
            enc_non_bottleneck_channels=(8, 12),
            dec_upsample_channels=(8, 4),
            dec_stages_non_bottleneck=(1, 1),
            dec_non_bottleneck_channels=(8, 4),
        )
    ),
    "ICNet": dict(
        backbone=dict(
            backbone_cfg={**RESNET, "type": "ResNetV1c", "dilations": (1, 1, 2, 4), "strides": (1, 2, 1, 1)},
            layer_channels=(16, 64),
            light_branch_middle_channels=4,
            psp_out_channels=8,
            out_channels=(4, 8, 8),
            norm_cfg=NORM,
        )
    ),
    "PIDNet": dict(backbone=dict(channels=4, ppm_channels=4, num_branch_blocks=2, norm_cfg=NORM)),
    "DDRNet": dict(backbone=dict(channels=4, ppm_channels=4, norm_cfg=NORM)),
    "MobileNetV2": dict(backbone=dict(widen_factor=0.125, out_indices=(1, 6), norm_cfg=NORM)),
    "MobileNetV3": dict(backbone=dict(arch="small", reduction_factor=8, norm_cfg=NORM)),
    "FastSCNN": dict(
        backbone=dict(
            downsample_dw_channels=(4, 8),
            global_in_channels=8,
            global_block_channels=(8, 12, 16),
            global_out_channels=16,
            higher_in_channels=8,
            lower_in_channels=16,
            fusion_out_channels=16,
            norm_cfg=NORM,
        )
    ),
    "BiSeNetV1": dict(
        backbone=dict(
            backbone_cfg={**RESNET, "type": "ResNet", "base_channels": 4},
            spatial_channels=(4, 4, 4, 8),
            context_channels=(8, 16, 32),
            out_channels=8,
        )
    ),
    "BiSeNetV2": dict(
        backbone=dict(
            detail_channels=(4, 4, 8), semantic_channels=(4, 4, 8, 8), semantic_expansion_ratio=2, bga_channels=8
        )
    ),
    "STDCNet": dict(
        backbone=dict(
            stdc_type="STDCNet1",
            in_channels=3,
            channels=(4, 8, 8, 16, 16),
            bottleneck_type="add",
            norm_cfg=NORM,
            act_cfg=None,
        )
    ),
    "STDCContextPathNet": dict(
        backbone=dict(
            backbone_cfg=dict(
                type="STDCNet",
                stdc_type="STDCNet1",
                in_channels=3,
                channels=(4, 8, 8, 16, 16),
                bottleneck_type="cat",
                norm_cfg=NORM,
                act_cfg=dict(type="ReLU"),
            ),
            last_in_channels=(16, 16),
            out_channels=8,
            ffm_cfg=dict(in_channels=16, out_channels=8),
        )
    ),
    # heads
    "FCNHead": dict(head={**HEAD, "in_channels": 64, "in_index": 3}),
    "BNHead": dict(head={**HEAD, "in_channels": 64, "channels": 64, "in_index": 3}),  # BN + 1x1 conv on the input
    "DepthwiseSeparableFCNHead": dict(head={**HEAD, "in_channels": 64, "in_index": 3, "dw_act_cfg": dict(type="ReLU")}),
    "ASPPHead": dict(head={**HEAD, "in_channels": 64, "in_index": 3, "dilations": (1, 2)}),
    "DepthwiseSeparableASPPHead": dict(
        head={**HEAD, "in_channels": 64, "in_index": 3, "dilations": (1, 2), "c1_in_channels": 8, "c1_channels": 4}
    ),
    "PSPHead": dict(head={**HEAD, "in_channels": 64, "in_index": 3, "pool_scales": (1, 2)}),
    "UPerHead": dict(head={**HEAD, "in_channels": [8, 16, 32, 64], "in_index": [0, 1, 2, 3], "pool_scales": (1, 2)}),
    "FPNHead": dict(
        head={**HEAD, "in_channels": [8, 16, 32, 64], "in_index": [0, 1, 2, 3], "feature_strides": [4, 8, 8, 8]}
    ),
    "SegformerHead": dict(head={**HEAD, "in_channels": [8, 16, 32, 64], "in_index": [0, 1, 2, 3]}),
    "LightHamHead": dict(
        head={**HEAD, "in_channels": [16, 32, 64], "in_index": [1, 2, 3], "ham_channels": 8, "ham_kwargs": {"MD_R": 4}}
    ),
    "PSAHead": dict(head={**HEAD, "in_channels": 64, "in_index": 3, "mask_size": (7, 7)}),
    "DAHead": dict(head={**HEAD, "in_channels": 64, "in_index": 3, "pam_channels": 4}),
    "DNLHead": dict(head={**HEAD, "in_channels": 64, "in_index": 3}),
    "GCHead": dict(head={**HEAD, "in_channels": 64, "in_index": 3}),
    "NLHead": dict(head={**HEAD, "in_channels": 64, "in_index": 3}),
    "CCHead": dict(head={**HEAD, "in_channels": 64, "in_index": 3}),
    "STDCHead": dict(
        head={
            **HEAD,
            "num_classes": 2,
            "in_channels": 8,
            "in_index": 0,
            "loss_decode": [dict(type="CrossEntropyLoss", use_sigmoid=True), dict(type="DiceLoss")],
        }
    ),
    # LR-ASPP pools its last input with a fixed 49x49 window
    "LRASPPHead": dict(
        head={
            **HEAD,
            "in_channels": (8, 16, 32),
            "in_index": (0, 1, 2),
            "input_transform": "multiple_select",
            "branch_channels": (4, 4),
        },
        features=[(8, 56, 56), (16, 52, 52), (32, 49, 49)],
    ),
    "EncHead": dict(
        head={**HEAD, "in_channels": [16, 32, 64], "in_index": [1, 2, 3], "num_codes": 4, "add_lateral": True}
    ),
    "ANNHead": dict(head={**HEAD, "in_channels": [32, 64], "in_index": [2, 3], "project_channels": 4}),
    "APCHead": dict(head={**HEAD, "in_channels": 64, "in_index": 3, "pool_scales": (1, 2)}),
    "DMHead": dict(head={**HEAD, "in_channels": 64, "in_index": 3, "filter_sizes": (1, 2)}),
    "EMAHead": dict(
        head={**HEAD, "in_channels": 64, "in_index": 3, "ema_channels": 8, "num_bases": 4, "num_stages": 2}
    ),
    "ISAHead": dict(head={**HEAD, "in_channels": 64, "in_index": 3, "isa_channels": 4, "down_factor": (3, 3)}),
    "SETRUPHead": dict(head={**HEAD, "in_channels": 64, "in_index": 3, "num_convs": 2, "up_scale": 2}),
    "SETRMLAHead": dict(
        head={**HEAD, "in_channels": [8, 8], "in_index": [0, 1], "mla_channels": 4}, features=[(8, 8, 8)] * 2
    ),
    "SegmenterMaskTransformerHead": dict(
        head={**HEAD, "norm_cfg": dict(type="LN"), "in_channels": 64, "in_index": 3, "num_layers": 1, "num_heads": 2}
        | {"embed_dims": 8}
    ),
    # DPT reads (feature map, class token) pairs, as a ViT with output_cls_token=True gives them
    "DPTHead": dict(
        head={**HEAD, "in_channels": [8] * 4, "in_index": [0, 1, 2, 3], "input_transform": "multiple_select"}
        | {"embed_dims": 8, "post_process_channels": [4, 4, 8, 8]},
        features=[(8, 4, 4)] * 4,
        cls_tokens=True,
    ),
    # K-Net: an FCN kernel generator and two update stages; the stage and its updator are exercised inside it
    "IterativeDecodeHead": dict(
        head=dict(
            num_stages=2,
            kernel_generate_head=dict(type="FCNHead", **HEAD, in_channels=64, in_index=3),
            kernel_update_head=[
                dict(
                    type="KernelUpdateHead",
                    in_channels=8,
                    out_channels=8,
                    num_heads=2,
                    feedforward_channels=16,
                    kernel_updator_cfg=dict(type="KernelUpdator", in_channels=4, feat_channels=4, out_channels=4),
                )
            ]
            * 2,
        )
    ),
    "KernelUpdateHead": dict(part_of="IterativeDecodeHead"),
    "KernelUpdator": dict(part_of="IterativeDecodeHead"),
    # two-branch heads: the training-mode maps of PIDNet (p, fused, d; edge targets) and DDRNet (stage 3, output)
    "PIDHead": dict(
        head={
            **HEAD,
            "in_channels": 8,
            "loss_decode": [
                dict(type=t) for t in ("CrossEntropyLoss", "CrossEntropyLoss", "BoundaryLoss", "OhemCrossEntropy")
            ],
        },
        features=[(4, 8, 8), (8, 8, 8), (4, 8, 8)],
        edges=True,
    ),
    "DDRHead": dict(
        head={**HEAD, "in_channels": 8, "loss_decode": [dict(type="CrossEntropyLoss")] * 2},
        features=[(4, 8, 8), (8, 8, 8)],
    ),
    # query-based mask classification (the tiny head of tests/models/test_zoo_mask2former.py)
    "Mask2FormerHead": dict(head={k: v for k, v in TINY_MASK2FORMER_HEAD.items() if k != "type"}),
    "MaskFormerHead": dict(head={k: v for k, v in TINY_MASKFORMER_HEAD.items() if k != "type"}),
    # later cascade stages, run as the second head of the CascadeEncoderDecoder row's model
    "OCRHead": dict(cascade=dict(in_channels=128, in_index=3, channels=8, ocr_channels=4, num_classes=3)),
    "PointHead": dict(
        cascade=dict(in_channels=[16], in_index=[0], channels=8, num_classes=3),
        cascade_model=dict(
            train_cfg=dict(num_points=32, oversample_ratio=3, importance_sample_ratio=0.75),
            test_cfg=dict(mode="whole", subdivision_steps=2, subdivision_num_points=64, scale_factor=2),
        ),
    ),
    # necks
    "FPN": dict(neck=dict(in_channels=[8, 16, 32, 64], out_channels=8, num_outs=5, add_extra_convs="on_output")),
    "JPU": dict(neck=dict(in_channels=(8, 16, 32, 64), mid_channels=8, dilations=(1, 2))),
    "MultiLevelNeck": dict(neck=dict(in_channels=[8, 16, 32, 64], out_channels=8, scales=[4, 2, 1, 0.5])),
    "ICNeck": dict(neck=dict(in_channels=(8, 16, 16), out_channels=8), features=[(8, 16, 16), (16, 8, 8), (16, 4, 4)]),
    "MLANeck": dict(neck=dict(in_channels=[8, 8], out_channels=4, norm_cfg=NORM), features=[(8, 8, 8)] * 2),
    "Feature2Pyramid": dict(neck=dict(embed_dim=8, norm_cfg=NORM), features=[(8, 4, 4)] * 4),
    # losses
    "CrossEntropyLoss": dict(loss=dict(avg_non_ignore=True), ignored_pixels_free=True),
    # as MMSegmentation's, the Dice denominator counts the predictions at ignored pixels
    "DiceLoss": dict(loss=dict(), ignored_pixels_free=False),
    "FocalLoss": dict(loss=dict(), ignored_pixels_free=True),
    "LovaszLoss": dict(loss=dict(reduction="none"), ignored_pixels_free=True),
    "TverskyLoss": dict(loss=dict(), ignored_pixels_free=True),
    "BoundaryLoss": dict(loss=dict(), ignored_pixels_free=True, channels=1),
    "HuasdorffDisstanceLoss": dict(loss=dict(), ignored_pixels_free=False),  # ignored pixels count as background
    "OhemCrossEntropy": dict(loss=dict(min_kept=20), ignored_pixels_free=True),
    "KLDivLoss": dict(loss=dict(temperature=2), ignored_pixels_free=False, teacher=True),  # one value per image
    # pixel samplers
    "OHEMPixelSampler": dict(sampler=dict(thresh=0.7, min_kept=16)),
}


def test_every_registered_model_type_has_a_row():
    shipped = {name for name in MODELS.names() if (MODELS.target(name) or "").startswith("seglab.")}
    assert sorted(shipped - set(ROWS)) == []


def features(requires_grad: bool = True, shapes: list[tuple[int, int, int]] = FEATURES) -> list[torch.Tensor]:
    torch.manual_seed(0)
    return [torch.randn(2, c, h, w, requires_grad=requires_grad) for c, h, w in shapes]


def assert_gradients_reach(module: torch.nn.Module, *leaves: torch.Tensor) -> None:
    trainable = [p for p in module.parameters() if p.requires_grad]
    assert all(p.grad is not None for p in trainable), "some parameters got no gradient"
    assert all(t.grad is not None for t in leaves)


@pytest.mark.parametrize("name", sorted(ROWS))
def test_build_forward_backward(name):
    if "TIMMBackbone" in name:
        pytest.importorskip("timm")  # an optional extra: installed for the tests by .ci/run
    row = copy.deepcopy(ROWS[name])
    kind = MODELS.kind_of(name)
    if "cascade" in row:  # a later cascade stage: the CascadeEncoderDecoder row's model with it as stage 2
        assert kind == "head"
        cascade = ROWS["CascadeEncoderDecoder"]["model"]
        stages = [cascade["decode_head"][0], {**row.pop("cascade"), "type": name}]
        row["model"] = {**cascade, **row.pop("cascade_model", {}), "decode_head": stages}
        name = "CascadeEncoderDecoder"
    if "model" in row:
        model = MODELS.build({**row["model"], "type": name}).train()
        batch = {
            "inputs": [torch.randint(0, 255, (3, 64, 64), dtype=torch.uint8) for _ in range(2)],
            "data_samples": [{"gt_sem_seg": torch.randint(0, 3, (1, 64, 64))} for _ in range(2)],
        }
        inputs, samples = model.data_preprocessor(batch, training=True)
        losses = model(inputs, samples, mode="loss")
        sum(v for k, v in losses.items() if "loss" in k).backward()
        assert_gradients_reach(model.decode_head)
        model.eval()
        with torch.no_grad():
            out = model.predict(inputs, samples)
        assert out[0]["pred_sem_seg"].shape == (64, 64)
    elif "preprocessor" in row:
        pre = MODELS.build({**row["preprocessor"], "type": name})
        inputs, _ = pre({"inputs": [torch.zeros(3, 20, 30, dtype=torch.uint8)]}, training=True)
        assert inputs.shape == (1, 3, 32, 32)
    elif "backbone" in row:
        assert kind == "backbone"
        backbone = MODELS.build({**row["backbone"], "type": name}).train()
        x = torch.randn(2, 3, 64, 64, requires_grad=True)
        outs = backbone(x)
        assert isinstance(outs, tuple) and all(o.dim() == 4 for o in outs)
        sum(o.mean() for o in outs).backward()
        assert_gradients_reach(backbone, x)
    elif "part_of" in row:  # a building block, trained through its parent type's row
        parent = MODELS.build({**ROWS[row["part_of"]]["head"], "type": row["part_of"]})
        assert any(type(m).__name__ == name for m in parent.modules())
    elif "head" in row:
        assert kind in ("head", "neck")
        head = MODELS.build({**row["head"], "type": name}).train()
        feats = features(shapes=row.get("features", FEATURES))
        pairs = (lambda fs: [[f, f.mean((2, 3))] for f in fs]) if row.get("cls_tokens") else (lambda fs: fs)
        samples = [{"gt_sem_seg": torch.randint(0, 3, (1, 64, 64))} for _ in range(2)]
        for sample in samples if row.get("edges") else []:
            sample["gt_edge_map"] = torch.randint(0, 2, (1, 64, 64))
        losses = head.loss(pairs(feats), samples, {})
        sum(v for k, v in losses.items() if "loss" in k).backward()
        assert_gradients_reach(head)
        head.eval()
        with torch.no_grad():
            feats = pairs(features(False, row.get("features", FEATURES)))
            logits = head.predict(feats, [{"pad_shape": (64, 64)}] * 2, {})
        assert logits.shape == (2, head.out_channels, 64, 64)
    elif "neck" in row:
        assert kind == "neck"
        neck = MODELS.build({**row["neck"], "type": name}).train()
        feats = features(shapes=row.get("features", FEATURES))
        outs = neck(feats)
        assert isinstance(outs, tuple) and all(o.dim() == 4 for o in outs)
        sum(o.mean() for o in outs).backward()
        assert_gradients_reach(neck, *feats)
    elif "loss" in row:
        assert kind == "loss"
        loss_fn = MODELS.build({**row["loss"], "type": name})
        logits = torch.randn(2, row.get("channels", 3), 8, 8, requires_grad=True)
        label = torch.randint(0, max(logits.shape[1], 2), (2, 8, 8))
        label[0, 0] = 255
        if row.get("teacher"):  # a distillation loss compares with another logit map
            label = torch.randn(logits.shape)
        value = loss_fn(logits, label, ignore_index=255)
        value = value.sum() if row.get("teacher") else value
        assert value.dim() == 0 and torch.isfinite(value)
        value.backward()
        assert logits.grad is not None and logits.grad.abs().sum() > 0
        if row["ignored_pixels_free"]:
            assert logits.grad[0, :, 0].abs().sum() == 0  # ignored pixels get no gradient
    elif "sampler" in row:
        assert kind == "pixel_sampler"
        head = MODELS.build(
            {**ROWS["FCNHead"]["head"], "type": "FCNHead", "sampler": {**row["sampler"], "type": name}}
        ).train()
        samples = [{"gt_sem_seg": torch.randint(0, 3, (1, 64, 64))} for _ in range(2)]
        losses = head.loss(features(), samples, {})
        sum(v for k, v in losses.items() if "loss" in k).backward()
        assert_gradients_reach(head)
        weight = head.sampler.sample(torch.randn(2, 3, 64, 64), samples[0]["gt_sem_seg"].expand(2, -1, -1))
        assert set(weight.unique().tolist()) == {0.0, 1.0}  # some pixels kept, others dropped
    else:
        raise AssertionError(f"row {name} names no kind of test")
