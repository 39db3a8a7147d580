"""MMEngine's visualisation backends: where scalars, validation pictures and the config go.

``visualizer=dict(vis_backends=[dict(type='LocalVisBackend'), dict(type='WandbVisBackend', ...)])`` takes
the names and arguments of MMEngine 0.10.7. Each backend has the same small interface (``add_scalars``,
``add_image``, ``add_config``, ``close``); ``log.ScalarWriter`` fans out to the configured ones. A
backend's client package is imported only when the config names it, and only on rank 0.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import re
from collections.abc import MutableMapping
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from seglab.errors import ConfigError, install_hint

logger = logging.getLogger("seglab")


class VisBackend:
    """Receives scalars, pictures and the config; does nothing unless a subclass overrides it."""

    PACKAGE: tuple[str, str] | None = None  # (module to import, seglab extra that installs it)

    def add_config(self, cfg: Any) -> None: ...

    def add_image(self, name: str, image: np.ndarray, step: int = 0) -> None: ...

    def add_scalars(self, scalars: dict, step: int = 0, file_path: str | None = None) -> None: ...

    def close(self) -> None: ...


class LocalVisBackend(VisBackend):
    """``scalars.json`` (one JSON object per call, with ``step``), ``vis_image/<name>_<step>.png``, ``config.py``."""

    def __init__(
        self,
        save_dir: str,
        img_save_dir: str = "vis_image",
        config_save_file: str = "config.py",
        scalar_save_file: str = "scalars.json",
    ) -> None:
        if not config_save_file.endswith(".py") or not scalar_save_file.endswith(".json"):
            raise ConfigError("LocalVisBackend: config_save_file must end in .py and scalar_save_file in .json")
        self.save_dir = Path(save_dir)
        self.save_dir.mkdir(parents=True, exist_ok=True)
        self.img_dir = self.save_dir / img_save_dir
        self.config_file = self.save_dir / config_save_file
        self.scalar_file = self.save_dir / scalar_save_file

    def add_config(self, cfg: Any) -> None:
        cfg.dump(self.config_file)

    def add_image(self, name: str, image: np.ndarray, step: int = 0) -> None:
        self.img_dir.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(self.img_dir / f"{name}_{step}.png"), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))

    def add_scalars(self, scalars: dict, step: int = 0, file_path: str | None = None) -> None:
        line = json.dumps({**scalars, "step": step}) + "\n"
        for path in [self.scalar_file] + ([self.save_dir / file_path] if file_path else []):
            with path.open("a") as f:
                f.write(line)


class TensorboardVisBackend(VisBackend):
    """Event files in ``save_dir``: every numeric scalar, the pictures (HWC, RGB) and the config as text."""

    PACKAGE = ("tensorboard", "tensorboard")

    def __init__(self, save_dir: str) -> None:
        from torch.utils.tensorboard import SummaryWriter

        self.writer = SummaryWriter(str(save_dir))
        self._skipped: set[str] = set()

    def add_config(self, cfg: Any) -> None:
        self.writer.add_text("config", cfg.pretty_text())

    def add_image(self, name: str, image: np.ndarray, step: int = 0) -> None:
        self.writer.add_image(name, image, step, dataformats="HWC")

    def add_scalars(self, scalars: dict, step: int = 0, file_path: str | None = None) -> None:
        for key, value in scalars.items():
            if isinstance(value, int | float | np.number):
                self.writer.add_scalar(key, value, step)
            elif key not in self._skipped:  # MMEngine warns and skips these too
                self._skipped.add(key)
                logger.warning(f"TensorboardVisBackend: '{key}' is {type(value).__name__}, not a number; skipped")

    def close(self) -> None:
        self.writer.close()


class WandbVisBackend(VisBackend):
    """A W&B run: ``wandb.init(**init_kwargs)`` (``dir`` defaults to ``save_dir``), ``wandb.log`` per call
    (W&B counts its own steps, as in MMEngine), the config and ``run.log_code`` at the start."""

    PACKAGE = ("wandb", "wandb")
    IGNORED_ARGS = {"watch_kwargs": None}  # MMEngine uses it in add_graph, which no seglab/MMSeg hook calls

    def __init__(
        self,
        save_dir: str,
        init_kwargs: dict | None = None,
        define_metric_cfg: dict | list | None = None,
        commit: bool | None = True,
        log_code_name: str | None = None,
        watch_kwargs: dict | None = None,
    ) -> None:
        import wandb

        Path(save_dir).mkdir(parents=True, exist_ok=True)
        self.init_kwargs = {"dir": str(save_dir), **dict(init_kwargs or {})}
        if define_metric_cfg is not None and not isinstance(define_metric_cfg, dict | list):
            raise ConfigError("WandbVisBackend: define_metric_cfg must be a dict {metric: summary} or a list of dicts")
        self.commit = commit
        self.log_code_name = log_code_name
        self.wandb = wandb
        self.run = wandb.init(**self.init_kwargs)
        if isinstance(define_metric_cfg, dict):
            for metric, summary in define_metric_cfg.items():
                self.run.define_metric(metric, summary=summary)
        for metric_cfg in define_metric_cfg if isinstance(define_metric_cfg, list) else []:
            self.run.define_metric(**metric_cfg)

    def add_config(self, cfg: Any) -> None:
        self.run.config.update(cfg.to_dict(), allow_val_change=self.init_kwargs.get("allow_val_change", False))
        self.run.log_code(name=self.log_code_name)

    def add_image(self, name: str, image: np.ndarray, step: int = 0) -> None:
        self.run.log({name: self.wandb.Image(image)}, commit=self.commit)

    def add_scalars(self, scalars: dict, step: int = 0, file_path: str | None = None) -> None:
        self.run.log(dict(scalars), commit=self.commit)

    def close(self) -> None:
        self.run.finish()


class MLflowVisBackend(VisBackend):
    """An MLflow run in ``tracking_uri`` (default: a file store in ``save_dir``, as MMEngine): metrics with their
    step, ``tags``, ``params`` and the flattened config as params, ``config.py`` and the pictures as artifacts;
    at the end, work_dir files ending in ``artifact_suffix`` are logged as artifacts too."""

    PACKAGE = ("mlflow", "mlflow")

    def __init__(
        self,
        save_dir: str,
        exp_name: str | None = None,
        run_name: str | None = None,
        tags: dict | None = None,
        params: dict | None = None,
        tracking_uri: str | None = None,
        artifact_suffix: str | tuple | list = (".json", ".log", ".py", "yaml"),
        tracked_config_keys: list | tuple | None = None,
        artifact_location: str | None = None,
    ) -> None:
        Path(save_dir).mkdir(parents=True, exist_ok=True)
        uri = tracking_uri or Path(save_dir).resolve().as_uri()
        if uri.startswith("file:"):  # MLflow 3 keeps its file store behind this switch; MMEngine's default is one
            os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
        from urllib.request import url2pathname

        import mlflow

        self.mlflow = mlflow
        self.store = (
            Path(url2pathname(uri.split(":", 1)[1].removeprefix("//"))) if uri.startswith("file:") else None
        )  # a local store
        self.suffix = (artifact_suffix,) if isinstance(artifact_suffix, str) else tuple(artifact_suffix)
        self.tracked = tracked_config_keys
        self.work_dir = Path(save_dir)  # build_backends sets the run's work_dir
        mlflow.set_tracking_uri(uri)
        name = exp_name or "Default"
        if mlflow.get_experiment_by_name(name) is None:
            mlflow.create_experiment(name, artifact_location=artifact_location)
        mlflow.set_experiment(name)
        mlflow.start_run(run_name=run_name, tags=tags)
        if params:
            mlflow.log_params(params)

    def add_config(self, cfg: Any) -> None:
        missing = [k for k in self.tracked or [] if k not in cfg]
        if missing:
            raise ConfigError(f"MLflowVisBackend: tracked_config_keys {missing} are not keys of the config")
        everything = cfg.to_dict()
        tracked = everything if self.tracked is None else {k: everything[k] for k in self.tracked}
        self.mlflow.log_params(flatten(tracked))
        self.mlflow.log_text(cfg.pretty_text(), "config.py")

    def add_image(self, name: str, image: np.ndarray, step: int = 0) -> None:
        self.mlflow.log_image(image, f"vis_image/{name}_{step}.png")  # MMEngine: '<name>', overwritten each step

    def add_scalars(self, scalars: dict, step: int = 0, file_path: str | None = None) -> None:
        # MLflow rejects some characters in metric names (class names like 'person, individual')
        metrics = {re.sub(r"[^\w\-. /]", "_", k): v for k, v in scalars.items() if isinstance(v, int | float)}
        self.mlflow.log_metrics(metrics, step=step)

    def close(self) -> None:
        # the local store's own folders (experiments hold a meta.yaml) are not artifacts of the run
        skip = (
            [p for p in self.store.iterdir() if (p / "meta.yaml").exists() or p.name == ".trash"] if self.store else []
        )
        for path in sorted(self.work_dir.rglob("*")):
            if path.is_file() and path.name.endswith(self.suffix) and not any(s in path.parents for s in skip):
                folder = path.parent.relative_to(self.work_dir).as_posix()
                self.mlflow.log_artifact(str(path), None if folder == "." else folder)
        self.mlflow.end_run()


def flatten(tree: dict, prefix: str = "") -> dict:
    """MMEngine's MLflow flattening: nested keys joined by '.', lists of dicts indexed, other lists kept."""
    flat: dict = {}
    for key, value in tree.items():
        name = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, MutableMapping):
            flat.update(flatten(value, name))
        elif isinstance(value, list | tuple) and any(isinstance(x, dict) for x in value):
            for i, item in enumerate(value):
                flat.update(flatten(item, f"{name}.{i}") if isinstance(item, dict) else {f"{name}.{i}": item})
        else:
            flat[name] = value
    return flat


