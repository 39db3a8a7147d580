"""Every recorded fixture under ``tests/records/`` can be re-made: ``tests/records/README.md`` names it in a
section that also names the recorder script (``tests/records/recorders/record_*.py``) that writes it, and that
script exists. A fixture described only as made "outside the repository" fails here."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

RECORDS = Path(__file__).parent / "records"
REPO = RECORDS.parents[1]
README = (RECORDS / "README.md").read_text(encoding="utf-8")
RECORDER = re.compile(r"tests/records/recorders/record_\w+\.py")


def sections() -> list[str]:
    """The README's ``## `` sections, heading included."""
    return re.split(r"(?m)^(?=## )", README)[1:]


FILES = sorted(
    path.relative_to(RECORDS).as_posix()
    for path in RECORDS.rglob("*")
    if path.is_file()
    and path.name != "README.md"
    and "recorders" not in path.relative_to(RECORDS).parts
    and "__pycache__" not in path.parts
)


def test_there_are_records_to_check():
    assert len(FILES) > 20 and all(not name.startswith("recorders/") for name in FILES)


@pytest.mark.parametrize("name", FILES)
def test_record_is_named_next_to_an_existing_recorder(name):
    basename = name.rsplit("/", 1)[-1]
    naming = [text for text in sections() if basename in text]
    assert naming, f"{name} is not described in tests/records/README.md"
    home = naming[0]  # the section that describes it; later ones may only refer to it
    recorders = sorted(set(RECORDER.findall(home)))
    missing = [script for script in recorders if not (REPO / script).is_file()]
    assert recorders and not missing, f"{name}: no existing recorder named in its README section (missing: {missing})"
    assert "/root/records/" not in home, f"{name}: its README section still names a script outside the repository"
