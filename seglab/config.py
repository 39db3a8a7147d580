"""Python config files with MMSegmentation 1.x (MMEngine) semantics.

A config is a Python file whose top-level variables are the settings. ``_base_`` names one or
more files whose settings are merged underneath: dicts merge key by key, everything else
(lists, tuples, numbers) is replaced, and ``_delete_=True`` inside a dict replaces the base
dict instead of merging into it. ``{{_base_.key}}`` inside a file refers to a merged base value.
"""

from __future__ import annotations

import ast
import copy
import difflib
import functools
import logging
import re
import traceback
import types
from pathlib import Path
from typing import Any

from seglab.config_dump import config_text, is_stable_identifier, is_variable_name
from seglab.errors import ConfigError

CONFIGS_DIR = Path(__file__).resolve().parent / "configs"


def shipped_configs() -> dict[str, Path]:
    """``family/stem`` -> file, for every config seglab ships (``_base_`` excluded)."""
    return {
        f"{path.parent.name}/{path.stem}": path
        for path in sorted(CONFIGS_DIR.glob("*/*.py"))
        if path.parent.name != "_base_" and not path.name.startswith("_")
    }


SCOPE_PREFIXES = ("mmseg::", "seglab::")
DELETE_KEY = "_delete_"
BASE_KEY = "_base_"
_BASE_REF = re.compile(r"\{\{\s*_base_\.([\w\.]+)\s*\}\}")


