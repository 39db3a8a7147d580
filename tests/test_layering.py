"""Dependencies point down: no module under ``seglab/`` imports from a layer above its own (design.md).

The layers, top to bottom (a path names a module, or a package with everything under it; the longest match wins):

    0 entry points  cli.py, cli_args.py, __main__.py, quickstart.py   parse arguments, run a workflow, print
    1 engine        engine/                                            runner, loops, hooks, optim, pre-flight
    2 features      inference.py, evaluation/, visualize.py, deploy/,  what a user calls on a model or a config
                    output_names.py, benchmark.py, zoo.py, scene_inference.py,
                    publish.py
    3 models/data   models/ (3m), data/ (3d)                           models may import data, data never models
    4 foundations   fileio/, dist.py, data/io.py, progress.py,         checkpoints, weight sources, I/O, processes
                    freed_memory.py, openmp_spinning.py
    5 core          __init__.py, registry.py, catalog.py, config.py,   names, settings and error types
                    config_*.py, errors.py

Why these places: ``quickstart.py`` runs the whole train/validate/infer workflow and prints what it wrote, as a
command does. ``benchmark.py`` measures a model it is handed and parses nothing, so it is a feature. ``zoo.py``
lists the shipped configs with their published scores and fetches their checkpoints (the published ones, and
the pre-trained ones a config's model names, which it builds to find them), so it is a feature beside
``inference.py``, whose ``init_model`` resolves ``checkpoint='zoo'`` through it. ``models/`` may import
``data/`` (a SAN text encoder reads a dataset's class names, test-time augmentation rescales and flips with the
data transforms); ``data/`` never imports ``models/``: ``seglab check-data`` hands it what it needs from a model.

Every import counts, also one inside a function body (a lazy import is still a dependency) and an
``__import__``/``importlib.import_module`` call whose module name starts with a constant. Imports under
``if TYPE_CHECKING:`` are skipped (type hints only, never run), and so is the package's lazy ``__getattr__``
table (strings, not imports). Shipped configs under ``seglab/configs/`` are data files, not modules.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "seglab"

# module or package (dotted, below seglab) -> (rank, layer name); a lower rank is a higher layer
LAYERS: dict[str, tuple[int, str]] = {
    "cli": (0, "entry points"),
    "cli_args": (0, "entry points"),
    "__main__": (0, "entry points"),
    "quickstart": (0, "entry points"),
    "engine": (1, "engine"),
    "inference": (2, "features"),
    "evaluation": (2, "features"),
    "visualize": (2, "features"),
    "deploy": (2, "features"),
    "output_names": (2, "features"),
    "benchmark": (2, "features"),
    "zoo": (2, "features"),
    "scene_inference": (2, "features"),
    "publish": (2, "features"),
    "models": (3, "models"),
    "data": (3, "data"),
    "fileio": (4, "foundations"),
    "dist": (4, "foundations"),
    "data.io": (4, "foundations"),
    "progress": (4, "foundations"),
    "freed_memory": (4, "foundations"),
    "openmp_spinning": (4, "foundations"),
    "": (5, "core"),  # seglab/__init__.py
    "registry": (5, "core"),
    "catalog": (5, "core"),
    "config": (5, "core"),
    "config_dump": (5, "core"),
    "config_types": (5, "core"),
    "errors": (5, "core"),
}
FORBIDDEN_SAME_RANK = {("data", "models")}  # (importer's layer, imported layer) within one rank
SKIPPED = ("configs",)  # data files shipped inside the package


def module_name(path: Path) -> str:
    """``seglab/engine/hooks/logger.py`` -> ``engine.hooks.logger``; a package's ``__init__`` is the package."""
    parts = list(path.relative_to(PACKAGE).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def layer_of(module: str) -> tuple[int, str]:
    """The layer of the longest table entry that is ``module`` or a package above it."""
    parts = module.split(".") if module else []
    for end in range(len(parts), -1, -1):
        key = ".".join(parts[:end])
        if key in LAYERS:
            return LAYERS[key]
    raise KeyError(f"seglab.{module} has no layer: add it (or its package) to LAYERS in {__file__}")


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _exists(module: str) -> bool:
    base = PACKAGE.joinpath(*module.split(".")) if module else PACKAGE
    return base.with_suffix(".py").is_file() or (base / "__init__.py").is_file()


def _seglab_module(dotted: str) -> str | None:
    """``seglab.a.b`` -> ``a.b`` (``""`` for the package itself); None for other packages."""
    if dotted == "seglab" or dotted.startswith("seglab."):
        return dotted.removeprefix("seglab").removeprefix(".")
    return None


def _dynamic_import(call: ast.Call) -> str | None:
    """The seglab module an ``__import__``/``importlib.import_module`` call names by a constant prefix, such as
    ``__import__(f"seglab.data.datasets.{module}")`` -> ``data.datasets``; None when it names none."""
    func = call.func
    name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else None
    if name not in ("__import__", "import_module") or not call.args:
        return None
    first = call.args[0]
    if isinstance(first, ast.JoinedStr) and first.values and isinstance(first.values[0], ast.Constant):
        text = str(first.values[0].value).rpartition(".")[0]  # the complete dotted names before the first {}
    elif isinstance(first, ast.Constant) and isinstance(first.value, str):
        text = first.value
    else:
        return None
    module = _seglab_module(text)
    while module and not _exists(module):
        module = module.rpartition(".")[0]
    return module


def imported_modules(path: Path) -> list[tuple[int, str]]:
    """(line, module below seglab) for every seglab import in ``path``, relative ones resolved;
    ``from pkg import name`` counts as ``pkg.name`` when that is a module, else as ``pkg``."""
    me = module_name(path)
    package = me if path.name == "__init__.py" else me.rpartition(".")[0]
    found: list[tuple[int, str]] = []

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node):
            for other in node.orelse:
                visit(other)
            return
        if isinstance(node, ast.Import):
            for alias in node.names:
                module = _seglab_module(alias.name)
                if module is not None:
                    found.append((node.lineno, module))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".") if package else []
                parts = parts[: len(parts) - (node.level - 1)]
                base: str | None = ".".join([*parts, *([node.module] if node.module else [])])
            else:
                base = _seglab_module(node.module or "")
            for alias in node.names if base is not None else []:
                sub = f"{base}.{alias.name}" if base else alias.name
                found.append((node.lineno, sub if _exists(sub) else base))
        elif isinstance(node, ast.Call):
            module = _dynamic_import(node)
            if module is not None:
                found.append((node.lineno, module))
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(ast.parse(path.read_text(encoding="utf-8"), filename=str(path)))
    return found


