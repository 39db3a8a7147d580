"""BatchNorm folding (``seglab.models.fold_bn``): for one config of every family with BatchNorm, the folded
model predicts the unfolded model's labels (logits equal up to rounding), with random weights and random BN
statistics; what must not fold stays unfolded; a model in training mode is never folded, and a folded one
cannot train."""

from __future__ import annotations

import copy
import os

import pytest
import torch
from torch import nn

from seglab import Config
from seglab.models.builder import build_model
from seglab.models.fold_bn import NotFoldableError, fold_batchnorm, folded_pairs
from seglab.models.layers.conv_module import ConvModule

from .zoo_parity import config_path

# The smallest shipped config of each family whose model has BatchNorm (san and segmenter have none).
# The default run checks seven families whose representative is small (V1c stems, basic blocks, downsample
# branches, ASPP and depthwise-separable heads, HRNet fuse layers, inverted residuals, two-branch nets);
# SEGLAB_FOLD_ALL_FAMILIES=1 checks all of them (about 10 s per ResNet-50-sized model on 2 busy cores).
REPRESENTATIVES = {
    "ann": "ann_r50-d8_4xb2-40k_cityscapes-512x1024",
    "apcnet": "apcnet_r50-d8_4xb2-40k_cityscapes-512x1024",
    "beit": "beit-base_upernet_8xb2-160k_ade20k-640x640",
    "bisenetv1": "bisenetv1_r18-d32-in1k-pre_4xb4-160k_cityscapes-1024x1024",
    "bisenetv2": "bisenetv2_fcn_4xb4-160k_cityscapes-1024x1024",
    "ccnet": "ccnet_r50-d8_4xb2-40k_cityscapes-512x1024",
    "cgnet": "cgnet_fcn_4xb4-60k_cityscapes-680x680",
    "convnext": "convnext-tiny_upernet_8xb2-amp-160k_ade20k-512x512",
    "danet": "danet_r50-d8_4xb2-40k_cityscapes-512x1024",
    "ddrnet": "ddrnet_23-slim_in1k-pre_2xb6-120k_cityscapes-1024x1024",
    "deeplabv3": "deeplabv3_r18b-d8_4xb2-80k_cityscapes-512x1024",
    "deeplabv3plus": "deeplabv3plus_r18b-d8_4xb2-80k_cityscapes-512x1024",
    "dmnet": "dmnet_r50-d8_4xb2-40k_cityscapes-512x1024",
    "dnlnet": "dnl_r50-d8_4xb2-40k_cityscapes-512x1024",
    "dpt": "dpt_vit-b16_8xb2-160k_ade20k-512x512",
    "emanet": "emanet_r50-d8_4xb2-80k_cityscapes-512x1024",
    "encnet": "encnet_r50-d8_4xb2-40k_cityscapes-512x1024",
    "erfnet": "erfnet_fcn_4xb4-160k_cityscapes-512x1024",
    "fastfcn": "fastfcn_r50-d32_jpu_enc_4xb2-80k_cityscapes-512x1024",
    "fastscnn": "fast_scnn_8xb4-160k_cityscapes-512x1024",
    "fcn": "fcn_r18b-d8_4xb2-80k_cityscapes-512x1024",
    "gcnet": "gcnet_r50-d8_4xb2-40k_cityscapes-512x1024",
    "hrnet": "fcn_hr18s_4xb4-80k_potsdam-512x512",
    "icnet": "icnet_r18-d8-in1k-pre_4xb2-160k_cityscapes-832x832",
    "isanet": "isanet_r50-d8_4xb2-40k_cityscapes-512x1024",
    "knet": "knet-s3_r50-d8_pspnet_8xb2-adamw-80k_ade20k-512x512",
    "mae": "mae-base_upernet_8xb2-amp-160k_ade20k-512x512-ms",
    "mask2former": "mask2former_r50_8xb2-90k_cityscapes-512x1024",
    "maskformer": "maskformer_r50-d32_8xb2-160k_ade20k-512x512",
    "mobilenet_v2": "mobilenet-v2-d8_fcn_4xb2-80k_cityscapes-512x1024",
    "mobilenet_v3": "mobilenet-v3-d8-s_lraspp_4xb4-320k_cityscapes-512x1024",
    "nonlocal_net": "nonlocal_r50-d8_4xb2-40k_cityscapes-512x1024",
    "ocrnet": "ocrnet_hr18s_4xb2-160k_cityscapes-512x1024",
    "pidnet": "pidnet-s_2xb6-120k_1024x1024-cityscapes",
    "point_rend": "pointrend_r50_4xb2-80k_cityscapes-512x1024",
    "poolformer": "fpn_poolformer_s12_8xb4-40k_ade20k-512x512",
    "psanet": "psanet_r50-d8_4xb4-160k_ade20k-512x512",
    "pspnet": "pspnet_r18b-d8_4xb2-80k_cityscapes-512x1024",
    "resnest": "resnest_s101-d8_deeplabv3plus_4xb2-80k_cityscapes-512x1024",
    "segformer": "segformer_mit-b0_8xb1-160k_cityscapes-1024x1024",
    "segnext": "segnext_mscan-t_1xb16-adamw-160k_ade20k-512x512",
    "sem_fpn": "fpn_r50_4xb2-80k_cityscapes-512x1024",
    "setr": "setr_vit-l_naive_8xb2-160k_ade20k-512x512",
    "stdc": "stdc1_4xb12-80k_cityscapes-512x1024",
    "swin": "swin-tiny-patch4-window7_upernet_1xb8-20k_levir-256x256",
    "twins": "twins_svt-s_fpn_fpnhead_8xb4-80k_ade20k-512x512",
    "unet": "unet-s5-d16_pspnet_4xb4-40k_chase-db1-128x128",
    "upernet": "upernet_r18_4xb2-40k_cityscapes-512x1024",
    "vit": "vit_deit-s16_upernet_8xb2-160k_ade20k-512x512",
}