class ConfigDict(dict):
    """A dict whose keys are also attributes (``cfg.model.decode_head.num_classes``)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for key, value in self.items():
            dict.__setitem__(self, key, _wrap(value))

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(_missing_key_message(name, self)) from None

    def __setattr__(self, name: str, value: Any) -> None:
        self[name] = value

    def __delattr__(self, name: str) -> None:
        del self[name]

    def __setitem__(self, key: str, value: Any) -> None:
        super().__setitem__(key, _wrap(value))

    def __deepcopy__(self, memo: dict) -> ConfigDict:
        return type(self)({k: copy.deepcopy(v, memo) for k, v in self.items()})

    def to_dict(self) -> dict:
        """Plain dicts, lists and tuples all the way down."""
        return _unwrap(self)


def _wrap(value: Any) -> Any:
    if isinstance(value, dict) and not isinstance(value, ConfigDict):
        return ConfigDict(value)
    if isinstance(value, list):
        return [_wrap(v) for v in value]
    if isinstance(value, tuple):
        return tuple(_wrap(v) for v in value)
    return value


def _unwrap(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _unwrap(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_unwrap(v) for v in value]
    if isinstance(value, tuple):
        return tuple(_unwrap(v) for v in value)
    return value


def _missing_key_message(name: str, mapping: dict) -> str:
    close = difflib.get_close_matches(name, [str(k) for k in mapping], n=1)
    hint = f" — did you mean '{close[0]}'?" if close else ""
    return f"config has no key '{name}'{hint}"


class Config(ConfigDict):
    """A fully merged config. ``Config.fromfile`` reads a file; ``dump`` writes one back."""

    def __init__(self, cfg_dict: dict | None = None, filename: str | None = None) -> None:
        super().__init__(cfg_dict or {})
        object.__setattr__(self, "filename", filename)

    def __setattr__(self, name: str, value: Any) -> None:
        if name == "filename":
            object.__setattr__(self, name, value)
        else:
            self[name] = value

    def __deepcopy__(self, memo: dict) -> Config:
        return Config({k: copy.deepcopy(v, memo) for k, v in self.items()}, self.filename)

    @classmethod
    def fromfile(cls, path: str | Path) -> Config:
        """Load a config file, merging its ``_base_`` chain."""
        resolved = resolve_config_path(str(path))
        return cls(_load_file(resolved, chain=()), filename=str(resolved))

    def merge_from_dict(self, options: dict) -> None:
        """Merge ``{'a.b.c': value}`` style overrides; integer parts index into lists."""
        for dotted in options:
            check_option_key(dotted)
        for dotted, value in options.items():
            nested: Any = value
            for part in reversed(str(dotted).split(".")):
                nested = {part: nested}
            merged = merge_into(nested, self, allow_list_keys=True, where="--cfg-options")
            dict.clear(self)
            for key, val in merged.items():
                self[key] = val

    def dump(self, path: str | Path) -> bool:
        """Write the resolved config as a Python file that ``Config.fromfile`` reads back to equal values.

        A config holding a value with no literal form (an object set through the Python API, a class in a
        config file) is not written: a warning names the key and the run goes on (False is returned);
        ``pretty_text`` raises instead."""
        try:
            text = self.pretty_text()
        except ConfigError as err:
            logging.getLogger("seglab").warning(f"{path} not written: {err}")
            return False
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_text(text, encoding="utf-8")
        return True

    def pretty_text(self) -> str:
        """The config as data-only Python source (see ``seglab.config_dump``); a ``ConfigError`` naming the
        key where a value has no such form."""
        return config_text(self)


def _shipped(path: str, where: str) -> Path | None:
    """The shipped config a ``mmseg::``/``seglab::`` path names (an error if there is none), else None."""
    for prefix in SCOPE_PREFIXES:
        if path.startswith(prefix):
            candidate = CONFIGS_DIR / path[len(prefix) :]
            if not candidate.is_file():
                raise ConfigError(f"{where}'{path}' is not a shipped config (looked at {candidate})")
            return candidate
    return None


def resolve_config_path(path: str) -> Path:
    """Find a config given as a path, ``mmseg::family/file.py``, or a shipped ``configs/...`` path."""
    scoped = _shipped(path, "")
    if scoped:
        return scoped
    direct = Path(path)
    if direct.is_file():
        return direct.resolve()
    parts = Path(path).parts
    if "configs" in parts:
        shipped = CONFIGS_DIR.joinpath(*parts[parts.index("configs") + 1 :])
        if shipped.is_file():
            return shipped
    raise ConfigError(f"config file '{path}' does not exist (checked it as given and under {CONFIGS_DIR})")


def _resolve_base(base: str, child: Path) -> Path:
    scoped = _shipped(base, f"{child}: _base_ ")
    if scoped:
        return scoped
    local = (child.parent / base).resolve()
    if local.is_file():
        return local
    stripped = [p for p in Path(base).parts if p not in ("..", ".")]
    shipped = CONFIGS_DIR.joinpath(*stripped)
    if shipped.is_file():
        return shipped
    raise ConfigError(
        f"{child}: _base_ file '{base}' not found (looked at {local} and {shipped}); "
        "fix the path, or use 'mmseg::_base_/...' to inherit a shipped config"
    )


def _load_file(path: Path, chain: tuple[Path, ...]) -> dict:
    if path in chain:
        cycle = " -> ".join(str(p) for p in (*chain, path))
        raise ConfigError(f"_base_ files include each other in a cycle: {cycle}")
    try:
        source = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise ConfigError(
            f"{path} is not a text file (byte {err.start} is not UTF-8): a config is Python source — "
            "check that the path names the .py config, not a checkpoint or an image"
        ) from None
    bases = _read_base_list(source, str(path))
    merged: dict = {}
    owner: dict[str, Path] = {}
    for base in bases:
        base_path = _resolve_base(base, path)
        base_dict = _load_file(base_path, (*chain, path))
        for key in base_dict:
            if key in merged:
                raise ConfigError(
                    f"{path}: key '{key}' is set by two _base_ files ({owner[key]} and {base_path}); "
                    "a key may come from one base only — set it in this file instead"
                )
            owner[key] = base_path
        merged.update(base_dict)
    own = _exec_file(source, path, merged)
    own.pop(BASE_KEY, None)
    return merge_into(own, merged, allow_list_keys=False, where=str(path))


@functools.lru_cache(maxsize=2048)
def _read_base_list(source: str, path: str) -> tuple[str, ...]:
    """The ``_base_`` files a config names, parsed once per text."""
    if BASE_KEY not in source:  # most files (base files, saved configs): no second parse
        return ()
    try:
        tree = ast.parse(source, filename=str(path))
    except SyntaxError as err:
        raise ConfigError(f"{path}:{err.lineno}: syntax error in config: {err.msg}") from None
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == BASE_KEY for t in node.targets):
            try:
                value = ast.literal_eval(node.value)
            except ValueError:
                raise ConfigError(f"{path}: _base_ must be a string or a list of strings") from None
            bases = [value] if isinstance(value, str) else list(value) if isinstance(value, list | tuple) else [value]
            if not all(isinstance(b, str) for b in bases):
                raise ConfigError(f"{path}: _base_ must be a string or a list of strings")
            return tuple(bases)
    return ()


def _exec_file(source: str, path: Path, base: dict) -> dict:
    def base_ref(dotted: str) -> Any:
        value: Any = base
        for part in dotted.split("."):
            try:
                value = value[int(part)] if isinstance(value, list | tuple) else value[part]
            except (KeyError, IndexError, ValueError):
                raise ConfigError(f"{path}: {{{{_base_.{dotted}}}}} names no base value") from None
        return copy.deepcopy(_unwrap(value))

    source = _BASE_REF.sub(lambda m: f"__seglab_base__({m.group(1)!r})", source)
    namespace: dict[str, Any] = {"__file__": str(path), "__name__": "__config__", "__seglab_base__": base_ref}
    try:
        code = _compiled(source, str(path))
    except SyntaxError as err:
        raise ConfigError(f"{path}:{err.lineno}: syntax error in config: {err.msg}") from None
    try:
        exec(code, namespace)
    except NameError as err:
        raise ConfigError(
            f"{path}: {err}. Variables of _base_ files are not visible in the file that inherits "
            "them: define the variable here, or write {{_base_.NAME}}"
        ) from None
    except ImportError as err:
        raise ConfigError(f"{path}: the config imports something that is not installed: {err}") from None
    except Exception as err:  # the file's own code failed: say where, not a traceback into seglab
        line = next(
            (f.lineno for f in reversed(traceback.extract_tb(err.__traceback__)) if f.filename == str(path)), "?"
        )
        raise ConfigError(f"{path}:{line}: running the config raised {type(err).__name__}: {err}") from None
    return {
        key: value
        for key, value in namespace.items()
        if not key.startswith("__") and not isinstance(value, types.ModuleType | types.FunctionType | type)
    }


@functools.lru_cache(maxsize=2048)
def _compiled(source: str, filename: str) -> types.CodeType:
    """Compiled once per text: a base file is read by every config that inherits it."""
    return compile(source, filename, "exec")


def merge_into(child: dict, base: Any, allow_list_keys: bool, where: str) -> Any:
    """Merge ``child`` into a copy of ``base`` the way MMEngine does and return the copy."""
    if isinstance(base, list) and allow_list_keys:
        result_list = list(base)
        for key, value in child.items():
            if not str(key).isdigit() or int(key) >= len(result_list):
                raise ConfigError(f"{where}: index '{key}' is out of range for a list of {len(base)} items")
            index = int(key)
            item = result_list[index]
            result_list[index] = (
                merge_into(value, item, allow_list_keys, where)
                if isinstance(value, dict) and isinstance(item, dict | list)
                else value
            )
        return result_list
    result = dict(base)
    for key, value in child.items():
        if isinstance(value, dict):
            value = dict(value)
            delete = value.pop(DELETE_KEY, False)
            if key in result and not delete:
                target = result[key]
                if not isinstance(target, dict) and not (allow_list_keys and isinstance(target, list)):
                    raise ConfigError(
                        f"{where}: '{key}' is a dict here but a {type(target).__name__} in the base config; "
                        f"add {DELETE_KEY}=True to the dict to replace the base value"
                    )
                result[key] = merge_into(value, target, allow_list_keys, where)
            else:
                result[key] = _strip_delete(value)
        else:
            result[key] = value
    return result


def _strip_delete(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip_delete(v) for k, v in value.items() if k != DELETE_KEY}
    if isinstance(value, list):
        return [_strip_delete(v) for v in value]
    return value


def parse_cli_value(text: str) -> Any:
    """Turn a ``--cfg-options`` value into Python: a literal where possible, else MMEngine's rules
    (``a,b`` is a list, ``true``/``none`` in any case are booleans/None, anything else a string)."""
    if "," in text and not text.strip().startswith(("(", "[", "{", "'", '"')):
        return [parse_cli_value(part) for part in text.split(",") if part != ""]
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        pass
    for number in (int, float):  # as MMEngine: ' 1', inf, -inf, nan
        try:
            return number(text)
        except ValueError:
            pass
    lowered = text.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if lowered == "none":
        return None
    return text


def parse_cfg_options(items: list[str] | None) -> dict:
    """``['a.b=1', 'c=[1,2]']`` -> ``{'a.b': 1, 'c': [1, 2]}``."""
    options: dict = {}
    for item in items or []:
        if "=" not in item:
            raise ConfigError(f"--cfg-options {item!r} is not of the form key=value (e.g. train_cfg.max_iters=100)")
        key, text = item.split("=", 1)
        check_option_key(key)
        value = parse_cli_value(text)
        if isinstance(value, str) and any(c in value for c in "()[]{}'\""):
            shown = text if text.isprintable() else repr(text)
            raise ConfigError(
                f"--cfg-options {key}={shown}: {text!r} is not a valid value (unbalanced brackets or quotes?); "
                "write numbers as 100 or 0.01, text as name, lists as [1,2] or 1,2, tuples as (512,512)"
            )
        options[key] = value
    return options


def check_option_key(key: Any) -> None:
    """An override key is a dotted name (``model.decode_head.num_classes``; a number indexes a list, as in
    MMEngine's ``a.0.b``). Anything else would become a variable the saved config cannot hold."""
    parts = key.split(".") if isinstance(key, str) else [None]
    if not (is_variable_name(parts[0]) and all(_is_key_part(part) for part in parts[1:])):
        raise ConfigError(
            f"--cfg-options key {key!r} is not a dotted name: each part must be a Python identifier (or a list "
            "index, as the 0 in a.0.b), e.g. model.decode_head.num_classes=3"
        )


def _is_key_part(part: str) -> bool:
    return (part.isascii() and part.isdigit()) or is_stable_identifier(part)
