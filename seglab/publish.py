"""``seglab publish WORK_DIR OUT_DIR``: a trained model as a folder anyone can load with no config argument
(``init_model(FOLDER)`` or, once uploaded with ``--to hf://USER/REPO``, ``init_model('hf://USER/REPO')``).

The folder holds ``config.py`` (the resolved config, data only), ``model.safetensors`` (the weights alone, the
classes and palette in its metadata; no pickle anywhere) and ``README.md`` (a model card). A published
``config.py`` is read back as data and never executed (``read_data_config``): it may come from anyone's Hub repo.
"""

from __future__ import annotations

import ast
import json
import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from seglab.config import Config
from seglab.errors import CheckpointError, ConfigError, SeglabError
from seglab.fileio import hub
from seglab.fileio.checkpoint import extract_state_dict, read_checkpoint
from seglab.fileio.pretrained import read_safetensors

CONFIG, WEIGHTS, CARD = "config.py", "model.safetensors", "README.md"
META_KEY = "seglab_dataset_meta"  # safetensors metadata (str -> str): the classes and palette, as JSON
logger = logging.getLogger("seglab")


@dataclass
class PublishedModel:
    """A published model read back: where it is, its config (parsed as data) and its checkpoint as a dict."""

    where: str
    config: Config
    checkpoint: dict


# ----------------------------------------------------------------------------- writing
def pick_checkpoint(work_dir: Path, checkpoint: str | Path | None = None) -> tuple[Path, str]:
    """(checkpoint file, why it was chosen): ``checkpoint`` when given, else the newest ``best_*.pth`` (saved
    by ``save_best``), else the one ``last_checkpoint`` names, else the highest ``iter_N``/``epoch_N``."""
    if checkpoint is not None:
        path = Path(checkpoint) if Path(checkpoint).is_file() else work_dir / str(checkpoint)
        if not path.is_file():
            raise CheckpointError(f"--checkpoint '{checkpoint}' is neither a file nor a file in {work_dir}")
        return path, "chosen with --checkpoint"
    best = sorted(work_dir.glob("best_*.pth"), key=lambda p: p.stat().st_mtime)
    if best:
        return best[-1], "the best checkpoint (save_best)"
    marker = work_dir / "last_checkpoint"
    if marker.is_file():
        named = Path(marker.read_text(encoding="utf-8").strip())
        named = named if named.is_absolute() else work_dir / named
        if named.is_file():
            return named, "the latest checkpoint (last_checkpoint)"
    numbered = [
        (int(m[2]), p) for p in work_dir.glob("*.pth") if (m := re.fullmatch(r"(iter|epoch)_(\d+)\.pth", p.name))
    ]
    if numbered:
        return max(numbered)[1], "the latest checkpoint"
    raise CheckpointError(f"no checkpoint in {work_dir} (no best_*.pth, iter_N.pth or epoch_N.pth): train first")


def find_config(work_dir: Path) -> Path:
    """The resolved config training saved: ``WORK_DIR/<config>.py``, else the newest ``*/vis_data/config.py``."""
    top = sorted(work_dir.glob("*.py"))
    if len(top) == 1:
        return top[0]
    saved = sorted(work_dir.glob("*/vis_data/config.py"))
    if saved:
        return saved[-1]
    raise ConfigError(f"no saved config in {work_dir} (<config>.py or <timestamp>/vis_data/config.py)")


def read_metrics(work_dir: Path, step: int | None) -> dict[str, float]:
    """The validation metrics logged at ``step`` (else the last ones) in the work dir's ``scalars.json``."""
    found: dict[str, float] = {}
    for scalars in sorted(work_dir.glob("*/vis_data/scalars.json")):
        for line in scalars.read_text(encoding="utf-8").splitlines():
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if not isinstance(record, dict) or not any(k in record for k in ("mIoU", "aAcc", "mDice", "mFscore")):
                continue
            metrics = {k: v for k, v in record.items() if k not in ("step", "time", "data_time", "iter", "epoch")}
            if step is None or record.get("step") == step or not found:
                found = metrics
    return found


