"""Name -> class tables: the one place where config strings become objects.

Type names are MMSegmentation's (``BaseSegDataset``, ``RandomCrop``, ``EncoderDecoder`` ...), so
existing configs build unchanged. Every name is known up front from ``seglab.catalog``; the module
that defines a type is imported the first time the type is built, so ``import seglab`` stays fast
and a family with an optional dependency fails only when that family is built. This module imports
nothing from seglab but its errors and the catalog (plain data).
"""

from __future__ import annotations

import copy
import difflib
import importlib
import inspect
import logging
from collections.abc import Callable, Iterable
from typing import Any

from seglab import catalog
from seglab.errors import ConfigError

logger = logging.getLogger("seglab")


class Registry:
    """Maps type names of one kind (datasets, transforms, models, ...) to classes, importing lazily.

    ``entries`` is ``{name: "module:Class"}`` or, for kinds with sub-kinds (models), ``{sub_kind: {...}}``.
    Classes also ``register()`` themselves when their module is imported, which keeps the two honest;
    code outside the catalog (a test, a user's module in ``custom_imports``) registers the same way."""

    def __init__(self, kind: str, entries: dict | None = None) -> None:
        self.kind = kind
        self._table: dict[str, Callable] = {}
        self._lazy: dict[str, str] = {}
        self._sub_kind: dict[str, str | None] = {}
        for key, value in (entries or {}).items():
            if isinstance(value, dict):
                for name, target in value.items():
                    self.add(name, target, key)
            else:
                self.add(key, value)

    def add(self, name: str, target: str, kind: str | None = None) -> None:
        """Know ``name`` as ``target`` (``"package.module:Class"``), imported on first use."""
        if ":" not in target:
            raise ValueError(f"registry target must be 'module:Class', got {target!r}")
        self._lazy[name] = target
        self._sub_kind[name] = kind

    def register(self, name: str | None = None, kind: str | None = None) -> Callable:
        def decorator(obj: Callable) -> Callable:
            key = name or obj.__name__
            if key in self._table and self._table[key] is not obj:
                raise KeyError(f"{self.kind} type '{key}' is registered twice")
            self._table[key] = obj
            if kind is not None or key not in self._sub_kind:
                self._sub_kind[key] = kind
            return obj

        return decorator

    def __contains__(self, name: object) -> bool:
        return name in self._table or name in self._lazy

    def names(self, kind: str | None = None) -> list[str]:
        """Every known name (imported or not), or those of one sub-kind (``'backbone'``, ``'head'`` ...)."""
        known = set(self._table) | set(self._lazy)
        return sorted(n for n in known if kind is None or self._sub_kind.get(n) == kind)

    def kind_of(self, name: str) -> str | None:
        return self._sub_kind.get(name)

    def target(self, name: str) -> str | None:
        """The catalog's ``"module:Class"`` for ``name``, if it has one."""
        return self._lazy.get(name)

    def get(self, name: str) -> Callable:
        if name in self._table:
            return self._table[name]
        if name in self._lazy:
            return self._import(name)
        close = difflib.get_close_matches(name, self.names(), n=1, cutoff=0.6)
        hint = f" — did you mean '{close[0]}'?" if close else f"; known types: {', '.join(self.names())}"
        raise ConfigError(f"unknown {self.kind} type '{name}'{hint}")

    def _import(self, name: str) -> Callable:
        module_name, class_name = self._lazy[name].split(":")
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as err:
            missing = (err.name or "").split(".")[0]
            if not missing or missing == "seglab":
                raise
            package = catalog.PIP_NAMES.get(missing, missing)
            raise ConfigError(
                f"{self.kind} type '{name}' needs the package '{package}', which is not installed: "
                f"pip install {package}"
            ) from None
        if name not in self._table:  # a module that defines the class without registering it
            self._table[name] = getattr(module, class_name)
        return self._table[name]

    def build(self, cfg: dict, **defaults: Any) -> Any:
        """Build ``cfg['type']`` with the other keys as arguments (``defaults`` fill gaps)."""
        if not isinstance(cfg, dict) or "type" not in cfg:
            raise ConfigError(f"a {self.kind} config must be a dict with a 'type' key, got {cfg!r}")
        args = copy.deepcopy({k: v for k, v in cfg.items() if k != "type"})
        type_name = cfg["type"]
        obj = type_name if callable(type_name) else self.get(type_name)
        for key, value in defaults.items():
            args.setdefault(key, value)
        what = f"{self.kind} type '{getattr(obj, '__name__', obj)}'"
        check_arguments(obj, args, what)
        report_ignored(obj, args, what)
        try:
            return obj(**args)
        except TypeError as err:
            if "argument" not in str(err):
                raise
            raise ConfigError(f"{what}: {err}") from None


