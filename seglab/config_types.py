"""Type checks of the config keys the runner reads, so ``model=(1, 2)`` fails in one line naming the key.

Only the shape is checked (a dict, a list, a string): what goes inside is checked by the code that builds it.
``None`` is accepted everywhere, as MMEngine accepts ``val_dataloader=None`` and friends, and so is a built
object (a hook, a model) put in the config through the Python API. Lives in the core
layer beside ``config.py`` so the runner and ``init_model`` can both call it.
"""

from __future__ import annotations

from typing import Any

from seglab.errors import ConfigError

DICT, LIST, DICT_OR_LIST = "a dict", "a list", "a dict or a list"
LOADER = {"dataset": DICT, "sampler": DICT, "batch_sampler": DICT, "collate_fn": DICT}
# key -> (its expected shape, the keys one level in and theirs)
SHAPES: dict[str, tuple[str, dict[str, str]]] = {
    "model": (
        DICT,
        {
            "data_preprocessor": DICT,
            "backbone": DICT,
            "neck": DICT_OR_LIST,
            "decode_head": DICT_OR_LIST,
            "auxiliary_head": DICT_OR_LIST,
            "train_cfg": DICT,
            "test_cfg": DICT,
        },
    ),
    "train_dataloader": (DICT, LOADER),
    "val_dataloader": (DICT, LOADER),
    "test_dataloader": (DICT, LOADER),
    "train_cfg": (DICT, {}),
    "val_cfg": (DICT, {}),
    "test_cfg": (DICT, {}),
    "optim_wrapper": (DICT, {"optimizer": DICT, "paramwise_cfg": DICT, "clip_grad": DICT}),
    "optimizer": (DICT, {}),
    "param_scheduler": (DICT_OR_LIST, {}),
    "default_hooks": (DICT, {}),
    "custom_hooks": (LIST, {}),
    "env_cfg": (DICT, {"mp_cfg": DICT, "dist_cfg": DICT}),
    "log_processor": (DICT, {}),
    "visualizer": (DICT, {"vis_backends": LIST}),
    "vis_backends": (LIST, {}),
    "randomness": (DICT, {}),
    "val_evaluator": (DICT_OR_LIST, {}),
    "test_evaluator": (DICT_OR_LIST, {}),
    "auto_scale_lr": (DICT, {}),
    "custom_imports": (DICT, {}),
    "tta_model": (DICT, {}),
    "tta_pipeline": (LIST, {}),
    "train_pipeline": (LIST, {}),
    "test_pipeline": (LIST, {}),
}
# lists whose items are each one dict (a hook, a scheduler, a metric, a transform)
ITEMS_ARE_DICTS = {"custom_hooks", "param_scheduler", "val_evaluator", "test_evaluator"}
ITEMS_ARE_DICTS |= {"vis_backends", "tta_pipeline", "train_pipeline", "test_pipeline"}
TEXT = {"work_dir": "a string (a folder)", "load_from": "a string (a checkpoint path or URL)"}
# plain values that are never the shape asked for; None and built objects (a model, a hook, a DataLoader
# passed through the Python API, as MMEngine's Runner accepts) pass
NOT_A_DICT = (list, tuple, set, str, bytes, int, float, complex)
WRONG = {
    DICT: NOT_A_DICT,
    LIST: (dict, set, str, bytes, int, float, complex),
    DICT_OR_LIST: (set, str, bytes, int, float, complex),
}
NOT_TEXT = (list, tuple, set, dict, bytes, int, float, complex)
EXAMPLES = {DICT: "dict(...)", LIST: "[dict(...), ...]", DICT_OR_LIST: "dict(...)"}


def check_config_types(cfg: dict, keys: tuple[str, ...] | None = None) -> None:
    """Fail on the first of ``keys`` (default: every key the runner reads) whose value has the wrong shape."""
    for key in (*SHAPES, *TEXT) if keys is None else keys:
        value = cfg.get(key)
        if key in TEXT:
            if isinstance(value, NOT_TEXT):  # a str or a Path
                _fail(key, TEXT[key], value, f"{key}='...'")
            continue
        if key not in SHAPES:
            continue
        shape, inner = SHAPES[key]
        _check(key, value, shape)
        if isinstance(value, dict):
            for name, inner_shape in inner.items():
                _check(f"{key}.{name}", value.get(name), inner_shape)
            if key == "default_hooks":
                for name, hook in value.items():
                    _check(f"default_hooks.{name}", hook, DICT)
        if key in ITEMS_ARE_DICTS and isinstance(value, list | tuple):
            for index, item in enumerate(value):
                _check(f"{key}[{index}]", item, DICT)


def _check(key: str, value: Any, shape: str) -> None:
    if isinstance(value, WRONG[shape]):
        name = key.rsplit(".", 1)[-1]
        _fail(key, shape, value, EXAMPLES[shape] if name.endswith("]") else f"{name}={EXAMPLES[shape]}")


def _fail(key: str, expected: str, value: Any, example: str) -> None:
    text = repr(value).replace("\n", "\\n")  # one line, whatever the items' reprs hold
    text = text if len(text) <= 40 else text[:37] + "..."
    kind = "dict" if isinstance(value, dict) else type(value).__name__  # not 'ConfigDict'
    raise ConfigError(
        f"config key '{key}' must be {expected}, but the config gives {_article(kind)} {kind} ({text}); "
        f"write it as {example}"
    )


def _article(word: str) -> str:
    return "an" if word[:1] in "aeiou" else "a"
