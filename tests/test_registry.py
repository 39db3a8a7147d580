"""Type names from configs: misspellings and unknown keys fail with the fix in the message."""

import pytest

from seglab.errors import ConfigError
from seglab.registry import DATASETS, MODELS, TRANSFORMS


def test_unknown_type_suggests_the_close_name():
    with pytest.raises(ConfigError, match="unknown dataset type 'BaseSegDatset' — did you mean 'BaseSegDataset'"):
        DATASETS.build(dict(type="BaseSegDatset"))


def test_unknown_key_names_type_key_and_accepted_keys():
    with pytest.raises(ConfigError) as err:
        TRANSFORMS.build(dict(type="RandomCrop", crop_size=(4, 4), cat_max_ration=0.5))
    message = str(err.value)
    assert "RandomCrop" in message and "'cat_max_ration'" in message and "cat_max_ratio" in message


def test_unknown_key_of_a_subclass_lists_inherited_keys():
    with pytest.raises(ConfigError, match="ResNetV1c.*'dept'.*depth"):
        MODELS.build(dict(type="ResNetV1c", dept=18))


def test_every_mmsegmentation_name_the_shipped_configs_use_is_registered():
    for name in [
        "LoadImageFromFile",
        "LoadAnnotations",
        "Resize",
        "RandomResize",
        "RandomCrop",
        "RandomFlip",
        "PhotoMetricDistortion",
        "Pad",
        "RandomRotate",
        "PackSegInputs",
    ]:
        assert name in TRANSFORMS
    for name in ["BaseSegDataset", "CityscapesDataset", "PascalVOCDataset", "ADE20KDataset", "ConcatDataset"]:
        assert name in DATASETS
    for name in [
        "EncoderDecoder",
        "SegDataPreProcessor",
        "ResNet",
        "ResNetV1c",
        "ResNetV1d",
        "ASPPHead",
        "DepthwiseSeparableASPPHead",
        "FCNHead",
        "CrossEntropyLoss",
        "DiceLoss",
        "FocalLoss",
    ]:
        assert name in MODELS


# ----------------------------------------------------------------------------- the lazy, leaf registry
import ast  # noqa: E402
import importlib  # noqa: E402
import inspect  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import textwrap  # noqa: E402
from pathlib import Path  # noqa: E402

from seglab import registry  # noqa: E402

PACKAGE = Path(__file__).resolve().parents[1] / "seglab"
ALL_REGISTRIES = [
    registry.DATASETS,
    registry.TRANSFORMS,
    registry.MODELS,
    registry.METRICS,
    registry.HOOKS,
    registry.PARAM_SCHEDULERS,
]


def test_import_seglab_imports_no_model_family():
    code = (
        "import sys, seglab, seglab.registry, seglab.cli, seglab.engine.runner, seglab.inference\n"
        "print([m for m in sys.modules if m.startswith(('seglab.models.backbones', 'seglab.models.heads'))])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
    bare = "import sys, seglab\nprint(sorted(m for m in sys.modules if m.startswith(('seglab.', 'torch'))))"
    assert (
        subprocess.run([sys.executable, "-c", bare], capture_output=True, text=True, check=True).stdout.strip() == "[]"
    )


@pytest.mark.parametrize("reg", ALL_REGISTRIES, ids=lambda r: r.kind)
def test_every_catalog_entry_imports_and_registers_under_its_name(reg):
    for name in reg.names():
        target = reg.target(name)
        if target is None:  # registered by a test module, not shipped
            continue
        module_name, class_name = target.split(":")
        cls = reg.get(name)
        assert cls is getattr(importlib.import_module(module_name), class_name)
        assert reg._table[name] is cls  # registered by its module's decorator, under the catalog's name


def test_every_registering_module_is_in_the_catalog():
    """A class decorated with ``@X.register()`` in seglab must have its catalog row (else it is unreachable)."""
    for path in PACKAGE.rglob("*.py"):
        if "configs" in path.parts:
            continue
        tree = ast.parse(path.read_text())
        module = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef) and any("register" in ast.unparse(d) for d in node.decorator_list):
                kinds = [ast.unparse(d).split(".")[0] for d in node.decorator_list]
                reg = getattr(registry, kinds[0])
                assert reg.target(node.name) == f"{module}:{node.name}", (module, node.name)


