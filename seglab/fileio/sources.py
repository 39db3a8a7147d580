"""Where checkpoints come from: the registry of pre-trained sources (each backbone family registers its own,
beside the backbone, in ``*_weights.py``), the URLs behind ``open-mmlab://``/``torchvision://``/``mmcls://``
names, the URL of a published MMSegmentation checkpoint, the OpenMMLab mirror, and torch.hub's cache path.

``SEGLAB_OPENMMLAB_MIRROR`` (a base URL) replaces ``https://download.openmmlab.com`` in every URL seglab
derives or is given: OpenMMLab's server has been down since mid-2026 and users serve copies of its files.
"""

from __future__ import annotations

import os
import re
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from seglab.errors import CheckpointError
from seglab.fileio.hub import HubFile

OPENMMLAB = "https://download.openmmlab.com"
MIRROR_ENV = "SEGLAB_OPENMMLAB_MIRROR"
URL_SCHEMES = ("http://", "https://", "file://")
THIRD_PARTY = f"{OPENMMLAB}/pretrain/third_party"
# name -> URL for open-mmlab://NAME, torchvision://NAME and mmcls://NAME (mmcls: its backbone.* tensors are the
# backbone's weights). Filled by the backbone families' ``*_weights.py`` modules through ``register``.
OPEN_MMLAB_URLS: dict[str, str] = {}
MMCLS_URLS: dict[str, str] = {}
TORCHVISION_URLS: dict[str, str] = {}
SCHEMES = {"open-mmlab://": OPEN_MMLAB_URLS, "torchvision://": TORCHVISION_URLS, "mmcls://": MMCLS_URLS}
KNOWN: dict[str, PretrainedSource] = {}  # the string a config names -> its sources, filled by ``register``
_loader: Callable[[], None] | None = None


@dataclass(frozen=True)
class PretrainedSource:
    """Every place one pre-trained checkpoint a config names can come from: its original URL (hash prefix in
    the name, checked) and, where one exists, a Hub file with ``convert`` turning the Hub layout into the
    backbone's MMSegmentation-named keys (None: no converter yet, so the Hub file is listed but not used)."""

    name: str
    url: str
    hub: HubFile | None = None
    convert: Callable[[dict], dict] | None = field(default=None, compare=False)
    family: str = ""
    parity_test: str = ""  # the test file that loads the Hub layout and compares features with its library's

    @property
    def hub_usable(self) -> bool:
        return self.hub is not None and (self.convert is not None or self.hub.layout == "original")

    def original_url(self) -> str:
        """The original URL as seglab resolves it now (the scheme tables may be overridden; mirrored)."""
        return named_url(self.name) if self.name.startswith(tuple(SCHEMES)) else mirrored(self.url)


def register(*entries: PretrainedSource, family: str = "", parity_test: str = "") -> None:
    """Make ``entries`` known by the string configs name (a backbone family's ``*_weights.py`` calls this);
    ``parity_test`` names the test that proves the family's Hub key maps."""
    for entry in entries:
        entry = replace(entry, family=family) if family else entry
        entry = replace(entry, parity_test=parity_test) if parity_test and entry.hub_usable else entry
        KNOWN[entry.name] = entry
        for scheme, table in SCHEMES.items():
            if entry.name.startswith(scheme):
                table.setdefault(entry.name[len(scheme) :], entry.url)


def set_loader(loader: Callable[[], None]) -> None:
    """Install the function that imports every family's weight table (the models layer passes it in)."""
    global _loader
    _loader = loader


def ensure_loaded() -> None:
    """Run the installed loader once, so every family's sources are registered."""
    global _loader
    if _loader is not None:
        loader, _loader = _loader, None
        loader()


def known(source: str) -> PretrainedSource | None:
    """The registered sources of the checkpoint string ``source``, or None."""
    ensure_loaded()
    return KNOWN.get(str(source))


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
    if source.startswith(tuple(SCHEMES)):
        ensure_loaded()
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
