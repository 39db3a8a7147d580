"""Progress outside a terminal is a few percentage lines, not carriage-return updates."""

from seglab.progress import progress, progress_counter


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


def test_counter_skips_work_done_before_and_prints_the_rest(capsys):
    counter = progress_counter(8, "prepare", initial=3)  # a resumed run: 3 of 8 files were done
    for _ in range(5):
        counter.update()
    counter.close()
    assert capsys.readouterr().err.splitlines() == ["prepare: 50% (4/8)", "prepare: 75% (6/8)", "prepare: 100% (8/8)"]


def test_prepare_prints_quarter_lines_outside_a_terminal(tmp_path, capsys):
    from seglab.data.prepare.archive import open_tree
    from seglab.data.prepare.common import copy_job, run_jobs

    src = tmp_path / "src"
    src.mkdir()
    for i in range(4):
        (src / f"{i}.txt").write_text(str(i))
    tree = open_tree(src, "download it again")
    jobs = [copy_job(tree, f"{i}.txt", tmp_path / "out" / f"{i}.txt") for i in range(4)]
    assert run_jobs(jobs, tmp_path / "out", "copy") == (4, 0)
    err = capsys.readouterr().err
    assert err.splitlines() == [f"copy: {p}% ({p // 25}/4)" for p in (25, 50, 75, 100)] and "\r" not in err
