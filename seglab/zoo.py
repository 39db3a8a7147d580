"""The model zoo as data: which configs seglab ships, and what MMSegmentation published for each.

``zoo_table.json.gz`` beside this file holds one row per model of MMSegmentation 1.2.2's
``configs/*/metafile.yaml`` (dataset, crop, iterations, published mIoU, checkpoint URL, memory); the
configs seglab ships are the files under ``seglab/configs/<family>/``; a seglab-only config states its own
published result, if any, as ``zoo_result = dict(...)`` (read as data). Nothing here is per family, so a
family appears in ``seglab zoo`` as soon as its config files land.

Published checkpoints live where ``torch.hub.load_state_dict_from_url`` keeps them
(``torch.hub.get_dir()/checkpoints/<file name>``), so one download serves seglab and torch.hub alike.
"""

from __future__ import annotations

import ast
import copy
import difflib
import fnmatch
import gzip
import json
import os
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from seglab.config import CONFIGS_DIR, Config, resolve_config_path, shipped_configs
from seglab.errors import CheckpointError, ConfigError, SeglabError
from seglab.fileio import download as downloads
from seglab.fileio.download import DownloadError as DownloadError  # raised by download(); the CLI exits 1
from seglab.fileio.hub_model_table import hub_model, paired_repo
from seglab.fileio.sources import hub_cache_path, mirrored

TABLE_PATH = Path(__file__).with_name("zoo_table.json.gz")
NO_CHECKPOINT = "no published checkpoint"
ZOO = "zoo"  # the checkpoint argument that means "the published checkpoint of this config"


@dataclass
class ZooEntry:
    """One config: seglab's shipping status and MMSegmentation's published facts."""

    name: str  # family/stem, as under configs/
    family: str
    shipped: bool
    published: bool  # MMSegmentation published a checkpoint (a metafile row)
    in_mmseg: bool = True  # False: a seglab-only config
    dataset: str | None = None
    crop: tuple[int, int] | None = None
    iters: int | None = None
    mIoU: float | None = None
    mIoU_ms_flip: float | None = None
    weights: str | None = None
    memory_gb: float | None = None
    batch_size: int | None = None
    hub: str | None = None  # the fine-tuned Hub model paired with this config (hub_model_table.py)
    hub_published: dict[str, Any] | None = None  # its authors' mIoU for that checkpoint (hub_model_table.py)
    result_source: str | None = None  # a seglab-only config's stated result: where it is published
    result_note: str | None = None  # and how it was measured, when not MMSegmentation's single-scale test

    def to_json(self) -> dict[str, Any]:
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(self).items()}


# ----------------------------------------------------------------------------- the two sources
@lru_cache(maxsize=1)
def _tables() -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]]]:
    with gzip.open(TABLE_PATH, "rt") as f:
        data = json.load(f)
    return {r["name"]: r for r in data["models"]}, {r["name"]: r for r in data["unpublished"]}


def published_table() -> dict[str, dict[str, Any]]:
    """MMSegmentation's published rows (metafile models) by ``family/stem``."""
    return _tables()[0]


def unpublished_table() -> dict[str, dict[str, Any]]:
    """MMSegmentation's config files that no metafile row names (no published checkpoint)."""
    return _tables()[1]


def _from_config_file(name: str, path: Path) -> ZooEntry:
    """Facts of a seglab-only config, read from the file itself (once per file version)."""
    return _read_config_facts(name, path, path.stat().st_mtime_ns)


@lru_cache(maxsize=256)
def _read_config_facts(name: str, path: Path, mtime_ns: int) -> ZooEntry:
    entry = ZooEntry(name=name, family=name.split("/")[0], shipped=True, published=False, in_mmseg=False)
    try:
        cfg = Config.fromfile(path)
    except SeglabError:
        return entry
    crop = cfg.get("crop_size")
    entry.crop = tuple(crop) if isinstance(crop, list | tuple) and len(crop) == 2 else None
    entry.iters = (cfg.get("train_cfg") or {}).get("max_iters")
    entry.dataset = ((cfg.get("test_dataloader") or {}).get("dataset") or {}).get("type")
    load_from = str(cfg.get("load_from") or "")
    entry.hub = load_from[len("hf://") :] if load_from.startswith("hf://") else None
    result = stated_result(path)
    if result:
        entry.mIoU, entry.mIoU_ms_flip = result.get("mIoU"), result.get("mIoU_ms_flip")
        entry.result_source, entry.result_note = result["source"], result.get("note")
    return entry


