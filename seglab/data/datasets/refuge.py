"""REFUGE fundus images: background, optic cup, optic disc (labels 0/1/2 after MMSegmentation's converter)."""

from __future__ import annotations

from typing import Any

from seglab.data.datasets.base import BaseSegDataset
from seglab.errors import ConfigError
from seglab.registry import DATASETS

# fmt: off
REFUGE_CLASSES = (
    "background", " Optic Cup", "Optic Disc",
)
REFUGE_PALETTE = [
    [120, 120, 120], [6, 230, 230], [56, 59, 120],
]
# fmt: on


@DATASETS.register()
class REFUGEDataset(BaseSegDataset):
    """Images and labels are both NAME.png; MMSegmentation fixes the suffixes and reduce_zero_label=False."""

    METAINFO = dict(classes=REFUGE_CLASSES, palette=REFUGE_PALETTE)
    FIXED_ARGS = dict(img_suffix=".png", seg_map_suffix=".png", reduce_zero_label=False)

    def __init__(self, **kwargs: Any) -> None:
        fixed = sorted(set(kwargs) & set(self.FIXED_ARGS))
        if fixed:
            raise ConfigError(
                f"REFUGEDataset fixes {', '.join(f'{k}={self.FIXED_ARGS[k]!r}' for k in fixed)} as MMSegmentation does; "
                f"remove {', '.join(fixed)} from the dataset config (or use type='BaseSegDataset')"
            )
        super().__init__(**self.FIXED_ARGS, **kwargs)
