"""Where checkpoints come from: the URLs behind ``open-mmlab://``/``torchvision://``/``mmcls://`` names,
the URL of a published MMSegmentation checkpoint, the OpenMMLab mirror, and where torch.hub caches a URL.

``SEGLAB_OPENMMLAB_MIRROR`` (a base URL) replaces ``https://download.openmmlab.com`` in every URL seglab
derives or is given: OpenMMLab's server has been down since mid-2026 and users serve copies of its files.
"""

from __future__ import annotations

import os
import re
import urllib.parse
from pathlib import Path

from seglab.errors import CheckpointError

OPENMMLAB = "https://download.openmmlab.com"
MIRROR_ENV = "SEGLAB_OPENMMLAB_MIRROR"
URL_SCHEMES = ("http://", "https://", "file://")
THIRD_PARTY = f"{OPENMMLAB}/pretrain/third_party"
OPEN_MMLAB_URLS = {  # the names shipped configs use, with MMEngine's URLs for them
    "resnet18_v1c": f"{THIRD_PARTY}/resnet18_v1c-b5776b93.pth",
    "resnet50_v1c": f"{THIRD_PARTY}/resnet50_v1c-2cccc1ad.pth",
    "resnet101_v1c": f"{THIRD_PARTY}/resnet101_v1c-e67eebb6.pth",
    "resnest50": f"{THIRD_PARTY}/resnest50_d2-7497a55b.pth",
    "resnest101": f"{THIRD_PARTY}/resnest101_d2-f3b931b2.pth",
    "resnest200": f"{THIRD_PARTY}/resnest200_d2-ca88e41f.pth",
    "resnext50_32x4d": f"{THIRD_PARTY}/resnext50-32x4d-0ab1a123.pth",
    "resnext101_32x4d": f"{THIRD_PARTY}/resnext101_32x4d-a5af3160.pth",
    "resnext101_64x4d": f"{THIRD_PARTY}/resnext101_64x4d-ee2c6f71.pth",
    "msra/hrnetv2_w18_small": f"{THIRD_PARTY}/hrnetv2_w18_small-b5a04e21.pth",
    "msra/hrnetv2_w18": f"{THIRD_PARTY}/hrnetv2_w18-00eb2006.pth",
    "msra/hrnetv2_w48": f"{THIRD_PARTY}/hrnetv2_w48-d2186c55.pth",
    "contrib/mobilenet_v3_large": f"{THIRD_PARTY}/mobilenet_v3_large-bc2c3fd3.pth",
    "contrib/mobilenet_v3_small": f"{THIRD_PARTY}/mobilenet_v3_small-47085aa1.pth",
}
MMCLS_URLS = {  # mmcls://NAME: an MMClassification model; its backbone.* tensors are the backbone's weights
    "mobilenet_v2": f"{OPENMMLAB}/mmclassification/v0/mobilenet_v2/"
    "mobilenet_v2_batch256_imagenet_20200708-3b2dc3af.pth",
}
TORCHVISION_URLS = {  # ImageNet weights of plain ResNets, named as torchvision's files
    "resnet18": "https://download.pytorch.org/models/resnet18-5c106cde.pth",
    "resnet34": "https://download.pytorch.org/models/resnet34-333f7ec4.pth",
    "resnet50": "https://download.pytorch.org/models/resnet50-19c8e357.pth",
    "resnet101": "https://download.pytorch.org/models/resnet101-5d3b4d8f.pth",
    "resnet152": "https://download.pytorch.org/models/resnet152-b121ed2d.pth",
}
SCHEMES = {"open-mmlab://": OPEN_MMLAB_URLS, "torchvision://": TORCHVISION_URLS, "mmcls://": MMCLS_URLS}
MMSEG_RELEASE = f"{OPENMMLAB}/mmsegmentation/v0.5"
_RELEASE_NAME = re.compile(r"^(?P<config>(?P<family>[a-z0-9]+)_.+?)_\d{8}_\d{6}-[0-9a-f]{8}\.pth$")
_HASH_PREFIX = re.compile(r"-([0-9a-f]{8,64})\.[A-Za-z0-9.]+$")  # resnet50_v1c-2cccc1ad.pth -> 2cccc1ad


def mirror() -> str | None:
    """The base URL in ``SEGLAB_OPENMMLAB_MIRROR`` (no trailing slash), or None when it is not set."""
    base = os.environ.get(MIRROR_ENV, "").strip().rstrip("/")
    if not base:
        return None
    if not base.startswith(URL_SCHEMES):
        raise CheckpointError(
            f"{MIRROR_ENV}='{base}' is not a URL: set it to the base URL of a copy of {OPENMMLAB} "
            "(e.g. https://mirror.example.org/openmmlab, the folder holding mmsegmentation/ and pretrain/), or unset it"
        )
    return base


def mirrored(url: str) -> str:
    """``url`` with ``https://download.openmmlab.com`` replaced by the mirror, when one is set."""
    base = mirror()
    for origin in (OPENMMLAB, "http://download.openmmlab.com"):
        if base and url.startswith(origin + "/"):
            return base + url[len(origin) :]
    return url


def is_openmmlab(url: str) -> bool:
    """Whether ``url`` is (or is the mirror of) an OpenMMLab download."""
    base = mirror()
    return "download.openmmlab.com/" in url or bool(base and url.startswith(base + "/"))


def is_url(source: str) -> bool:
    return source.startswith(URL_SCHEMES)


def named_url(source: str) -> str:
    """The URL behind ``open-mmlab://NAME``, ``torchvision://NAME`` or ``mmcls://NAME`` (mirrored); a URL
    given as such is mirrored too; anything else is returned as given."""
    for scheme, table in SCHEMES.items():
        if source.startswith(scheme):
            name = source[len(scheme) :]
            if name not in table:
                raise CheckpointError(f"unknown pretrained name '{source}'; known: {sorted(table)}")
            return mirrored(table[name])
    return mirrored(source) if is_url(source) else source


def release_url(path: str | Path) -> str | None:
    """The download URL of a published MMSegmentation checkpoint, recognised by its file name."""
    match = _RELEASE_NAME.match(Path(path).name)
    if not match:
        return None
    return mirrored(f"{MMSEG_RELEASE}/{match['family']}/{match['config']}/{Path(path).name}")


def file_name(url: str) -> str:
    """The file name a URL downloads to (its path's last part, query and fragment ignored)."""
    return Path(urllib.parse.unquote(urllib.parse.urlsplit(url).path)).name


def hash_prefix(name: str) -> str | None:
    """The SHA-256 prefix a published file name carries: the 8+ hex digits after its last '-'."""
    match = _HASH_PREFIX.search(name)
    return match.group(1) if match else None


def hub_cache_path(url: str) -> Path:
    """Where torch.hub keeps the download of ``url`` (``torch.hub.get_dir()/checkpoints/<file name>``,
    honouring ``TORCH_HOME``), so one download serves torch.hub and seglab."""
    import torch.hub

    return Path(torch.hub.get_dir()) / "checkpoints" / file_name(url)
