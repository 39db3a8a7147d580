"""What keeps ``seglab prepare`` safe on a download nobody vouches for.

Names: a member, link target or list entry that is absolute, has a drive letter or climbs with ``..``
(a backslash counts as a separator) is refused before anything is written: the rules of ``tarfile``'s
``data`` filter, a little stricter (it strips a leading '/', and accepts ``a/../b``). Writes: every file
goes through ``write_atomic``, which resolves the path (symlinked folders included) and refuses one that
lies outside OUT. Sizes: ``Limits`` bound each member, the whole run and the expansion ratio; readers
count bytes as they arrive instead of trusting sizes an archive declares. A refusal is an
``ArchiveRefused``: one line, exit code 2.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from seglab.errors import DatasetError

KiB, MiB, GiB = 1 << 10, 1 << 20, 1 << 30
CHUNK = MiB  # read and copy granularity
RATIO_SLACK = MiB  # bytes a member may expand to beyond ``ratio`` x its compressed size (tiny members)
TMP_SUFFIX = ".seglab-tmp"
OPTIONS = {"member": "--max-member-size", "total": "--max-total-size", "ratio": "--max-ratio"}


class ArchiveRefused(DatasetError):
    """A download that breaks a safety rule (a name escaping OUT, a link out, a size bound); exit code 2."""

    exit_code = 2


@dataclass(frozen=True)
class Limits:
    """Bounds for one dataset: bytes one member may expand to, bytes the whole run may read, and the
    largest uncompressed/compressed ratio. Each ``DatasetSpec`` sets them from its real download."""

    member: int = 64 * MiB
    total: int = 64 * GiB
    ratio: float = 200.0


class Meter:
    """The run's total of member bytes read, shared by every tree (and thread) of one ``prepare``."""

    def __init__(self, limits: Limits | None = None) -> None:
        self.limits = limits or Limits()
        self.total = 0
        self._lock = threading.Lock()

    def add(self, count: int, label: str, member: str) -> None:
        with self._lock:
            self.total += count
            over = self.total > self.limits.total
        if over:
            raise too_big(label, member, "total", f"the run has read more than {size_text(self.limits.total)}")


def too_big(label: str, member: str, bound: str, what: str) -> ArchiveRefused:
    """The one-line refusal for a size bound: archive, member, bound and the option that raises it."""
    return ArchiveRefused(
        f"{label}: stopped at member '{member}': {what} (bound '{bound}'); a genuine download never needs "
        f"more, so this looks like a decompression bomb; if you trust the file, raise it with {OPTIONS[bound]}"
    )


def size_text(count: float) -> str:
    for unit, size in (("G", GiB), ("M", MiB), ("K", KiB)):
        if count >= size:
            return f"{count / size:.4g}{unit}"
    return f"{int(count)} bytes"


def parse_size(text: str, option: str) -> int:
    """``'2G'``, ``'500M'``, ``'64K'`` or a byte count as an int."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kKmMgGtT]?)[iI]?[bB]?\s*", str(text))
    if not match or float(match.group(1)) <= 0:
        raise DatasetError(f"{option} '{text}' is not a size: give e.g. 500M or 2G")
    scale = {"": 1, "k": KiB, "m": MiB, "g": GiB, "t": 1 << 40}[match.group(2).lower()]
    return int(float(match.group(1)) * scale)


# ---------------------------------------------------------------- names


def name_problem(name: str) -> str | None:
    """Why ``name`` (a member, link target or list entry) could land outside the folder it is joined to."""
    flat = name.replace("\\", "/")
    if "\0" in flat:
        return "holds a NUL character"
    if flat.startswith("/"):
        return "is an absolute path"
    if re.match(r"[A-Za-z]:", flat):
        return "starts with a Windows drive letter"
    if ".." in flat.split("/"):
        return "climbs out with '..'"
    return None


def refuse(label: str, what: str, why: str) -> ArchiveRefused:
    return ArchiveRefused(
        f"{label}: {what} {why}; refusing it before writing anything: a genuine download has no such entry "
        "(delete the file and download it again from its official source)"
    )


def check_name(label: str, name: str) -> None:
    """Refuse a member name that could escape the folder it is joined to."""
    why = name_problem(name)
    if why:
        raise refuse(label, f"member '{name}'", why)


def check_link(label: str, name: str, target: str, hard: bool) -> None:
    """Refuse a symlink (relative to its folder) or hardlink (relative to the root) member pointing out."""
    flat_name = name.replace("\\", "/")
    base = "" if hard or "/" not in flat_name else flat_name.rsplit("/", 1)[0]
    depth = 0
    for part in (base + "/" + target.replace("\\", "/")).split("/"):
        if part == "..":
            depth -= 1
        elif part and part != ".":
            depth += 1
        if depth < 0:
            break
    kind = "hardlink" if hard else "symlink"
    flat = target.replace("\\", "/")
    if flat.startswith("/") or re.match(r"[A-Za-z]:", flat) or depth < 0:
        raise refuse(label, f"{kind} member '{name}'", f"points outside the archive (to '{target}')")


def check_entry(label: str, list_name: str, entry: str) -> None:
    """Refuse a file name read from a list inside the download (COCO-Stuff's ``imageLists/train.txt``)."""
    why = name_problem(entry)
    if why:
        raise refuse(label, f"list '{list_name}' names '{entry}', which", why)


# ---------------------------------------------------------------- writes


def resolved_inside(real_root: str, path: str | Path) -> str | None:
    """``path`` with symlinks resolved when that lies inside ``real_root`` (a folder already resolved with
    ``os.path.realpath``), else None."""
    real = os.path.realpath(path)
    return real if os.path.commonpath([real_root, real]) == real_root else None


def contained(root: Path, path: Path, source: str = "") -> Path:
    """``path`` (as the converter built it from OUT) with symlinks resolved, refused unless it lies inside
    ``root`` (OUT); ``source`` names the member it comes from."""
    target = resolved_inside(os.path.realpath(root), path)
    if target is None:
        target = os.path.realpath(path)
        what = f"{source} would be written to" if source else "a write would go to"
        raise ArchiveRefused(
            f"{what} '{target}', outside OUT '{root}' (a '..' or absolute name, or a symlinked folder inside OUT "
            "pointing out); refused before writing: check the download, and remove such links from OUT"
        )
    return Path(target)


def write_atomic(root: Path, path: Path, data: bytes | Callable[[BinaryIO], None], source: str = "") -> None:
    """Write ``data`` (bytes, or a function writing to a file) to ``path`` inside ``root`` through a
    temporary file and a rename, so ``path`` exists only when complete. The one way ``prepare`` writes:
    the path is checked to lie inside ``root`` first, and the temporary file is never a followed link."""
    target = contained(root, path, source)
    target.parent.mkdir(parents=True, exist_ok=True)
    # one temporary name per writer: two jobs naming one output (two members mapped to one file) must not
    # remove or rename each other's temporary file
    tmp = target.with_name(f".{target.name}.{os.getpid()}-{threading.get_ident()}{TMP_SUFFIX}")
    tmp.unlink(missing_ok=True)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0)
    try:
        with os.fdopen(os.open(tmp, flags, 0o644), "wb") as handle:
            if callable(data):
                data(handle)
            else:
                handle.write(data)
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
