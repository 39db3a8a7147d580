"""K-Net (Zhang et al., 2021): class kernels refined over stages by attending to the pixels they claim.

``IterativeDecodeHead`` runs a kernel generator (FCN/PSP/ASPP/UPerHead): its features, its first prediction
and its ``conv_seg`` weights as one kernel per class. Each ``KernelUpdateHead`` stage then gathers the
features under every class's (softmax) mask, updates the kernels with ``KernelUpdator``'s gates, lets the
kernels attend to each other, and convolves the features with the new kernels for the next masks. Every
stage's prediction is trained with the generator's ``loss_decode`` (``loss_ce.s0`` ... ``loss_ce.s3`` as
MMSegmentation logs them); the last stage predicts. Names and parameter layout are MMSegmentation 1.2.2's.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from seglab.errors import ConfigError
from seglab.models.heads.decode_head import BaseDecodeHead
from seglab.models.layers import ConvModule
from seglab.models.layers.conv_module import build_activation, build_norm
from seglab.models.layers.transformer import FFN, MultiheadAttention
from seglab.registry import MODELS

LN = dict(type="LN")
RELU = dict(type="ReLU", inplace=True)


@MODELS.register()
class KernelUpdator(nn.Module):
    """The gated kernel update of K-Net's Eq. 4-5: the assembled group feature and the previous kernel each
    produce a gate and a candidate; the new kernel mixes the candidates by their gates.

    Inputs are cut into rows of ``in_channels`` (512-wide kernels with ``in_channels=256`` are updated as two
    halves, as MMSegmentation's configs do), so ``feat_channels`` must equal ``in_channels``."""

    def __init__(
        self,
        in_channels: int = 256,
        feat_channels: int = 64,
        out_channels: int | None = None,
        gate_sigmoid: bool = True,
        gate_norm_act: bool = False,
        activate_out: bool = False,
        norm_cfg: dict = LN,
        act_cfg: dict = RELU,
    ) -> None:
        super().__init__()
        if feat_channels != in_channels:
            raise ConfigError(
                f"KernelUpdator feat_channels={feat_channels} must equal in_channels={in_channels}: the kernels are "
                "reshaped to rows of feat_channels before a layer that takes in_channels (as in MMSegmentation)"
            )
        self.in_channels, self.feat_channels = in_channels, feat_channels
        self.out_channels = out_channels if out_channels else in_channels
        self.gate_sigmoid, self.gate_norm_act, self.activate_out = gate_sigmoid, gate_norm_act, activate_out
        self.dynamic_layer = nn.Linear(in_channels, 2 * feat_channels)
        self.input_layer = nn.Linear(in_channels, 2 * feat_channels)
        self.input_gate = nn.Linear(in_channels, feat_channels)
        self.update_gate = nn.Linear(in_channels, feat_channels)
        if gate_norm_act:
            self.gate_norm = build_norm(norm_cfg, feat_channels)[1]
        self.norm_in = build_norm(norm_cfg, feat_channels)[1]
        self.norm_out = build_norm(norm_cfg, feat_channels)[1]
        self.input_norm_in = build_norm(norm_cfg, feat_channels)[1]
        self.input_norm_out = build_norm(norm_cfg, feat_channels)[1]
        self.activation = build_activation(act_cfg)
        self.fc_layer = nn.Linear(feat_channels, self.out_channels)
        self.fc_norm = build_norm(norm_cfg, self.out_channels)[1]

    def forward(self, update_feature: torch.Tensor, input_feature: torch.Tensor) -> torch.Tensor:
        """``update_feature`` (..., C) assembled per kernel, ``input_feature`` the kernels (..., K*K, C) ->
        updated kernels (rows, K*K, out_channels), rows = numel / in_channels of ``update_feature``."""
        update_feature = update_feature.reshape(-1, self.in_channels)
        rows, width = update_feature.shape[0], self.feat_channels
        param_in, param_out = self.dynamic_layer(update_feature).split(width, dim=-1)
        input_in, input_out = self.input_layer(input_feature.reshape(rows, -1, width)).split(width, dim=-1)
        gate_feats = input_in * param_in.unsqueeze(-2)  # F^G of the paper
        if self.gate_norm_act:
            gate_feats = self.activation(self.gate_norm(gate_feats))
        input_gate = self.input_norm_in(self.input_gate(gate_feats))
        update_gate = self.norm_in(self.update_gate(gate_feats))
        if self.gate_sigmoid:
            input_gate, update_gate = input_gate.sigmoid(), update_gate.sigmoid()
        param_out, input_out = self.norm_out(param_out), self.input_norm_out(input_out)
        if self.activate_out:
            param_out, input_out = self.activation(param_out), self.activation(input_out)
        features = update_gate * param_out.unsqueeze(-2) + input_gate * input_out
        return self.activation(self.fc_norm(self.fc_layer(features)))


@MODELS.register()
class KernelUpdateHead(nn.Module):
    """One K-Net stage: group-feature assembling under the masks, ``kernel_update_conv`` (a KernelUpdator),
    multi-head ``attention`` among the kernels, an ``ffn``, ``mask_fcs`` and ``fc_mask``; returns the new masks
    and kernels. ``dropout`` is the attention's and the FFN's dropout, as in MMSegmentation.

    ``num_classes`` is kept for reference only (the number of kernels comes from the generator). The default
    updator is ``KernelUpdator``; MMSegmentation's default names MMDetection's ``DynamicConv``, which no
    K-Net config uses."""

    def __init__(
        self,
        num_classes: int = 150,
        num_ffn_fcs: int = 2,
        num_heads: int = 8,
        num_mask_fcs: int = 3,
        feedforward_channels: int = 2048,
        in_channels: int = 256,
        out_channels: int = 256,
        dropout: float = 0.0,
        act_cfg: dict = RELU,
        ffn_act_cfg: dict = RELU,
        conv_kernel_size: int = 1,
        feat_transform_cfg: dict | None = None,
        kernel_init: bool = False,
        with_ffn: bool = True,
        feat_gather_stride: int = 1,
        mask_transform_stride: int = 1,
        kernel_updator_cfg: dict = dict(  # noqa: B006 (never mutated)
            type="KernelUpdator", in_channels=256, feat_channels=64, out_channels=256, act_cfg=RELU, norm_cfg=LN
        ),
    ) -> None:
        super().__init__()
        if out_channels != in_channels:
            raise ConfigError(
                f"KernelUpdateHead out_channels={out_channels} must equal in_channels={in_channels}: the updated "
                "kernels convolve the in_channels-wide features"
            )
        updator = dict(kernel_updator_cfg)
        if updator.pop("type", None) != "KernelUpdator":
            raise ConfigError(
                f"KernelUpdateHead kernel_updator_cfg type {kernel_updator_cfg.get('type')!r} is not supported; "
                "use type='KernelUpdator' (MMSegmentation's K-Net configs do; 'DynamicConv' is MMDetection's)"
            )
        self.num_classes = num_classes
        self.in_channels, self.out_channels = in_channels, out_channels
        self.dropout, self.num_heads, self.kernel_init, self.with_ffn = dropout, num_heads, kernel_init, with_ffn
        self.conv_kernel_size = conv_kernel_size
        self.feat_gather_stride, self.mask_transform_stride = feat_gather_stride, mask_transform_stride
        kernel_dims = in_channels * conv_kernel_size**2
        self.attention = MultiheadAttention(kernel_dims, num_heads, attn_drop=dropout)
        self.attention_norm = build_norm(LN, kernel_dims)[1]
        self.kernel_update_conv = KernelUpdator(**updator)
        self.feat_transform = None
        if feat_transform_cfg is not None:
            transform = dict(feat_transform_cfg)
            kernel_size = transform.pop("kernel_size", 1)
            # padding from the stride, not the kernel size: MMSegmentation's choice, kept for its checkpoints
            self.feat_transform = ConvModule(
                in_channels,
                in_channels,
                kernel_size,
                stride=feat_gather_stride,
                padding=feat_gather_stride // 2,
                **transform,
            )
        if with_ffn:
            self.ffn = FFN(in_channels, feedforward_channels, num_ffn_fcs, act_cfg=ffn_act_cfg, ffn_drop=dropout)
            self.ffn_norm = build_norm(LN, in_channels)[1]
        self.mask_fcs = nn.ModuleList()
        for _ in range(num_mask_fcs):
            self.mask_fcs.append(nn.Linear(in_channels, in_channels, bias=False))
            self.mask_fcs.append(build_norm(LN, in_channels)[1])
            self.mask_fcs.append(build_activation(act_cfg))
        self.fc_mask = nn.Linear(in_channels, out_channels)

    def init_weights(self) -> None:
        """Xavier-uniform for every matrix (norms keep their defaults); ``kernel_init``: N(0, 0.01) ``fc_mask``.

        As in MMSegmentation, IterativeDecodeHead keeps its stages in a plain ModuleList, which the init walk
        does not enter: inside K-Net the stages keep PyTorch's default initialisation."""
        for p in self.parameters():
            if p.dim() > 1:
                nn.init.xavier_uniform_(p)
        if self.kernel_init:
            nn.init.normal_(self.fc_mask.weight, mean=0, std=0.01)

    def forward(
        self,
        x: torch.Tensor,
        proposal_feat: torch.Tensor,
        mask_preds: torch.Tensor,
        mask_shape: Sequence[int] | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Features (B, C, H, W), kernels (B, N, C, K, K), masks (B, N, h, w) -> new masks (B, N, H, W) and
        kernels (B, N, C, K, K)."""
        batch, num_kernels = proposal_feat.shape[:2]
        if self.feat_transform is not None:
            x = self.feat_transform(x)
        channels, height, width = x.shape[-3:]
        if mask_preds.shape[-2:] != (height, width):
            mask_preds = F.interpolate(mask_preds, (height, width), mode="bilinear", align_corners=False)
        # group feature assembling (Eq. 3): each kernel's features, weighted by its softmax mask
        x_feat = torch.einsum("bnhw,bchw->bnc", mask_preds.softmax(dim=1), x)
        kernels = proposal_feat.reshape(batch, num_kernels, self.in_channels, -1).permute(0, 1, 3, 2)
        obj_feat = self.kernel_update_conv(x_feat, kernels).reshape(batch, num_kernels, -1)
        obj_feat = self.attention_norm(self.attention(obj_feat.transpose(0, 1))).transpose(0, 1)
        obj_feat = obj_feat.reshape(batch, num_kernels, -1, self.in_channels)  # (B, N, K*K, C)
        if self.with_ffn:
            obj_feat = self.ffn_norm(self.ffn(obj_feat))
        mask_feat = obj_feat
        for layer in self.mask_fcs:
            mask_feat = layer(mask_feat)
        mask_feat = self.fc_mask(mask_feat).permute(0, 1, 3, 2)  # (B, N, C, K*K)
        mask_x = x
        if self.mask_transform_stride == 2 and self.feat_gather_stride == 1:
            mask_x = F.interpolate(x, scale_factor=0.5, mode="bilinear", align_corners=False)
        size = self.conv_kernel_size
        # every image convolved with its own kernels: one grouped convolution over the batch
        weight = mask_feat.reshape(batch * num_kernels, channels, size, size)
        masks = F.conv2d(
            mask_x.reshape(1, batch * channels, *mask_x.shape[-2:]), weight, padding=size // 2, groups=batch
        )
        masks = masks.reshape(batch, num_kernels, *masks.shape[-2:])
        if self.mask_transform_stride == 2:
            masks = F.interpolate(masks, scale_factor=2, mode="bilinear", align_corners=False)
        if mask_shape is not None and mask_shape[0] != masks.shape[-2]:
            masks = F.interpolate(masks, tuple(mask_shape), mode="bilinear", align_corners=False)
        kernels = obj_feat.permute(0, 1, 3, 2).reshape(batch, num_kernels, self.in_channels, size, size)
        return masks, kernels


@MODELS.register()
class IterativeDecodeHead(BaseDecodeHead):
    """K-Net's decode head: ``kernel_generate_head`` (a dense head whose ``conv_seg`` gives the first kernels)
    followed by ``num_stages`` ``kernel_update_head`` stages. In training mode ``forward`` returns every
    stage's logits (the generator's first), in eval mode the last stage's, as MMSegmentation's does.

    Like MMSegmentation's, it takes the selection of features, classes, ``ignore_index``, ``align_corners``
    and losses from the generator and has no weights of its own."""

    def __init__(
        self,
        num_stages: int,
        kernel_generate_head: dict,
        kernel_update_head: Sequence[dict],
        init_cfg: dict | list | None = None,
    ) -> None:
        nn.Module.__init__(self)  # BaseDecodeHead's own layers (conv_seg, losses) are the generator's
        if not isinstance(kernel_update_head, list | tuple) or len(kernel_update_head) != num_stages:
            raise ConfigError(
                f"IterativeDecodeHead num_stages={num_stages} needs a kernel_update_head list of {num_stages} dicts"
            )
        self.num_stages = num_stages
        self.init_cfg = init_cfg
        self.kernel_generate_head = MODELS.build(kernel_generate_head)
        generator = self.kernel_generate_head
        if not hasattr(generator, "_forward_feature") or not hasattr(generator, "conv_seg"):
            raise ConfigError(
                f"IterativeDecodeHead kernel_generate_head type '{type(generator).__name__}' has no features before "
                "its classifier; use FCNHead, PSPHead, ASPPHead or UPerHead"
            )
        if generator.out_channels != generator.num_classes:
            raise ConfigError("IterativeDecodeHead needs one kernel per class: kernel_generate_head out_channels=1")
        self.kernel_update_head = nn.ModuleList(MODELS.build(cfg) for cfg in kernel_update_head)
        for i, stage in enumerate(self.kernel_update_head):
            if stage.in_channels != generator.channels or stage.conv_kernel_size != 1:
                raise ConfigError(
                    f"IterativeDecodeHead kernel_update_head[{i}] has in_channels={stage.in_channels}, "
                    f"conv_kernel_size={stage.conv_kernel_size}; the first kernels are the generator's 1x1 conv_seg, "
                    f"so use in_channels={generator.channels} (kernel_generate_head.channels), conv_kernel_size=1"
                )
        self.num_classes = self.out_channels = generator.num_classes
        self.threshold, self.ignore_index = generator.threshold, generator.ignore_index
        self.align_corners, self.input_transform = generator.align_corners, generator.input_transform
        self.in_index, self.in_channels, self.channels = generator.in_index, generator.in_channels, generator.channels
        self.sampler, self.dropout = None, None

    @property
    def conv_seg(self) -> nn.Conv2d:
        """The generator's classifier, whose weights are the first kernels."""
        return self.kernel_generate_head.conv_seg

    def stage_logits(self, inputs: Sequence[torch.Tensor]) -> list[torch.Tensor]:
        """The generator's logits and every stage's, at the features' resolution."""
        feats = self.kernel_generate_head._forward_feature(inputs)
        seg = self.kernel_generate_head.cls_seg(feats)
        kernels = self.conv_seg.weight.clone()[None].expand(feats.shape[0], -1, -1, -1, -1)
        stages = [seg]
        for stage in self.kernel_update_head:
            seg, kernels = stage(feats, kernels, seg)
            stages.append(seg)
        return stages

    def forward(self, inputs: Sequence[torch.Tensor]) -> torch.Tensor | list[torch.Tensor]:
        stages = self.stage_logits(inputs)
        return stages if self.training else stages[-1]

    def loss(
        self, inputs: Sequence[torch.Tensor], batch_data_samples: list[dict], train_cfg: dict | None = None
    ) -> dict[str, torch.Tensor]:
        return self.loss_by_feat(self.stage_logits(inputs), batch_data_samples)

    def predict(
        self, inputs: Sequence[torch.Tensor], batch_img_metas: list[dict], test_cfg: dict | None = None
    ) -> torch.Tensor:
        return self.predict_by_feat(self.stage_logits(inputs)[-1], batch_img_metas)

    def loss_by_feat(self, seg_logits: list[torch.Tensor], batch_data_samples: list[dict]) -> dict[str, torch.Tensor]:
        """The generator's losses for each stage, named ``<name>.s<stage>`` (``loss_ce.s0``, ``acc_seg.s3``)."""
        losses = {}
        for i, logits in enumerate(seg_logits):
            stage = self.kernel_generate_head.loss_by_feat(logits, batch_data_samples)
            losses.update({f"{name}.s{i}": value for name, value in stage.items()})
        return losses

    def predict_by_feat(self, seg_logits: torch.Tensor, batch_img_metas: list[dict]) -> torch.Tensor:
        return self.kernel_generate_head.predict_by_feat(seg_logits, batch_img_metas)
