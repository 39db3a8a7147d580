"""The sources table in docs/pretrained.md is generated from the families' ``*_weights.py`` tables (a stale page
fails here); a verified Hub revision is a full sha read off the cited page; a Hub file with no pinned revision
is used with a warning naming the commit ``main`` gave; a damaged safetensors file is one line."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import torch

import seglab.models.builder  # noqa: F401 — installs the loader of the families' weight tables
from seglab.errors import CheckpointError, SeglabError
from seglab.fileio.hub import HubFile
from seglab.fileio.pretrained import fetch_pretrained, read_safetensors
from seglab.fileio.sources import PretrainedSource
from seglab.fileio.sources_table import BEGIN, END, registered_sources, render_table, replace_table, write_table

from .test_hub_downloads import HUB_BYTES, REPO, servers  # noqa: F401 — the local Hub and original server

DOC = Path(__file__).resolve().parents[2] / "docs" / "pretrained.md"


def test_the_committed_sources_table_is_what_the_registry_gives():
    text = DOC.read_text(encoding="utf-8")
    assert replace_table(text, render_table(registered_sources())) == text, (
        "docs/pretrained.md is stale: run `seglab zoo --pretrained-table docs/pretrained.md`"
    )


def test_the_table_is_rewritten_between_the_markers_only(tmp_path):
    page = tmp_path / "page.md"
    page.write_text(f"# intro\n\n{BEGIN}\n| stale | row |\n{END}\n\n## Publishing your model\nkept\n")
    assert write_table(page) and not write_table(page)  # the second run finds it up to date
    text = page.read_text()
    assert text.startswith(f"# intro\n\n{BEGIN}\n") and text.endswith(f"{END}\n\n## Publishing your model\nkept\n")
    assert "stale" not in text and "| ResNet | `open-mmlab://resnet50_v1c` |" in text
    page.write_text("no markers\n")
    with pytest.raises(SeglabError, match="no generated-table markers"):
        write_table(page)


def test_every_hub_file_seglab_loads_names_the_parity_test_that_proves_its_key_map():
    repo = DOC.parents[1]
    for source in registered_sources():
        if source.hub_usable:
            test = source.parity_test
            assert test and (repo / test).is_file(), (source.name, test)
            text = (repo / test).read_text(encoding="utf-8")
            assert source.family.split()[0].lower()[:4] in text.lower(), (source.name, test)


def test_every_verified_hub_file_names_a_full_sha_that_its_page_shows():
    for source in registered_sources():
        hub_file = source.hub
        if hub_file is not None and hub_file.verified:
            assert hub_file.revision and hub_file.revision in hub_file.page, (source.name, hub_file.page)
            assert hub_file.page.startswith(f"https://huggingface.co/{hub_file.repo}/"), hub_file.page


def test_an_unpinned_hub_file_is_used_with_a_warning_naming_the_commit(servers, seglab_log):  # noqa: F811
    _, _, source = servers
    unpinned = PretrainedSource("test://unpinned", source.url, HubFile(REPO), convert=dict)
    assert fetch_pretrained(unpinned).read_bytes() == HUB_BYTES
    warnings = [r.getMessage() for r in seglab_log.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "no pinned revision" in warnings[0] and f"commit {'0' * 40}" in warnings[0]
    seglab_log.clear()
    fetch_pretrained(source)  # pinned: no warning
    assert not [r for r in seglab_log.records if r.levelno == logging.WARNING]


def test_a_damaged_safetensors_file_is_one_line(tmp_path):
    from safetensors.torch import save_file

    save_file({"w": torch.ones(4)}, tmp_path / "m.safetensors")
    data = (tmp_path / "m.safetensors").read_bytes()
    (tmp_path / "cut.safetensors").write_bytes(data[:-3])
    with pytest.raises(CheckpointError, match="is not a safetensors file .*download it again") as err:
        read_safetensors(tmp_path / "cut.safetensors")
    assert "\n" not in str(err.value)
