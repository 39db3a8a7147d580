"""Helpers shared by the zoo recorders (``record_zoo_*.py``): run with the reference environment's Python.

Builds MMSegmentation 1.2.2 models from its own config files, records their key -> shape lists and fresh
initialisation statistics, gives a module's weights seeded random values at a realistic scale, and writes
gzipped JSON and ``torch.save`` files byte-stably (gzip mtime 0, compact JSON in a fixed key order, the
``.pt`` serialised in memory so its archive name does not depend on the output path).
"""

from __future__ import annotations

import copy
import gzip
import importlib.util
import io
import json
import logging
import math
import sys
import warnings
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import mmcv
import mmengine
import mmseg
import torch
from mmengine.config import Config, ConfigDict
from mmseg.registry import MODELS
from mmseg.utils import register_all_modules
from torch import nn

CONFIGS = Path(mmseg.__file__).parent / ".mim" / "configs"
KEYS_ABOUT = (
    "state_dict key -> shape of MODELS.build(cfg.model) with pretrained=None, SyncBN->BN; "
    "configs maps 'folder/config_name' to an index into lists"
)
INIT_ABOUT = (
    "per-parameter [name, numel, mean, std] after MODELS.build + model.init_weights(), pretrained=None, "
    "SyncBN->BN; mean/std are averages over the seeds' per-model values; std 0 means the parameter is constant "
    "(mean is then its exact value)"
)
NORMS = (nn.modules.batchnorm._BatchNorm, nn.GroupNorm, nn.LayerNorm, nn.modules.instancenorm._InstanceNorm)


def setup() -> None:
    """One thread, quiet logs and warnings, MMSegmentation's registries filled."""
    torch.set_num_threads(1)
    logging.disable(logging.WARNING)
    warnings.simplefilter("ignore")
    register_all_modules()


def parse_out_dir(usage: str) -> tuple[Path, set[str]]:
    """``OUT_DIR [part ...]`` from the command line; no parts means all of them."""
    if len(sys.argv) < 2:
        sys.exit(usage)
    out = Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    return out, set(sys.argv[2:])


# ------------------------------------------------------------------------------------------ writing files
def write_parts(
    out: Path,
    parts: set[str],
    family: str,
    recorder: str,
    *,
    keys: Callable[[], dict] | None = None,
    fixtures: Callable[[dict], dict] | None = None,
    init: Callable[[], dict] | None = None,
    convert: Callable[[], dict] | None = None,
) -> None:
    """Write the asked-for parts (all when ``parts`` is empty), in this order, each stamped with ``recorder``:
    ``{family}_keys.json.gz``, ``{family}_fixtures.json.gz`` + ``.pt`` (``fixtures`` fills the tensor dict it is
    given and returns the cases), ``{family}_init_stats.json.gz`` and ``{family}_convert.pt`` (stamped by
    ``convert`` itself, its tensors' shared storage kept)."""
    if keys is not None and (not parts or "keys" in parts):
        write_json(out / f"{family}_keys.json.gz", dict(keys(), recorder=recorder))
    if fixtures is not None and (not parts or "fixtures" in parts):
        tensors: dict = {}
        cases = fixtures(tensors)
        write_json(out / f"{family}_fixtures.json.gz", dict(cases, recorder=recorder))
        write_tensors(out / f"{family}_fixtures.pt", dict(tensors, recorder=recorder))
    if init is not None and (not parts or "init" in parts):
        write_json(out / f"{family}_init_stats.json.gz", dict(init(), recorder=recorder))
    if convert is not None and (not parts or "convert" in parts):
        write_tensors(out / f"{family}_convert.pt", convert(), copy_tensors=False)


def write_json(path: Path, record: Any) -> None:
    path.write_bytes(gzip.compress(json.dumps(record, separators=(",", ":")).encode(), mtime=0))
    print(f"{path} ({path.stat().st_size} bytes)")