BACKENDS: dict[str, type[VisBackend]] = {
    cls.__name__: cls for cls in (LocalVisBackend, TensorboardVisBackend, WandbVisBackend, MLflowVisBackend)
}


def backend_configs(cfg: dict) -> list[dict]:
    """``visualizer.vis_backends`` as a list of dicts; no ``visualizer`` at all means LocalVisBackend (MMEngine)."""
    visualizer = cfg.get("visualizer")
    if visualizer is None:
        return [dict(type="LocalVisBackend")]
    backends = visualizer.get("vis_backends") or []
    return [backends] if isinstance(backends, dict) else list(backends)


def check_backends(configs: list[dict]) -> None:
    """Fail before training on an unknown type or a backend whose package is missing (every rank)."""
    for i, backend in enumerate(configs):
        where = f"visualizer.vis_backends[{i}]"
        name = backend.get("type") if isinstance(backend, dict) else None
        if name not in BACKENDS:
            raise ConfigError(f"{where}: unknown type {name!r}; seglab knows {', '.join(BACKENDS)}")
        package = BACKENDS[name].PACKAGE
        if package and not _importable(package[0]):
            raise_missing(where, name, package)


def raise_missing(where: str, name: str, package: tuple[str, str]) -> None:
    raise ConfigError(
        f"{where}: {name} needs the '{package[0]}' package, which is not installed: "
        + install_hint(package[0], package[1])
    )


def _importable(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # ValueError: a module in sys.modules without a spec
        return False


def build_backends(configs: list[dict], save_dir: Path, work_dir: Path) -> list[VisBackend]:
    """The configured backends, each with ``save_dir`` (``<log_dir>/vis_data``) unless it names its own."""
    from seglab.registry import check_arguments, report_ignored

    check_backends(configs)
    backends = []
    for i, backend in enumerate(configs):
        where = f"visualizer.vis_backends[{i}]"
        cls = BACKENDS[backend["type"]]
        args = {"save_dir": str(save_dir), **{k: v for k, v in backend.items() if k != "type"}}
        check_arguments(cls, args, where)
        report_ignored(cls, args, where)
        try:
            backends.append(cls(**args))
            backends[-1].work_dir = work_dir
        except BaseException as err:
            for built in backends:  # finish the runs already started (a W&B run would stay open)
                built.close()
            if isinstance(err, ImportError):  # found but broken, e.g. torch.utils.tensorboard without tensorboard
                raise_missing(where, cls.__name__, cls.PACKAGE or ("?", "?"))
            raise
    return backends
