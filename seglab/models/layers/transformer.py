"""Transformer blocks that ViT, Swin, SegFormer, Mask2Former ... share, with MMCV/MMSegmentation's
argument names, defaults and child names (``attn``, ``layers``, ``gamma2``, ``projection``, ``sampler``,
``reduction``), so their checkpoints load key for key."""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.modules.utils import _pair

from seglab.errors import ConfigError
from seglab.models.layers.conv_module import build_activation, build_norm


def nlc_to_nchw(x: torch.Tensor, hw_shape: Sequence[int]) -> torch.Tensor:
    """[N, L, C] tokens -> [N, C, H, W] map (L must equal H * W)."""
    height, width = hw_shape
    batch, length, channels = x.shape
    if length != height * width:
        raise ValueError(f"sequence length {length} does not match H*W = {height}*{width}")
    return x.transpose(1, 2).reshape(batch, channels, height, width)


def nchw_to_nlc(x: torch.Tensor) -> torch.Tensor:
    """[N, C, H, W] map -> contiguous [N, H*W, C] tokens."""
    if x.dim() != 4:
        raise ValueError(f"expected an NCHW tensor, got shape {tuple(x.shape)}")
    return x.flatten(2).transpose(1, 2).contiguous()


def drop_path(x: torch.Tensor, drop_prob: float = 0.0, training: bool = False) -> torch.Tensor:
    """Stochastic depth: zero whole samples with probability ``drop_prob`` and scale the kept ones by
    1 / (1 - drop_prob), so the expectation is unchanged; identity outside training."""
    if drop_prob == 0.0 or not training:
        return x
    keep_prob = 1.0 - drop_prob
    mask = torch.rand((x.shape[0],) + (1,) * (x.dim() - 1), dtype=x.dtype, device=x.device)
    return x.div(keep_prob) * (mask + keep_prob).floor()


class DropPath(nn.Module):
    """Module form of :func:`drop_path` (MMCV's type 'DropPath'; default ``drop_prob`` 0.1)."""

    def __init__(self, drop_prob: float = 0.1) -> None:
        super().__init__()
        self.drop_prob = drop_prob

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return drop_path(x, self.drop_prob, self.training)


class Dropout(nn.Dropout):
    """MMCV's type 'Dropout': torch's Dropout with ``p`` named ``drop_prob``, like DropPath."""

    def __init__(self, drop_prob: float = 0.5, inplace: bool = False) -> None:
        super().__init__(p=drop_prob, inplace=inplace)


_DROPOUTS = {"Dropout": Dropout, "DropPath": DropPath}


def build_dropout(cfg: dict) -> nn.Module:
    """The layer a ``dropout_layer`` config names: ``dict(type='DropPath', drop_prob=0.1)`` or 'Dropout'."""
    cfg = dict(cfg)
    drop_type = cfg.pop("type", None)
    if drop_type not in _DROPOUTS:
        raise ConfigError(f"unknown dropout_layer type {drop_type!r}; use 'Dropout' or 'DropPath'")
    unknown = sorted(set(cfg) - {"drop_prob", "inplace"} if drop_type == "Dropout" else set(cfg) - {"drop_prob"})
    if unknown:
        raise ConfigError(f"dropout_layer type '{drop_type}' got unknown key(s) {unknown}")
    return _DROPOUTS[drop_type](**cfg)


class LayerScale(nn.Module):
    """Learnable per-channel scale (``weight``, initialised to ``scale``) on the last or channel axis."""

    def __init__(self, dim: int, inplace: bool = False, data_format: str = "channels_last", scale: float = 1e-5):
        super().__init__()
        if data_format not in ("channels_last", "channels_first"):
            raise ConfigError(f"LayerScale data_format={data_format!r}; use 'channels_last' or 'channels_first'")
        self.inplace, self.data_format = inplace, data_format
        self.weight = nn.Parameter(torch.ones(dim) * scale)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shape = (1, -1) + (1,) * (x.dim() - 2) if self.data_format == "channels_first" else (-1,)
        weight = self.weight.view(*shape)
        return x.mul_(weight) if self.inplace else x * weight


