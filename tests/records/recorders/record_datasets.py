"""Record MMSegmentation 1.2.2's ``_base_/datasets`` files and dataset types (``tests/records/datasets/``).

Run with the reference environment's Python:
    $HOME/mmref/bin/python tests/records/recorders/record_datasets.py tests/records/datasets

Writes ``mmseg_1.2.2_base_datasets.json.gz`` (each of the 30 files' ``Config.fromfile(path).to_dict()``, tuples
as ``{"__tuple__": [...]}``) and ``mmseg_1.2.2_dataset_types.json.gz``: every file-based dataset type's
``METAINFO`` and constructor defaults, and, for each fake layout in ``tests/data/test_dataset_types.py``'s
``LAYOUTS`` (read by evaluating its plain-data assignments, no imports), what MMSegmentation builds from those
files: length, ``get_data_info``, ``metainfo`` and the packed first sample after seeding ``random``, NumPy and
torch with 0. Keys sorted; running it twice writes identical bytes.
"""

from __future__ import annotations

import gzip
import json
import sys
from pathlib import Path
from typing import Any

import mmengine
import mmseg
from mmengine.config import Config

DATASET_BASES = Path(mmseg.__file__).parent / ".mim" / "configs" / "_base_" / "datasets"
RECORDER = "tests/records/recorders/record_datasets.py"


def encode(value: Any) -> Any:
    """Config values as JSON, tuples kept apart from lists."""
    if isinstance(value, dict):
        return {key: encode(v) for key, v in value.items()}
    if isinstance(value, tuple):
        return {"__tuple__": [encode(v) for v in value]}
    if isinstance(value, list):
        return [encode(v) for v in value]
    return value


def write_json_gz(path: Path, record: dict) -> None:
    """Compact, key-sorted JSON, gzipped without a timestamp."""
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(record, sort_keys=True, separators=(",", ":"))
    path.write_bytes(gzip.compress(text.encode(), mtime=0))
    print(f"-> {path} ({path.stat().st_size} bytes)")


def record_bases(out: Path) -> None:
    configs = {p.name: encode(Config.fromfile(str(p)).to_dict()) for p in sorted(DATASET_BASES.glob("*.py"))}
    record = dict(configs=configs, mmengine=mmengine.__version__, mmseg=mmseg.__version__, recorder=RECORDER)
    write_json_gz(out / "mmseg_1.2.2_base_datasets.json.gz", record)


if __name__ == "__main__":
    from record_dataset_types import record_types

    record_bases(Path(sys.argv[1]))
    record_types(Path(sys.argv[1]))