def upward_imports() -> list[str]:
    """One line per import of a higher layer (or of ``models`` from ``data``), naming both modules and layers."""
    problems = []
    for path in sorted(PACKAGE.rglob("*.py")):
        me = module_name(path)
        if me.split(".")[0] in SKIPPED:
            continue
        my_rank, my_layer = layer_of(me)
        for line, target in dict.fromkeys(imported_modules(path)):  # `from a import b, c`: a once
            rank, layer = layer_of(target)
            if rank < my_rank or (my_layer, layer) in FORBIDDEN_SAME_RANK:
                problems.append(
                    f"seglab/{path.relative_to(PACKAGE)}:{line}: seglab.{me or '__init__'} ({my_layer}) imports "
                    f"seglab.{target} ({layer})"
                )
    return problems


def test_every_import_points_down_the_layers() -> None:
    problems = upward_imports()
    assert not problems, "imports from a higher layer (see the table in tests/test_layering.py):\n" + "\n".join(
        problems
    )


def test_every_module_has_a_layer() -> None:
    for path in PACKAGE.rglob("*.py"):
        me = module_name(path)
        if me.split(".")[0] not in SKIPPED:
            layer_of(me)  # raises KeyError naming the module


def _write_package(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        target = root / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")


def test_the_check_sees_relative_lazy_and_type_only_imports(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The walker must catch an upward import hidden in a function or written relative, and skip type hints."""
    package = tmp_path / "seglab"
    _write_package(
        package,
        {
            "__init__.py": "",
            "errors.py": "",
            "engine/__init__.py": "",
            "engine/runner.py": "",
            "models/__init__.py": "",
            "models/net.py": (
                "from typing import TYPE_CHECKING\n"
                "from ..errors import X\n"
                "if TYPE_CHECKING:\n    from seglab.engine.runner import Runner\n"
                "def build():\n    from ..engine import runner\n"
            ),
            "data/__init__.py": "",
            "data/check.py": "import seglab.models.net\n",
            "data/hidden.py": "def f(name):\n    return __import__(f'seglab.models.{name}')\n",
        },
    )
    monkeypatch.setitem(globals(), "PACKAGE", package)
    problems = upward_imports()
    assert problems == [
        "seglab/data/check.py:1: seglab.data.check (data) imports seglab.models.net (models)",
        "seglab/data/hidden.py:2: seglab.data.hidden (data) imports seglab.models (models)",
        "seglab/models/net.py:6: seglab.models.net (models) imports seglab.engine.runner (engine)",
    ]
