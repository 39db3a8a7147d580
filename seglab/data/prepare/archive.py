"""Read a dataset download the same way whether it is a zip, a tar(.gz) or an already extracted folder.

A ``Tree`` lists member names (posix paths, as inside the archive) and reads a member's bytes; a
converter never extracts the archive to a temporary folder. Every failure (truncated archive, damaged
member) becomes a one-line ``DatasetError`` that names the file and says to download it again.
"""

from __future__ import annotations

import tarfile
import threading
import zipfile
import zlib
from pathlib import Path

from seglab.errors import DatasetError

ARCHIVE_SUFFIXES = (".zip", ".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tar.xz")
_READ_ERRORS = (OSError, EOFError, zlib.error, zipfile.BadZipFile, tarfile.TarError, RuntimeError)


class Tree:
    """Members of one download, relative to ``prefix`` (the archive's top folder, when it has one)."""

    sequential = False  # True when members must be read in storage order (compressed tar streams)

    def __init__(self, label: str, fix: str) -> None:
        self.label = label  # how error messages name the download
        self.fix = fix  # what the user should do when it is damaged
        self.prefix = ""

    def _names(self) -> list[str]:
        raise NotImplementedError

    def _read(self, name: str) -> bytes:
        raise NotImplementedError

    def names(self) -> list[str]:
        """Member file names below ``prefix``, without it, in storage order."""
        cut = len(self.prefix)
        return [n[cut:] for n in self._names() if n.startswith(self.prefix) and len(n) > cut]

    def read(self, name: str) -> bytes:
        try:
            return self._read(self.prefix + name)
        except _READ_ERRORS as err:
            raise DatasetError(
                f"{self.label}: member '{self.prefix + name}' cannot be read ({_reason(err)}): the download is "
                f"damaged or truncated; {self.fix}"
            ) from None

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


class DirTree(Tree):
    """An extracted folder."""

    def __init__(self, root: Path, fix: str) -> None:
        super().__init__(f"folder '{root}'", fix)
        self.root = root
        self._cache: list[str] | None = None

    def _names(self) -> list[str]:
        if self._cache is None:
            self._cache = sorted(p.relative_to(self.root).as_posix() for p in self.root.rglob("*") if p.is_file())
        return self._cache

    def _read(self, name: str) -> bytes:
        return (self.root / name).read_bytes()


class ZipTree(Tree):
    def __init__(self, path: Path, fix: str) -> None:
        super().__init__(f"'{path.name}'", fix)
        try:
            self._zip = zipfile.ZipFile(path)
        except (zipfile.BadZipFile, OSError, EOFError) as err:
            raise DatasetError(
                f"'{path}' is not a complete zip archive ({_reason(err)}): the download was cut short or is "
                f"another file; {fix}"
            ) from None
        self._list = [i.filename for i in self._zip.infolist() if not i.is_dir()]

    def _names(self) -> list[str]:
        return self._list

    def _read(self, name: str) -> bytes:
        return self._zip.read(name)

    def close(self) -> None:
        self._zip.close()


class TarTree(Tree):
    """A tar archive; compressed ones are read front to back (``sequential``), so jobs run in member order.
    Reads hold a lock: tarfile shares one file position between threads."""

    def __init__(self, path: Path, fix: str) -> None:
        super().__init__(f"'{path.name}'", fix)
        self.sequential = not path.name.endswith(".tar")
        self._lock = threading.Lock()
        try:
            self._tar = tarfile.open(path, "r:*")
            self._members = {m.name: m for m in self._tar.getmembers() if m.isfile()}
        except _READ_ERRORS as err:
            raise DatasetError(
                f"'{path}' is not a complete tar archive ({_reason(err)}): the download was cut short or is "
                f"another file; {fix}"
            ) from None
        self._list = list(self._members)

    def _names(self) -> list[str]:
        return self._list

    def _read(self, name: str) -> bytes:
        with self._lock:
            handle = self._tar.extractfile(self._members[name])
            if handle is None:
                raise OSError("not a regular file")
            data = handle.read()
        if len(data) != self._members[name].size:
            raise EOFError("unexpected end of data")
        return data

    def close(self) -> None:
        self._tar.close()


def open_tree(path: Path, fix: str) -> Tree:
    """A folder or an archive (by its name's ending) as a ``Tree``."""
    if path.is_dir():
        return DirTree(path, fix)
    name = path.name.lower()
    if name.endswith(".zip"):
        return ZipTree(path, fix)
    if any(name.endswith(s) for s in ARCHIVE_SUFFIXES):
        return TarTree(path, fix)
    raise DatasetError(f"'{path}' is neither a folder nor a .zip/.tar/.tar.gz archive; {fix}")


def _reason(err: BaseException) -> str:
    text = str(err).strip() or type(err).__name__
    return text.splitlines()[0][:120]
