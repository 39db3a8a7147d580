"""What every converter shares: finding the downloaded files, resumable atomic writes, progress, pixels.

A converter turns its download into ``Job``s: one member in, one or more files out. ``run_jobs`` skips
jobs whose outputs already exist (each output is written to a temporary file and renamed, so an existing
file is a complete one), so an interrupted ``seglab prepare`` picks up where it stopped. Jobs whose
outputs are not known before reading (tiles, slices) are remembered in a done-list in the output folder.
Every write goes through ``guard.write_atomic``, which refuses a path outside OUT.
"""

from __future__ import annotations

import fnmatch
import io
import re
import warnings
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from seglab.data.prepare.archive import ARCHIVE_SUFFIXES, Tree, open_tree
from seglab.data.prepare.guard import (
    TMP_SUFFIX,
    Limits,
    Meter,
    contained,
    refuse,
    size_text,
    too_big,
    write_atomic,
)
from seglab.errors import DatasetError
from seglab.progress import progress_counter

# the member bound decides what image is too large here (_check_pixels), not Pillow's warning threshold
warnings.filterwarnings("ignore", category=Image.DecompressionBombWarning)
DONE_LIST = ".seglab-prepare-done.txt"
SEARCH_DEPTH = 3  # how deep below SRC a named archive is looked for


@dataclass(frozen=True)
class Part:
    """One downloaded file (or several, for a glob pattern) and how to recognise its content.

    ``probe`` is a member every genuine copy has (a folder ends in '/'); ``extracted`` lists folders,
    relative to SRC, where an already extracted copy may sit ('' is SRC itself)."""

    archive: str
    probe: str
    extracted: tuple[str, ...] = ()
    optional: bool = False
    many: bool = False  # the pattern matches several archives (iSAID's part1.zip, part2.zip ...)


@dataclass(frozen=True)
class DatasetSpec:
    """A converter: what it reads, where it comes from, what it writes, and the functions that do it."""

    name: str
    title: str
    url: str
    parts: dict[str, Part]
    data_root: str  # the _base_ config's data_root, the suggested OUT
    config: str  # mmseg::_base_/datasets/<config>
    writes: str
    plan: Callable[[dict[str, list[Tree]], Path], list[Job]]
    finish: Callable[[dict[str, list[Tree]], Path], list[str]] | None = None
    needs: tuple[tuple[str, str], ...] = ()  # optional packages: (module to import, pip install name)
    note: str = ""
    limits: Limits = Limits()  # member bound ~4x the largest genuine member; total ~2x the real download


@dataclass
class Job:
    """Read ``member`` of ``tree`` and write what ``make`` yields: ``(path, bytes)`` pairs; without
    ``make`` the member is streamed unchanged to ``outputs[0]``.

    ``outputs`` (when known up front) make the job skippable once they all exist; otherwise ``key``
    is written to the done-list after the job finished."""

    tree: Tree
    member: str
    make: Callable[[bytes], Iterable[tuple[Path, bytes]]] | None
    outputs: tuple[Path, ...] = ()
    key: str = ""


def find_parts(spec: DatasetSpec, src: Path, meter: Meter | None = None) -> dict[str, list[Tree]]:
    """Open every part of ``spec`` from SRC (a folder of downloads, one archive, or an extracted copy);
    ``meter`` holds the run's size bounds (the spec's own by default)."""
    meter = meter or Meter(spec.limits)
    fix = f"download it from {spec.url}"
    if not src.exists():
        raise DatasetError(f"{spec.name}: '{src}' does not exist; {fix} (see 'seglab prepare --list')")
    found: dict[str, list[Tree]] = {}
    single = len(spec.parts) == 1
    for key, part in spec.parts.items():
        part_fix = f"download {part.archive.replace('*', 'N')} again from {spec.url}"
        if src.is_file():
            paths = [src] if single or fnmatch.fnmatch(src.name, part.archive) else _search(src.parent, part)
        else:
            paths = _search(src, part)
        trees = [open_tree(p, part_fix, meter) for p in paths]
        if not trees:
            trees = _extracted(src, part, part_fix, meter)
        if not trees:
            if part.optional:
                continue
            where = f"'{src.parent}'" if src.is_file() else f"'{src}'"
            extra = f" nor an extracted '{part.probe}'" if part.extracted else ""
            raise DatasetError(f"{spec.name}: no '{part.archive}'{extra} in {where}; {fix}")
        for tree in trees:
            if not tree.locate(part.probe):
                raise tree.missing(part.probe)
        found[key] = trees
    return found


