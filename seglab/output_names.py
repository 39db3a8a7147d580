"""Output file names for ``seglab infer`` and ``seglab test``: one rule, so no result replaces another.

1. An output mirrors its input's path under the output folder, relative to a root: for ``infer`` the folder
   named on the command line, or the deepest folder holding every input named; for ``test`` the dataset's
   image folder (``data_prefix.img_path``), so ``city1/x.png`` and ``city2/x.png`` stay apart.
2. The name is that relative path without its extension: images with distinct names in one folder get
   ``NAME.png`` as they always did.
3. Inputs that would still share a name (``scan.jpg`` and ``scan.png``) each keep their extension after an
   underscore: ``scan_jpg.png`` and ``scan_png.png``.
4. An output file that would still be written twice, or would replace an input, fails with one line before
   any work starts (before the model is built).
"""

from __future__ import annotations

import os
import sys
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path

from seglab.errors import ConfigError

# macOS and Windows file systems treat 'Scan.png' and 'scan.png' as one file by default
CASE_INSENSITIVE = sys.platform in ("darwin", "win32")


class OutputNameError(ConfigError):
    """Two inputs would write the same output file, or an output would replace an input."""


def _key(path: str) -> str:
    return path.casefold() if CASE_INSENSITIVE else path


def _absolute(path: str | Path) -> str:
    """Absolute and lexically normalised ('..' removed), symbolic links kept as the user named them."""
    return os.path.abspath(path)


def common_root(folders: Iterable[str | Path]) -> Path:
    """The deepest folder holding every one of ``folders`` (a folder holds itself)."""
    paths = [_absolute(f) for f in folders]
    try:
        return Path(os.path.commonpath(paths))
    except ValueError:  # no paths, or paths on different Windows drives
        raise OutputNameError(
            f"inputs {paths[:2]} have no common folder to name outputs from; run them separately"
        ) from None


def output_names(files: Sequence[str | Path], root: str | Path) -> list[str]:
    """One name per file (no extension, '/'-separated): its path relative to ``root`` without extension;
    files that would share a name keep their extension after an underscore ('scan_jpg')."""
    root = Path(_absolute(root))
    relative = [Path(_absolute(f)).relative_to(root) for f in files]
    plain = [r.with_suffix("").as_posix() if r.suffix else r.as_posix() for r in relative]
    counts = Counter(_key(name) for name in plain)
    return [
        f"{name}_{r.suffix[1:]}" if counts[_key(name)] > 1 and r.suffix else name for name, r in zip(plain, relative)
    ]


def check_outputs(
    files: Sequence[str | Path],
    names: Sequence[str],
    targets: Sequence[tuple[str | Path, str]],
    protected: Iterable[str | Path] = (),
) -> None:
    """Fail before any work if two inputs would write one file, or an output would replace an input.

    ``targets`` are (folder, pattern) pairs, each output being ``folder/pattern.format(name)``;
    ``protected`` are further files no output may replace (the inputs always are)."""
    inputs = {_key(_absolute(p)): Path(p) for p in (*protected, *files)}
    written: dict[str, Path] = {}
    for folder, pattern in targets:
        base = _absolute(folder)
        for file, name in zip(files, names):
            out = os.path.join(base, pattern.format(name))
            key = _key(out)
            if key in inputs:
                raise OutputNameError(
                    f"writing '{out}' would replace the input '{inputs[key]}'; choose an output folder outside the inputs"
                )
            if key in written:
                other = written[key]
                if Path(_absolute(other)) == Path(_absolute(file)):
                    raise OutputNameError(
                        f"'{file}' would write '{out}' twice; give each kind of output its own folder (--out, --show-dir)"
                    )
                raise OutputNameError(
                    f"'{other}' and '{file}' would both write '{out}'; rename one of them or run them separately"
                )
            written[key] = Path(file)


def dataset_output_names(dataset, folders: Sequence[str | Path | None], pattern: str = "{}.png") -> dict[str, str]:
    """``seglab test``: absolute image path -> output name for every sample of ``dataset``, named relative
    to its image folder (``img_dir``), else to the deepest folder holding all images. Checks the outputs
    into ``folders`` (``None`` entries skipped) before any work; an empty dict when there are none."""
    folders = [f for f in folders if f]
    if not folders:
        return {}
    infos = getattr(dataset, "data_list", None) or [dataset.get_data_info(i) for i in range(len(dataset))]
    files = list(dict.fromkeys(_absolute(info["img_path"]) for info in infos if info.get("img_path")))
    if not files:
        return {}
    img_dir = getattr(dataset, "img_dir", None)
    root = _absolute(img_dir) if img_dir else ""
    if not root or any(os.path.commonpath([root, f]) != root for f in files):
        root = str(common_root(os.path.dirname(f) for f in files))
    names = output_names(files, root)
    # labels and second images are inputs too: '--out ann_dir/val' must not replace the ground truth
    protected = [v for info in infos for k, v in info.items() if k.endswith("_path") and isinstance(v, str)]
    check_outputs(files, names, [(folder, pattern) for folder in folders], protected)
    return dict(zip(files, names))
