"""Write a resolved config back as Python source that ``Config.fromfile`` loads to equal values.

The saved copies (``work_dirs/<cfg>/<cfg>.py``, ``<timestamp>/vis_data/config.py``) are read again on
resume and by people, so the text holds data only: literals, ``dict(key=...)`` for identifier keys, a
dict literal ``{'key': ...}`` for any other key, and ``float('inf')``/``float('nan')`` for non-finite
numbers (a ``Path`` is saved as its text). A value with no such form is refused with its key named, never
written as code.
"""

from __future__ import annotations

import ast
import keyword
import math
import unicodedata
from pathlib import PurePath
from typing import Any

from seglab.errors import ConfigError

# names the saved text calls (a top-level variable of the same name would shadow them), and names the
# loader treats specially
RESERVED_NAMES = {"dict", "float", "_base_"}
SCALARS = (type(None), bool, int, float, str, bytes)


def is_stable_identifier(key: Any) -> bool:
    """A Python identifier the parser keeps as written (NFKC-stable: 'ﬁle' would be read as 'file')."""
    return isinstance(key, str) and key.isidentifier() and unicodedata.normalize("NFKC", key) == key


def is_plain_name(key: Any) -> bool:
    """A key Python accepts as a variable or keyword-argument name and keeps as written."""
    return is_stable_identifier(key) and not keyword.iskeyword(key)


def is_variable_name(key: Any) -> bool:
    """A top-level key the saved file can hold as a variable that loads back (no ``__x``: the loader drops it)."""
    return is_plain_name(key) and not key.startswith("__") and key not in RESERVED_NAMES


def config_text(cfg: dict) -> str:
    """The whole config as ``name = value`` lines, sorted by name."""
    for key in cfg:
        if not is_variable_name(key):
            raise ConfigError(
                f"cannot save the config: top-level key {key!r} is not a plain Python name (a top-level key "
                "becomes a variable of the saved file); rename it, or move it into a dict"
            )
    lines = [f"{key} = {format_value(cfg[key], 0, key)}" for key in sorted(cfg)]
    return "\n".join(lines) + "\n"


def format_value(value: Any, indent: int = 0, where: str = "value") -> str:
    """Python source for one config value, in the ``dict(key=value)`` style configs are written in;
    ``where`` is the value's dotted key, named when the value cannot be written."""
    pad = " " * (indent + 4)
    if isinstance(value, dict):
        if not value:
            return "dict()"
        if all(is_plain_name(k) for k in value):
            items = [f"{pad}{k}={format_value(v, indent + 4, f'{where}.{k}')}" for k, v in value.items()]
            return "dict(\n" + ",\n".join(items) + ")"
        items = [
            f"{pad}{_format_key(k, where)}: {format_value(v, indent + 4, f'{where}[{k!r}]')}" for k, v in value.items()
        ]
        return "{\n" + ",\n".join(items) + "}"
    if isinstance(value, list | tuple):
        opening, closing = ("[", "]") if isinstance(value, list) else ("(", ")")
        if not value:
            return opening + closing
        parts = [format_value(v, indent + 4, f"{where}[{i}]") for i, v in enumerate(value)]
        comma = "," if isinstance(value, tuple) and len(value) == 1 else ""
        if all(_is_scalar(v) for v in value):
            return f"{opening}{', '.join(parts)}{comma}{closing}"
        return f"{opening}\n" + "".join(f"{pad}{p},\n" for p in parts) + f"{' ' * indent}{closing}"
    return _format_scalar(value, where)


def _is_scalar(value: Any) -> bool:
    return isinstance(value, SCALARS) or _numpy_scalar(value)


def _numpy_scalar(value: Any) -> bool:
    return type(value).__module__ == "numpy" and getattr(value, "ndim", None) == 0 and hasattr(value, "item")


def _format_key(key: Any, where: str) -> str:
    if isinstance(key, tuple):
        inner = [_format_key(k, where) for k in key]
        return "(" + ", ".join(inner) + ("," if len(inner) == 1 else "") + ")"
    if not _is_scalar(key):
        raise ConfigError(
            f"cannot save the config: {where} has a key of type {type(key).__name__} ({_short(key)}); "
            "use a string or a number as the key"
        )
    return _format_scalar(key, where)


def _format_scalar(value: Any, where: str) -> str:
    if _numpy_scalar(value):
        value = value.item()  # np.float32(0.5) -> 0.5: equal, and written as a plain literal
    elif isinstance(value, PurePath):
        value = str(value)  # a work_dir or load_from set as a Path: every reader takes its text
    kind = type(value)
    if kind is float and not math.isfinite(value):
        return "float('nan')" if math.isnan(value) else f"float('{value!r}')"
    if kind in SCALARS:
        text = repr(value)
        # the loader reads '{{_base_.x}}' anywhere in the file as a reference; in a string it is text, so
        # write its second brace as an escape (repr never puts '{' inside an escape sequence)
        return text.replace("{{", "{\\x7b") if kind in (str, bytes) else text
    text = repr(value)  # other types (sets, complex numbers): only if the repr is a literal that loads back
    try:
        same = "{{" not in text and type(ast.literal_eval(text)) is kind and ast.literal_eval(text) == value
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        same = False
    if not same:
        raise ConfigError(
            f"cannot save the config: {where} is a {kind.__name__} ({_short(value)}), which has no Python "
            "literal form; write it as a number, string, list, tuple or dict"
        )
    return text


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
