"""Finding the checkpoint ``--resume`` continues from, when ``last_checkpoint`` lets us down."""

from __future__ import annotations

import logging
import re
from pathlib import Path

from seglab.errors import CheckpointError
from seglab.fileio.checkpoint import not_a_checkpoint, read_checkpoint

logger = logging.getLogger("seglab")


def latest_resumable(work_dir: Path) -> tuple[str, dict] | None:
    """(path, checkpoint) named by ``work_dir/last_checkpoint``, or None without that file.

    When the file it names is missing or unreadable, the newest readable ``iter_*.pth``/``epoch_*.pth``
    beside it (or in ``work_dir``) is used, with a warning naming both; none readable is an error."""
    marker = work_dir / "last_checkpoint"
    if not marker.is_file():
        return None
    named = marker.read_text().strip()
    if named and Path(named).is_file():
        try:
            return named, read_checkpoint(named)
        except CheckpointError:
            pass
    if not named:
        problem = f"'{marker}' is empty"
    elif not Path(named).is_file():
        problem = f"'{marker}' names '{named}', which does not exist"
    else:
        problem = f"'{marker}' names '{named}', which cannot be read ({not_a_checkpoint(Path(named)) or 'damaged'})"
    folders = dict.fromkeys(p for p in (Path(named).parent if named else None, work_dir) if p and p.is_dir())
    candidates = [c for folder in folders for pattern in ("iter_*.pth", "epoch_*.pth") for c in folder.glob(pattern)]
    candidates.sort(key=lambda c: (c.stat().st_mtime, _number(c)), reverse=True)
    for candidate in candidates:
        if named and candidate.resolve() == Path(named).resolve():
            continue
        try:
            checkpoint = read_checkpoint(candidate)
        except CheckpointError:
            continue
        logger.warning(f"{problem}; resuming from '{candidate}', the newest readable checkpoint")
        return str(candidate), checkpoint
    where = " or ".join(f"'{f}'" for f in folders)
    raise CheckpointError(
        f"cannot resume: {problem}, and no other iter_*.pth or epoch_*.pth in {where} can be read. "
        "Train without --resume, or pass --resume PATH to a checkpoint"
    )


def _number(path: Path) -> int:
    match = re.search(r"_(\d+)\.pth$", path.name)
    return int(match.group(1)) if match else -1
