"""Record how MMEngine 0.10.7 resolves MMSegmentation 1.2.2's non-dataset ``_base_`` files, and their lr curves.

Run with the reference environment's Python:
    $HOME/mmref/bin/python tests/records/recorders/record_configs.py \
        tests/records/configs/mmseg_1.2.2_base_configs.json.gz

``configs`` maps each ``_base_/models/*.py``, ``_base_/schedules/*.py`` and ``_base_/default_runtime.py`` to
``Config.fromfile(path, import_custom_modules=False).to_dict()`` (tuples as ``{"__tuple__": [...]}``).
``lr_curves`` maps each schedule to ``[iteration, lr]`` pairs: the lr of a one-parameter ``nn.Linear``'s only
group during that iteration, its schedulers (MMSegmentation's ``PARAM_SCHEDULERS``) stepped after every
iteration as ``ParamSchedulerHook`` does. Nothing is random: running it twice writes identical bytes.
"""

from __future__ import annotations

import gzip
import json
import logging
import sys
import warnings
from pathlib import Path
from typing import Any

import mmengine
import mmseg
import torch
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper
from mmseg.registry import PARAM_SCHEDULERS
from mmseg.utils import register_all_modules

CONFIGS = Path(mmseg.__file__).parent / ".mim" / "configs"
FIRST_ITERATIONS = (0, 1, 2, 3, 10, 100, 1000)


def encode(value: Any) -> Any:
    """Config values as JSON, tuples kept apart from lists."""
    if isinstance(value, dict):
        return {key: encode(v) for key, v in value.items()}
    if isinstance(value, tuple):
        return {"__tuple__": [encode(v) for v in value]}
    if isinstance(value, list):
        return [encode(v) for v in value]
    return value


def sample_points(schedulers: list[dict], max_iters: int) -> list[int]:
    """The first iterations, each scheduler's begin/end neighbourhood and sevenths of its span, the last one."""
    points = set(FIRST_ITERATIONS) | {max_iters - 1}
    for spec in schedulers:
        begin, end = spec.get("begin", 0), min(spec.get("end", max_iters), max_iters)
        points |= {begin - 1, begin, begin + 1, end - 2, end - 1, end, end + 1}
        points |= {int(begin + (end - begin) * k / 7) for k in range(1, 7)}
    return sorted(p for p in points if 0 <= p < max_iters)


def lr_curve(cfg: Config) -> list[list]:
    """The lr of the only parameter group during each sampled iteration of an IterBasedTrainLoop."""
    model = torch.nn.Linear(1, 1, bias=False)
    wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    max_iters = cfg.train_cfg.max_iters
    schedulers = [PARAM_SCHEDULERS.build(dict(spec, optimizer=wrapper)) for spec in cfg.param_scheduler]
    wanted, curve = set(sample_points(cfg.param_scheduler, max_iters)), []
    for iteration in range(max_iters):
        if iteration in wanted:
            curve.append([iteration, wrapper.optimizer.param_groups[0]["lr"]])
        for scheduler in schedulers:
            scheduler.step()
    return curve


def main(out: Path) -> None:
    logging.disable(logging.WARNING)
    warnings.simplefilter("ignore")
    register_all_modules()
    names = sorted(
        [
            p.relative_to(CONFIGS).as_posix()
            for folder in ("models", "schedules")
            for p in (CONFIGS / "_base_" / folder).glob("*.py")
        ]
        + ["_base_/default_runtime.py"]
    )
    configs, curves = {}, {}
    for name in names:
        cfg = Config.fromfile(str(CONFIGS / name), import_custom_modules=False)
        configs[name] = encode(cfg.to_dict())
        if name.startswith("_base_/schedules/"):
            curves[name] = lr_curve(cfg)
    record = dict(
        versions=dict(mmsegmentation=mmseg.__version__, mmengine=mmengine.__version__, torch=torch.__version__),
        how="mmengine.config.Config.fromfile(path, import_custom_modules=False).to_dict(); "
        'tuples as {"__tuple__": [...]}, lists as JSON arrays',
        configs=configs,
        lr_curves_how="per schedule file: [iteration, lr] pairs, the lr of param group 0 during that iteration of an "
        "IterBasedTrainLoop (schedulers stepped after every iteration), built with mmengine build_optim_wrapper + "
        "mmseg PARAM_SCHEDULERS on a one-parameter model",
        lr_curves=curves,
        recorder="tests/records/recorders/record_configs.py",
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(gzip.compress(json.dumps(record, separators=(",", ":")).encode(), mtime=0))
    print(f"{len(configs)} configs, {len(curves)} lr curves -> {out} ({out.stat().st_size} bytes)")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
