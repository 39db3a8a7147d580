"""Read a dataset download the same way whether it is a zip, a tar(.gz) or an already extracted folder.

A ``Tree`` lists member names (posix paths, as inside the archive) and streams a member's bytes; a
converter never extracts the archive to a temporary folder. Opening a tree refuses unsafe names and links
(``guard``); reading counts bytes against the ``Limits`` of the dataset. Every failure (truncated archive,
damaged member) becomes a one-line ``DatasetError`` that names the file and says to download it again.
"""

from __future__ import annotations

import contextlib
import io
import os
import stat
import tarfile
import threading
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from seglab.data.prepare.guard import (
    CHUNK,
    RATIO_SLACK,
    ArchiveRefused,
    Limits,
    Meter,
    check_link,
    check_name,
    refuse,
    resolved_inside,
    size_text,
    too_big,
)
from seglab.errors import DatasetError

ARCHIVE_SUFFIXES = (".zip", ".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tar.xz")
_READ_ERRORS = (OSError, EOFError, zlib.error, zipfile.BadZipFile, tarfile.TarError, RuntimeError)


class Tree:
    """Members of one download, relative to ``prefix`` (the archive's top folder, when it has one)."""

    sequential = False  # True when members must be read in storage order (compressed tar streams)

    def __init__(self, label: str, fix: str, meter: Meter | None = None) -> None:
        self.label = label  # how error messages name the download
        self.fix = fix  # what the user should do when it is damaged
        self.prefix = ""
        self.meter = meter or Meter()

    @property
    def limits(self) -> Limits:
        return self.meter.limits

    def _names(self) -> list[str]:
        raise NotImplementedError

    def _open(self, name: str) -> tuple[BinaryIO, int | None]:
        """A raw stream of member ``name`` and its compressed size (None when stored as is)."""
        raise NotImplementedError

    def _lock(self) -> contextlib.AbstractContextManager:
        return contextlib.nullcontext()

    def _check_stream(self, name: str, count: int) -> None:
        """Compressed tars: the ratio over the whole stream so far."""

    def _finished(self, name: str, count: int) -> None:
        """Called after the last byte: a tar member shorter than its header says is truncated."""

    def names(self) -> list[str]:
        """Member file names below ``prefix``, without it, in storage order."""
        cut = len(self.prefix)
        return [n[cut:] for n in self._names() if n.startswith(self.prefix) and len(n) > cut]

    def damaged(self, name: str, err: BaseException) -> DatasetError:
        return DatasetError(
            f"{self.label}: member '{name}' cannot be read ({_reason(err)}): the download is damaged or "
            f"truncated; {self.fix}"
        )

    @contextlib.contextmanager
    def stream(self, name: str) -> Iterator[BoundedReader]:
        """Member ``name`` as a reader that stops at the member, ratio and total bounds."""
        full = self.prefix + name
        with self._lock():
            try:
                raw, compressed = self._open(full)
            except _READ_ERRORS as err:
                raise self.damaged(full, err) from None
            with raw:
                reader = BoundedReader(self, full, raw, compressed)
                yield reader
                self._finished(full, reader.count)

    def read(self, name: str) -> bytes:
        """The whole member, read in chunks up to the member bound (for members that must be decoded)."""
        buf = io.BytesIO()
        self.copy_to(name, buf)
        return buf.getvalue()

    def copy_to(self, name: str, dst: BinaryIO) -> None:
        """Stream member ``name`` into ``dst`` chunk by chunk (members copied unchanged)."""
        with self.stream(name) as src:
            while chunk := src.read(CHUNK):
                dst.write(chunk)

    def gunzip(self, data: bytes, name: str) -> bytes:
        """A .gz member's content (STARE's .ppm.gz, Synapse's .nii.gz), held to the same bounds."""
        out, limits, full = io.BytesIO(), self.limits, self.prefix + name
        allowed = min(limits.member, limits.ratio * len(data) + RATIO_SLACK)
        try:
            while data:  # gzip allows several members back to back
                unzip = zlib.decompressobj(16 + zlib.MAX_WBITS)
                while True:
                    chunk = unzip.decompress(data, CHUNK)
                    out.write(chunk)
                    if out.tell() > allowed:
                        bound = "member" if out.tell() > limits.member else "ratio"
                        raise too_big(self.label, full, bound, f"it unzips past {size_text(allowed)}")
                    data = unzip.unconsumed_tail
                    if unzip.eof or not (chunk or data):
                        break
                if not unzip.eof:
                    raise EOFError("unexpected end of data")
                data = unzip.unused_data
        except (zlib.error, EOFError):
            raise DatasetError(f"{self.label}: '{full}' is not a complete .gz file; {self.fix}") from None
        return out.getvalue()

    def locate(self, probe: str) -> bool:
        """Find the folder holding ``probe`` (a member path or a folder ending in '/') and make it the root;
        archives often wrap everything in one top folder (``benchmark_RELEASE/``, ``RawData/``)."""
        if not probe:
            return bool(self._names())
        best = None  # the shallowest folder holding probe wins (a stray backup copy deeper down does not)
        for name in self._names():
            at = name.find(probe)
            if at >= 0 and (at == 0 or name[at - 1] == "/") and name[:at].count("/") <= 2:
                if best is None or name[:at].count("/") < best.count("/"):
                    best = name[:at]
                    if not best:
                        break
        if best is None:
            return False
        self.prefix = best
        return True

    def missing(self, member: str) -> DatasetError:
        return DatasetError(
            f"{self.label} has no member '{self.prefix + member}': it is incomplete or not the expected "
            f"download; {self.fix}"
        )

    def close(self) -> None:
        pass


