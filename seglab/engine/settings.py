"""Process-wide settings from the config (seed, determinism, threads) and RNG state for resume."""

from __future__ import annotations

import logging
import random

import cv2
import numpy as np
import torch

from seglab import dist
from seglab.errors import ConfigError

logger = logging.getLogger("seglab")

RUNNER_KEYS = {
    "model",
    "train_dataloader",
    "val_dataloader",
    "test_dataloader",
    "train_cfg",
    "val_cfg",
    "test_cfg",
    "val_evaluator",
    "test_evaluator",
    "optim_wrapper",
    "param_scheduler",
    "default_hooks",
    "custom_hooks",
    "env_cfg",
    "log_processor",
    "log_level",
    "load_from",
    "resume",
    "randomness",
    "work_dir",
    "visualizer",
    "vis_backends",
    "default_scope",
    "launcher",
    "tta_model",
    "tta_pipeline",
    "auto_scale_lr",
    "compile",
    "find_unused_parameters",
}
# MMEngine runner keys seglab accepts but does not act on: one log line each when set (docs/config_reference.md)
NOT_APPLIED = {
    "model_wrapper_cfg": "distributed runs use torch's DistributedDataParallel (find_unused_parameters is read)",
    "sync_bn": "multi-GPU runs convert BatchNorm to SyncBatchNorm anyway; torch has no SyncBatchNorm on CPU",
    "activation_checkpointing": "activations are stored as usual (no memory saving)",
    "efficient_conv_bn_eval": "ConvModule's own efficient_conv_bn_eval argument is the way to turn it on",
    "experiment_name": "a run is named by its timestamp",
    "runner_type": "seglab has one runner, MMEngine's Runner (FlexibleRunner and strategies are not offered)",
}
RUNNER_KEYS |= set(NOT_APPLIED)


def check_key_spelling(cfg: dict) -> None:
    """A top-level key one typo away from a runner key (``trian_cfg``) would silently leave the base
    value in force; fail instead. Other top-level names are config variables and stay allowed."""
    for key in cfg:
        if key in RUNNER_KEYS or len(key) < 6:
            continue
        close = [k for k in RUNNER_KEYS if edit_distance(key, k) == 1]
        if close:
            raise ConfigError(f"config key '{key}' is not used by seglab — did you mean '{close[0]}'?")


