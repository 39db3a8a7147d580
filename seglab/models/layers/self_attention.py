"""MMSegmentation's generic self-attention (non-local) block, shared by ANN, ISA, OCR and similar heads.

Argument names, child names (``key_project``, ``query_project``, ``value_project``, ``out_project``) and
initialisation are MMSegmentation's (mmseg/models/utils/self_attention_block.py), so heads built on it load
MMSegmentation checkpoints key for key. Heads subclass it and pass their own down-sampling modules.
"""

from __future__ import annotations

import torch
from torch import nn

from seglab.errors import ConfigError
from seglab.models.layers.conv_module import ConvModule


class SelfAttentionBlock(nn.Module):
    """Attention of query positions over key positions: ``softmax(q k^T [/ sqrt(channels)]) v``.

    ``key_project``/``query_project`` map key and query features to ``channels`` with ``key_query_num_convs``
    1x1 convs (ConvModules with norm/act when ``key_query_norm``, plain Conv2d otherwise);
    ``share_key_query`` makes them one module (a checkpoint then holds both key sets, as in MMSegmentation).
    ``value_project`` maps key features to ``channels`` (``out_channels`` without ``with_out``), and
    ``out_project`` maps the context to ``out_channels``; a plain-conv ``out_project`` starts at zero, so the
    block first adds nothing. ``query_downsample``/``key_downsample`` are modules (or None) applied after the
    projections; the context keeps the query features' spatial size, so a query down-sampling must be undone
    by the caller (MMSegmentation's heads never combine one with a reshape that needs it)."""

    def __init__(
        self,
        key_in_channels: int,
        query_in_channels: int,
        channels: int,
        out_channels: int,
        share_key_query: bool,
        query_downsample: nn.Module | None,
        key_downsample: nn.Module | None,
        key_query_num_convs: int,
        value_out_num_convs: int,
        key_query_norm: bool,
        value_out_norm: bool,
        matmul_norm: bool,
        with_out: bool,
        conv_cfg: dict | None,
        norm_cfg: dict | None,
        act_cfg: dict | None,
    ) -> None:
        super().__init__()
        if share_key_query and key_in_channels != query_in_channels:
            raise ConfigError(
                f"SelfAttentionBlock share_key_query=True needs key_in_channels ({key_in_channels}) == "
                f"query_in_channels ({query_in_channels})"
            )
        for name, value in (("key_query_num_convs", key_query_num_convs), ("value_out_num_convs", value_out_num_convs)):
            if not isinstance(value, int) or value < 1:
                raise ConfigError(f"SelfAttentionBlock {name} must be an int >= 1, got {value!r}")
        self.key_in_channels, self.query_in_channels = key_in_channels, query_in_channels
        self.channels, self.out_channels = channels, out_channels
        self.share_key_query = share_key_query
        self.conv_cfg, self.norm_cfg, self.act_cfg = conv_cfg, norm_cfg, act_cfg
        convs = dict(conv_cfg=conv_cfg, norm_cfg=norm_cfg, act_cfg=act_cfg)
        self.key_project = self.build_project(key_in_channels, channels, key_query_num_convs, key_query_norm, **convs)
        if share_key_query:
            self.query_project = self.key_project
        else:
            self.query_project = self.build_project(
                query_in_channels, channels, key_query_num_convs, key_query_norm, **convs
            )
        value_channels = channels if with_out else out_channels
        self.value_project = self.build_project(
            key_in_channels, value_channels, value_out_num_convs, value_out_norm, **convs
        )
        self.out_project = (
            self.build_project(channels, out_channels, value_out_num_convs, value_out_norm, **convs)
            if with_out
            else None
        )
        self.query_downsample = query_downsample
        self.key_downsample = key_downsample
        self.matmul_norm = matmul_norm
        self.init_weights()

    def init_weights(self) -> None:
        """A single plain-conv ``out_project`` starts at zero (weight and bias), as in MMSegmentation;
        a Sequential of convs or a ConvModule keeps its own initialisation."""
        out = self.out_project
        if isinstance(out, nn.Conv2d):
            nn.init.zeros_(out.weight)
            if out.bias is not None:
                nn.init.zeros_(out.bias)

    @staticmethod
    def build_project(
        in_channels: int,
        channels: int,
        num_convs: int,
        use_conv_module: bool,
        conv_cfg: dict | None,
        norm_cfg: dict | None,
        act_cfg: dict | None,
    ) -> nn.Module:
        """``num_convs`` 1x1 convs (ConvModules if ``use_conv_module``); one conv is returned bare, several
        as an ``nn.Sequential`` (keys ``<name>.0.conv.weight`` ...), as MMSegmentation builds them."""
        layers: list[nn.Module] = []
        for i in range(num_convs):
            c_in = in_channels if i == 0 else channels
            if use_conv_module:
                layers.append(ConvModule(c_in, channels, 1, conv_cfg=conv_cfg, norm_cfg=norm_cfg, act_cfg=act_cfg))
            else:
                layers.append(nn.Conv2d(c_in, channels, 1))
        return layers[0] if len(layers) == 1 else nn.Sequential(*layers)

    def forward(self, query_feats: torch.Tensor, key_feats: torch.Tensor) -> torch.Tensor:
        """(N, out_channels, H_q, W_q) context for each query position."""
        query = self.query_project(query_feats)
        if self.query_downsample is not None:
            query = self.query_downsample(query)
        query = query.flatten(2).transpose(1, 2)  # N, Lq, C
        key = self.key_project(key_feats)
        value = self.value_project(key_feats)
        if self.key_downsample is not None:
            key, value = self.key_downsample(key), self.key_downsample(value)
        key = key.flatten(2)  # N, C, Lk
        value = value.flatten(2).transpose(1, 2)  # N, Lk, C_v
        sim = torch.matmul(query, key)
        if self.matmul_norm:
            sim = sim * self.channels**-0.5
        context = torch.matmul(sim.softmax(dim=-1), value)  # N, Lq, C_v
        context = context.transpose(1, 2).reshape(query_feats.shape[0], -1, *query_feats.shape[2:])
        if self.out_project is not None:
            context = self.out_project(context)
        return context