class MultiheadAttention(nn.Module):
    """torch's MultiheadAttention (as ``attn``) with positional encodings added to query/key, output
    dropout, and the identity connection: ``identity + dropout_layer(proj_drop(attn(q, k, v)))``.

    ``batch_first`` means inputs are (batch, n, embed_dims); extra keyword arguments (``bias``, ``kdim``,
    ``vdim``, ``add_bias_kv``, ``add_zero_attn``) go to torch's MultiheadAttention."""

    _TORCH_ARGS = ("bias", "add_bias_kv", "add_zero_attn", "kdim", "vdim")

    def __init__(
        self,
        embed_dims: int,
        num_heads: int,
        attn_drop: float = 0.0,
        proj_drop: float = 0.0,
        dropout_layer: dict | None = dict(type="Dropout", drop_prob=0.0),  # noqa: B006 (never mutated)
        init_cfg: dict | None = None,
        batch_first: bool = False,
        **kwargs,
    ) -> None:
        super().__init__()
        if "dropout" in kwargs:  # MMCV's deprecated single dropout: sets attn_drop and the shortcut's drop_prob
            warnings.warn(
                "MultiheadAttention 'dropout' is deprecated; set attn_drop, proj_drop, dropout_layer", stacklevel=2
            )
            attn_drop = kwargs.pop("dropout")
            dropout_layer = dict(dropout_layer, drop_prob=attn_drop) if dropout_layer else dropout_layer
        unknown = sorted(set(kwargs) - set(self._TORCH_ARGS))
        if unknown:
            raise ConfigError(f"MultiheadAttention got unknown key(s) {unknown}; extra keys may be {self._TORCH_ARGS}")
        if embed_dims % num_heads:
            raise ConfigError(f"MultiheadAttention embed_dims={embed_dims} must be divisible by num_heads={num_heads}")
        self.embed_dims, self.num_heads, self.batch_first = embed_dims, num_heads, batch_first
        self.init_cfg = init_cfg
        self.attn = nn.MultiheadAttention(embed_dims, num_heads, attn_drop, **kwargs)
        self.proj_drop = nn.Dropout(proj_drop)
        self.dropout_layer = build_dropout(dropout_layer) if dropout_layer else nn.Identity()

    def forward(
        self,
        query: torch.Tensor,
        key: torch.Tensor | None = None,
        value: torch.Tensor | None = None,
        identity: torch.Tensor | None = None,
        query_pos: torch.Tensor | None = None,
        key_pos: torch.Tensor | None = None,
        attn_mask: torch.Tensor | None = None,
        key_padding_mask: torch.Tensor | None = None,
        **kwargs,
    ) -> torch.Tensor:
        """``key`` defaults to ``query``, ``value`` to ``key``, ``identity`` to ``query`` (before adding
        ``query_pos``); ``key_pos`` defaults to ``query_pos`` when their shapes match."""
        if identity is None:
            identity = kwargs.get("residual")  # MMCV's old name for identity
        key = query if key is None else key
        value = key if value is None else value
        identity = query if identity is None else identity
        if key_pos is None and query_pos is not None:
            if query_pos.shape == key.shape:
                key_pos = query_pos
            else:
                warnings.warn("position encoding of key is missing in MultiheadAttention", stacklevel=2)
        if query_pos is not None:
            query = query + query_pos
        if key_pos is not None:
            key = key + key_pos
        if self.batch_first:  # torch's module is used sequence-first, as MMCV uses it
            query, key, value = query.transpose(0, 1), key.transpose(0, 1), value.transpose(0, 1)
        out = self.attn(query=query, key=key, value=value, attn_mask=attn_mask, key_padding_mask=key_padding_mask)[0]
        if self.batch_first:
            out = out.transpose(0, 1)
        return identity + self.dropout_layer(self.proj_drop(out))


