"""NLNet's head: an FCN head whose two convs hold a non-local block between them (MMSegmentation's NLHead).

``BlockFCNHead`` is that shape for any block (NLHead, DNLHead, GCHead, CCHead): convs[0], the block,
convs[1], the optional ``conv_cat`` with the input, the classifier; the FCN keys stay MMSegmentation's.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from seglab.errors import ConfigError
from seglab.models.heads.fcn import FCNHead
from seglab.models.layers.non_local import NonLocal2d
from seglab.registry import MODELS


class BlockFCNHead(FCNHead):
    """An FCN head with exactly two convs and ``apply_block`` between them."""

    def __init__(self, **kwargs) -> None:
        if "num_convs" in kwargs:
            raise ConfigError(
                f"{type(self).__name__} always has num_convs=2 (its block sits between the two convs); "
                "remove num_convs from the head's config"
            )
        super().__init__(num_convs=2, **kwargs)

    def apply_block(self, feats: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def forward(self, inputs: Sequence[torch.Tensor]) -> torch.Tensor:
        x = self._transform_inputs(inputs)
        feats = self.convs[1](self.apply_block(self.convs[0](x)))
        if self.concat_input:
            feats = self.conv_cat(torch.cat([x, feats], dim=1))
        return self.cls_seg(feats)


@MODELS.register()
class NLHead(BlockFCNHead):
    """``nl_block``: a ``NonLocal2d`` on ``channels`` with ``reduction``, ``use_scale``, ``mode``; its
    ``conv_out`` takes the head's ``norm_cfg``."""

    def __init__(self, reduction: int = 2, use_scale: bool = True, mode: str = "embedded_gaussian", **kwargs) -> None:
        super().__init__(**kwargs)
        self.reduction, self.use_scale, self.mode = reduction, use_scale, mode
        self.nl_block = NonLocal2d(
            self.channels, reduction, use_scale, conv_cfg=self.conv_cfg, norm_cfg=self.norm_cfg, mode=mode
        )

    def apply_block(self, feats: torch.Tensor) -> torch.Tensor:
        return self.nl_block(feats)