def randomise_batchnorms(model: nn.Module, generator: torch.Generator) -> int:
    """Random running statistics and affine parameters in every BatchNorm (a fresh one folds trivially)."""
    count = 0
    for module in model.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm) and module.running_var is not None:
            n = module.num_features
            module.running_mean.copy_(torch.rand(n, generator=generator) - 0.5)
            module.running_var.copy_(torch.rand(n, generator=generator) * 1.5 + 0.5)
            if module.weight is not None:
                module.weight.data.copy_(torch.rand(n, generator=generator) + 0.5)
                module.bias.data.copy_(torch.rand(n, generator=generator) * 0.6 - 0.3)
            count += 1
    return count


def predict_logits(model: nn.Module, image: torch.Tensor) -> torch.Tensor:
    samples = [dict(img_shape=tuple(image.shape[-2:]), ori_shape=tuple(image.shape[-2:]))]
    return model.encode_decode(image, samples)


FAST = ("bisenetv2", "deeplabv3plus", "erfnet", "fastscnn", "hrnet", "segformer", "stdc")
CHECKED = sorted(REPRESENTATIVES) if os.environ.get("SEGLAB_FOLD_ALL_FAMILIES") else FAST


@pytest.mark.parametrize("family", CHECKED)
@torch.no_grad()
def test_folded_model_predicts_what_the_unfolded_model_predicts(family):
    cfg = Config.fromfile(config_path(f"{family}/{REPRESENTATIVES[family]}")).model
    torch.manual_seed(0)
    model = build_model(cfg, load_pretrained=False).eval()
    assert randomise_batchnorms(model, torch.Generator().manual_seed(1)) > 0
    image = torch.randn(1, 3, 64, 64, generator=torch.Generator().manual_seed(2))
    if hasattr(model.backbone, "img_size"):  # ViT-style backbones predict at the grid they were built for
        image = torch.randn(1, 3, *model.backbone.img_size, generator=torch.Generator().manual_seed(2))
    expected = predict_logits(model, image)
    folded, traced = fold_batchnorm(model, lambda m: predict_logits(m, image), inplace=True)
    assert torch.equal(traced, expected)  # the trace's forward is the unfolded model's prediction
    assert folded_pairs(folded) > 0
    got = predict_logits(folded, image)
    scale = expected.abs().max()
    assert (got - expected).abs().max() <= 1e-4 * scale + 1e-6
    assert torch.equal(got.max(1).indices, expected.max(1).indices)


class Layouts(nn.Module):
    """conv -> bn (folds); norm before conv, conv -> act -> bn, a conv output read twice (none folds)."""

    def __init__(self) -> None:
        super().__init__()
        self.plain = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU())
        self.norm_first = ConvModule(8, 8, 3, padding=1, norm_cfg=dict(type="BN"), order=("norm", "conv", "act"))
        self.act_between = ConvModule(8, 8, 3, padding=1, norm_cfg=dict(type="BN"), order=("conv", "act", "norm"))
        self.shared_conv = nn.Conv2d(8, 8, 1)
        self.shared_bn = nn.BatchNorm2d(8)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.act_between(self.norm_first(self.plain(x)))
        y = self.shared_conv(x)
        return self.shared_bn(y) + y  # y is read twice: folding would change the second read


def layouts() -> Layouts:
    torch.manual_seed(0)
    model = Layouts()
    randomise_batchnorms(model, torch.Generator().manual_seed(1))
    return model.eval()


@torch.no_grad()
def test_only_a_batchnorm_that_directly_follows_a_conv_folds():
    model, image = layouts(), torch.randn(2, 3, 16, 16)
    folded, expected = fold_batchnorm(model, lambda m: m(image))
    assert folded_pairs(folded) == 1
    assert isinstance(folded.plain[1], nn.Identity)
    kept = [name for name, m in folded.named_modules() if isinstance(m, nn.BatchNorm2d)]
    assert kept == ["norm_first.bn", "act_between.bn", "shared_bn"]
    assert torch.allclose(folded(image), expected, atol=1e-5)


def test_training_mode_is_never_folded_and_a_folded_model_cannot_train():
    model, image = layouts(), torch.randn(2, 3, 16, 16)
    before = copy.deepcopy(model.state_dict())
    with pytest.raises(ValueError, match="eval-mode"):
        fold_batchnorm(model.train(), lambda m: m(image))
    folded, _ = fold_batchnorm(model.eval(), lambda m: m(image))
    with pytest.raises(NotFoldableError):
        folded.train()
    with pytest.raises(NotFoldableError):
        copy.deepcopy(folded).train()  # a copy of a folded model is guarded too
    folded.eval()  # eval is fine
    state = model.state_dict()  # the original (and so any checkpoint made from it) is untouched and trains
    assert state.keys() == before.keys() and all(torch.equal(state[k], before[k]) for k in state)
    model.train()
    model(image).sum().backward()
    assert model.plain[1].weight.grad is not None
