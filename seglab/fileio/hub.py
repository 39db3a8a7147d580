"""The Hugging Face Hub as a checkpoint source: ``hf://USER/REPO[@REVISION][/FILE]`` names, the description of
one Hub file (``HubFile``), and ``hub_download``, which fetches a file through ``huggingface_hub`` (its cache,
``HF_ENDPOINT`` for a mirror, ``HF_HUB_OFFLINE`` for no network) and returns a local path.

Interrupted downloads (huggingface_hub 2.4): over plain HTTP, a connection that drops mid-file is retried within
the same call with a ``Range`` request for the rest (up to 5 times in a row, the count reset whenever bytes
arrive); a Xet-backed file, when the ``hf_xet`` package is installed, is fetched by ``hf_xet`` instead. A download
that fails is not continued by a later call or run: huggingface_hub writes to a temporary file unique to the
process and deletes it on failure, so the next attempt starts from the first byte.

The environment is read at every call, not when ``huggingface_hub`` was imported, so a mirror or offline
mode set later in the process (or by a test) takes effect.
"""

from __future__ import annotations

import os
import re
import socket
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from seglab.errors import CheckpointError

HF_SCHEME = "hf://"
TIMEOUT_S = 5.0  # connect/metadata timeout: a dead or silent Hub (or mirror) fails in seconds
LAYOUTS = ("timm", "transformers", "original")
RELATIONS = {
    "same file": "the same file, re-hosted",
    "same weights": "the same authors' weights in another layout",
    "nearest": "the nearest equivalent (different weights or a different architecture detail)",
}
_HF_URI = re.compile(r"^hf://(?P<repo>[\w.-]+/[\w.-]+)(?:@(?P<revision>[\w.-]+))?(?:/(?P<file>.+))?$")
_SHA = re.compile(r"^[0-9a-f]{40}$")


class HubError(CheckpointError):
    """A Hub file could not be fetched (offline and not cached, 404, refused, timed out ...)."""


@dataclass(frozen=True)
class HubFile:
    """One file on the Hub that can stand in for a checkpoint: where it is, what it is, where that is written.

    ``revision`` is a full commit sha when it was read off the Hub page cited in ``page`` (``verified``); it is
    None (the Hub's ``main``) where no sha was confirmed. ``relation`` is a key of ``RELATIONS``; ``note``
    says what differs for a "nearest" source."""

    repo: str
    filename: str = "model.safetensors"
    revision: str | None = None
    layout: str = "timm"
    relation: str = "same weights"
    page: str = ""
    note: str = ""
    verified: bool = False

    def __post_init__(self) -> None:
        if self.layout not in LAYOUTS or self.relation not in RELATIONS:
            raise ValueError(f"HubFile {self.repo}: layout {self.layout!r} / relation {self.relation!r} unknown")
        if self.revision is not None and not _SHA.match(self.revision):
            raise ValueError(f"HubFile {self.repo}: revision must be a 40-hex commit sha, got {self.revision!r}")

    @property
    def uri(self) -> str:
        """``hf://REPO@REVISION/FILE`` (no ``@`` part when unpinned)."""
        at = f"@{self.revision}" if self.revision else ""
        return f"{HF_SCHEME}{self.repo}{at}/{self.filename}"

    @property
    def short(self) -> str:
        return f"{self.repo}@{(self.revision or 'main')[:7]}/{self.filename}"


def is_hf_uri(source: str) -> bool:
    return str(source).startswith(HF_SCHEME)


def parse_hf_uri(uri: str) -> tuple[str, str | None, str | None]:
    """(repo id, revision or None, file or None) of ``hf://USER/REPO[@REVISION][/FILE]``."""
    match = _HF_URI.match(uri)
    if not match:
        raise CheckpointError(f"'{uri}' is not a Hub name: write hf://USER/REPO, hf://USER/REPO@REVISION or add /FILE")
    return match["repo"], match["revision"], match["file"]


def endpoint() -> str:
    """The Hub server: ``HF_ENDPOINT`` (a mirror such as https://hf-mirror.com) or huggingface.co."""
    return os.environ.get("HF_ENDPOINT", "").strip().rstrip("/") or "https://huggingface.co"


def offline() -> bool:
    """Whether ``HF_HUB_OFFLINE`` asks for no network (local files and caches only)."""
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")


def cache_dir() -> Path:
    """``huggingface_hub``'s cache, honouring ``HF_HUB_CACHE`` and ``HF_HOME`` as set now."""
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"]).expanduser()
    home = os.environ.get("HF_HOME") or os.path.join(os.environ.get("XDG_CACHE_HOME", "~/.cache"), "huggingface")
    return Path(home).expanduser() / "hub"


def hub_download(repo: str, filename: str, revision: str | None = None, local_only: bool = False) -> Path:
    """A local path for ``filename`` of ``repo`` at ``revision``: from the Hub cache, else downloaded (a dropped
    connection is resumed within this call only; a failed download starts over next time, see the module's
    docstring). ``local_only`` or ``HF_HUB_OFFLINE`` never touch the network."""
    try:
        from huggingface_hub import hf_hub_download
    except ImportError:
        raise HubError("the Hub needs the huggingface_hub package: pip install huggingface_hub") from None
    if not (local_only or offline()):
        _probe(f"{endpoint()}/{repo}/resolve/{revision or 'main'}/{filename}")
    try:
        path = hf_hub_download(
            repo,
            filename,
            revision=revision,
            cache_dir=cache_dir(),
            endpoint=endpoint(),
            etag_timeout=TIMEOUT_S,
            local_files_only=local_only or offline(),
        )
    except Exception as err:  # noqa: BLE001 — 404, refused, timeout, offline cache miss: all one line
        raise HubError(f"{repo}@{(revision or 'main')[:7]}/{filename} at {endpoint()}: {reason(err)}") from None
    return Path(path)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs) -> None:
        return None


def _probe(url: str) -> None:
    """Fail within ``TIMEOUT_S`` when the Hub does not answer at all: ``huggingface_hub`` retries a refused
    or silent server with backoff for about half a minute. Any HTTP answer (a redirect, a 404) passes."""
    request = urllib.request.Request(url, method="HEAD", headers={"User-Agent": "seglab"})
    try:
        urllib.request.build_opener(_NoRedirect).open(request, timeout=TIMEOUT_S).close()
    except urllib.error.HTTPError:
        return
    except (urllib.error.URLError, OSError) as err:
        cause = err.reason if isinstance(err, urllib.error.URLError) else err
        why = f"no answer within {TIMEOUT_S:g} s" if isinstance(cause, TimeoutError | socket.timeout) else str(cause)
        raise HubError(f"{url}: {why}") from None


def reason(err: BaseException) -> str:
    """A short reason for a failed Hub call (the error class and its first line)."""
    kind = type(err).__name__
    if kind == "LocalEntryNotFoundError" or (kind == "OfflineModeIsEnabled"):
        return "not in the Hub cache and the Hub is not reachable (or HF_HUB_OFFLINE is set)"
    text = next((line.strip() for line in str(err).splitlines() if line.strip()), "")
    return f"{kind}: {text}"[:200] if text else kind