def publish(work_dir: str | Path, out_dir: str | Path, checkpoint: str | Path | None = None, repo: str = "") -> Path:
    """Write ``config.py``, ``model.safetensors`` and ``README.md`` of WORK_DIR's model into ``out_dir``;
    ``repo`` (``hf://USER/REPO``) is the name the card's load command uses. Returns ``out_dir``."""
    from safetensors.torch import save_file

    work_dir, out_dir = Path(work_dir), Path(out_dir)
    if not work_dir.is_dir():
        raise SeglabError(f"work dir '{work_dir}' does not exist: name the folder training wrote (work_dirs/<cfg>)")
    ckpt_path, why = pick_checkpoint(work_dir, checkpoint)
    config_path = find_config(work_dir)
    cfg = read_data_config(config_path)
    ckpt = read_checkpoint(ckpt_path)
    state = {key: value.detach().clone().contiguous() for key, value in extract_state_dict(ckpt, ckpt_path).items()}
    meta = ckpt.get("meta") or {}
    dataset_meta = _plain_meta(meta.get("dataset_meta"))
    out_dir.mkdir(parents=True, exist_ok=True)
    if not cfg.dump(out_dir / CONFIG):
        raise ConfigError(f"the config in {work_dir} has a value with no literal form; it cannot be published")
    save_file(state, str(out_dir / WEIGHTS), metadata={"format": "pt", META_KEY: json.dumps(dataset_meta)})
    step = meta.get("iter") or meta.get("epoch")
    card = model_card(
        name=config_path.stem if config_path.parent == work_dir else work_dir.name,
        cfg=cfg,
        dataset_meta=dataset_meta,
        metrics=read_metrics(work_dir, step),
        checkpoint=f"{ckpt_path.name} ({why}{f', iteration/epoch {step}' if step else ''})",
        load_from=repo or str(out_dir),
    )
    (out_dir / CARD).write_text(card, encoding="utf-8")
    logger.info(f"published {ckpt_path.name} ({why}) to {out_dir}: {CONFIG}, {WEIGHTS}, {CARD}")
    return out_dir


def _plain_meta(dataset_meta: Any) -> dict:
    """Classes and palette as JSON-ready lists (a checkpoint may hold tuples or numpy values)."""
    if not isinstance(dataset_meta, dict) or not dataset_meta.get("classes"):
        return {}
    plain = {"classes": [str(c) for c in dataset_meta["classes"]]}
    if dataset_meta.get("palette") is not None:
        plain["palette"] = [[int(v) for v in colour] for colour in dataset_meta["palette"]]
    return plain


def upload(folder: str | Path, uri: str) -> str:
    """Upload ``folder`` to the Hub repo ``hf://USER/REPO`` (created if missing) with ``huggingface_hub``,
    which reads the token itself (``HF_TOKEN`` or ``huggingface-cli login``); returns the new commit's sha."""
    repo, revision, filename = hub.parse_hf_uri(uri)
    if revision or filename:
        raise SeglabError(f"--to takes hf://USER/REPO (no @REVISION or /FILE), got '{uri}'")
    from huggingface_hub import HfApi

    api = HfApi(endpoint=hub.endpoint())
    try:
        api.create_repo(repo, exist_ok=True)
        info = api.upload_folder(repo_id=repo, folder_path=str(folder), commit_message="seglab publish")
    except Exception as err:  # noqa: BLE001 — no token, refused, offline: one line
        raise SeglabError(f"upload to {uri} failed: {hub.reason(err)} (is HF_TOKEN set?)") from None
    return str(getattr(info, "oid", "") or "")


def model_card(
    name: str, cfg: Config, dataset_meta: dict, metrics: dict[str, float], checkpoint: str, load_from: str
) -> str:
    """The ``README.md`` of a published model: what it is, how to load it, its classes and its metrics."""
    model = cfg.get("model") or {}
    parts = [model.get("type"), (model.get("backbone") or {}).get("type"), (model.get("decode_head") or {}).get("type")]
    lines = [
        "---",
        "library_name: seglab",
        "pipeline_tag: image-segmentation",
        "tags: [seglab, semantic-segmentation]",
        "---",
        f"# {name}",
        "",
        f"Semantic segmentation model trained with seglab from config `{name}` ({' / '.join(p for p in parts if p)}).",
        f"`{WEIGHTS}` holds the weights of {checkpoint}; `{CONFIG}` the resolved config (data only).",
        "",
        "## Load it",
        "",
        "```python",
        "from seglab.inference import inference_model, init_model",
        "",
        f"model = init_model({load_from!r})  # no config argument: the config.py published beside the weights",
        "result = inference_model(model, 'image.jpg')",
        "```",
        "",
        "## Classes",
        "",
        "| index | class | colour (RGB) |",
        "|---|---|---|",
    ]
    palette = dataset_meta.get("palette") or []
    for index, cls in enumerate(dataset_meta.get("classes") or []):
        colour = palette[index] if index < len(palette) else "—"
        lines.append(f"| {index} | {cls} | {colour} |")
    lines += ["", "## Metrics", ""]
    if metrics:
        lines += ["| metric | value |", "|---|---|"]
        lines += [
            f"| {key} | {value:.2f} |" if isinstance(value, float) else f"| {key} | {value} |"
            for key, value in metrics.items()
        ]
        lines.append("\nFrom the validation logged at that checkpoint (`scalars.json` in the work dir).")
    else:
        lines.append("No validation metrics were logged in the work dir.")
    return "\n".join(lines) + "\n"


# ----------------------------------------------------------------------------- reading back
def is_published_folder(path: str | Path) -> bool:
    """Whether ``path`` is a folder ``seglab publish`` wrote (``config.py`` and ``model.safetensors`` in it)."""
    path = Path(path)
    return path.is_dir() and (path / CONFIG).is_file() and (path / WEIGHTS).is_file()


