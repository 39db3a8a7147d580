"""Fetching a registered pre-trained checkpoint from the first source that has it, and reading Hub files.

Order: a local file (the original's copy in torch.hub's cache, checked against its hash prefix, or the Hub
file already in the Hub cache) -> the Hub (pinned revision, through ``huggingface_hub``) -> the original URL
(short timeouts, hash-checked). When ``SEGLAB_OPENMMLAB_MIRROR`` is set the user named their own copy of
OpenMMLab's server, so it is tried before the Hub. ``HF_HUB_OFFLINE=1`` uses local files only. When every
source fails, one line lists what was tried and the fixes.
"""

from __future__ import annotations

import json
import logging
import struct
from pathlib import Path

import torch

from seglab.errors import CheckpointError
from seglab.fileio import hub
from seglab.fileio.download import DownloadError, cached_download, verify_cached
from seglab.fileio.sources import PretrainedSource, hub_cache_path, is_openmmlab, mirror

logger = logging.getLogger("seglab")


def fetch_pretrained(source: PretrainedSource) -> Path:
    """A local, verified path for ``source``, from the first of its sources that answers."""
    url = source.original_url()
    cached = hub_cache_path(url)
    if cached.is_file():
        return verify_cached(cached)  # a wrong file here is the user's to delete: say so, don't hide it
    hub_file = source.hub if source.hub_usable else None
    if hub_file is not None:
        try:
            return hub.hub_download(hub_file.repo, hub_file.filename, hub_file.revision, local_only=True)
        except hub.HubError:
            pass
    if hub.offline():
        where = f" nor in the Hub cache {hub.cache_dir()} ({hub_file.short})" if hub_file else ""
        raise DownloadError(
            f"cannot get pre-trained weights '{source.name}' offline (HF_HUB_OFFLINE is set): not at {cached}{where}; "
            f"put the file at {cached} or unset HF_HUB_OFFLINE"
        )
    attempts: list[str] = []
    steps = [("hub", hub_file), ("url", url)] if hub_file else [("url", url)]
    if hub_file and mirror() and is_openmmlab(url):
        steps.reverse()  # the user's own copy of OpenMMLab's server comes first
    for kind, where in steps:
        try:
            if kind == "hub":
                path = hub.hub_download(where.repo, where.filename, where.revision)
                logger.info(f"pre-trained '{source.name}': from the Hub, {where.short} ({where.relation})")
                return path
            return cached_download(where)[0]
        except (hub.HubError, DownloadError) as err:
            attempts.append(f"the Hub {err}" if kind == "hub" else str(err))
    if len(attempts) == 1:
        raise DownloadError(attempts[0])
    fixes = (
        f"put the file at {cached}, set HF_ENDPOINT to a Hub mirror you can reach (e.g. https://hf-mirror.com), "
        "or set HF_HUB_OFFLINE=1 and name a local file in the config"
    )
    raise DownloadError(f"cannot get pre-trained weights '{source.name}': tried {' | '.join(attempts)}; fixes: {fixes}")


def from_hub_cache(path: Path, source: PretrainedSource) -> bool:
    """Whether ``path`` is ``source``'s Hub file (inside the Hub cache's folder for its repo)."""
    return source.hub is not None and f"models--{source.hub.repo.replace('/', '--')}" in str(path)


# ----------------------------------------------------------------------------- safetensors, without the package
_DTYPES = {
    "F64": torch.float64,
    "F32": torch.float32,
    "F16": torch.float16,
    "BF16": torch.bfloat16,
    "I64": torch.int64,
    "I32": torch.int32,
    "I16": torch.int16,
    "I8": torch.int8,
    "U8": torch.uint8,
    "BOOL": torch.bool,
}


def read_safetensors(path: str | Path) -> dict[str, torch.Tensor]:
    """The tensors of a ``.safetensors`` file (8-byte header length, JSON header, raw little-endian data):
    plain data, nothing to execute, so no loader package is needed."""
    path = Path(path)
    data = path.read_bytes()
    try:
        (length,) = struct.unpack("<Q", data[:8])
        header = json.loads(data[8 : 8 + length])
    except (struct.error, ValueError) as err:
        raise CheckpointError(f"'{path}' is not a safetensors file ({err}); download it again") from None
    body = memoryview(data)[8 + length :]
    state = {}
    for key, info in header.items():
        if key == "__metadata__":
            continue
        dtype = _DTYPES.get(info.get("dtype"))
        start, end = info["data_offsets"]
        if dtype is None or end > len(body):
            raise CheckpointError(f"'{path}': tensor '{key}' is {info.get('dtype')} or truncated; download it again")
        flat = torch.frombuffer(bytearray(body[start:end]), dtype=dtype) if end > start else torch.empty(0, dtype=dtype)
        state[key] = flat.reshape(info["shape"])
    return state
