"""The README's first screen is a user's page: the two fresh-machine commands CI runs, what seglab is, its
requirements as pyproject states them, and the four guides; tables live in docs/."""

import re

import pytest
import tomllib

from seglab import quickstart

from .conftest import REPO

FIRST_SCREEN = 40
GUIDES = ["quickstart.md", "custom_dataset.md", "predict.md", "migrating_from_mmsegmentation.md"]


def first_screen(name: str) -> str:
    return "\n".join((REPO / name).read_text().splitlines()[:FIRST_SCREEN])


def test_readme_opens_with_the_two_commands_and_ci_runs_the_second():
    lines = (REPO / "README.md").read_text().splitlines()
    block = lines[lines.index("```bash") + 1 : lines.index("```bash") + 3]
    assert block == ["pip install -e . && seglab quickstart", 'pip install -e ".[test]" && pytest -q']
    assert lines.index("```bash") < 6 and lines[lines.index("```bash") + 3] == "```"  # first, and only these two
    ci = (REPO / ".ci/run").read_text().splitlines()
    assert block[1] in ci


@pytest.mark.parametrize(("readme", "folder"), [("README.md", "docs/"), ("README_zh-CN.md", "docs/zh_cn/")])
def test_first_screen_states_requirements_and_links_the_four_guides(readme, folder):
    screen = first_screen(readme)
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    python = project["requires-python"].removeprefix(">=")
    assert f"Python ≥ {python}" in screen
    deps = {re.split(r"[<>=\[; ]", d)[0]: d for d in project["dependencies"]}
    assert f"PyTorch ≥ {deps.pop('torch').split('>=')[1]}" in screen
    assert all(name in screen for name in deps), [name for name in deps if name not in screen]
    assert "git clone" in screen
    for guide in GUIDES:
        assert f"]({folder}{guide})" in screen and (REPO / folder / guide).is_file(), guide
    for also in ("docs/model_families.md", "docs/benchmarks.md"):
        assert f"]({also})" in screen
    for rival in ("MMSegmentation", "segmentation_models_pytorch", "Hugging Face transformers"):
        assert re.search(rf"{rival}\**[:：]", screen), rival  # one line on why seglab rather than it
    assert not re.search(r"^\|", screen, flags=re.M)  # no table on the first screen


def test_compatibility_and_benchmark_tables_live_in_docs():
    readme = (REPO / "README.md").read_text()
    families, speed = ((REPO / "docs" / name).read_text() for name in ("model_families.md", "benchmarks.md"))
    assert "| family | configs |" in families and "| family | configs |" not in readme
    assert "| run | s/iter | peak RSS |" in speed and "| run | s/iter |" not in readme


def test_quickstart_duration_is_the_same_everywhere():
    """The README, the quickstart guide and the module's docstring give one measured duration."""
    english = re.search(
        r"trains a small DeepLabV3\+.*?\((about [^,]+) on two CPU cores", first_screen("README.md"), re.S
    )
    assert english
    duration = " ".join(english.group(1).split())
    assert duration in " ".join((REPO / "docs" / "quickstart.md").read_text().split())
    assert duration in " ".join(quickstart.__doc__.split())
