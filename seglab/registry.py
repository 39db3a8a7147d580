"""Name -> class tables: the one place where config strings become objects.

Type names are MMSegmentation's (``BaseSegDataset``, ``RandomCrop``, ``EncoderDecoder`` ...), so
existing configs build unchanged. Classes register themselves with a decorator in the module that
defines them; the imports at the bottom of this file load every such module, so ``import seglab``
always knows every type.
"""

from __future__ import annotations

import copy
import difflib
import inspect
from collections.abc import Callable
from typing import Any

from seglab.errors import ConfigError


class Registry:
    """Maps type names of one kind (datasets, transforms, models, ...) to classes."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._table: dict[str, Callable] = {}

    def register(self, name: str | None = None) -> Callable:
        def decorator(obj: Callable) -> Callable:
            key = name or obj.__name__
            if key in self._table:
                raise KeyError(f"{self.kind} type '{key}' is registered twice")
            self._table[key] = obj
            return obj

        return decorator

    def __contains__(self, name: str) -> bool:
        return name in self._table

    def names(self) -> list[str]:
        return sorted(self._table)

    def get(self, name: str) -> Callable:
        if name in self._table:
            return self._table[name]
        close = difflib.get_close_matches(name, self._table, n=1, cutoff=0.6)
        hint = f" — did you mean '{close[0]}'?" if close else f"; known types: {', '.join(self.names())}"
        raise ConfigError(f"unknown {self.kind} type '{name}'{hint}")

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
        try:
            return obj(**args)
        except TypeError as err:
            if "argument" not in str(err):
                raise
            raise ConfigError(f"{what}: {err}") from None


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


DATASETS = Registry("dataset")
TRANSFORMS = Registry("transform")
MODELS = Registry("model")
METRICS = Registry("metric")
HOOKS = Registry("hook")
PARAM_SCHEDULERS = Registry("param scheduler")

# Load every module that registers types (see the module docstring).
from seglab.data import datasets as _datasets  # noqa: E402,F401
from seglab.data import transforms as _transforms  # noqa: E402,F401
from seglab.engine import optim as _optim  # noqa: E402,F401
from seglab.evaluation import metrics as _metrics  # noqa: E402,F401
from seglab.models import registered as _models  # noqa: E402,F401