_REPORTED: set[str] = set()
# MMSegmentation configs import these for types seglab implements itself (e.g. mmpretrain.ConvNeXt).
OPENMMLAB_PACKAGES = {"mmseg", "mmpretrain", "mmdet", "mmcv", "mmengine", "mmcls"}


def report_ignored(cls: Callable, args: dict, where: str) -> None:
    """Say once, naming the key, when a config sets an argument seglab accepts but does not act on.

    A class lists those arguments with their defaults in ``IGNORED_ARGS``; only a value other than the
    default is reported, so MMSegmentation's own configs stay quiet."""
    for key, default in getattr(cls, "IGNORED_ARGS", {}).items():
        if key in args and args[key] != default and f"{where}.{key}" not in _REPORTED:
            _REPORTED.add(f"{where}.{key}")
            logger.warning(f"{where}: {key}={args[key]!r} is accepted for compatibility and ignored by seglab")


def import_custom_modules(custom_imports: dict | None) -> None:
    """MMEngine's ``custom_imports=dict(imports=[...], allow_failed_imports=False)``: modules that register types."""
    if not custom_imports:
        return
    if not isinstance(custom_imports, dict) or not isinstance(custom_imports.get("imports"), list | tuple | str):
        raise ConfigError("custom_imports must be dict(imports=['module', ...], allow_failed_imports=False)")
    names: Iterable[str] = custom_imports["imports"]
    for name in [names] if isinstance(names, str) else names:
        if name.split(".")[0] in OPENMMLAB_PACKAGES:
            logger.info(
                f"custom_imports: '{name}' is not imported; seglab provides the types configs use from it "
                "(nothing to install)"
            )
            continue
        try:
            importlib.import_module(name)
        except ImportError as err:
            if custom_imports.get("allow_failed_imports", False):
                continue
            raise ConfigError(
                f"custom_imports: cannot import '{name}' ({err}); check the module name and sys.path"
            ) from None


def accepted_arguments(obj: Callable) -> list[str] | None:
    """Keyword names ``obj`` takes; for a class, following ``**kwargs`` up to its base classes.

    ``None`` means anything goes (a ``**kwargs`` that leads nowhere we can inspect)."""
    targets = [c.__init__ for c in obj.__mro__ if "__init__" in vars(c)] if inspect.isclass(obj) else [obj]
    names: list[str] = []
    for target in targets:
        try:
            params = inspect.signature(target).parameters
        except (TypeError, ValueError):
            return None
        names += [
            n
            for n, p in params.items()
            if n != "self" and p.kind not in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
        ]
        if not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
            return list(dict.fromkeys(names))
        if target is object.__init__:
            break
    return None


def check_arguments(obj: Callable, args: dict, what: str) -> None:
    """Fail with the accepted keys when ``args`` has a key ``obj`` does not take."""
    accepted = accepted_arguments(obj)
    if accepted is None:
        return
    unknown = [k for k in args if k not in accepted]
    if unknown:
        key = unknown[0]
        close = difflib.get_close_matches(key, accepted, n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        raise ConfigError(f"{what} got an unknown key '{key}'{hint}; accepted keys: {', '.join(accepted)}")


DATASETS = Registry("dataset", catalog.DATASETS)
TRANSFORMS = Registry("transform", catalog.TRANSFORMS)
MODELS = Registry("model", catalog.MODELS)
METRICS = Registry("metric", catalog.METRICS)
HOOKS = Registry("hook", catalog.HOOKS)
PARAM_SCHEDULERS = Registry("param scheduler", catalog.PARAM_SCHEDULERS)
