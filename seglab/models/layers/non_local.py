"""MMCV's ``NonLocal2d`` (non-local neural networks), shared by NLHead and DNLHead.

Child names (``g``, ``theta``, ``phi``, ``conv_out``, ``concat_project``) and initialisation are MMCV's,
so checkpoints load key for key and a fresh block starts as MMCV's: ``g``/``theta``/``phi`` from N(0, 0.01),
``conv_out`` (its norm, when it has one) at zero, so the block first passes its input through unchanged.
"""

from __future__ import annotations

import torch
from torch import nn

from seglab.errors import ConfigError
from seglab.models.layers.conv_module import ConvModule

MODES = ("gaussian", "embedded_gaussian", "dot_product", "concatenation")


def _conv_of(module: nn.Module) -> nn.Conv2d:
    """The conv of a projection: ``ConvModule`` or, with ``sub_sample``, ``Sequential(ConvModule, pool)``."""
    return module[0].conv if isinstance(module, nn.Sequential) else module.conv


class NonLocal2d(nn.Module):
    """``x + conv_out(sum_j f(x_i, x_j) g(x_j))`` over all positions j, with ``f`` chosen by ``mode``.

    ``reduction`` sets the inner width (``in_channels // reduction``, at least 1); ``use_scale`` divides
    the embedded-Gaussian similarities by ``sqrt(inner width)``; ``sub_sample`` max-pools the keys and
    values 2x2; ``norm_cfg`` applies to ``conv_out`` only. ``std``/``zeros_init`` are MMCV's init options."""

    def __init__(
        self,
        in_channels: int,
        reduction: int = 2,
        use_scale: bool = True,
        conv_cfg: dict | None = dict(type="Conv2d"),  # noqa: B006 (never mutated)
        norm_cfg: dict | None = None,
        mode: str = "embedded_gaussian",
        sub_sample: bool = False,
        std: float = 0.01,
        zeros_init: bool = True,
    ) -> None:
        super().__init__()
        if mode not in MODES:
            raise ConfigError(f"NonLocal2d mode must be one of {', '.join(MODES)}, got {mode!r}")
        self.in_channels, self.reduction, self.use_scale = in_channels, reduction, use_scale
        self.inter_channels = max(in_channels // reduction, 1)
        self.mode, self.sub_sample = mode, sub_sample
        inner = self.inter_channels
        self.g = ConvModule(in_channels, inner, 1, conv_cfg=conv_cfg, act_cfg=None)
        self.conv_out = ConvModule(inner, in_channels, 1, conv_cfg=conv_cfg, norm_cfg=norm_cfg, act_cfg=None)
        if mode != "gaussian":
            self.theta = ConvModule(in_channels, inner, 1, conv_cfg=conv_cfg, act_cfg=None)
            self.phi = ConvModule(in_channels, inner, 1, conv_cfg=conv_cfg, act_cfg=None)
        if mode == "concatenation":
            self.concat_project = ConvModule(inner * 2, 1, 1, bias=False, act_cfg=dict(type="ReLU"))
        self.init_weights(std, zeros_init)
        if sub_sample:
            pool = nn.MaxPool2d(kernel_size=(2, 2))
            self.g = nn.Sequential(self.g, pool)
            self.phi = nn.Sequential(self.phi, pool) if mode != "gaussian" else pool

    def init_weights(self, std: float = 0.01, zeros_init: bool = True) -> None:
        """MMCV's: projections N(0, std), ``conv_out`` (or its norm) zero or N(0, std). The model's init walk
        calls it again with the defaults, as MMEngine does."""
        projections = [self.g] if self.mode == "gaussian" else [self.g, self.theta, self.phi]
        for module in projections:
            conv = _conv_of(module)
            nn.init.normal_(conv.weight, 0, std)
            if conv.bias is not None:
                nn.init.zeros_(conv.bias)
        last = self.conv_out.norm if self.conv_out.norm is not None else self.conv_out.conv
        with torch.no_grad():
            if zeros_init:
                last.weight.zero_()
            else:
                nn.init.normal_(last.weight, 0, std)
            if getattr(last, "bias", None) is not None:
                last.bias.zero_()

    # ------------------------------------------------------------------ pairwise functions: (N, L, L')
    def gaussian(self, theta_x: torch.Tensor, phi_x: torch.Tensor) -> torch.Tensor:
        return torch.matmul(theta_x, phi_x).softmax(dim=-1)

    def embedded_gaussian(self, theta_x: torch.Tensor, phi_x: torch.Tensor) -> torch.Tensor:
        weight = torch.matmul(theta_x, phi_x)
        if self.use_scale:
            weight = weight / theta_x.shape[-1] ** 0.5
        return weight.softmax(dim=-1)

    def dot_product(self, theta_x: torch.Tensor, phi_x: torch.Tensor) -> torch.Tensor:
        weight = torch.matmul(theta_x, phi_x)
        return weight / weight.shape[-1]

    def concatenation(self, theta_x: torch.Tensor, phi_x: torch.Tensor) -> torch.Tensor:
        """theta (N, C, L, 1) and phi (N, C, 1, L') paired everywhere, projected to one channel, averaged."""
        length, other = theta_x.shape[2], phi_x.shape[3]
        pairs = torch.cat([theta_x.expand(-1, -1, -1, other), phi_x.expand(-1, -1, length, -1)], dim=1)
        weight = self.concat_project(pairs)[:, 0]
        return weight / weight.shape[-1]

    # ------------------------------------------------------------------ forward
    def embed(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """g (N, L', C), theta and phi shaped for ``mode``'s pairwise function."""
        n = x.shape[0]
        g_x = self.g(x).reshape(n, self.inter_channels, -1).transpose(1, 2)
        if self.mode == "gaussian":
            theta_x = x.reshape(n, self.in_channels, -1).transpose(1, 2)
            phi_x = self.phi(x) if self.sub_sample else x
            phi_x = phi_x.reshape(n, self.in_channels, -1)
        elif self.mode == "concatenation":
            theta_x = self.theta(x).reshape(n, self.inter_channels, -1, 1)
            phi_x = self.phi(x).reshape(n, self.inter_channels, 1, -1)
        else:
            theta_x = self.theta(x).reshape(n, self.inter_channels, -1).transpose(1, 2)
            phi_x = self.phi(x).reshape(n, self.inter_channels, -1)
        return g_x, theta_x, phi_x

    def aggregate(self, weight: torch.Tensor, g_x: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """(N, L, L') weights times (N, L', C) values, back to (N, C, H, W)."""
        y = torch.matmul(weight, g_x)
        return y.transpose(1, 2).reshape(x.shape[0], self.inter_channels, *x.shape[2:])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        g_x, theta_x, phi_x = self.embed(x)
        weight = getattr(self, self.mode)(theta_x, phi_x)
        return x + self.conv_out(self.aggregate(weight, g_x, x))
