"""Fetching a registered pre-trained checkpoint from the first source that has it, and reading Hub files.

Order: a local file (the original's copy in torch.hub's cache, checked against its hash prefix, or the Hub
file already in the Hub cache) -> the Hub (pinned revision, through ``huggingface_hub``) -> the original URL
(short timeouts, hash-checked). When ``SEGLAB_OPENMMLAB_MIRROR`` is set the user named their own copy of
OpenMMLab's server, so it is tried before the Hub. ``HF_HUB_OFFLINE=1`` uses local files only. When every
source fails, one line lists what was tried and the fixes.

A Hub file with no pinned revision (``HubFile.revision`` None) is still used: OpenMMLab's server is down, so
refusing it would leave nothing. It is never used silently: a warning names the commit ``main`` resolved to.
"""

from __future__ import annotations

import logging
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
            return _warn_if_unpinned(
                source, hub.hub_download(hub_file.repo, hub_file.filename, hub_file.revision, local_only=True)
            )
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
                return _warn_if_unpinned(source, path)
            return cached_download(where)[0]
        except (hub.HubError, DownloadError) as err:
            attempts.append(f"the Hub {err}" if kind == "hub" else str(err))
    if len(attempts) == 1:
        raise DownloadError(attempts[0])
    put = f"put the file at {cached}"
    said = any(put in attempt for attempt in attempts)  # the original URL's error already says where it goes
    fixes = (
        ("other fixes: " if said else f"fixes: {put}, ")
        + "set HF_ENDPOINT to a Hub mirror you can reach (e.g. https://hf-mirror.com), "
        + "or set HF_HUB_OFFLINE=1 and name a local file in the config"
    )
    raise DownloadError(f"cannot get pre-trained weights '{source.name}': tried {' | '.join(attempts)}; {fixes}")


def _warn_if_unpinned(source: PretrainedSource, path: Path) -> Path:
    """Log a warning when ``source``'s Hub file has no pinned revision: it came from the moving ``main`` branch,
    so name the commit it resolved to (the snapshot folder of the Hub cache), which makes the run reproducible."""
    if source.hub is not None and source.hub.revision is None:
        commit = path.parent.name if path.parent.parent.name == "snapshots" else "unknown"
        logger.warning(
            f"pre-trained '{source.name}': {source.hub.repo}/{source.hub.filename} has no pinned revision in seglab's "
            f"table, so it was taken from the Hub's moving 'main' branch (commit {commit} here); the file may change "
            "upstream (docs/pretrained.md lists which sources are pinned)"
        )
    return path


def from_hub_cache(path: Path, source: PretrainedSource) -> bool:
    """Whether ``path`` is ``source``'s Hub file (inside the Hub cache's folder for its repo)."""
    return source.hub is not None and f"models--{source.hub.repo.replace('/', '--')}" in str(path)


def read_safetensors(path: str | Path) -> dict[str, torch.Tensor]:
    """The tensors of a ``.safetensors`` file, read by the ``safetensors`` package: plain data (a JSON header
    and raw tensor bytes), nothing in the file is executed. A damaged file is one ``CheckpointError`` line."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    path = Path(path)
    try:
        return load_file(path)
    except (SafetensorError, ValueError, OSError) as err:
        reason = next((line.strip() for line in str(err).splitlines() if line.strip()), type(err).__name__)
        raise CheckpointError(f"'{path}' is not a safetensors file ({reason}); download it again") from None
