"""BEiT: a plain ViT whose blocks carry a learned relative-position bias per head (one table per block,
plus three entries for the class token) and learnable per-channel layer scales (``gamma_1``/``gamma_2``).

Parameter names are MMSegmentation's (``layers.{i}.ln1``, ``attn.q_bias``/``v_bias``, ``ffn.layers.0.0``).
``adapt_pretrained`` takes Microsoft's original release (``blocks.{i}.norm1``, ``mlp.fc1``, ``patch_embed.proj``)
as tools/model_converters/beit2mmseg.py converts it, and resizes relative-position tables pre-trained at another
input size by MMSegmentation's geometric-sequence cubic-spline interpolation, so the 224 px checkpoints load
into a 640 px model directly.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from seglab.errors import ConfigError
from seglab.models.layers.conv_module import build_norm
from seglab.models.layers.transformer import FFN, DropPath, PatchEmbed
from seglab.models.weight_init import INIT_TYPES, initialize, pretrained_cfgs
from seglab.registry import MODELS

logger = logging.getLogger("seglab")


class BEiTAttention(nn.Module):
    """Self-attention over the class token and a ``window_size`` grid of patches, plus a learned bias per
    relative position and head. ``bias='qv_bias'`` learns biases for q and v only (k's stays zero)."""

    def __init__(
        self,
        embed_dims: int,
        num_heads: int,
        window_size: tuple[int, int],
        bias: bool | str = "qv_bias",
        qk_scale: float | None = None,
        attn_drop_rate: float = 0.0,
        proj_drop_rate: float = 0.0,
    ) -> None:
        super().__init__()
        self.embed_dims, self.num_heads, self.bias, self.window_size = embed_dims, num_heads, bias, window_size
        self.scale = qk_scale or (embed_dims // num_heads) ** -0.5
        if bias == "qv_bias":
            self.q_bias = nn.Parameter(torch.zeros(embed_dims))
            self.v_bias = nn.Parameter(torch.zeros(embed_dims))
        wh, ww = window_size
        self.relative_position_bias_table = nn.Parameter(torch.zeros((2 * wh - 1) * (2 * ww - 1) + 3, num_heads))
        self.register_buffer("relative_position_index", relative_position_index(wh, ww))
        self.qkv = nn.Linear(embed_dims, embed_dims * 3, bias=bool(bias) and bias != "qv_bias")
        self.attn_drop = nn.Dropout(attn_drop_rate)
        self.proj = nn.Linear(embed_dims, embed_dims)
        self.proj_drop = nn.Dropout(proj_drop_rate)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, tokens, channels = x.shape
        if self.bias == "qv_bias":
            qkv_bias = torch.cat((self.q_bias, torch.zeros_like(self.v_bias), self.v_bias))
            qkv = F.linear(x, self.qkv.weight, qkv_bias)
        else:
            qkv = self.qkv(x)
        qkv = qkv.reshape(batch, tokens, 3, self.num_heads, -1).permute(2, 0, 3, 1, 4)
        attn = (qkv[0] * self.scale) @ qkv[1].transpose(-2, -1)
        bias = self.relative_position_bias_table[self.relative_position_index.view(-1)]
        attn = attn + bias.view(tokens, tokens, -1).permute(2, 0, 1).unsqueeze(0)
        attn = self.attn_drop(attn.softmax(dim=-1))
        return self.proj_drop(self.proj((attn @ qkv[2]).transpose(1, 2).reshape(batch, tokens, channels)))


def relative_position_index(wh: int, ww: int) -> torch.Tensor:
    """(wh*ww+1)^2 indices into the bias table: patch pairs by their (dy, dx), then the three class-token
    entries (class->patch, patch->class, class->class) at the table's end, in MMSegmentation's order."""
    ys, xs = torch.meshgrid(torch.arange(wh), torch.arange(ww), indexing="ij")
    ys, xs = ys.flatten(), xs.flatten()
    pairs = (ys[:, None] - ys[None, :] + wh - 1) * (2 * ww - 1) + (xs[:, None] - xs[None, :] + ww - 1)
    length = (2 * wh - 1) * (2 * ww - 1) + 3
    index = torch.zeros((wh * ww + 1,) * 2, dtype=pairs.dtype)
    index[1:, 1:] = pairs
    index[0, 0:] = length - 3
    index[0:, 0] = length - 2
    index[0, 0] = length - 1
    return index


class BEiTTransformerEncoderLayer(nn.Module):
    """``x + drop_path(gamma_1 * attn(ln1(x)))`` then ``x + drop_path(gamma_2 * ffn(ln2(x)))``."""

    attention = BEiTAttention

    def __init__(
        self,
        embed_dims: int,
        num_heads: int,
        feedforward_channels: int,
        drop_path_rate: float,
        num_fcs: int,
        bias: bool | str,
        act_cfg: dict,
        norm_cfg: dict,
        window_size: tuple[int, int],
        init_values: float,
    ) -> None:
        super().__init__()
        self.ln1 = build_norm(norm_cfg, embed_dims, postfix=1)[1]
        # MMSegmentation hands the layer's attn_drop_rate to BEiTAttention under a name it ignores: none is applied
        self.attn = self.attention(embed_dims, num_heads, window_size, bias=bias)
        self.ln2 = build_norm(norm_cfg, embed_dims, postfix=2)[1]
        self.ffn = FFN(embed_dims, feedforward_channels, num_fcs=num_fcs, act_cfg=act_cfg, add_identity=False)
        self.drop_path = DropPath(drop_path_rate)
        self.gamma_1 = nn.Parameter(init_values * torch.ones(embed_dims))
        self.gamma_2 = nn.Parameter(init_values * torch.ones(embed_dims))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.drop_path(self.gamma_1 * self.attn(self.ln1(x)))
        return x + self.drop_path(self.gamma_2 * self.ffn(self.ln2(x)))


@MODELS.register()
class BEiT(nn.Module):
    """Patch embedding (``patch_size``, no padding), a class token, ``num_layers`` BEiT blocks; the patch
    tokens of the blocks in ``out_indices`` come out as NCHW maps. The relative-position tables fix the
    patch grid: inputs must be ``img_size`` (train at the crop size, test with ``mode='slide'``)."""

    IGNORED_ARGS = {"attn_drop_rate": 0.0}  # MMSegmentation 1.2.2 never applies it (see the layer)
    layer_type = BEiTTransformerEncoderLayer

    def __init__(
        self,
        img_size: int | Sequence[int] = 224,
        patch_size: int = 16,
        in_channels: int = 3,
        embed_dims: int = 768,
        num_layers: int = 12,
        num_heads: int = 12,
        mlp_ratio: int = 4,
        out_indices: int | Sequence[int] = -1,
        qv_bias: bool = True,
        attn_drop_rate: float = 0.0,
        drop_path_rate: float = 0.0,
        norm_cfg: dict | None = None,
        act_cfg: dict | None = None,
        patch_norm: bool = False,
        final_norm: bool = False,
        num_fcs: int = 2,
        norm_eval: bool = False,
        pretrained: str | None = None,
        init_values: float = 0.1,
        init_cfg: dict | None = None,
    ) -> None:
        super().__init__()
        name = type(self).__name__
        if init_cfg and pretrained:
            raise ConfigError(f"{name}: give init_cfg or pretrained, not both")
        if pretrained is not None and not isinstance(pretrained, str):
            raise ConfigError(f"{name} pretrained must be a checkpoint path or URL, got {pretrained!r}")
        if isinstance(img_size, int):
            img_size = (img_size, img_size)
        elif len(img_size) == 1:
            img_size = (img_size[0], img_size[0])
        if len(img_size) != 2:
            raise ConfigError(f"{name} img_size {tuple(img_size)} must be one size or (height, width)")
        if embed_dims % num_heads:
            raise ConfigError(f"{name} embed_dims={embed_dims} must be divisible by num_heads={num_heads}")
        if isinstance(out_indices, int):
            out_indices = [num_layers - 1 if out_indices == -1 else out_indices]
        if not all(0 <= i < num_layers for i in out_indices):
            raise ConfigError(f"{name} out_indices {list(out_indices)} must lie in 0..{num_layers - 1} (or be -1)")
        self.init_cfg = dict(type="Pretrained", checkpoint=pretrained) if pretrained else init_cfg
        self.img_size, self.patch_size, self.num_layers = tuple(img_size), patch_size, num_layers
        self.norm_eval = norm_eval
        self.out_indices = list(out_indices)
        self.patch_shape = self.window_size = (img_size[0] // patch_size, img_size[1] // patch_size)
        norm_cfg, act_cfg = norm_cfg or dict(type="LN"), act_cfg or dict(type="GELU")
        self.cls_token = nn.Parameter(torch.zeros(1, 1, embed_dims))
        self.patch_embed = PatchEmbed(
            in_channels, embed_dims, kernel_size=patch_size, stride=patch_size, padding=0,
            norm_cfg=norm_cfg if patch_norm else None,
        )  # fmt: skip
        rates = torch.linspace(0, drop_path_rate, num_layers, device="cpu").tolist()
        block = dict(num_fcs=num_fcs, bias=self._qkv_bias(qv_bias), act_cfg=act_cfg, norm_cfg=norm_cfg)
        self.layers = nn.ModuleList(
            self.layer_type(
                embed_dims,
                num_heads,
                mlp_ratio * embed_dims,
                rate,
                **block,
                window_size=self.window_size,
                init_values=init_values,
            )  # fmt: skip
            for rate in rates
        )
        self.final_norm = final_norm
        if final_norm:
            self.ln1 = build_norm(norm_cfg, embed_dims, postfix=1)[1]

    layer_decay_types = ("layer_wise",)

    def layer_id(self, param_name: str, num_layers: int, decay_type: str) -> int:
        """MMSegmentation's ViT ids for layer-wise lr decay (``seglab.engine.layer_decay``): class token,
        position and patch embedding 0, block ``i`` ``i + 1``, the rest (final norm) ``num_layers + 1``."""
        if param_name in ("cls_token", "mask_token", "pos_embed") or param_name.startswith("patch_embed"):
            return 0
        return int(param_name.split(".")[1]) + 1 if param_name.startswith("layers.") else num_layers + 1

    def _qkv_bias(self, qv_bias: bool) -> bool | str:
        return "qv_bias" if qv_bias else False

    def train(self, mode: bool = True) -> BEiT:
        super().train(mode)
        if mode and self.norm_eval:
            for module in self.modules():
                if isinstance(module, nn.LayerNorm):
                    module.eval()
        return self

    def embed(self, x: torch.Tensor) -> tuple[torch.Tensor, tuple[int, int]]:
        """Patch tokens with the class token in front; the grid must be the one the tables were built for."""
        x, hw_shape = self.patch_embed(x)
        if tuple(hw_shape) != self.patch_shape:
            raise ConfigError(
                f"{type(self).__name__} was built for img_size {self.img_size} ({self.patch_shape[0]}x"
                f"{self.patch_shape[1]} patches) but got a {hw_shape[0]}x{hw_shape[1]}-patch input; set "
                f"model.backbone.img_size to the crop size and test with model.test_cfg mode='slide' at that crop"
            )
        return torch.cat((self.cls_token.expand(x.shape[0], -1, -1), x), dim=1), hw_shape

    def forward(self, inputs: torch.Tensor) -> tuple[torch.Tensor, ...]:
        x, (height, width) = self.embed(inputs)
        outs = []
        for i, layer in enumerate(self.layers):
            x = layer(x)
            if i == len(self.layers) - 1 and self.final_norm:
                x = self.ln1(x)
            if i in self.out_indices:
                out = x[:, 1:]
                outs.append(out.reshape(out.shape[0], height, width, -1).permute(0, 3, 1, 2).contiguous())
        return tuple(outs)

    # ------------------------------------------------------------------------------------------ weights
    def init_weights(self) -> None:
        """MMSegmentation's order: truncated-normal Linear layers and unit LayerNorms; then, without any
        ``init_cfg``, timm's 'jax' scheme (class token, Linear again, FFN biases N(0, 1e-6), fan-in Kaiming
        convs). Relative-position tables stay zero unless another ``init_cfg`` asks for the blocks' own init."""
        trunc_normal, _ = INIT_TYPES["TruncNormal"]
        with torch.no_grad():
            for module in self.modules():
                if isinstance(module, nn.Linear):
                    trunc_normal(module.weight, 0.0, 0.02, -2.0, 2.0)
                    if module.bias is not None:
                        module.bias.zero_()
                elif isinstance(module, nn.LayerNorm):
                    module.weight.fill_(1.0)
                    module.bias.zero_()
            self.rescale_init()
            if pretrained_cfgs(self.init_cfg):
                return  # seglab.models.builder loads the file through adapt_pretrained
            if self.init_cfg is not None:
                initialize(self, self.init_cfg, f"{type(self).__name__}.init_cfg")
                self.init_tables()
                return
            trunc_normal(self.cls_token, 0.0, 0.02, -2.0, 2.0)
            for name, module in self.named_modules():
                if isinstance(module, nn.Linear):
                    trunc_normal(module.weight, 0.0, 0.02, -2.0, 2.0)
                    if module.bias is not None and "ffn" in name:
                        nn.init.normal_(module.bias, 0.0, 1e-6)
                    elif module.bias is not None:
                        module.bias.zero_()
                elif isinstance(module, nn.Conv2d):
                    nn.init.kaiming_normal_(module.weight, mode="fan_in", nonlinearity="relu")
                    if module.bias is not None:
                        module.bias.zero_()
                elif isinstance(module, nn.LayerNorm):
                    module.weight.fill_(1.0)
                    module.bias.zero_()

    def rescale_init(self) -> None:
        """MAE's depth rescaling of the first pass; BEiT has none."""

    def init_tables(self) -> None:
        """BEiTAttention's own init (truncated normal, std 0.02), run only under a non-Pretrained init_cfg."""
        trunc_normal, _ = INIT_TYPES["TruncNormal"]
        for layer in self.layers:
            trunc_normal(layer.attn.relative_position_bias_table, 0.0, 0.02, -2.0, 2.0)

    def adapt_pretrained(self, state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """MMSegmentation's layout from a segmentor checkpoint (``backbone.`` stripped), Microsoft's or Meta's
        original release (converted), or MMSegmentation's own; index buffers dropped (this model computes its
        own) and bias tables of another patch grid resized."""
        if any(k.startswith("backbone.") for k in state):
            state = {k[len("backbone.") :]: v for k, v in state.items() if k.startswith("backbone.")}
        if any(re.match(r"blocks\.\d+\.", k) for k in state):
            state = convert_original_beit(state)
            logger.info(f"converted the original {type(self).__name__} layout ({len(state)} tensors)")
        own = self.state_dict()
        out = {}
        for key, value in state.items():
            if key.endswith("relative_position_index"):
                continue
            if key.endswith("relative_position_bias_table") and key in own and own[key].shape != value.shape:
                value = self.resize_table(key, value, own[key].shape)
            out[key] = value
        return out

    def resize_table(self, key: str, table: torch.Tensor, shape: torch.Size) -> torch.Tensor:
        """A (side^2 + 3, heads) table of another square patch grid resized as MMSegmentation resizes it."""
        if table.shape[1] != shape[1]:
            return table  # another head count: the load report names the mismatch
        if self.patch_shape[0] != self.patch_shape[1]:
            raise ConfigError(
                f"{key}: a pre-trained table resizes only into a square patch grid, and img_size "
                f"{self.img_size} gives {self.patch_shape}; use a square img_size"
            )
        side, new_side = int((table.shape[0] - 3) ** 0.5), int((shape[0] - 3) ** 0.5)
        if side == new_side:
            return table
        resized = geometric_resize(table[:-3], side, new_side)
        logger.info(f"resized {key} from {side}x{side} to {new_side}x{new_side} relative positions")
        return torch.cat((resized, table[-3:]), dim=0)


def geometric_resize(table: torch.Tensor, side: int, new_side: int) -> torch.Tensor:
    """(side^2, heads) -> (new_side^2, heads): the source offsets are spread along a geometric sequence (dense
    near zero, sparse at the edges) over the new range and a cubic not-a-knot spline through them is sampled
    at the integer offsets (what MMSegmentation does with SciPy's interp2d)."""
    left, right = 1.01, 1.5
    while right - left > 1e-6:
        q = (left + right) / 2.0
        if (1.0 - q ** (side // 2)) / (1.0 - q) > new_side // 2:
            right = q
        else:
            left = q
    dis, cur = [], 1.0
    for i in range(side // 2):
        dis.append(cur)
        cur += q ** (i + 1)
    nodes = torch.tensor([-d for d in reversed(dis)] + [0.0] + dis, dtype=torch.float64)
    half = new_side // 2
    samples = torch.arange(-half, half + 0.1, 1.0, dtype=torch.float64)
    weights = spline_weights(nodes, samples)  # (new_side, side)
    grid = table.double().T.reshape(-1, side, side)
    resized = weights @ grid @ weights.T
    return resized.reshape(-1, new_side * new_side).T.to(table.dtype).contiguous()


def spline_weights(nodes: torch.Tensor, samples: torch.Tensor) -> torch.Tensor:
    """(len(samples), len(nodes)) matrix W with W @ y = the not-a-knot cubic spline through (nodes, y) at
    ``samples`` (clamped to the nodes' range, as FITPACK evaluates); needs at least 4 nodes."""
    n = len(nodes)
    if n < 4:
        raise ConfigError(f"a relative-position table of side {n} is too small to resize (needs 4 or more)")
    h = nodes[1:] - nodes[:-1]
    system = torch.zeros(n, n, dtype=torch.float64)
    rhs = torch.zeros(n, n, dtype=torch.float64)  # second derivatives = solve(system, rhs @ y)
    system[0, :3] = torch.stack([-h[1], h[0] + h[1], -h[0]])
    system[-1, -3:] = torch.stack([-h[-1], h[-2] + h[-1], -h[-2]])
    for i in range(1, n - 1):
        system[i, i - 1 : i + 2] = torch.stack([h[i - 1], 2 * (h[i - 1] + h[i]), h[i]])
        rhs[i, i - 1], rhs[i, i], rhs[i, i + 1] = 6 / h[i - 1], -6 / h[i - 1] - 6 / h[i], 6 / h[i]
    second = torch.linalg.solve(system, rhs)  # (n, n): second derivatives per unit value at each node
    t = samples.clamp(nodes[0], nodes[-1])
    seg = (torch.searchsorted(nodes, t, right=True) - 1).clamp(0, n - 2)
    x0, x1, hs = nodes[seg], nodes[seg + 1], h[seg]
    a, b = (x1 - t) / hs, (t - x0) / hs
    curve = hs**2 / 6
    weights = ((a**3 - a) * curve)[:, None] * second[seg] + ((b**3 - b) * curve)[:, None] * second[seg + 1]
    rows = torch.arange(len(t))
    weights[rows, seg] += a
    weights[rows, seg + 1] += b
    return weights


def convert_original_beit(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The original names in MMSegmentation's, as beit2mmseg.py maps them: ``blocks`` -> ``layers``, block
    ``norm{1,2}`` -> ``ln{1,2}``, ``mlp.fc1/fc2`` -> ``ffn.layers.0.0/1``, ``patch_embed.proj`` ->
    ``projection``; other keys unchanged (the converter's extra copy of ``patch_embed.proj.*`` is left out)."""
    out = {}
    for key, value in state.items():
        if key.startswith("patch_embed"):
            key = key.replace("patch_embed.proj", "patch_embed.projection")
        elif key.startswith("blocks"):
            key = key.replace("blocks", "layers")
            if "norm" in key:
                key = key.replace("norm", "ln")
            elif "mlp.fc1" in key:
                key = key.replace("mlp.fc1", "ffn.layers.0.0")
            elif "mlp.fc2" in key:
                key = key.replace("mlp.fc2", "ffn.layers.1")
        out[key] = value
    return out