def _search(folder: Path, part: Part) -> list[Path]:
    """``part.archive`` in ``folder`` or up to SEARCH_DEPTH folders below it."""
    pattern = part.archive
    for depth in range(SEARCH_DEPTH + 1):
        glob = "/".join(["*"] * depth + [pattern])
        hits = sorted(p for p in folder.glob(glob) if p.is_file() and p.name.lower().endswith(ARCHIVE_SUFFIXES))
        if hits:
            return hits if part.many else hits[:1]
    return []


def _extracted(src: Path, part: Part, fix: str, meter: Meter) -> list[Tree]:
    if not src.is_dir():
        return []
    for sub in part.extracted:
        root = src / sub if sub else src
        if (root / part.probe).exists():
            return [open_tree(root, fix, meter)]
    return []


# ---------------------------------------------------------------- running jobs


def clean_leftovers(out: Path) -> int:
    """Remove temporary files an interrupted run left behind."""
    count = 0
    if out.is_dir():
        for tmp in out.rglob(f".*{TMP_SUFFIX}"):
            tmp.unlink(missing_ok=True)
            count += 1
    return count


def run_jobs(jobs: list[Job], out: Path, desc: str, workers: int = 1) -> tuple[int, int]:
    """Run the jobs not done yet; returns (done now, skipped). Compressed tars are read in member order.
    Every output named up front is checked to lie inside ``out`` before anything is written or skipped."""
    writer: dict[Path, Job] = {}
    for job in jobs:
        for path in job.outputs:
            first = writer.setdefault(contained(out, path, _source(job)), job)
            if first is not job:  # two members would write one file: one result would silently replace the other
                what = f"member '{first.tree.prefix + first.member}'"
                raise refuse(first.tree.label, what, f"and {_source(job)} would both be written to '{path}'")
    done_file = contained(out, out / DONE_LIST)
    done_keys = set(done_file.read_text().splitlines()) if done_file.is_file() else set()
    todo = [j for j in jobs if not _is_done(j, done_keys)]
    skipped = len(jobs) - len(todo)
    bar = progress_counter(len(jobs), desc, initial=skipped, unit="file")
    try:
        by_tree: dict[int, list[Job]] = {}
        for job in todo:
            by_tree.setdefault(id(job.tree), []).append(job)
        for group in by_tree.values():
            tree = group[0].tree
            if tree.sequential:
                order = {name: i for i, name in enumerate(tree.names())}
                group.sort(key=lambda j: order.get(j.member, 0))
            if tree.sequential or workers <= 1:
                for job in group:
                    _run_one(job, out, done_file)
                    bar.update()
            else:
                pool = ThreadPoolExecutor(workers)
                try:
                    for _ in pool.map(lambda j: _run_one(j, out, done_file), group):
                        bar.update()
                finally:  # on Ctrl-C or an error: finish the files being written, start no others
                    pool.shutdown(wait=True, cancel_futures=True)
    finally:
        bar.close()
    return len(todo), skipped


def _is_done(job: Job, done_keys: set[str]) -> bool:
    if job.outputs:
        return all(p.is_file() for p in job.outputs)
    return bool(job.key) and job.key in done_keys


def _source(job: Job) -> str:
    return f"{job.tree.label} member '{job.tree.prefix + job.member}'"


def _run_one(job: Job, out: Path, done_file: Path) -> None:
    if job.make is None:  # copied unchanged: streamed to disk, never held whole
        write_atomic(out, job.outputs[0], lambda f: job.tree.copy_to(job.member, f), _source(job))
    else:
        for path, payload in job.make(job.tree.read(job.member)):
            write_atomic(out, path, payload, _source(job))
    if job.key and not job.outputs:
        with open(done_file, "a") as f:
            f.write(job.key + "\n")


def copy_job(tree: Tree, member: str, dest: Path) -> Job:
    """Copy a member unchanged."""
    return Job(tree, member, None, outputs=(dest,))


def png_job(tree: Tree, member: str, dest: Path) -> Job:
    """Decode an image member (any format OpenCV or Pillow reads) and write it as PNG."""
    return Job(tree, member, lambda data: [(dest, encode_png(decode(data, member, tree)))], outputs=(dest,))


def write_list(out: Path, path: Path, names: Iterable[str]) -> None:
    """A split list (one name a line) at ``path`` inside ``out``."""
    write_atomic(out, path, "".join(f"{n}\n" for n in names).encode())