RESULT_KEYS = {"mIoU", "mIoU_ms_flip", "source", "note"}


def stated_result(path: Path) -> dict[str, Any] | None:
    """The ``zoo_result = dict(mIoU=..., source=..., note=...)`` a config file states itself, read as data
    (nothing runs, nothing is inherited: a config built on this one has other numbers); None without one."""
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "zoo_result" for t in node.targets):
            value, keywords = node.value, getattr(node.value, "keywords", [])
            try:
                if getattr(getattr(value, "func", None), "id", None) == "dict" and not value.args:
                    if any(kw.arg is None for kw in keywords):
                        raise ValueError("dict(**...)")
                    return _checked_result(path, {kw.arg: ast.literal_eval(kw.value) for kw in keywords})
                return _checked_result(path, ast.literal_eval(value))
            except (ValueError, TypeError, SyntaxError):
                example = "dict(mIoU=51.3, source='URL')"
                raise ConfigError(f"{path}: zoo_result must be literal data, e.g. {example}") from None
    return None


def _checked_result(path: Path, result: Any) -> dict[str, Any]:
    """A stated result names its source and at least one mIoU in (0, 100]; anything else is a one-line error."""
    problem = ""
    if not isinstance(result, dict):
        problem = "is not a dict"
    elif set(result) - RESULT_KEYS:
        problem = f"has unknown key(s) {sorted(set(result) - RESULT_KEYS)}; accepted: {sorted(RESULT_KEYS)}"
    elif not isinstance(result.get("source"), str) or not result["source"].strip():
        problem = "needs source='URL or paper' (where the number is published)"
    elif not any(k in result for k in ("mIoU", "mIoU_ms_flip")):
        problem = "needs mIoU= (single-scale test) or mIoU_ms_flip="
    elif any(
        isinstance(result[k], bool) or not isinstance(result[k], int | float) or not 0 < result[k] <= 100
        for k in ("mIoU", "mIoU_ms_flip")
        if k in result
    ):
        problem = "mIoU values must be numbers in (0, 100]"
    elif not isinstance(result.get("note", ""), str):
        problem = "note must be a string"
    if problem:
        raise ConfigError(f"{path}: zoo_result {problem}")
    return result


def _from_row(row: dict[str, Any], shipped: bool) -> ZooEntry:
    crop = row.get("crop")
    return ZooEntry(
        name=row["name"],
        family=row["family"],
        shipped=shipped,
        published=bool(row.get("weights")),
        dataset=row.get("dataset"),
        crop=tuple(crop) if crop else None,
        iters=row.get("iters"),
        mIoU=row.get("mIoU"),
        mIoU_ms_flip=row.get("mIoU_ms_flip"),
        weights=row.get("weights"),
        memory_gb=row.get("memory_gb"),
        batch_size=row.get("batch_size"),
        hub=paired_repo(row["name"]),  # the pairing is kept in hub_model_table.py alone
    )


def _matches(entry: ZooEntry, pattern: str | None) -> bool:
    """Substring, or glob when the pattern has ``*?[``, on name, stem, family and dataset (any case)."""
    if not pattern:
        return True
    pattern = pattern.lower()
    fields = [entry.name, entry.name.split("/")[-1], entry.family, entry.dataset or ""]
    fields = [f.lower() for f in fields]
    if any(c in pattern for c in "*?["):
        return any(fnmatch.fnmatchcase(f, pattern) for f in fields)
    return any(pattern in f for f in fields)


def entries(pattern: str | None = None, include_unshipped: bool = False) -> list[ZooEntry]:
    """Shipped configs matching ``pattern`` (and, with ``include_unshipped``, the published ones not shipped)."""
    table, shipped = {**unpublished_table(), **published_table()}, shipped_configs()
    found = []
    for name in sorted(set(shipped) | (set(table) if include_unshipped else set())):
        if name in table:
            entry = _from_row(table[name], name in shipped)
        else:  # seglab-only: a handful of files, read for their dataset, crop and schedule
            entry = copy.copy(_from_config_file(name, shipped[name]))
        entry.hub_published = model.to_json() if (model := hub_model(entry.hub)) else None
        if _matches(entry, pattern):
            found.append(entry)
    return found


