"""One verified download path for every checkpoint URL seglab reads.

``load_from``, ``pretrained``, ``init_cfg=dict(type='Pretrained', ...)``, the ``open-mmlab://``,
``torchvision://`` and ``mmcls://`` names, a URL given to ``seglab test``/``infer`` and ``seglab zoo
--download`` all end in ``cached_download``. The file lives in torch.hub's cache; when its name carries a
hash prefix (``resnet50_v1c-2cccc1ad.pth``: the hex digits after the last '-' start its SHA-256) it is
checked after every download and on every reuse from the cache. A download streams into ``NAME.part`` beside
its target and is renamed only once the whole file passed, so the cache never holds a half or a wrong file
under the checkpoint's name. A part file left by a connection that dropped is resumed with an HTTP Range
request (guarded by ``If-Range`` with the first answer's ETag or Last-Modified, kept in ``NAME.part.json``), in
the same call (a few times) and by the next run; a server that ignores ranges or changed the file starts over.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import socket
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

try:
    import fcntl
except ImportError:  # Windows: no lock; two processes fetching one file at once are left to the hash check
    fcntl = None

from seglab.errors import CheckpointError
from seglab.fileio.safe_pickle import not_a_checkpoint
from seglab.fileio.sources import MIRROR_ENV, OPENMMLAB, hash_prefix, hub_cache_path, is_openmmlab, mirror, mirrored

logger = logging.getLogger("seglab")

TIMEOUT_S = 10.0  # per connect and per read: a dead or silent server fails in seconds, not minutes
CHUNK = 1 << 20
RETRIES = 3  # a connection that dropped after bringing bytes is resumed this many times within one call
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

    ``transfer(url, dst, progress)`` brings the file ``dst`` to the bytes at ``url``, resuming the bytes it
    already holds (``transfer`` below unless given). A cut that brought bytes is resumed up to ``RETRIES``
    times; a failure keeps them in the part file for the next run."""
    url = mirrored(url)
    target = hub_cache_path(url)
    if target.is_file():
        return verify_cached(target), False
    part, by_hand = target.with_name(f"{target.name}.part"), f"put the file at {target} by hand{_mirror_hint(url)}"
    lock_path = target.with_name(f"{target.name}.part.lock")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        lock = _lock(lock_path)
    except OSError as err:
        raise DownloadError(f"cannot write to the cache folder {target.parent} ({err.strerror}); {by_hand}") from None
    try:
        if target.is_file():  # another process (a rank of the same run) brought it while this one waited
            return verify_cached(target), False
        logger.info(f"downloading {url} to {target}")
        for attempt in range(RETRIES + 1):
            before = _size(part)
            try:
                (transfer or _transfer)(url, str(part), progress)
                break
            except Exception as err:  # noqa: BLE001 — refused, DNS, timeout, HTTP status, short read ...
                kept = _size(part)
                if kept > before and attempt < RETRIES:
                    logger.warning(f"the download of {url} stopped at {_mb(kept)} ({_reason(err)}); resuming")
                    continue
                if not kept:
                    raise DownloadError(f"cannot download {url} ({_reason(err)}); {by_hand}") from None
                raise DownloadError(
                    f"cannot download {url} ({_reason(err)}); {_mb(kept)} kept in {part}, the next run resumes "
                    f"from there; or {by_hand}"
                ) from None
        looks_like = not_a_checkpoint(part)
        if looks_like:
            _discard(part)
            raise DownloadError(
                f"the download of {url} is {looks_like}, not a checkpoint; nothing was saved: {by_hand}"
            )
        wrong = mismatch(part, target.name)
        if wrong:
            _discard(part)
            raise DownloadError(
                f"the download of {url} is not the published file: its name says SHA-256 {wrong[0]}..., the file's "
                f"starts {wrong[1]}...; it was deleted, not saved as {target}: download it again{_mirror_hint(url)}"
            )
        os.replace(part, target)
    finally:
        if not _size(part):  # renamed, or nothing worth resuming: no empty part file or its notes stay behind
            _discard(part)
        _unlock(lock, lock_path)
    return target, True