def published_model(source: str | Path) -> PublishedModel | None:
    """The published model at ``source`` (a folder, or ``hf://USER/REPO[@REVISION]`` holding ``config.py`` and
    ``model.safetensors``), or None when ``source`` is neither (a config file, a transformers repo ...)."""
    text = str(source)
    if hub.is_hf_uri(text):
        folder = _hub_folder(text)
        if folder is None:
            return None
    elif is_published_folder(text):
        folder = Path(text)
    else:
        return None
    config = read_data_config(folder / CONFIG, where=text)
    if hub.is_hf_uri(text) and config.get("custom_imports"):
        raise ConfigError(
            f"{text}: config.py names custom_imports; seglab does not import modules a downloaded config names. "
            "Download the folder, check it, and load it with init_model(FOLDER)"
        )
    weights = folder / WEIGHTS
    checkpoint = {"state_dict": read_safetensors(weights), "meta": {"dataset_meta": _stored_meta(weights)}}
    return PublishedModel(text, config, checkpoint)


def _hub_folder(uri: str) -> Path | None:
    """The Hub cache folder holding ``config.py`` and ``model.safetensors`` of ``uri``; None when the repo has
    no ``config.py`` (not a seglab-published repo)."""
    repo, revision, filename = hub.parse_hf_uri(uri)
    if filename:
        return None
    try:
        config = hub.hub_download(repo, CONFIG, revision)
    except hub.HubError as err:
        if "EntryNotFound" in str(err) and "LocalEntryNotFound" not in str(err):
            return None
        raise
    weights = hub.hub_download(repo, WEIGHTS, revision)
    if revision is None:
        logger.info(f"{uri}: no @REVISION given, so the 'main' branch was read (commit {weights.parent.name})")
    if config.parent != weights.parent:  # the branch moved between the two downloads
        raise CheckpointError(f"{uri}: config.py and model.safetensors come from different commits; add @SHA")
    return config.parent


def _stored_meta(weights: Path) -> dict:
    from safetensors import safe_open

    with safe_open(str(weights), "pt") as handle:
        text = (handle.metadata() or {}).get(META_KEY) or "{}"
    try:
        meta = json.loads(text)
    except ValueError:
        return {}
    if not isinstance(meta, dict) or not isinstance(meta.get("classes"), list):
        return {}
    return {"classes": tuple(meta["classes"]), "palette": meta.get("palette")}


# ----------------------------------------------------------------------------- a config as data, never run
_CALLS = {"dict", "float"}


def read_data_config(path: str | Path, where: str = "") -> Config:
    """A config file that holds data only (``name = value`` lines of literals, ``dict(...)`` and
    ``float('inf'/'nan')``, as ``Config.dump`` writes), parsed and never executed. Anything else (an import, a
    call, ``_base_``) is one ``ConfigError`` line: seglab does not run code from a published config."""
    path = Path(path)
    where = where or str(path)
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    except (SyntaxError, ValueError, UnicodeDecodeError) as err:
        raise ConfigError(f"{where}: config.py is not readable Python data ({err})") from None
    values: dict[str, Any] = {}
    for node in tree.body:
        target = node.targets[0] if isinstance(node, ast.Assign) and len(node.targets) == 1 else None
        if not isinstance(target, ast.Name) or target.id == "_base_":
            raise ConfigError(_refusal(where, node, "only `name = value` lines of data are read"))
        values[target.id] = _literal(node.value, where)
    return Config(values, filename=str(path))


def _literal(node: ast.AST, where: str) -> Any:
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.List | ast.Tuple | ast.Set):
        items = [_literal(item, where) for item in node.elts]
        return (
            list(items) if isinstance(node, ast.List) else tuple(items) if isinstance(node, ast.Tuple) else set(items)
        )
    if isinstance(node, ast.Dict) and all(key is not None for key in node.keys):
        return {_literal(k, where): _literal(v, where) for k, v in zip(node.keys, node.values, strict=True)}
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        value = _literal(node.operand, where)
        if isinstance(value, int | float | complex) and not isinstance(value, bool):
            return -value if isinstance(node.op, ast.USub) else value
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add | ast.Sub):
        return ast.literal_eval(node)  # complex numbers (1+2j); literal_eval refuses anything else
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in _CALLS:
        if node.func.id == "dict" and not node.args and all(k.arg for k in node.keywords):
            return {k.arg: _literal(k.value, where) for k in node.keywords}
        special = node.args[0].value if len(node.args) == 1 and isinstance(node.args[0], ast.Constant) else None
        if node.func.id == "float" and not node.keywords and special in ("inf", "-inf", "nan"):
            return float(special)
    raise ConfigError(_refusal(where, node, "values must be literals, dict(...) or float('inf'/'nan')"))


def _refusal(where: str, node: ast.AST, rule: str) -> str:
    code = ast.unparse(node)
    code = code if len(code) <= 60 else code[:57] + "..."
    return (
        f"{where}: config.py line {getattr(node, 'lineno', '?')} is not plain data (`{code}`): {rule}; seglab never "
        "runs code from a published config. Re-publish it with `seglab publish`, or load it with "
        "init_model(CONFIG, CHECKPOINT) from a config you trust"
    )
