"""Twins (PCPVT and SVT): a pyramid of transformer stages whose position information comes from a 3x3
depthwise conv after each stage's first block (conditional position encoding), so any input size works.

PCPVT's blocks attend to a key/value map shrunk ``sr_ratios[i]`` times (global sub-sampled attention, GSA,
SegFormer's attention); SVT alternates locally-grouped attention inside ``windiow_sizes[i]`` windows (LSA,
even blocks) with GSA (odd blocks). Parameter names are MMSegmentation's (``patch_embeds``, ``layers``,
``position_encodings``, ``norm_list``); the original release (``blocks``, ``pos_block``, ``attn.q``/``kv``,
``mlp.fc1``) is converted on load by ``adapt_pretrained`` as tools/model_converters/twins2mmseg.py does.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence

import torch
from torch import nn

from seglab.errors import CheckpointError, ConfigError
from seglab.models.backbones.twins_blocks import ConditionalPositionEncoding, GSAEncoderLayer, LSAEncoderLayer
from seglab.models.layers.conv_module import build_norm
from seglab.models.layers.transformer import PatchEmbed
from seglab.models.weight_init import init_transformer_style
from seglab.registry import MODELS

logger = logging.getLogger("seglab")


def _out_indices(name: str, out_indices, stages: int) -> tuple[int, ...]:
    """As MMSegmentation, indices past the last stage select nothing (SVT's defaults ask for 4 of its 3
    stages); said once in the log. None at all in range is a mistake."""
    out_indices = (out_indices,) if isinstance(out_indices, int) else tuple(out_indices)
    kept = tuple(i for i in out_indices if 0 <= i < stages)
    if not kept or any(i < 0 for i in out_indices):
        raise ConfigError(f"{name} out_indices {out_indices} must lie in 0..{stages - 1} (len(depths)={stages})")
    if kept != out_indices:
        logger.warning(f"{name} out_indices {out_indices}: only stages {kept} exist (len(depths)={stages})")
    return kept


@MODELS.register()
class PCPVT(nn.Module):
    """Twins-PCPVT: stage i embeds patches (``patch_sizes[i]`` kernel, ``strides[i]``, corner padding) into
    ``embed_dims[i]`` channels, runs ``depths[i]`` GSA blocks with the position encoding after the first,
    optionally a norm (``norm_after_stage``); the maps of ``out_indices`` are returned."""

    KIND = "pcpvt"  # how twins2mmseg.py converts this backbone's original checkpoints

    def __init__(
        self,
        in_channels: int = 3,
        embed_dims: Sequence[int] = (64, 128, 256, 512),
        patch_sizes: Sequence[int] = (4, 2, 2, 2),
        strides: Sequence[int] = (4, 2, 2, 2),
        num_heads: Sequence[int] = (1, 2, 4, 8),
        mlp_ratios: Sequence[int] = (4, 4, 4, 4),
        out_indices: Sequence[int] = (0, 1, 2, 3),
        qkv_bias: bool = False,
        drop_rate: float = 0.0,
        attn_drop_rate: float = 0.0,
        drop_path_rate: float = 0.0,
        norm_cfg: dict | None = None,
        depths: Sequence[int] = (3, 4, 6, 3),
        sr_ratios: Sequence[int] = (8, 4, 2, 1),
        norm_after_stage: bool = False,
        pretrained: str | None = None,
        init_cfg: dict | list | None = None,
    ) -> None:
        super().__init__()
        name = type(self).__name__
        if init_cfg and pretrained:
            raise ConfigError(f"{name}: give init_cfg or pretrained, not both")
        if pretrained is not None and not isinstance(pretrained, str):
            raise ConfigError(f"{name} pretrained must be a checkpoint path or URL, got {pretrained!r}")
        self.init_cfg = dict(type="Pretrained", checkpoint=pretrained) if pretrained else init_cfg
        stages = len(depths)
        per_stage = dict(
            patch_sizes=patch_sizes, strides=strides, num_heads=num_heads, mlp_ratios=mlp_ratios, sr_ratios=sr_ratios
        )
        short = {k: len(v) for k, v in per_stage.items() if len(v) < stages}
        if short or len(embed_dims) != stages:
            raise ConfigError(
                f"{name} has {stages} stages (len(depths)): embed_dims needs {stages} entries "
                f"(got {len(embed_dims)}), the other per-stage lists at least {stages}{f' (got {short})' if short else ''}"
            )
        bad = [(d, h) for d, h in zip(embed_dims, num_heads) if d % h]
        if bad:
            raise ConfigError(f"{name} embed_dims must be divisible by num_heads per stage; not so for {bad}")
        self.out_indices = _out_indices(name, out_indices, stages)
        self.depths, self.norm_after_stage = list(depths), norm_after_stage
        norm_cfg = norm_cfg or dict(type="LN")
        widths_in = [in_channels, *embed_dims[:-1]]
        self.patch_embeds = nn.ModuleList(
            PatchEmbed(widths_in[i], embed_dims[i], "Conv2d", patch_sizes[i], strides[i], "corner", norm_cfg=norm_cfg)
            for i in range(stages)
        )
        self.position_encoding_drops = nn.ModuleList(nn.Dropout(drop_rate) for _ in range(stages))
        rates = torch.linspace(0, drop_path_rate, sum(depths), device="cpu").tolist()  # deeper blocks drop more
        self.layers = nn.ModuleList()
        for k in range(stages):
            dims, first = embed_dims[k], sum(depths[:k])
            common = dict(drop_rate=drop_rate, attn_drop_rate=attn_drop_rate, qkv_bias=qkv_bias)
            blocks = (
                GSAEncoderLayer(dims, num_heads[k], mlp_ratios[k] * dims, drop_path_rate=rates[first + i],
                                sr_ratio=sr_ratios[k], **common)
                for i in range(depths[k])
            )  # fmt: skip
            self.layers.append(nn.ModuleList(blocks))
        self.position_encodings = nn.ModuleList(ConditionalPositionEncoding(d, d) for d in embed_dims)
        if norm_after_stage:
            self.norm_list = nn.ModuleList(build_norm(norm_cfg, d)[1] for d in embed_dims)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        outs = []
        for i, blocks in enumerate(self.layers):
            x, hw_shape = self.patch_embeds[i](x)
            x = self.position_encoding_drops[i](x)
            for j, block in enumerate(blocks):
                x = block(x, hw_shape)
                if j == 0:
                    x = self.position_encodings[i](x, hw_shape)
            if self.norm_after_stage:
                x = self.norm_list[i](x)
            x = x.reshape(x.shape[0], *hw_shape, -1).permute(0, 3, 1, 2).contiguous()
            if i in self.out_indices:
                outs.append(x)
        return tuple(outs)

    def init_weights(self) -> None:
        """Without pre-trained weights: truncated-normal Linear layers (std 0.02), unit norms and He-normal
        (fan-out) convs, as MMSegmentation initialises Twins; the attention's packed input projection is no
        Linear and keeps PyTorch's default, there too."""
        if self.init_cfg:
            return
        init_transformer_style(self, conv=True, norms=(nn.modules.batchnorm._BatchNorm, nn.GroupNorm, nn.LayerNorm))

    def adapt_pretrained(self, state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """MMSegmentation's layout from a segmentor checkpoint (``backbone.`` stripped), the original Twins
        release (converted as twins2mmseg.py converts it for this kind), or MMSegmentation's own, unchanged."""
        if any(k.startswith("backbone.") for k in state):
            state = {k[len("backbone.") :]: v for k, v in state.items() if k.startswith("backbone.")}
        if not any(re.match(r"(blocks|pos_block)\.\d+\.", k) for k in state):
            return state
        out = convert_original_twins(state, self.KIND)
        logger.info(
            f"converted the original Twins-{self.KIND.upper()} layout ({len(state)} tensors) to MMSegmentation's"
        )
        return out


@MODELS.register()
class SVT(PCPVT):
    """Twins-SVT: PCPVT whose even blocks (0, 2, ...) of each stage attend within ``windiow_sizes[i]``
    windows (LSA) instead of globally; ``norm_after_stage`` is on by default."""

    KIND = "svt"

    def __init__(
        self,
        in_channels: int = 3,
        embed_dims: Sequence[int] = (64, 128, 256),
        patch_sizes: Sequence[int] = (4, 2, 2, 2),
        strides: Sequence[int] = (4, 2, 2, 2),
        num_heads: Sequence[int] = (1, 2, 4),
        mlp_ratios: Sequence[int] = (4, 4, 4),
        out_indices: Sequence[int] = (0, 1, 2, 3),
        qkv_bias: bool = False,
        drop_rate: float = 0.0,
        attn_drop_rate: float = 0.0,
        drop_path_rate: float = 0.2,
        norm_cfg: dict | None = None,
        depths: Sequence[int] = (4, 4, 4),
        sr_ratios: Sequence[int] = (4, 2, 1),
        windiow_sizes: Sequence[int] = (7, 7, 7),
        norm_after_stage: bool = True,
        pretrained: str | None = None,
        init_cfg: dict | list | None = None,
    ) -> None:
        # fmt: off
        super().__init__(in_channels, embed_dims, patch_sizes, strides, num_heads, mlp_ratios, out_indices,
                         qkv_bias, drop_rate, attn_drop_rate, drop_path_rate, norm_cfg, depths, sr_ratios,
                         norm_after_stage, pretrained, init_cfg)
        # fmt: on
        if len(windiow_sizes) < len(depths):
            raise ConfigError(f"SVT has {len(depths)} stages: windiow_sizes needs as many entries, got {windiow_sizes}")
        rates = torch.linspace(0, drop_path_rate, sum(depths), device="cpu").tolist()
        for k, blocks in enumerate(self.layers):
            for i in range(0, len(blocks), 2):
                blocks[i] = LSAEncoderLayer(
                    embed_dims[k], num_heads[k], mlp_ratios[k] * embed_dims[k], drop_rate, attn_drop_rate,
                    rates[sum(depths[:k]) + i], qkv_bias=qkv_bias, window_size=windiow_sizes[k],
                )  # fmt: skip


def convert_original_twins(state: dict[str, torch.Tensor], kind: str) -> dict[str, torch.Tensor]:
    """The original Twins names in MMSegmentation's, as twins2mmseg.py (``kind`` 'pcpvt' or 'svt'):
    ``blocks`` -> ``layers``, ``attn.q`` + ``attn.kv`` packed into ``attn.attn.in_proj_*``, GSA's ``attn.proj``
    -> ``attn.attn.out_proj`` (in SVT only odd blocks are GSA; LSA keeps ``qkv``/``proj``), ``mlp.fc1/fc2`` ->
    ``ffn.layers.0.0/1``, ``pos_block.i.proj.0`` -> ``position_encodings.i.proj``, ``patch_embeds.i.proj`` ->
    ``projection``. The ImageNet ``head`` and closing ``norm``, for which MMSegmentation's model has no place
    (its loader reports the norm as unexpected), are dropped."""
    out = {}
    for key, value in state.items():
        if key.startswith(("head", "norm.")) or ".attn.kv." in key:
            continue
        if key.startswith("patch_embeds"):
            key = key.replace("proj.", "projection.")
        elif key.startswith("pos_block"):
            key = key.replace("pos_block", "position_encodings").replace("proj.0.", "proj.")
        elif key.startswith("blocks"):
            key, value = _block_entry(key, value, state, kind)
        out[key] = value
    return out


def _block_entry(key: str, value: torch.Tensor, state: dict, kind: str) -> tuple[str, torch.Tensor]:
    if ".attn.q." in key:
        kv = state.get(key.replace(".attn.q.", ".attn.kv."))
        if kv is None:
            raise CheckpointError(f"original Twins checkpoint has {key} but no matching attn.kv tensor")
        key, value = key.replace(".attn.q.", ".attn.attn.in_proj_"), torch.cat([value, kv], dim=0)
    elif ".mlp.fc1." in key:
        key = key.replace(".mlp.fc1.", ".ffn.layers.0.0.")
    elif ".mlp.fc2." in key:
        key = key.replace(".mlp.fc2.", ".ffn.layers.1.")
    elif ".attn.proj." in key and (kind == "pcpvt" or int(key.split(".")[2]) % 2 == 1):
        key = key.replace(".attn.proj.", ".attn.attn.out_proj.")
    return key.replace("blocks.", "layers.", 1), value
