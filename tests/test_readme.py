"""The README's two fresh-machine commands stay the ones CI runs."""

from .conftest import REPO


def test_readme_opens_with_the_two_commands_and_ci_runs_the_second():
    lines = (REPO / "README.md").read_text().splitlines()
    block = lines[lines.index("```bash") + 1 : lines.index("```bash") + 3]
    assert block == ["pip install -e . && seglab quickstart", 'pip install -e ".[test]" && pytest -q']
    ci = (REPO / ".ci/run").read_text().splitlines()
    assert block[1] in ci