class BoundedReader:
    """Reads a member, counting the bytes as they arrive (declared sizes are not trusted)."""

    def __init__(self, tree: Tree, name: str, raw: BinaryIO, compressed: int | None) -> None:
        self.tree, self.name, self.raw, self.compressed = tree, name, raw, compressed
        self.count = 0

    def read(self, size: int = CHUNK) -> bytes:
        tree, limits = self.tree, self.tree.limits
        try:
            data = self.raw.read(size)
        except _READ_ERRORS as err:
            raise tree.damaged(self.name, err) from None
        self.count += len(data)
        if self.count > limits.member:
            raise too_big(tree.label, self.name, "member", f"it expands past {size_text(limits.member)}")
        if self.compressed is not None and self.count > limits.ratio * self.compressed + RATIO_SLACK:
            what = f"it expands to more than {limits.ratio:g}x its compressed {size_text(self.compressed)}"
            raise too_big(tree.label, self.name, "ratio", what)
        tree._check_stream(self.name, self.count)
        tree.meter.add(len(data), tree.label, self.name)
        return data


class DirTree(Tree):
    """An extracted folder. Links are followed only when they stay inside it."""

    def __init__(self, root: Path, fix: str, meter: Meter | None = None) -> None:
        super().__init__(f"folder '{root}'", fix, meter)
        self.root = root
        self._real = os.path.realpath(root)
        self._cache: list[str] | None = None

    def _inside(self, path: str, rel: str) -> str:
        real = resolved_inside(self._real, path)
        if real is None:
            raise ArchiveRefused(
                f"{self.label}: '{rel}' is a link to '{os.path.realpath(path)}', outside the folder; prepare does "
                "not follow links out of SRC: pass the folder it points to, or copy the files in"
            )
        return real

    def _names(self) -> list[str]:
        if self._cache is None:
            names, todo = [], [""]
            while todo:
                rel_dir = todo.pop()
                try:
                    entries = list(os.scandir(os.path.join(self.root, rel_dir)))
                except PermissionError:
                    continue  # an unreadable folder is skipped, as before
                for entry in entries:
                    rel = f"{rel_dir}/{entry.name}" if rel_dir else entry.name
                    if entry.is_symlink():
                        if os.path.isfile(self._inside(entry.path, rel)):
                            names.append(rel)  # a link to a file inside; links to folders are not walked
                    elif entry.is_dir(follow_symlinks=False):
                        todo.append(rel)
                    elif entry.is_file(follow_symlinks=False):
                        names.append(rel)
            self._cache = sorted(names)
        return self._cache

    def _open(self, name: str) -> tuple[BinaryIO, int | None]:
        return open(self._inside(os.path.join(self.root, name), name), "rb"), None


class ZipTree(Tree):
    def __init__(self, path: Path, fix: str, meter: Meter | None = None) -> None:
        super().__init__(f"'{path.name}'", fix, meter)
        try:
            self._zip = zipfile.ZipFile(path)
            infos = self._zip.infolist()
            self._list = self._scan(infos)
        except (zipfile.BadZipFile, OSError, EOFError, zlib.error, RuntimeError, DatasetError) as err:
            if hasattr(self, "_zip"):
                self._zip.close()
            if isinstance(err, DatasetError):
                raise
            raise DatasetError(
                f"'{path}' is not a complete zip archive ({_reason(err)}): the download was cut short or is "
                f"another file; {fix}"
            ) from None

    def _scan(self, infos: list[zipfile.ZipInfo]) -> list[str]:
        ends = sorted((i.header_offset, i.header_offset + 30 + i.compress_size, i.filename) for i in infos)
        for (_, end, name), (start, _, after) in zip(ends, ends[1:]):
            if start < end:  # entries sharing compressed data: the trick of non-recursive zip bombs
                raise refuse(self.label, f"member '{name}'", f"overlaps member '{after}' (a zip bomb's layout)")
        names, declared = [], 0
        for info in infos:
            check_name(self.label, info.filename)
            if stat.S_ISLNK(info.external_attr >> 16):
                with self._zip.open(info) as link:
                    check_link(self.label, info.filename, link.read(4096).decode("utf-8", "replace"), hard=False)
                continue  # a link inside the archive: nothing to read
            if info.is_dir():
                continue
            declared += info.file_size
            if declared > self.limits.total:
                what = f"its members declare more than {size_text(self.limits.total)} in all"
                raise too_big(self.label, info.filename, "total", what)
            names.append(info.filename)
        return names

    def _names(self) -> list[str]:
        return self._list

    def _open(self, name: str) -> tuple[BinaryIO, int | None]:
        info, limits = self._zip.getinfo(name), self.limits
        if info.file_size > limits.member:
            raise too_big(self.label, name, "member", f"its header declares {size_text(info.file_size)}")
        if info.file_size > limits.ratio * info.compress_size + RATIO_SLACK:
            what = f"its header declares {limits.ratio:g}x more than its compressed {size_text(info.compress_size)}"
            raise too_big(self.label, name, "ratio", what)
        return self._zip.open(info), info.compress_size

    def close(self) -> None:
        self._zip.close()