def test_model_names_are_listed_by_kind():
    assert {"ResNet", "ResNetV1c"} <= set(registry.MODELS.names(kind="backbone"))
    assert "FCNHead" in registry.MODELS.names(kind="head") and "FCNHead" not in registry.MODELS.names(kind="loss")
    assert set(registry.MODELS.names(kind="segmentor")) >= {"EncoderDecoder", "CascadeEncoderDecoder"}


def test_a_missing_optional_package_fails_only_that_type_naming_the_package():
    reg = registry.Registry("model", {"head": {"NeedsNibabel": "seglab_test_missing_pkg.head:NeedsNibabel"}})
    reg.add("NeedsOpenCV", "cv2:imread")
    with pytest.raises(ConfigError, match=r"model type 'NeedsNibabel' needs the package 'seglab_test_missing_pkg'"):
        reg.build(dict(type="NeedsNibabel"))
    assert reg.get("NeedsOpenCV") is not None  # the others still build


def test_import_graph_has_no_cycle():
    """Module-level imports between seglab modules form a DAG (imports inside functions are deliberate)."""
    graph: dict[str, set[str]] = {}
    for path in PACKAGE.rglob("*.py"):
        if "configs" in path.parts:
            continue
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        module = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        deps = set()
        for node in ast.parse(path.read_text()).body:  # top level only
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("seglab"):
                deps.add(node.module)
                deps.update(f"{node.module}.{a.name}" for a in node.names)
            elif isinstance(node, ast.Import):
                deps.update(a.name for a in node.names if a.name.startswith("seglab"))
        graph[module] = deps
    graph = {m: {d for d in deps if d in graph and d != m} for m, deps in graph.items()}
    state: dict[str, int] = {}

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for dep in sorted(graph[node]):
            if state.get(dep) == 1:
                cycle = path[path.index(dep) :] + [dep] if dep in path else [node, dep]
                raise AssertionError("import cycle: " + " -> ".join(cycle))
            if dep not in state:
                visit(dep, [*path, dep])
        state[node] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])


@pytest.mark.parametrize("reg", ALL_REGISTRIES, ids=lambda r: r.kind)
def test_every_accepted_argument_is_used_or_declared_ignored(reg):
    """A constructor argument that the code never reads must be listed in ``IGNORED_ARGS`` (then a
    non-default value is reported once), so no config key is taken silently."""
    for name in reg.names():
        for klass in reg.get(name).__mro__:
            if "__init__" not in vars(klass) or not klass.__module__.startswith("seglab"):
                continue
            fn = ast.parse(textwrap.dedent(inspect.getsource(klass.__init__))).body[0]
            params = [a.arg for a in fn.args.args + fn.args.kwonlyargs if a.arg != "self"]
            used = {n.id for n in ast.walk(fn) if isinstance(n, ast.Name)}
            unused = [p for p in params if p not in used and p not in getattr(klass, "IGNORED_ARGS", {})]
            assert not unused, f"{klass.__name__} accepts {unused} without using them"


def test_an_ignored_argument_is_reported_once_naming_the_key():
    import logging

    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append
    logging.getLogger("seglab").addHandler(handler)
    try:
        TRANSFORMS.build(dict(type="LoadImageFromFile", imdecode_backend="turbojpeg"))
        TRANSFORMS.build(dict(type="LoadImageFromFile", imdecode_backend="turbojpeg"))
        TRANSFORMS.build(dict(type="LoadImageFromFile", imdecode_backend="cv2"))  # the default: quiet
    finally:
        logging.getLogger("seglab").removeHandler(handler)
    lines = [r.getMessage() for r in records if "imdecode_backend" in r.getMessage()]
    assert len(lines) == 1 and "LoadImageFromFile" in lines[0] and "ignored" in lines[0]


def test_custom_imports_register_a_users_module(tmp_path, monkeypatch):
    (tmp_path / "my_seglab_plugin.py").write_text(
        "from seglab.registry import TRANSFORMS\n\n"
        "@TRANSFORMS.register()\nclass Invert:\n    def __call__(self, results):\n"
        "        results['img'] = 255 - results['img']\n        return results\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    registry.import_custom_modules(dict(imports=["my_seglab_plugin"], allow_failed_imports=False))
    assert "Invert" in TRANSFORMS
    with pytest.raises(ConfigError, match="custom_imports: cannot import 'no_such_plugin'"):
        registry.import_custom_modules(dict(imports=["no_such_plugin"]))
    registry.import_custom_modules(dict(imports=["no_such_plugin"], allow_failed_imports=True))
    registry.import_custom_modules(dict(imports=["mmpretrain.models"], allow_failed_imports=False))  # seglab's own