def edit_distance(a: str, b: str) -> int:
    """Insertions, deletions, substitutions and swaps of neighbours needed to turn ``a`` into ``b``."""
    rows = [[i + j if i * j == 0 else 0 for j in range(len(b) + 1)] for i in range(len(a) + 1)]
    for i in range(1, len(a) + 1):
        for j in range(1, len(b) + 1):
            cost = a[i - 1] != b[j - 1]
            rows[i][j] = min(rows[i - 1][j] + 1, rows[i][j - 1] + 1, rows[i - 1][j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                rows[i][j] = min(rows[i][j], rows[i - 2][j - 2] + 1)
    return rows[len(a)][len(b)]


def apply_environment(cfg: dict) -> int:
    """Apply ``randomness`` and ``env_cfg``; returns the seed in use (random when none is set)."""
    randomness = dict(cfg.get("randomness") or {})
    unknown = set(randomness) - {"seed", "deterministic", "diff_rank_seed"}
    if unknown:
        raise ConfigError(
            f"randomness: unknown key(s) {sorted(unknown)}; accepted: seed, deterministic, diff_rank_seed"
        )
    seed = randomness.get("seed")
    if seed is None:
        seed = int(dist.broadcast_object(random.randint(0, 2**31 - 1)))
    if randomness.get("diff_rank_seed"):
        seed += dist.rank()
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    if randomness.get("deterministic"):
        torch.use_deterministic_algorithms(True, warn_only=True)
        torch.backends.cudnn.benchmark = False
        torch.backends.cudnn.deterministic = True
    env = cfg.get("env_cfg") or {}
    if torch.cuda.is_available() and not randomness.get("deterministic"):
        torch.backends.cudnn.benchmark = bool(env.get("cudnn_benchmark", False))
    threads = (env.get("mp_cfg") or {}).get("opencv_num_threads")
    if threads is not None:
        cv2.setNumThreads(int(threads))
    return int(seed)


# The keys each evaluation loop reads (val_loss, fold_bn and winograd are seglab's own).
LOOP_KEYS = {"val_cfg": {"type", "fp16", "val_loss"}, "test_cfg": {"type", "fp16", "fold_bn", "winograd"}}


def collect_notices(cfg: dict) -> list[str]:
    """One line for each setting seglab accepts but cannot act on here."""
    notices = [f"{key} is not applied by seglab: {why}" for key, why in NOT_APPLIED.items() if cfg.get(key)]
    if (cfg.get("env_cfg") or {}).get("resource_limit") is not None:
        notices.append("env_cfg.resource_limit is not applied: seglab leaves the open-file limit as it is")
    if cfg.get("data_preprocessor") and "data_preprocessor" not in (cfg.get("model") or {}):
        notices.append("top-level data_preprocessor is not applied: set model.data_preprocessor")
    for key, loop, lower in (
        ("val_cfg", "ValLoop", ""),
        ("test_cfg", "TestLoop", "; `seglab test --amp` predicts in lower precision"),
    ):
        if (cfg.get(key) or {}).get("fp16") or (cfg.get(key) or {}).get("type", loop) != loop:
            notices.append(f"{key} type/fp16 are not applied: seglab runs its own {loop}, in float32{lower}")
        unknown = set(cfg.get(key) or {}) - LOOP_KEYS[key]
        if unknown:
            notices.append(f"{key} {sorted(unknown)} not applied: {loop} knows {', '.join(sorted(LOOP_KEYS[key]))}")
    extra = set(cfg.get("log_processor") or {}) - {"type", "window_size", "by_epoch"}
    if extra:
        notices.append(f"log_processor {sorted(extra)} not applied: lines use MMSegmentation's default format")
    for key in ("val_evaluator", "test_evaluator"):
        if isinstance(cfg.get(key), list | tuple) and len(cfg[key]) > 1:
            notices.append(f"{key} lists {len(cfg[key])} metrics; seglab evaluates the first one only")
    extra = set(cfg.get("visualizer") or {}) - {"type", "name", "vis_backends"}
    if extra:
        notices.append(f"visualizer {sorted(extra)} not applied: backends write to <timestamp>/vis_data")
    if (cfg.get("optim_wrapper") or {}).get("loss_scale", "dynamic") != "dynamic":
        notices.append("optim_wrapper.loss_scale is not applied: float16 runs use torch's dynamic GradScaler")
    # visualizer.vis_backends: every MMEngine backend seglab knows is honoured (engine/vis_backends.py)
    start = ((cfg.get("env_cfg") or {}).get("mp_cfg") or {}).get("mp_start_method")
    if start and start != "fork":
        notices.append(
            f"env_cfg.mp_cfg.mp_start_method='{start}' is not applied; data workers use the platform default"
        )
    return notices


def rng_state() -> dict:
    """Python, NumPy and torch generator states as tensors and plain values (weights-only loadable)."""
    name, keys, pos, has_gauss, cached = np.random.get_state()
    state = {
        "python": random.getstate(),
        "numpy": {
            "keys": torch.from_numpy(keys.astype(np.int64)),
            "pos": int(pos),
            "has_gauss": int(has_gauss),
            "cached_gaussian": float(cached),
        },
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng(state: dict) -> None:
    if "python" in state:
        version, internal, gauss = state["python"]
        random.setstate((version, tuple(internal), gauss))
    if "numpy" in state:
        n = state["numpy"]
        np.random.set_state(
            ("MT19937", n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["cached_gaussian"])
        )
    if "torch" in state:
        torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