def write_tensors(path: Path, tensors: dict[str, Any], copy_tensors: bool = True) -> None:
    """A dict of tensors (and strings), serialised in memory: the same bytes on every run. With
    ``copy_tensors=False`` tensors that share storage (a converter's views of its input) are saved once."""
    buffer = io.BytesIO()
    torch.save(detached(tensors) if copy_tensors else tensors, buffer)
    path.write_bytes(buffer.getvalue())
    print(f"{path} ({path.stat().st_size} bytes)")


def detached(value: Any) -> Any:
    """Tensors as contiguous copies of their own (no shared storage saved), dicts and lists walked."""
    if torch.is_tensor(value):
        return value.detach().clone().contiguous()
    if isinstance(value, dict):
        return {k: detached(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(detached(v) for v in value)
    return value


# ------------------------------------------------------------------------------------------ configs and models
def config_names(*folders: str, pattern: str = "*.py") -> list[str]:
    """``folder/config_name`` of MMSegmentation 1.2.2's config files, folder by folder, sorted within each."""
    return [f"{folder}/{p.stem}" for folder in folders for p in sorted((CONFIGS / folder).glob(pattern))]


def sync_bn_to_bn(value: Any) -> Any:
    if isinstance(value, dict):
        out = {k: sync_bn_to_bn(v) for k, v in value.items()}
        if out.get("type") == "SyncBN":
            out["type"] = "BN"
        return ConfigDict(out) if isinstance(value, ConfigDict) else out
    if isinstance(value, list | tuple):
        return type(value)(sync_bn_to_bn(v) for v in value)
    return value


def model_config(name: str, backbone_init_none: bool = False) -> ConfigDict:
    """A config's model: ``pretrained=None``, SyncBN -> BN, optionally no backbone ``init_cfg`` (a download)."""
    model = copy.deepcopy(Config.fromfile(str(CONFIGS / f"{name}.py")).model)
    model.pretrained = None
    if backbone_init_none and "backbone" in model:
        model.backbone.init_cfg = None
    return sync_bn_to_bn(model)


def build(cfg: dict, device: str = "meta") -> nn.Module:
    with torch.device(device):
        return MODELS.build(cfg)


def keys_of(module: nn.Module) -> list[list]:
    return [[k, list(v.shape)] for k, v in module.state_dict().items()]


def key_record(
    names: Iterable[str], device: str | Callable[[str], str] = "meta", backbone_init_none: bool = False
) -> dict:
    """Each config's key -> shape list, identical lists stored once; ``device`` may depend on the name."""
    configs, lists = {}, []
    for name in names:
        on = device(name) if callable(device) else device
        keys = keys_of(build(model_config(name, backbone_init_none), on))
        if keys not in lists:
            lists.append(keys)
        configs[name] = lists.index(keys)
    about = (
        KEYS_ABOUT.replace("None, SyncBN", "None, backbone init_cfg=None, SyncBN") if backbone_init_none else KEYS_ABOUT
    )
    return dict(about=about, mmsegmentation=mmseg.__version__, configs=configs, lists=lists)


def init_rows(name: str, seeds: int = 8, backbone_init_none: bool = False, prepare: Callable | None = None) -> list:
    """``[key, numel, mean, std]`` per parameter of a fresh model over ``seeds`` seeds (see tests/records/README).

    Only per-seed summaries are kept (a ViT-L's values over eight seeds would not fit in memory)."""
    summaries: dict[str, list[tuple]] = {}
    for seed in range(seeds):
        torch.manual_seed(seed)
        model = build(model_config(name, backbone_init_none), "cpu")
        if prepare is not None:
            prepare(model)
        model.init_weights()
        for key, param in model.named_parameters():
            v = param.detach().double().flatten()
            constant = bool((v == v[0]).all())
            std = v.std().item() if v.numel() > 1 else 0.0
            summaries.setdefault(key, []).append((v.numel(), float(v[0]), constant, v.mean().item(), std))
        del model
    rows = []
    for key, per_seed in summaries.items():
        numel, first = per_seed[0][0], per_seed[0][1]
        if all(constant and value == first for _, value, constant, _, _ in per_seed):
            rows.append([key, numel, first, 0.0])
        elif numel == 1:  # one value: its mean and spread over the seeds
            values = torch.tensor([value for _, value, _, _, _ in per_seed], dtype=torch.float64)
            rows.append([key, 1, float(f"{values.mean().item():.4g}"), float(f"{values.std().item():.6g}")])
        else:
            mean = sum(s[3] for s in per_seed) / seeds
            std = sum(s[4] for s in per_seed) / seeds
            rows.append([key, numel, float(f"{mean:.4g}"), float(f"{std:.6g}")])
    return rows


def init_record(configs: dict[str, list], seeds: int = 8) -> dict:
    return dict(
        about=INIT_ABOUT,
        mmsegmentation=mmseg.__version__,
        mmengine=mmengine.__version__,
        mmcv=mmcv.__version__,
        torch=torch.__version__,
        seeds=seeds,
        configs=configs,
    )


def init_stats(names: Iterable[str], backbone_init_none: bool = False) -> dict:
    """``init_record`` of ``init_rows`` (8 seeds) of each named config, in the order given."""
    return init_record({name: init_rows(name, backbone_init_none=backbone_init_none) for name in names})


def load_converter(name: str) -> Any:
    """MMSegmentation's ``tools/model_converters/{name}.py`` as a freshly executed module."""
    path = CONFIGS.parent / "tools" / "model_converters" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# ------------------------------------------------------------------------------------------ random weights
def randomize(module: nn.Module, gen: torch.Generator, special: Callable | None = None) -> nn.Module:
    """Seeded random weights and statistics at a realistic scale, so that a wrong op shows in the outputs.

    He-scaled ``weight`` matrices/kernels, biases around 0.1, norm scales in 0.5-1.5, BN running means around
    0.5 and variances in 0.5-2, PReLU slopes in 0.1-0.3, any other float tensor (position embeddings, tokens,
    tables, scales) N(0, 0.2^2); non-persistent buffers (causal masks ...) are left alone.
    ``special(module_name, module, tensor_name, tensor, gen)`` may return a value first.
    """
    with torch.no_grad():
        for mod_name, mod in module.named_modules():
            tensors = list(mod.named_parameters(recurse=False)) + list(mod.named_buffers(recurse=False))
            for name, t in tensors:
                if t is None or not t.is_floating_point() or name in mod._non_persistent_buffers_set:
                    continue  # a non-persistent buffer (a causal mask ...) is code, not a weight
                value = special(mod_name, mod, name, t, gen) if special is not None else None
                if value is None:
                    value = default_value(mod, name, t, gen)
                t.copy_(value)
    return module


def uniform(shape: torch.Size, low: float, high: float, gen: torch.Generator) -> torch.Tensor:
    return low + (high - low) * torch.rand(shape, generator=gen)


def default_value(mod: nn.Module, name: str, t: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    if isinstance(mod, NORMS):
        if name == "running_mean":
            return 0.5 + 0.2 * torch.randn(t.shape, generator=gen)
        if name == "running_var":
            return uniform(t.shape, 0.5, 2.0, gen)
        if name == "weight":
            return uniform(t.shape, 0.5, 1.5, gen)
        return 0.1 * torch.randn(t.shape, generator=gen)
    if isinstance(mod, nn.PReLU):
        return uniform(t.shape, 0.1, 0.3, gen)
    if "bias" in name:
        return 0.1 * torch.randn(t.shape, generator=gen)
    if "weight" in name and t.dim() >= 2:
        return torch.randn(t.shape, generator=gen) * math.sqrt(2.0 / max(1, t[0].numel()))
    return 0.2 * torch.randn(t.shape, generator=gen)


def flat_state(module: nn.Module) -> torch.Tensor:
    """The floating ``state_dict`` entries flattened and concatenated in ``state_dict`` order."""
    return torch.cat([v.detach().flatten().float() for v in module.state_dict().values() if v.is_floating_point()])


def seeded(shape: Iterable[int], gen: torch.Generator, scale: float = 1.0) -> torch.Tensor:
    return scale * torch.randn(tuple(shape), generator=gen)


def outputs_of(out: Any) -> list[torch.Tensor]:
    """A module's output as a flat list of tensors (nested lists, e.g. ViT's (map, class token), flattened)."""
    if isinstance(out, tuple | list):
        return [t for o in out for t in outputs_of(o)]
    return [out]


# ------------------------------------------------------------------------------------------ numeric cases
def module_cases(cases: dict[str, dict], tensors: dict, special: Callable | None = None) -> dict:
    """``module_case`` of each case in turn, its index in ``cases`` as its seed."""
    return {name: module_case(name, spec, tensors, seed, special) for seed, (name, spec) in enumerate(cases.items())}


def shared_inputs(channels: list[int], sizes: list[tuple[int, int]], batch: int = 1) -> tuple[str, list[list]]:
    """The name (``inputs/4x6x8/17x15_9x8_5x4``) and shapes of a set of feature maps shared by cases."""
    name = "inputs/{}/{}".format("x".join(map(str, channels)), "_".join(f"{h}x{w}" for h, w in sizes))
    return name, [[batch, c, h, w] for c, (h, w) in zip(channels, sizes, strict=True)]


def module_case(
    name: str,
    spec: dict,
    tensors: dict,
    seed: int,
    special: Callable | None = None,
    call: Callable | None = None,
    prepare: Callable | None = None,
) -> dict:
    """Build ``spec['type']`` with ``spec['kwargs']``, randomise it, run it in eval mode on the seeded inputs
    ``spec['inputs']`` (shapes ``spec['input_shapes']``, made once and kept in ``tensors``) and record its
    flat state and outputs. Returns the case's JSON entry (``spec`` plus output shapes and keys).
    ``prepare(module, inputs)`` runs before the state is recorded, ``call(module, inputs)`` replaces the call."""
    gen = torch.Generator().manual_seed(seed)
    entry = copy.deepcopy(spec)
    module = build(dict(type=spec["type"], **copy.deepcopy(spec["kwargs"])), "cpu")
    randomize(module, gen, special).eval()
    inputs = []
    for i, shape in enumerate(spec["input_shapes"]):
        key = f"{spec['inputs']}/{i}"
        if key not in tensors:
            tensors[key] = seeded(shape, gen)
        inputs.append(tensors[key])
    if prepare is not None:
        with torch.no_grad():
            prepare(module, inputs)
    state = flat_state(module)  # before any forward: a training-mode call updates BN statistics
    with torch.no_grad():
        if call is not None:
            out = call(module, inputs)
        else:
            out = module(inputs[0] if spec.get("call") == "backbone" else inputs)
    outs = outputs_of(out)
    tensors[f"{name}/state"] = state
    for i, o in enumerate(outs):
        tensors[f"{name}/out/{i}"] = o
    entry.update(output_shapes=[list(o.shape) for o in outs], keys=keys_of(module))
    return entry


def own_inputs_case(
    name: str,
    type_: str,
    call: str,
    kwargs: dict,
    shapes: list,
    tensors: dict,
    seed: int,
    special: Callable | None = None,
    run: Callable | None = None,
) -> dict:
    """A case with its own inputs ``<case>/in/<i>`` (the cascade_fixtures format): type, call, kwargs, shapes,
    keys; ``special`` and ``run`` (how to call the module) go to ``module_case``."""
    spec = dict(type=type_, call=call, kwargs=kwargs, inputs=f"{name}/in", input_shapes=shapes)
    entry = module_case(name, spec, tensors, seed, special, run)
    del entry["inputs"]
    return entry
