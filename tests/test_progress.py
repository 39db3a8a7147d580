"""Progress outside a terminal is a few percentage lines, not carriage-return updates."""

from seglab.progress import progress


def test_non_terminal_progress_prints_quarters(capsys):
    assert list(progress(range(200), "check train")) == list(range(200))
    lines = capsys.readouterr().err.splitlines()
    assert lines == [f"check train: {p}% ({p * 2}/200)" for p in (25, 50, 75, 100)]
    assert "\r" not in "".join(lines)


def test_small_and_odd_sizes(capsys):
    assert list(progress([1], "x")) == [1]
    assert list(progress(range(3), "y")) == [0, 1, 2]
    lines = capsys.readouterr().err.splitlines()
    assert lines == ["y: 25% (1/3)", "y: 50% (2/3)", "y: 100% (3/3)"]  # nothing for the single item