class FFN(nn.Module):
    """``num_fcs`` Linear layers (activation and ``ffn_drop`` dropout between them) in ``layers``, an
    optional LayerScale ``gamma2`` (when ``layer_scale_init_value > 0``) and the identity connection."""

    _RENAMED = {"dropout": "ffn_drop", "add_residual": "add_identity"}  # MMCV's deprecated names

    def __init__(
        self,
        embed_dims: int = 256,
        feedforward_channels: int = 1024,
        num_fcs: int = 2,
        act_cfg: dict | None = dict(type="ReLU", inplace=True),  # noqa: B006 (never mutated)
        ffn_drop: float = 0.0,
        dropout_layer: dict | None = None,
        add_identity: bool = True,
        init_cfg: dict | None = None,
        layer_scale_init_value: float = 0.0,
        **deprecated,
    ) -> None:
        super().__init__()
        for old, value in deprecated.items():
            if old not in self._RENAMED:
                raise ConfigError(f"FFN got unknown key '{old}'")
            warnings.warn(f"FFN '{old}' is deprecated; use '{self._RENAMED[old]}'", stacklevel=2)
            ffn_drop = value if old == "dropout" else ffn_drop
            add_identity = value if old == "add_residual" else add_identity
        if num_fcs < 2:
            raise ConfigError(f"FFN num_fcs={num_fcs}; it needs at least 2 fully-connected layers")
        self.embed_dims, self.feedforward_channels, self.num_fcs = embed_dims, feedforward_channels, num_fcs
        self.init_cfg = init_cfg
        layers: list[nn.Module] = []
        in_channels = embed_dims
        for _ in range(num_fcs - 1):
            layers.append(
                nn.Sequential(
                    nn.Linear(in_channels, feedforward_channels), build_activation(act_cfg), nn.Dropout(ffn_drop)
                )
            )
            in_channels = feedforward_channels
        layers += [nn.Linear(feedforward_channels, embed_dims), nn.Dropout(ffn_drop)]
        self.layers = nn.Sequential(*layers)
        self.dropout_layer = build_dropout(dropout_layer) if dropout_layer else nn.Identity()
        self.add_identity = add_identity
        if layer_scale_init_value > 0:
            self.gamma2: nn.Module = LayerScale(embed_dims, scale=layer_scale_init_value)
        else:
            self.gamma2 = nn.Identity()

    def forward(self, x: torch.Tensor, identity: torch.Tensor | None = None) -> torch.Tensor:
        out = self.gamma2(self.layers(x))
        if not self.add_identity:
            return self.dropout_layer(out)
        return (x if identity is None else identity) + self.dropout_layer(out)


