"""``seglab prepare NAME SRC OUT``: turn a raw dataset download into the layout MMSegmentation's configs read.

One module per dataset (or group) defines ``SPECS``: what to download, how to recognise it, and the jobs
that write OUT. ``common`` holds what they share (finding files, resumable atomic writes, progress);
``archive`` reads zip/tar/folder downloads alike. OUT becomes the ``data_root`` of the matching
``_base_/datasets`` config, e.g. ``data/cityscapes`` with ``leftImg8bit/`` and ``gtFine/``.
"""

from __future__ import annotations

import dataclasses
import difflib
import importlib
import os
from pathlib import Path
from typing import TYPE_CHECKING

from seglab.errors import DatasetError, install_hint

if TYPE_CHECKING:
    from seglab.data.prepare.common import DatasetSpec

# name -> module in this package (imported on use: scipy and nibabel load only where needed)
MODULES = {
    "cityscapes": "cityscapes",
    "voc_aug": "voc",
    "drive": "vessels",
    "stare": "vessels",
    "chase_db1": "vessels",
    "hrf": "vessels",
    "loveda": "loveda",
    "coco_stuff10k": "coco_stuff",
    "coco_stuff164k": "coco_stuff",
    "potsdam": "isprs",
    "vaihingen": "isprs",
    "isaid": "isaid",
    "synapse": "synapse",
    "refuge": "refuge",
}


MEMORY_BUDGET = 2 << 30  # bytes the default worker count may hold in members at once


def get_spec(name: str) -> DatasetSpec:
    """The ``DatasetSpec`` called ``name``."""
    if name not in MODULES:
        close = difflib.get_close_matches(name, list(MODULES), n=1)
        hint = f"did you mean '{close[0]}'? " if close else ""
        raise DatasetError(f"unknown dataset '{name}'; {hint}'seglab prepare --list' shows the {len(MODULES)} names")
    module = importlib.import_module(f"seglab.data.prepare.{MODULES[name]}")
    return module.SPECS[name]


def list_text() -> str:
    """What ``seglab prepare --list`` prints: each name, what it expects and where to get it."""
    from seglab.data.prepare.guard import size_text

    blocks = []
    for name in MODULES:
        spec = get_spec(name)
        files = ", ".join(part.archive + (" (optional)" if part.optional else "") for part in spec.parts.values())
        lines = [
            f"{name:<15} {spec.title}",
            f"{'':<15} expects:  {files}",
            f"{'':<15} from:     {spec.url}",
            f"{'':<15} writes:   {spec.writes}",
            f"{'':<15} config:   mmseg::_base_/datasets/{spec.config}.py (data_root='{spec.data_root}')",
        ]
        bounds = spec.limits
        lines.append(
            f"{'':<15} bounds:   {size_text(bounds.member)} a member, {size_text(bounds.total)} in all, "
            f"ratio {bounds.ratio:g} (--max-member-size, --max-total-size, --max-ratio)"
        )
        if spec.note:
            lines.append(f"{'':<15} note:     {spec.note}")
        blocks.append("\n".join(lines))
    usage = "usage: seglab prepare NAME SRC OUT   (SRC: the folder holding the downloads, one archive, or an extracted copy)"
    return usage + "\n\n" + "\n\n".join(blocks)


def _check_needs(spec: DatasetSpec) -> None:
    for module, pip_name in spec.needs:
        try:
            importlib.import_module(module)
        except ImportError:
            raise DatasetError(
                f"{spec.name} needs the Python package '{pip_name}' to read its files: "
                + install_hint(pip_name, "prepare")
            ) from None


def prepare(
    name: str,
    src: str | Path,
    out: str | Path,
    workers: int | None = None,
    max_member_size: str | None = None,
    max_total_size: str | None = None,
    max_ratio: float | None = None,
) -> str:
    """Convert the download at ``src`` into ``out``; returns the summary to print. Safe to re-run:
    finished files are skipped, so an interrupted run resumes. The ``max_*`` options (e.g. '2G') replace
    the dataset's own bounds on what its archives may expand to."""
    from seglab.data.prepare.common import clean_leftovers, find_parts, run_jobs
    from seglab.data.prepare.guard import Meter, parse_size

    spec = get_spec(name)
    _check_needs(spec)
    limits = spec.limits
    if max_member_size is not None:
        limits = dataclasses.replace(limits, member=parse_size(max_member_size, "--max-member-size"))
    if max_total_size is not None:
        limits = dataclasses.replace(limits, total=parse_size(max_total_size, "--max-total-size"))
    if max_ratio is not None:
        if not max_ratio >= 1:
            raise DatasetError(f"--max-ratio {max_ratio} is not a ratio: give a number of at least 1, e.g. 500")
        limits = dataclasses.replace(limits, ratio=float(max_ratio))
    src, out = Path(src).expanduser(), Path(out).expanduser()
    if out.exists() and not out.is_dir():
        raise DatasetError(f"OUT '{out}' is a file; pass a folder (e.g. {spec.data_root})")
    parts = find_parts(spec, src, Meter(limits))
    try:
        out.mkdir(parents=True, exist_ok=True)
        clean_leftovers(out)
        jobs = spec.plan(parts, out)
        # by default, workers x member bound (the most member bytes held at once) stays within 2 GiB
        workers = workers or max(1, min(8, os.cpu_count() or 1, MEMORY_BUDGET // limits.member))
        written, skipped = run_jobs(jobs, out, f"prepare {name}", workers)
        notes = spec.finish(parts, out) if spec.finish else []
    except OSError as err:  # reading errors are DatasetErrors already: this is the output side
        raise DatasetError(
            f"writing to '{out}' failed ({err.strerror or err}): free space or pick another OUT; "
            "running the command again resumes"
        ) from None
    finally:
        for trees in parts.values():
            for tree in trees:
                tree.close()
    lines = [f"{name}: {written} converted, {skipped} already done (skipped); {out} now holds:"]
    lines += [f"  {folder}: {count} files" for folder, count in folder_counts(out).items()]
    lines += notes
    lines.append(
        f"next: seglab check-data CONFIG  (a config inheriting mmseg::_base_/datasets/{spec.config}.py, "
        f"data_root='{out}')"
    )
    return "\n".join(lines)


def folder_counts(out: Path) -> dict[str, int]:
    """Files per data folder (the first two levels below OUT), to see at a glance what came out."""
    counts: dict[str, int] = {}
    for path in out.rglob("*"):
        rel = path.relative_to(out).parts
        if len(rel) < 2 or rel[-1].startswith(".") or not path.is_file():
            continue
        key = "/".join(rel[:2]) if len(rel) > 2 else rel[0]
        counts[key] = counts.get(key, 0) + 1
    return dict(sorted(counts.items()))
