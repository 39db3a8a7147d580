"""SegNeXt's light Hamburger head: the levels are resized to the finest, concatenated and squeezed by a 1x1
ConvModule, then a "Hamburger" (1x1 conv, non-negative matrix factorisation of the feature map, 1x1 conv,
residual) replaces attention as the global-context step (Geng et al., "Is Attention Better Than Matrix
Decomposition?", ICLR 2021).

The NMF starts from random bases (``rand_init=True``, every published config): a fresh draw from torch's
global generator at every forward, in evaluation too, as in MMSegmentation; seed torch for repeatable
predictions. Gradients flow through every multiplicative update, as in MMSegmentation 1.2.2 (the original
Hamburger code differentiates only the last one; seglab follows MMSegmentation so training reproduces it).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from seglab.errors import ConfigError
from seglab.models.heads.decode_head import BaseDecodeHead
from seglab.models.layers import ConvModule, resize
from seglab.registry import MODELS

HAM_DEFAULTS = dict(MD_S=1, MD_R=64, train_steps=6, eval_steps=7, inv_t=100, rand_init=True)


class NMF2D(nn.Module):
    """Factorise each (D = C / MD_S, N = H*W) slice of a non-negative map as bases (D, MD_R) x coefficients
    (N, MD_R)^T by multiplicative updates, and return the product (the map's low-rank reconstruction).

    ``inv_t`` is accepted for the config but NMF's softmax temperature is 1, as in the original and
    MMSegmentation. With ``rand_init=False`` one set of bases is drawn at build time and kept as the
    ``bases`` buffer (MMSegmentation draws it at the first forward, under the same name)."""

    def __init__(self, channels: int, args: dict) -> None:
        super().__init__()
        unknown = sorted(set(args) - set(HAM_DEFAULTS))
        if unknown:
            raise ConfigError(f"LightHamHead ham_kwargs has unknown key(s) {unknown}; it accepts {list(HAM_DEFAULTS)}")
        args = {**HAM_DEFAULTS, **args}
        self.S, self.R = int(args["MD_S"]), int(args["MD_R"])
        if self.S < 1 or self.R < 1 or channels % self.S:
            raise ConfigError(
                f"LightHamHead ham_kwargs MD_S={args['MD_S']} must divide ham_channels={channels} and MD_R="
                f"{args['MD_R']} be >= 1"
            )
        self.train_steps, self.eval_steps = int(args["train_steps"]), int(args["eval_steps"])
        self.inv_t = 1  # NMF's, whatever ham_kwargs says
        self.rand_init = bool(args["rand_init"])
        if not self.rand_init:
            self.register_buffer("bases", self._build_bases(1, channels // self.S, "cpu"))

    def _build_bases(self, batch: int, dims: int, device: torch.device | str) -> torch.Tensor:
        """Uniform random bases with unit columns, drawn on the CPU generator (the same draw on any device)."""
        return F.normalize(torch.rand((batch * self.S, dims, self.R)).to(device), dim=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, channels, height, width = x.shape
        x = x.reshape(batch * self.S, channels // self.S, height * width)
        if self.rand_init:
            bases = self._build_bases(batch, channels // self.S, x.device).to(x.dtype)
        else:
            bases = self.bases.repeat(batch, 1, 1).to(x.dtype)
        coef = F.softmax(self.inv_t * torch.bmm(x.transpose(1, 2), bases), dim=-1)
        for _ in range(self.train_steps if self.training else self.eval_steps):
            bases, coef = self._update(x, bases, coef)
        coef = self._update_coef(x, bases, coef)  # one more coefficient update for the reconstruction
        return torch.bmm(bases, coef.transpose(1, 2)).reshape(batch, channels, height, width)

    @staticmethod
    def _update_coef(x: torch.Tensor, bases: torch.Tensor, coef: torch.Tensor) -> torch.Tensor:
        """coef <- coef * (X^T B) / (coef B^T B)."""
        return coef * torch.bmm(x.transpose(1, 2), bases) / (coef.bmm(bases.transpose(1, 2).bmm(bases)) + 1e-6)

    def _update(self, x: torch.Tensor, bases: torch.Tensor, coef: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """One multiplicative-update step: the coefficients, then the bases <- B * (X coef) / (B coef^T coef)."""
        coef = self._update_coef(x, bases, coef)
        bases = bases * torch.bmm(x, coef) / (bases.bmm(coef.transpose(1, 2).bmm(coef)) + 1e-6)
        return bases, coef


class Hamburger(nn.Module):
    """``relu(x + ham_out(NMF(relu(ham_in(x)))))``: the "bread" convs around the matrix-decomposition "ham"."""

    def __init__(self, ham_channels: int, ham_kwargs: dict, norm_cfg: dict | None) -> None:
        super().__init__()
        self.ham_in = ConvModule(ham_channels, ham_channels, 1, norm_cfg=None, act_cfg=None)
        self.ham = NMF2D(ham_channels, ham_kwargs)
        self.ham_out = ConvModule(ham_channels, ham_channels, 1, norm_cfg=norm_cfg, act_cfg=None)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        enjoy = self.ham_out(self.ham(F.relu(self.ham_in(x))))
        return F.relu(x + enjoy)


@MODELS.register()
class LightHamHead(BaseDecodeHead):
    """``squeeze`` (sum(in_channels) -> ``ham_channels``), ``hamburger``, ``align`` (-> ``channels``), classifier;
    ``input_transform`` is always 'multiple_select'. ``ham_kwargs``: MD_S, MD_R, train_steps, eval_steps,
    inv_t, rand_init (see ``NMF2D``)."""

    def __init__(self, ham_channels: int = 512, ham_kwargs: dict | None = None, **kwargs) -> None:
        if kwargs.pop("input_transform", "multiple_select") != "multiple_select":
            raise ConfigError("LightHamHead always uses input_transform='multiple_select'; remove the key")
        super().__init__(input_transform="multiple_select", **kwargs)
        if ham_kwargs is not None and not isinstance(ham_kwargs, dict):
            raise ConfigError(f"LightHamHead ham_kwargs must be a dict such as dict(MD_R=16), got {ham_kwargs!r}")
        self.ham_channels = ham_channels
        conv_args = dict(conv_cfg=self.conv_cfg, norm_cfg=self.norm_cfg, act_cfg=self.act_cfg)
        self.squeeze = ConvModule(sum(self.in_channels), ham_channels, 1, **conv_args)
        self.hamburger = Hamburger(ham_channels, ham_kwargs or {}, self.norm_cfg)
        self.align = ConvModule(ham_channels, self.channels, 1, **conv_args)

    def forward(self, inputs: list[torch.Tensor]) -> torch.Tensor:
        feats = self._transform_inputs(inputs)
        size = feats[0].shape[2:]
        x = torch.cat([resize(f, size, self.align_corners) for f in feats], dim=1)
        return self.cls_seg(self.align(self.hamburger(self.squeeze(x))))
