"""One verified download path for every checkpoint URL seglab reads.

``load_from``, ``pretrained``, ``init_cfg=dict(type='Pretrained', ...)``, the ``open-mmlab://``,
``torchvision://`` and ``mmcls://`` names, a URL given to ``seglab test``/``infer`` and ``seglab zoo
--download`` all end in ``cached_download``. The file lives in torch.hub's cache; when its name carries a
hash prefix (``resnet50_v1c-2cccc1ad.pth``: the hex digits after the last '-' start its SHA-256) it is
checked after every download and on every reuse from the cache. A download goes to a temporary file beside
its target and is renamed only once it passed, so the cache never holds a half or a wrong file.
"""

from __future__ import annotations

import hashlib
import logging
import os
import socket
import tempfile
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

from seglab.errors import CheckpointError
from seglab.fileio.safe_pickle import not_a_checkpoint
from seglab.fileio.sources import MIRROR_ENV, OPENMMLAB, hash_prefix, hub_cache_path, is_openmmlab, mirror, mirrored

logger = logging.getLogger("seglab")

TIMEOUT_S = 10.0  # per connect and per read: a dead or silent server fails in seconds, not minutes
CHUNK = 1 << 20
Transfer = Callable[[str, str, bool], None]


class DownloadError(CheckpointError):
    """A checkpoint URL could not be fetched, or its file is not the published one (``seglab zoo
    --download`` exits 1 on it; elsewhere it is a CheckpointError like any other)."""


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def mismatch(path: Path, name: str | None = None) -> tuple[str, str] | None:
    """(expected, actual) SHA-256 prefixes when ``path`` is not the file its name (or ``name``) promises."""
    expected = hash_prefix(name or path.name)
    if expected is None:
        return None
    actual = sha256(path)[: len(expected)]
    return None if actual == expected else (expected, actual)


def verify_cached(path: Path) -> Path:
    """``path`` (a file in the download cache) when it is the file its name promises; else one error line."""
    wrong = mismatch(path)
    if wrong:
        raise DownloadError(
            f"cached checkpoint '{path}' is not the published file: its name says SHA-256 {wrong[0]}..., "
            f"the file's starts {wrong[1]}...; delete it and download it again"
        )
    looks_like = not_a_checkpoint(path)
    if looks_like:
        raise DownloadError(
            f"cached checkpoint '{path}' is {looks_like}, not a checkpoint; delete it and download it again"
        )
    return path


def cached_download(url: str, progress: bool = True, transfer: Transfer | None = None) -> tuple[Path, bool]:
    """The verified cache file of ``url`` (mirrored), downloading it when absent; returns (path, newly downloaded).

    ``transfer(url, dst, progress)`` copies the bytes (``transfer`` below unless given)."""
    url = mirrored(url)
    target = hub_cache_path(url)
    if target.is_file():
        return verify_cached(target), False
    by_hand = f"put the file at {target} by hand{_mirror_hint(url)}"
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
        os.close(fd)
    except OSError as err:
        raise DownloadError(f"cannot write to the cache folder {target.parent} ({err.strerror}); {by_hand}") from None
    try:
        logger.info(f"downloading {url} to {target}")
        try:
            (transfer or _transfer)(url, tmp, progress)
        except Exception as err:  # noqa: BLE001 — refused, DNS, timeout, HTTP status, short read ...
            raise DownloadError(f"cannot download {url} ({_reason(err)}); {by_hand}") from None
        looks_like = not_a_checkpoint(Path(tmp))
        if looks_like:
            raise DownloadError(
                f"the download of {url} is {looks_like}, not a checkpoint; nothing was saved: {by_hand}"
            )
        wrong = mismatch(Path(tmp), target.name)
        if wrong:
            raise DownloadError(
                f"the download of {url} is not the published file: its name says SHA-256 {wrong[0]}..., the file's "
                f"starts {wrong[1]}...; it was deleted, not saved as {target}: download it again{_mirror_hint(url)}"
            )
        os.replace(tmp, target)
    finally:
        Path(tmp).unlink(missing_ok=True)
    return target, True


def transfer(url: str, dst: str, progress: bool) -> None:
    """Copy the bytes at ``url`` into the file ``dst`` (short timeouts; fewer bytes than announced is an error)."""
    request = urllib.request.Request(url, headers={"User-Agent": "seglab"})
    with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response, open(dst, "wb") as out:
        total = int(response.headers.get("Content-Length") or 0) or None
        counter = None
        if progress and total and total >= 8 * CHUNK:
            from seglab.progress import progress_counter

            counter = progress_counter(total, desc=Path(dst).name.split(".part")[0].lstrip("."), unit="B")
        done = 0
        try:
            while chunk := response.read(CHUNK):
                out.write(chunk)
                done += len(chunk)
                if counter:
                    counter.update(len(chunk))
        finally:
            if counter:
                counter.close()
    if total and done < total:
        raise OSError(f"the connection closed after {done:,} of {total:,} bytes")


_transfer = transfer  # the default, kept apart so a caller's ``transfer`` argument cannot shadow it


def _reason(err: BaseException) -> str:
    """A short reason for a failed transfer: the HTTP status, the socket error or the exception."""
    if isinstance(err, urllib.error.HTTPError):
        return f"HTTP {err.code} {err.reason}"
    if isinstance(err, urllib.error.URLError):
        err = err.reason if isinstance(err.reason, BaseException) else OSError(str(err.reason))
    if isinstance(err, socket.timeout | TimeoutError):
        return f"no answer within {TIMEOUT_S:g} s"
    text = str(err).splitlines()[0] if str(err) else ""
    return f"{type(err).__name__}: {text}"[:160] if text else type(err).__name__


def _mirror_hint(url: str) -> str:
    if not is_openmmlab(url):
        return ""
    base = mirror()
    if base:
        return f", or check the mirror {MIRROR_ENV}={base}"
    return f", or set {MIRROR_ENV} to the base URL of a copy of {OPENMMLAB} (its server has been down since mid-2026)"
