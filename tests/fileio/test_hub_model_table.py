"""The published mIoU of the fine-tuned Hub models the zoo pairs with shipped configs (``hub_model_table.py``):
each pairing has one entry naming the same config, each entry gives a number with the pinned GitHub file it is
read from and the row it matched, or says why there is none; ``seglab zoo`` prints it beside the Hub repo and
``docs/pretrained.md``'s Hub-model table is what the entries give."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

import seglab.models.builder  # noqa: F401 — installs the loader of the families' weight tables (the page's other table)
from seglab import zoo
from seglab.cli import main
from seglab.fileio.hub_model_table import HUB_MODELS, PINNED_GITHUB_FILE, HubModel, hub_model
from seglab.fileio.sources_table import BEGIN, END, HUB_BEGIN, HUB_END, render_hub_table, replace_table, write_table

REPO = Path(__file__).resolve().parents[2]
PINNED = "https://github.com/owner/repo/blob/" + "0" * 40 + "/README.md"
HF_LOAD_FROM = re.compile(r"^load_from\s*=\s*['\"]hf://([^'\"@]+)['\"]", re.M)


def test_every_hub_model_the_zoo_pairs_has_one_entry_naming_that_config():
    """Rows of MMSegmentation's table with a ``hub`` column, and shipped configs whose ``load_from`` is a Hub
    model, pair exactly the repos and configs the entries name (configs read as the zoo reads them)."""
    paired = {row["hub"]: name for name, row in zoo.published_table().items() if row.get("hub")}
    for name, path in zoo.shipped_configs().items():
        if match := HF_LOAD_FROM.search(path.read_text(encoding="utf-8")):
            assert zoo._from_config_file(name, path).hub == match[1], name
            paired[match[1]] = name
    assert paired == {model.repo: model.config for model in HUB_MODELS}
    assert len({model.repo for model in HUB_MODELS}) == len(HUB_MODELS)


def test_each_entry_names_an_existing_parity_test_and_a_pinned_source_or_why_none():
    for model in HUB_MODELS:
        path, name = model.parity_test.split("::")
        assert f"def {name}(" in (REPO / path).read_text(encoding="utf-8"), model.repo
        if model.published:
            assert PINNED_GITHUB_FILE.match(model.source) and model.matched and not model.why_none, model.repo
        else:
            assert model.why_none and model.mIoU is None and model.mIoU_ms_flip is None, model.repo


@pytest.mark.parametrize(
    "fields, problem",
    [
        (dict(mIoU=40.0, source="https://github.com/owner/repo/blob/main/README.md", matched="row"), "at a commit"),
        (dict(mIoU=40.0, source=PINNED), "matched="),
        (dict(mIoU=40.0, source=PINNED, matched="row", why_none="no"), "GitHub file"),
        (dict(), "why_none="),
        (dict(source=PINNED, why_none="no"), "no source="),
        (dict(mIoU_ms_flip=400.0, source=PINNED, matched="row"), r"\(0, 100\]"),
    ],
)
def test_an_entry_without_a_pinned_source_or_a_reason_is_refused(fields, problem):
    with pytest.raises(ValueError, match=problem):
        HubModel("user/model", "family/stem", "relation", "tests/x.py::test_x", **fields)


def test_zoo_prints_the_hub_models_published_mIoU_with_its_source(capsys):
    tiny = hub_model("openmmlab/upernet-convnext-tiny")
    assert main(["zoo", tiny.config]) == 0
    line = capsys.readouterr().out.splitlines()[1]
    assert " openmmlab/upernet-convnext-tiny " in line
    summary = f"[hub model: published mIoU 46.11 (ms+flip 46.62) ({tiny.source})]  "
    assert f"{summary}https://download.openmmlab.com/" in line and line.endswith("-cad485de.pth")
    assert main(["zoo", "--json", "segformer_mit-b0_hf-nvidia_ade20k-512x512"]) == 0
    (row,) = json.loads(capsys.readouterr().out)["configs"]
    assert row["hub"] == "nvidia/segformer-b0-finetuned-ade-512-512"
    assert (
        set(row["hub_published"]) == {"none_published"} and "no results table" in row["hub_published"]["none_published"]
    )
    mask2former = hub_model("facebook/mask2former-swin-tiny-ade-semantic")
    assert main(["zoo", "--json", mask2former.config]) == 0
    (row,) = json.loads(capsys.readouterr().out)["configs"]
    assert (row["mIoU"], row["hub_published"]["mIoU"]) == (48.66, 47.7)  # MMSegmentation's training; the authors'
    assert main(["zoo", "pspnet_r50-d8_4xb2-40k_cityscapes-512x1024"]) == 0
    assert "[hub model" not in capsys.readouterr().out  # a config without a Hub model says nothing of one


def test_the_committed_hub_model_table_is_what_the_entries_give(tmp_path):
    text = (REPO / "docs" / "pretrained.md").read_text(encoding="utf-8")
    assert HUB_BEGIN in text and replace_table(text, render_hub_table(), HUB_BEGIN, HUB_END) == text, (
        "docs/pretrained.md is stale: run `seglab zoo --pretrained-table docs/pretrained.md`"
    )
    assert text.count("| [") >= len(HUB_MODELS) and "none published: " in text and "46.11 (ms+flip 46.62)" in text
    page = tmp_path / "page.md"
    page.write_text(f"{BEGIN}\n{END}\nkept\n{HUB_BEGIN}\n| stale |\n{HUB_END}\nkept too\n")
    assert write_table(page)
    written = page.read_text()
    assert "stale" not in written and written.endswith(f"{HUB_END}\nkept too\n") and "\nkept\n" in written
    assert f"[{HUB_MODELS[0].repo}](https://huggingface.co/{HUB_MODELS[0].repo})" in written