def _cell(entry: ZooEntry, column: str) -> str:
    value = getattr(entry, column)
    if column == "crop":
        return "x".join(str(v) for v in value) if value else "-"
    if column == "weights":  # after what a paired Hub model's authors published for it, with the source
        hub = f"[hub model: {model.summary()}]  " if (model := hub_model(entry.hub)) else ""
        if entry.result_source and not value:  # a seglab-only config's stated result
            note = f"*{entry.result_note}: " if entry.result_note else ""
            return f"{hub}{note}mIoU from {entry.result_source}; {NO_CHECKPOINT}"
        return hub + (value or NO_CHECKPOINT)
    if column in ("mIoU", "mIoU_ms_flip") and value is not None and entry.result_note:
        return f"{value}*"  # measured otherwise than the column says: the note at the end of the line tells how
    if column == "name" and not entry.shipped:
        return f"{value} (not shipped)"
    return "-" if value is None else str(value)


COLUMNS = (("name", "config"), ("dataset", "dataset"), ("crop", "crop"), ("iters", "iters"))
COLUMNS += (("mIoU", "mIoU"), ("mIoU_ms_flip", "ms+flip"), ("hub", "hub model"), ("weights", "checkpoint"))


def format_table(rows: list[ZooEntry]) -> str:
    """A plain aligned text table, one config per line."""
    cells = [[title for _, title in COLUMNS]] + [[_cell(e, key) for key, _ in COLUMNS] for e in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(COLUMNS) - 1)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths)) + "  " + row[-1] for row in cells]
    return "\n".join(line.rstrip() for line in lines)


def summary() -> dict[str, int]:
    table, unpublished, shipped = published_table(), unpublished_table(), set(shipped_configs())
    return {
        "shipped": len(shipped),
        "shipped_published": len(shipped & set(table)),
        "shipped_unpublished": len(shipped & set(unpublished)),
        "shipped_seglab_only": len(shipped - set(table) - set(unpublished)),
        "published": len(table),
        "unpublished": len(unpublished),
        "shipped_families": len({n.split("/")[0] for n in shipped}),  # seglab's own families included
        "shipped_published_families": len({table[n]["family"] for n in shipped & set(table)}),
        "published_families": len({row["family"] for row in table.values()}),
    }


def summary_line() -> str:
    s = summary()
    return (
        f"{s['shipped_published']} configs shipped of {s['published']} published by MMSegmentation 1.2.2, "
        f"in {s['shipped_published_families']} of {s['published_families']} families; also shipped: "
        f"{s['shipped_unpublished']} of its {s['unpublished']} configs without a published checkpoint "
        f"and {s['shipped_seglab_only']} seglab-only"
    )


# ----------------------------------------------------------------------------- names and checkpoints
def _unknown(name: str) -> ConfigError:
    table, shipped = published_table(), shipped_configs()
    stem = name.split("/")[-1]
    for full in table:
        if full == name or full.split("/")[-1] == stem:
            return ConfigError(
                f"'{full}' is published by MMSegmentation but seglab does not ship it yet "
                f"('seglab zoo --all {full.split('/')[0]}' lists what is shipped and what is not)"
            )
    stems = [n.split("/")[-1] for n in shipped]
    close = difflib.get_close_matches(stem, stems, n=3, cutoff=0.6)
    hint = f"; did you mean {', '.join(close)}?" if close else "; 'seglab zoo FILTER' lists the shipped configs"
    return ConfigError(f"'{name}' is not a config file nor the name of a shipped config{hint}")


def is_config_name(text: str) -> bool:
    """A bare config name (``stem`` or ``family/stem``): no ``.py``, no scope prefix, no such file."""
    return not text.endswith(".py") and "::" not in text and text.count("/") <= 1 and not Path(text).exists()


def find_shipped(name: str) -> Path:
    """The shipped config file named ``stem`` or ``family/stem``."""
    shipped = shipped_configs()
    if name in shipped:
        return shipped[name]
    by_stem = [path for full, path in shipped.items() if full.split("/")[-1] == name]
    if len(by_stem) == 1:
        return by_stem[0]
    if len(by_stem) > 1:
        raise ConfigError(f"config name '{name}' is shipped in several families: use family/{name}")
    raise _unknown(name)


