"""The fine-tuned Hub models paired with shipped configs (``hub_model_table.py``, the one place the pairing is
kept): each entry names a shipped config with the Hub model's sizes and gives a number with the pinned GitHub
file it is read from and the row it matched, or says why there is none; ``seglab zoo`` prints it beside the Hub
repo and ``docs/pretrained.md``'s Hub-model table is what the entries give."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

import seglab.models.builder  # noqa: F401 — installs the loader of the families' weight tables (the page's other table)
from seglab import zoo
from seglab.cli import main
from seglab.config import Config
from seglab.fileio.hub_model_table import BY_CONFIG, BY_REPO, HUB_MODELS, PINNED_GITHUB_FILE, HubModel, hub_model
from seglab.fileio.sources_table import BEGIN, END, HUB_BEGIN, HUB_END, render_hub_table, replace_table, write_table

REPO = Path(__file__).resolve().parents[2]
PINNED = "https://github.com/owner/repo/blob/" + "0" * 40 + "/README.md"
HF_LOAD_FROM = re.compile(r"^load_from\s*=\s*['\"]hf://([^'\"@]+)['\"]", re.M)


def test_the_pairing_is_kept_once_and_the_zoo_shows_every_entry():
    """One entry per repo and per shipped config; the zoo table stores no pairing of its own; a seglab-only config
    loads exactly the Hub model its entry names (and none loads one without an entry); ``seglab zoo`` pairs
    exactly the entries' repos and configs, MMSegmentation's configs included."""
    shipped, tables = zoo.shipped_configs(), {**zoo.published_table(), **zoo.unpublished_table()}
    assert len(BY_REPO) == len(BY_CONFIG) == len(HUB_MODELS)
    assert {model.config for model in HUB_MODELS} <= set(shipped)
    assert not [name for name, row in tables.items() if "hub" in row]
    loads = {}
    for name, path in shipped.items():
        if match := HF_LOAD_FROM.search(path.read_text(encoding="utf-8")):
            assert zoo._from_config_file(name, path).hub == match[1], name
            loads[name] = match[1]
    assert loads == {model.config: model.repo for model in HUB_MODELS if model.config not in tables}
    shown = {entry.name: entry.hub for entry in zoo.entries() if entry.hub}
    assert shown == {model.config: model.repo for model in HUB_MODELS}


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
    swin_large = hub_model("openmmlab/upernet-swin-large")  # a config no metafile row names: paired all the same
    assert main(["zoo", "--json", swin_large.config]) == 0
    (row,) = json.loads(capsys.readouterr().out)["configs"]
    assert (row["hub"], row["weights"], row["hub_published"]["mIoU"]) == (swin_large.repo, None, 52.25)
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


# The Hub models' sizes as transformers' conversion scripts give them (convert_segformer_original_to_pytorch,
# convert_swin_upernet_to_pytorch, convert_mask2former_original_pytorch_checkpoint_to_pytorch and the authors'
# configs, convert_maskformer_original_pytorch_checkpoint_to_pytorch, convert_beit_unilm_to_pytorch).
SEGFORMER_DEPTHS = {"b0": [2] * 4, "b1": [2] * 4, "b2": [3, 4, 6, 3], "b3": [3, 4, 18, 3], "b4": [3, 8, 27, 3]}
SEGFORMER_DEPTHS["b5"] = [3, 6, 40, 3]
SWIN = {  # embed_dims, depths, num_heads, window_size
    "tiny": (96, [2, 2, 6, 2], [3, 6, 12, 24], 7),
    "small": (96, [2, 2, 18, 2], [3, 6, 12, 24], 7),
    "base": (128, [2, 2, 18, 2], [4, 8, 16, 32], 12),
    "large": (192, [2, 2, 18, 2], [6, 12, 24, 48], 12),
}


def segformer(size: str, classes: int) -> dict:
    return {
        "model.backbone.embed_dims": 32 if size == "b0" else 64,
        "model.backbone.num_layers": SEGFORMER_DEPTHS[size],
        "model.decode_head.channels": 256 if size in ("b0", "b1") else 768,  # transformers' decoder_hidden_size
        "model.decode_head.act_cfg": None,
        "model.decode_head.num_classes": classes,
    }


def swin(size: str, classes: int = 150, **head: int) -> dict:
    keys = ("embed_dims", "depths", "num_heads", "window_size")
    sizes = {f"model.backbone.{key}": value for key, value in zip(keys, SWIN[size])}
    return sizes | {"model.decode_head.num_classes": classes} | {f"model.{k}": v for k, v in head.items()}


def mask2former(size: str, classes: int) -> dict:  # the Hub's decoder_layers=10 counts the first, unmasked layer
    return swin(size, classes) | {
        "model.decode_head.num_queries": 100,
        "model.decode_head.transformer_decoder.num_layers": 9,
    }


HUB_SIZES = {
    **{f"nvidia/segformer-{s}-finetuned-ade-512-512": segformer(s, 150) for s in ("b0", "b1", "b2", "b3")},
    "nvidia/segformer-b5-finetuned-ade-640-640": segformer("b5", 150),
    **{f"nvidia/segformer-b{i}-finetuned-cityscapes-1024-1024": segformer(f"b{i}", 19) for i in range(6)},
    **{  # the auxiliary head reads stage 3, 4 x embed_dims wide (transformers' auxiliary_in_channels)
        f"openmmlab/upernet-swin-{s}": swin(s, **{"auxiliary_head.in_channels": 4 * SWIN[s][0]}) for s in SWIN
    },
    **{f"facebook/mask2former-swin-{s}-ade-semantic": mask2former(s, 150) for s in SWIN},
    **{f"facebook/mask2former-swin-{s}-cityscapes-semantic": mask2former(s, 19) for s in ("tiny", "small", "large")},
    "facebook/mask2former-swin-base-IN21k-cityscapes-semantic": mask2former("base", 19),
    **{f"facebook/maskformer-swin-{s}-ade": swin(s, **{"decode_head.num_queries": 100}) for s in ("tiny", "small")},
    "microsoft/beit-large-finetuned-ade-640-640": {
        "model.backbone.embed_dims": 1024,
        "model.backbone.num_layers": 24,
        "model.backbone.num_heads": 16,
        "model.backbone.out_indices": [5, 9, 13, 21],  # transformers' out_indices [7, 11, 15, 23], minus 2
        "model.backbone.norm_cfg.eps": 1e-12,
        "model.data_preprocessor.mean": [127.5] * 3,
        "model.decode_head.num_classes": 150,
    },
}


@pytest.mark.parametrize("repo", list(HUB_SIZES))
def test_each_paired_config_has_its_hub_models_sizes(repo):
    cfg = Config.fromfile(str(zoo.find_shipped(BY_REPO[repo].config)))
    got = {}
    for dotted in HUB_SIZES[repo]:
        value = cfg
        for key in dotted.split("."):
            value = value[key]
        got[dotted] = list(value) if isinstance(value, tuple) else value
    assert got == HUB_SIZES[repo]
