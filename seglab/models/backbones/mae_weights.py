"""Pre-trained sources of MAE: the configs name a local ``./pretrain/mae_pretrain_vit_base_mmcls.pth``, which
MMSegmentation's README has users convert with beit2mmseg.py from Meta's ``mae_pretrain_vit_base.pth``
(self-supervised on ImageNet-1K). Registered here, that name is read from the local file when it exists, else
fetched: timm's Hub copy of the same weights (``vit_base_patch16_224.mae``, whose pretrained config names Meta's
URL), then Meta's original URL. Both carry timm's ViT names, which Meta's file uses too, converted by
``convert_original_beit`` as beit2mmseg.py converts them; ``MAE.adapt_pretrained`` then resizes the 14x14 position
embedding to the model's patch grid.
"""

from __future__ import annotations

from seglab.fileio.hub import HubFile
from seglab.fileio.sources import PretrainedSource, register
from seglab.models.backbones.beit import convert_original_beit

_REPO = "timm/vit_base_patch16_224.mae"
_NOTE = "Meta's MAE ViT-B/16 encoder (ImageNet-1K, self-supervised), timm's copy (the same key names)"

SOURCES = [
    PretrainedSource(
        "./pretrain/mae_pretrain_vit_base_mmcls.pth",
        "https://dl.fbaipublicfiles.com/mae/pretrain/mae_pretrain_vit_base.pth",
        HubFile(_REPO, "model.safetensors", None, "timm", "same weights", f"https://huggingface.co/{_REPO}", _NOTE),
        convert_original_beit,
    ),
]
register(*SOURCES, family="MAE", parity_test="tests/fileio/test_timm_parity_beit_mae.py")