# ---------------------------------------------------------------- pixels


def decode(data: bytes, name: str, tree: Tree, flags: int = cv2.IMREAD_COLOR) -> np.ndarray:
    """An image member as OpenCV decodes it (BGR for colour); GIFs (DRIVE) go through Pillow. An image
    with more pixels than the member bound in bytes is refused unread (a small PNG can inflate to GBs)."""
    _check_pixels(data, name, tree)
    img = cv2.imdecode(np.frombuffer(data, np.uint8), flags) if data else None
    if img is None:
        try:
            with Image.open(io.BytesIO(data)) as pil:
                pil.load()
                if flags == cv2.IMREAD_GRAYSCALE:
                    img = np.array(pil.convert("L"))
                elif flags == cv2.IMREAD_UNCHANGED:
                    img = np.array(pil)
                else:
                    img = np.array(pil.convert("RGB"))[:, :, ::-1].copy()
        except (OSError, SyntaxError, ValueError):
            img = None
    if img is None:
        raise DatasetError(
            f"{tree.label}: member '{tree.prefix + name}' is not a readable image: the download is damaged "
            f"or truncated; {tree.fix}"
        )
    return img


def _check_pixels(data: bytes, name: str, tree: Tree) -> None:
    """Refuse an image whose header promises more pixels than the member bound has bytes."""
    try:
        with Image.open(io.BytesIO(data)) as pil:  # reads the header only
            pixels = pil.size[0] * pil.size[1]
    except Image.DecompressionBombError as err:  # Pillow's own limit; the member bound decides here
        found = re.search(r"\((\d+) pixels\)", str(err))
        pixels = int(found.group(1)) if found else 0
    except Exception:  # noqa: BLE001 (not a format Pillow knows: the decoders below report it)
        return
    if pixels > tree.limits.member:
        what = f"it is an image of {pixels} pixels, more than the member bound of {size_text(tree.limits.member)}"
        raise too_big(tree.label, tree.prefix + name, "member", what)


def encode_png(img: np.ndarray) -> bytes:
    ok, buf = cv2.imencode(".png", np.ascontiguousarray(img))
    if not ok:
        raise DatasetError(f"could not encode a {img.shape} {img.dtype} image as PNG")
    return buf.tobytes()


def encode_jpg(img: np.ndarray) -> bytes:
    ok, buf = cv2.imencode(".jpg", np.ascontiguousarray(img), [cv2.IMWRITE_JPEG_QUALITY, 95])
    if not ok:
        raise DatasetError(f"could not encode a {img.shape} {img.dtype} image as JPEG")
    return buf.tobytes()


def lookup_table(mapping: dict[int, int], default: int = 255) -> np.ndarray:
    """A 256-entry uint8 table: ``table[old] = new``, ``default`` for values ``mapping`` does not name."""
    table = np.full(256, default, np.uint8)
    for old, new in mapping.items():
        table[old] = new
    return table


def colours_to_index(bgr: np.ndarray, palette_bgr: list[tuple[int, int, int]], default: int = 0) -> np.ndarray:
    """Class index per pixel of a colour-coded label (exact colour match; other colours get ``default``)."""
    code = (bgr[..., 0].astype(np.int32) << 16) | (bgr[..., 1].astype(np.int32) << 8) | bgr[..., 2]
    out = np.full(code.shape, default, np.uint8)
    for index, (b, g, r) in enumerate(palette_bgr):
        out[code == ((b << 16) | (g << 8) | r)] = index
    return out


def members(tree: Tree, folder: str = "", suffixes: tuple[str, ...] = ()) -> list[str]:
    """Member names directly or indirectly under ``folder`` ending in one of ``suffixes`` (any case)."""
    return [
        n
        for n in tree.names()
        if n.startswith(folder) and (not suffixes or n.lower().endswith(suffixes)) and "__MACOSX" not in n
    ]


def stem(name: str) -> str:
    """File name without folder and last suffix."""
    base = name.rsplit("/", 1)[-1]
    return base.rsplit(".", 1)[0] if "." in base else base


def expect_count(tree: Tree, what: str, found: int, expected: int) -> None:
    """Refuse a download holding fewer (or more) files than the real dataset."""
    if found != expected:
        raise DatasetError(
            f"{tree.label} holds {found} {what}, the real download has {expected}: it is incomplete or another "
            f"file; {tree.fix}"
        )