class AdaptivePadding(nn.Module):
    """Zero-pads an NCHW input so a (kernel, stride, dilation) window covers it completely: 'corner' pads
    bottom/right, 'same' pads both sides (TensorFlow's SAME)."""

    def __init__(self, kernel_size=1, stride=1, dilation=1, padding: str = "corner") -> None:
        super().__init__()
        if padding not in ("same", "corner"):
            raise ConfigError(f"adaptive padding {padding!r} is unknown; use 'corner' or 'same'")
        self.padding = padding
        self.kernel_size, self.stride, self.dilation = _pair(kernel_size), _pair(stride), _pair(dilation)

    def get_pad_shape(self, input_shape: Sequence[int]) -> tuple[int, int]:
        """(pad_h, pad_w) needed for an (H, W) input."""
        pads = []
        for size, kernel, stride, dilation in zip(input_shape, self.kernel_size, self.stride, self.dilation):
            out = math.ceil(size / stride)
            pads.append(max((out - 1) * stride + (kernel - 1) * dilation + 1 - size, 0))
        return pads[0], pads[1]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pad_h, pad_w = self.get_pad_shape(x.shape[-2:])
        if pad_h == 0 and pad_w == 0:
            return x
        if self.padding == "corner":
            return F.pad(x, [0, pad_w, 0, pad_h])
        return F.pad(x, [pad_w // 2, pad_w - pad_w // 2, pad_h // 2, pad_h - pad_h // 2])


def _conv_out(size: int, kernel: int, stride: int, padding: int, dilation: int) -> int:
    return (size + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1


class PatchEmbed(nn.Module):
    """Image to patch tokens with one conv (``projection``) and an optional ``norm``: NCHW ->
    ((N, H'*W', embed_dims), (H', W')). A string ``padding`` ('corner'/'same') pads adaptively instead."""

    def __init__(
        self,
        in_channels: int = 3,
        embed_dims: int = 768,
        conv_type: str = "Conv2d",
        kernel_size=16,
        stride=None,
        padding="corner",
        dilation=1,
        bias: bool = True,
        norm_cfg: dict | None = None,
        input_size=None,
        init_cfg: dict | None = None,
    ) -> None:
        super().__init__()
        if conv_type not in ("Conv2d", "Conv"):
            raise ConfigError(f"PatchEmbed conv_type={conv_type!r} is not supported; use 'Conv2d'")
        self.embed_dims, self.init_cfg = embed_dims, init_cfg
        kernel_size, dilation = _pair(kernel_size), _pair(dilation)
        stride = kernel_size if stride is None else _pair(stride)
        self.adap_padding = None
        if isinstance(padding, str):
            self.adap_padding = AdaptivePadding(kernel_size, stride, dilation, padding)
            padding = 0
        padding = _pair(padding)
        self.projection = nn.Conv2d(in_channels, embed_dims, kernel_size, stride, padding, dilation, bias=bias)
        self.norm = build_norm(norm_cfg, embed_dims)[1] if norm_cfg is not None else None
        self.init_input_size = self.init_out_size = None
        if input_size:  # lets a backbone size its absolute position embedding before any forward
            self.init_input_size = _pair(input_size)
            size = self.init_input_size
            if self.adap_padding is not None:
                size = tuple(s + p for s, p in zip(size, self.adap_padding.get_pad_shape(size)))
            self.init_out_size = tuple(_conv_out(*args) for args in zip(size, kernel_size, stride, padding, dilation))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, tuple[int, int]]:
        if self.adap_padding is not None:
            x = self.adap_padding(x)
        x = self.projection(x)
        out_size = (x.shape[2], x.shape[3])
        x = x.flatten(2).transpose(1, 2)
        if self.norm is not None:
            x = self.norm(x)
        return x, out_size


class PatchMerging(nn.Module):
    """Merges each kernel_size window of tokens (``sampler``, an Unfold), normalises (``norm``, LN by
    default) and projects (``reduction``, Linear): (N, H*W, C_in) -> ((N, H'*W', C_out), (H', W'))."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size=2,
        stride=None,
        padding="corner",
        dilation=1,
        bias: bool = False,
        norm_cfg: dict | None = dict(type="LN"),  # noqa: B006 (never mutated)
        init_cfg: dict | None = None,
    ) -> None:
        super().__init__()
        self.in_channels, self.out_channels, self.init_cfg = in_channels, out_channels, init_cfg
        kernel_size, dilation = _pair(kernel_size), _pair(dilation)
        stride = _pair(stride) if stride else kernel_size
        self.adap_padding = None
        if isinstance(padding, str):
            self.adap_padding = AdaptivePadding(kernel_size, stride, dilation, padding)
            padding = 0
        self.sampler = nn.Unfold(kernel_size=kernel_size, dilation=dilation, padding=_pair(padding), stride=stride)
        sample_dim = kernel_size[0] * kernel_size[1] * in_channels
        self.norm = build_norm(norm_cfg, sample_dim)[1] if norm_cfg is not None else None
        self.reduction = nn.Linear(sample_dim, out_channels, bias=bias)

    def forward(self, x: torch.Tensor, input_size: Sequence[int]) -> tuple[torch.Tensor, tuple[int, int]]:
        batch, length, channels = x.shape
        height, width = input_size
        if length != height * width:
            raise ValueError(f"PatchMerging input has {length} tokens, input_size {tuple(input_size)} says otherwise")
        x = x.view(batch, height, width, channels).permute(0, 3, 1, 2)
        if self.adap_padding is not None:
            x = self.adap_padding(x)
            height, width = x.shape[-2:]
        x = self.sampler(x).transpose(1, 2)  # (N, H'*W', kh*kw*C)
        s = self.sampler
        out_size = tuple(
            _conv_out(*args) for args in zip((height, width), s.kernel_size, s.stride, s.padding, s.dilation)
        )
        if self.norm is not None:
            x = self.norm(x)
        return self.reduction(x), out_size