class TarTree(Tree):
    """A tar archive; compressed ones are read front to back (``sequential``), so jobs run in member order.
    Reads hold a lock: tarfile shares one file position between threads."""

    def __init__(self, path: Path, fix: str, meter: Meter | None = None) -> None:
        super().__init__(f"'{path.name}'", fix, meter)
        self.sequential = not path.name.endswith(".tar")
        self._mutex = threading.Lock()
        self._raw = open(path, "rb")  # noqa: SIM115 (closed in close(); its position measures the compressed bytes)
        try:
            self._tar = tarfile.open(fileobj=self._raw, mode="r:*")
            self._members = self._scan()
        except _READ_ERRORS as err:
            self._raw.close()
            raise DatasetError(
                f"'{path}' is not a complete tar archive ({_reason(err)}): the download was cut short or is "
                f"another file; {fix}"
            ) from None
        except DatasetError:
            self._raw.close()
            raise
        self._list = list(self._members)

    def _scan(self) -> dict[str, tarfile.TarInfo]:
        members, declared, limits = {}, 0, self.limits
        while (member := self._tar.next()) is not None:
            check_name(self.label, member.name)
            if member.issym() or member.islnk():
                check_link(self.label, member.name, member.linkname, hard=member.islnk())
                continue  # a link inside the archive: nothing to read
            if member.isdir():
                continue
            if not member.isfile():
                raise refuse(self.label, f"member '{member.name}'", "is a device or pipe, not a file")
            declared += member.size
            if self.sequential and member.size > limits.member:  # listing a stream would inflate it
                raise too_big(self.label, member.name, "member", f"its header declares {size_text(member.size)}")
            if declared > limits.total:
                what = f"its members declare more than {size_text(limits.total)} in all"
                raise too_big(self.label, member.name, "total", what)
            self._ratio(member.name)  # listing inflates the stream too: the data of earlier members was skipped
            members[member.name] = member
        if members:  # reaching the end skipped the last member's data
            self._ratio(next(reversed(members)))
        return members

    def _names(self) -> list[str]:
        return self._list

    def _lock(self) -> contextlib.AbstractContextManager:
        return self._mutex

    def _open(self, name: str) -> tuple[BinaryIO, int | None]:
        handle = self._tar.extractfile(self._members[name])
        if handle is None:
            raise OSError("not a regular file")
        return handle, None

    def _check_stream(self, name: str, count: int) -> None:
        self._ratio(name)

    def _ratio(self, name: str) -> None:
        """Compressed tars: the bytes the stream inflated to so far against the compressed bytes read."""
        if not self.sequential:
            return
        inflated, compressed = self._tar.fileobj.tell(), self._raw.tell()
        if inflated > self.limits.ratio * compressed + RATIO_SLACK:
            what = f"the stream inflates to more than {self.limits.ratio:g}x the {size_text(compressed)} read so far"
            raise too_big(self.label, name, "ratio", what)

    def _finished(self, name: str, count: int) -> None:
        if count != self._members[name].size:
            raise self.damaged(name, EOFError("unexpected end of data"))

    def close(self) -> None:
        self._tar.close()
        self._raw.close()


def open_tree(path: Path, fix: str, meter: Meter | None = None) -> Tree:
    """A folder or an archive (by its name's ending) as a ``Tree``; ``meter`` carries the run's bounds."""
    if path.is_dir():
        return DirTree(path, fix, meter)
    name = path.name.lower()
    if name.endswith(".zip"):
        return ZipTree(path, fix, meter)
    if any(name.endswith(s) for s in ARCHIVE_SUFFIXES):
        return TarTree(path, fix, meter)
    raise DatasetError(f"'{path}' is neither a folder nor a .zip/.tar/.tar.gz archive; {fix}")


def _reason(err: BaseException) -> str:
    text = str(err).strip() or type(err).__name__
    return text.splitlines()[0][:120]