def config_source(config: str | Path) -> str | Path:
    """What ``Config.fromfile`` should open: a bare name becomes its shipped file, anything else is unchanged."""
    if isinstance(config, str) and is_config_name(config):
        return find_shipped(config)
    return config


def zoo_name(config: str | Path | Config) -> str:
    """The ``family/stem`` of a shipped config given by name, path, ``mmseg::`` path or loaded Config."""
    if isinstance(config, Config):
        config = config.filename or ""
    if isinstance(config, str) and is_config_name(config):
        path = find_shipped(config)
    else:
        path = resolve_config_path(str(config))
    try:
        relative = path.resolve().relative_to(CONFIGS_DIR.resolve())
        return str(relative.with_suffix("")).replace(os.sep, "/")
    except ValueError:  # a config of the user's own: its published twin by file name, if there is one
        twins = [n for n in published_table() if n.split("/")[-1] == path.stem]
        if len(twins) == 1:
            return twins[0]
        raise ConfigError(
            f"checkpoint='{ZOO}' needs a config of the zoo; '{config}' is neither shipped nor named like a "
            "published MMSegmentation config (pass the checkpoint's path instead)"
        ) from None


def _published_name(name: str) -> str:
    """``family/stem`` of a published config given as ``family/stem`` or stem (shipped or not), else of a shipped one."""
    table = published_table()
    if name in table:
        return name
    by_stem = [full for full in table if full.split("/")[-1] == name]
    return by_stem[0] if len(by_stem) == 1 else zoo_name(name)


def checkpoint_url(name: str) -> str:
    """The published checkpoint URL of a config (``family/stem`` or stem)."""
    full = _published_name(name)
    row = published_table().get(full)
    if not row or not row.get("weights"):
        raise CheckpointError(f"'{full}' has {NO_CHECKPOINT} (it is a seglab-only config): train it, or pass a path")
    return row["weights"]


def cached_checkpoint(config: str | Path | Config) -> Path:
    """Where the published checkpoint of ``config`` is cached; an error naming the fix when it is not there."""
    name = zoo_name(config)
    url = checkpoint_url(name)
    path = hub_cache_path(url)
    if not path.is_file():
        raise CheckpointError(
            f"the published checkpoint of '{name}' is not downloaded: run 'seglab zoo --download {name}' "
            f"(or download {mirrored(url)} and put it at {path})"
        )
    return downloads.verify_cached(path)


def resolve_checkpoint(config: str | Path | Config, checkpoint: str | Path | None) -> str | Path | None:
    """``'zoo'`` -> the cached published checkpoint of ``config``; any other value is returned unchanged."""
    if isinstance(checkpoint, str) and checkpoint == ZOO and not Path(ZOO).is_file():
        return cached_checkpoint(config)
    return checkpoint


def _fetch_url(url: str, dst: str, progress: bool) -> None:
    """Copy the bytes of ``url`` to ``dst`` (tests replace it to stand in for a network)."""
    downloads.transfer(url, dst, progress)


def download(name: str, progress: bool = True) -> tuple[Path, bool]:
    """Place the published checkpoint of ``name`` in the torch hub cache; returns (path, newly downloaded).

    As every checkpoint URL seglab reads (``seglab.fileio.download``): the SHA-256 prefix in the file name is
    checked on download and when the file is already cached, and a download is renamed into the cache only
    once checked. ``DownloadError`` (the CLI exits 1) says what failed and where to put the file by hand."""
    return downloads.cached_download(checkpoint_url(name), progress=progress, transfer=_fetch_url)


def download_pretrained(config: str | Path) -> list[tuple[str, Path]]:
    """Fetch every pre-trained checkpoint ``config`` (a file or a shipped name) names into the caches, from a
    local copy, the Hub, then the original URL; returns (source, local path) pairs, in the config's order."""
    from seglab.config import Config
    from seglab.fileio.checkpoint import fetch
    from seglab.models.builder import build_on_meta
    from seglab.models.weight_init import pretrained_cfgs

    cfg = Config.fromfile(str(config_source(config)))
    names: list[str] = []
    for module in build_on_meta(cfg.model).modules():
        for init_cfg in pretrained_cfgs(getattr(module, "init_cfg", None)):
            if init_cfg.get("checkpoint") and str(init_cfg["checkpoint"]) not in names:
                names.append(str(init_cfg["checkpoint"]))
    return [(name, fetch(name)) for name in names]