def transfer(url: str, dst: str, progress: bool) -> None:
    """Bring the file ``dst`` to the bytes at ``url`` (short timeouts; fewer bytes than announced is an error).

    When ``dst`` holds bytes already, only the rest is asked for (``Range``, with ``If-Range`` from the first
    answer, saved beside ``dst``); a whole file in answer (the server ignores ranges, or its file changed) and a
    range the server cannot serve (416) start ``dst`` over."""
    part, name = Path(dst), Path(dst).name.removesuffix(".part")
    saved = _saved(part)
    have = _size(part) if saved.get("url", url) == url else 0
    try:
        response = _get(url, have, saved.get("validator"))
    except urllib.error.HTTPError as err:
        if not (have and err.code == 416):
            raise
        err.close()
        logger.info(f"{name}: the server has no bytes past {_mb(have)}; downloading it again from the start")
        have, response = 0, _get(url, 0, None)
    if have and response.status == 206 and _range_start(response) != have:  # not the range asked for
        response.close()
        have, response = 0, _get(url, 0, None)
    with response:
        if have and response.status != 206:
            logger.info(f"{name}: the server sent the whole file instead of the rest; starting over")
            have = 0
        length = int(response.headers.get("Content-Length") or 0) or None
        total = have + length if length else None
        if have:
            logger.info(f"{name}: resuming at {_mb(have)} of {_mb(total) if total else 'an unknown size'}")
        else:
            _save(part, url, response.headers)
        counter = None
        if progress and total and total >= 8 * CHUNK:
            from seglab.progress import progress_counter

            counter = progress_counter(total, desc=name, initial=have, unit="B")
        done = have
        try:
            with open(part, "ab" if have else "wb") as out:
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


def _get(url: str, start: int, validator: str | None):
    """The answer to GET ``url``, from byte ``start`` on when it is not 0 (only if ``validator`` still holds)."""
    headers = {"User-Agent": "seglab"}
    if start:
        headers["Range"] = f"bytes={start}-"
        if validator:
            headers["If-Range"] = validator
    return urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=TIMEOUT_S)


def _range_start(response) -> int | None:
    """The first byte a 206 answer carries (``Content-Range: bytes START-END/TOTAL``), or None."""
    value = (response.headers.get("Content-Range") or "").removeprefix("bytes ").split("-", 1)[0]
    return int(value) if value.isdigit() else None


def _save(part: Path, url: str, headers) -> None:
    """Keep what identifies the version being downloaded beside ``part``: its strong ETag, else Last-Modified."""
    etag = headers.get("ETag")
    validator = etag if etag and not etag.startswith("W/") else headers.get("Last-Modified")
    _sidecar(part).write_text(json.dumps({"url": url, "validator": validator}))


def _saved(part: Path) -> dict:
    """What ``_save`` kept beside ``part`` ({} when nothing, or nothing readable, is there)."""
    try:
        saved = json.loads(_sidecar(part).read_text())
    except (OSError, ValueError):
        return {}
    return saved if isinstance(saved, dict) else {}


def _sidecar(part: Path) -> Path:
    return part.with_name(f"{part.name}.json")


def _discard(part: Path) -> None:
    part.unlink(missing_ok=True)
    _sidecar(part).unlink(missing_ok=True)


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _mb(size: int) -> str:
    return f"{size / 2**20:,.1f} MB" if size >= 2**20 // 10 else f"{size:,} bytes"


def _lock(path: Path):
    """Open and hold ``path``, an advisory lock file, so that processes fetching one file (the ranks of a
    distributed run) take turns on its part file: the next one finds the file cached or resumes its bytes."""
    while True:
        handle = open(path, "ab")
        if fcntl is None:
            return handle
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            if os.path.samestat(os.fstat(handle.fileno()), os.stat(path)):
                return handle
        except FileNotFoundError:
            pass
        handle.close()  # its holder removed this lock file as it left: take the one at the path now


def _unlock(handle, path: Path) -> None:
    path.unlink(missing_ok=True)
    handle.close()


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
