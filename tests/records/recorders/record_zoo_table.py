"""Record MMSegmentation 1.2.2's model zoo as data: ``seglab/zoo_table.json.gz`` (package data, not a test record).

Run with the reference environment's Python:
    $HOME/mmref/bin/python tests/records/recorders/record_zoo_table.py seglab/zoo_table.json.gz

``models``: one row per model of every ``configs/*/metafile.yaml`` (metafile order): name (folder/stem of the
config), family, collection, dataset, crop and iters (``crop_size`` else the train pipeline's ``RandomCrop``, and
``train_cfg.max_iters``, of the config resolved by ``Config.fromfile``), batch size, mIoU, mIoU(ms+flip), other
metrics (mDice, Dice, RMSE), weights URL, memory and architecture. Metafile mistakes are corrected with the
original kept: config paths naming no file (``metafile_name``), checkpoints that belong to a config without a
row (``metafile_config``) and one garbled URL host. ``unpublished``: config files no row names, with the test
dataset's type, crop and iters. The fine-tuned Hub model paired with a config is seglab's own fact, kept in
``seglab/fileio/hub_model_table.py`` alone, not here.
Nothing is random: running it twice writes identical bytes.
"""

from __future__ import annotations

import gzip
import json
import logging
import sys
import warnings
from pathlib import Path

import mmseg
import yaml
from mmengine.config import Config

CONFIGS = Path(mmseg.__file__).parent / ".mim" / "configs"
NAME_FIXES = {  # metafile Config stem -> the file that exists
    "deeplabv3plus/ddeeplabv3plus_r101-d16-mg124_4xb2-40k_cityscapes-512x1024": (
        "deeplabv3plus/deeplabv3plus_r101-d16-mg124_4xb2-40k_cityscapes-512x1024"
    ),
    "emanet/eemanet_r50-d8_4xb2-80k_cityscapes-512x1024": "emanet/emanet_r50-d8_4xb2-80k_cityscapes-512x1024",
    "poolformer/fpn_poolformer_s36_8xb4-40k_ade20k-512x512": "poolformer/fpn_poolformer_s36_8x4_512x512_40k_ade20k",
}
CONFIG_MOVES = {  # (metafile Config, checkpoint directory) -> the config the checkpoint was trained with
    (
        "bisenetv1/bisenetv1_r50-d32-in1k-pre_4xb4-160k_coco-stuff164k-512x512",
        "bisenetv1_r101-d32_lr5e-3_4x4_512x512_160k_coco-stuff164k",
    ): "bisenetv1/bisenetv1_r101-d32_4xb4-160k_coco-stuff164k-512x512",
    (
        "deeplabv3plus/deeplabv3plus_r101-d8_4xb4-160k_ade20k-512x512",
        "deeplabv3plus_r101-d8_512x512_80k_ade20k",
    ): "deeplabv3plus/deeplabv3plus_r101-d8_4xb4-80k_ade20k-512x512",
    (
        "fastfcn/fastfcn_r50-d32_jpu_aspp_4xb2-80k_cityscapes-512x1024",
        "fastfcn_r50-d32_jpu_aspp_4x4_512x1024_80k_cityscapes",
    ): "fastfcn/fastfcn_r50-d32_jpu_aspp_4xb4-80k_cityscapes-512x1024",
    (
        "fastfcn/fastfcn_r50-d32_jpu_psp_4xb2-80k_cityscapes-512x1024",
        "fastfcn_r50-d32_jpu_psp_4x4_512x1024_80k_cityscapes",
    ): "fastfcn/fastfcn_r50-d32_jpu_psp_4xb4-80k_cityscapes-512x1024",
    (
        "fastfcn/fastfcn_r50-d32_jpu_enc_4xb2-80k_cityscapes-512x1024",
        "fastfcn_r50-d32_jpu_enc_4x4_512x1024_80k_cityscapes",
    ): "fastfcn/fastfcn_r50-d32_jpu_enc_4xb4-80k_cityscapes-512x1024",
    (
        "ocrnet/ocrnet_hr18s_4xb4-80k_ade20k-512x512",
        "ocrnet_hr18s_512x512_160k_ade20k",
    ): "ocrnet/ocrnet_hr18s_4xb4-160k_ade20k-512x512",
    (
        "ocrnet/ocrnet_hr18_4xb4-80k_ade20k-512x512",
        "ocrnet_hr18_512x512_160k_ade20k",
    ): "ocrnet/ocrnet_hr18_4xb4-160k_ade20k-512x512",
    (
        "pspnet/pspnet_r50b-d32_4xb2-80k_cityscapes-512x1024",
        "pspnet_r50-d32_512x1024_80k_cityscapes",
    ): "pspnet/pspnet_r50-d32_4xb2-80k_cityscapes-512x1024",
    (
        "twins/twins_pcpvt-l_uperhead_8xb2-160k_ade20k-512x512",
        "twins_svt-l_uperhead_8x2_512x512_160k_ade20k",
    ): "twins/twins_svt-l_uperhead_8xb2-160k_ade20k-512x512",
}
URL_FIXES = {"https://download.oz1z1penmmlab.com/": "https://download.openmmlab.com/"}
OTHER_METRICS = ("mDice", "Dice", "RMSE")


def crop_and_iters(name: str) -> tuple[Config, list | None, int | None]:
    cfg = Config.fromfile(str(CONFIGS / f"{name}.py"), import_custom_modules=False)
    crop = cfg.get("crop_size")
    if crop is None:
        for step in cfg.get("train_pipeline", []) or []:
            if step.get("type") == "RandomCrop":
                crop = step["crop_size"]
    return cfg, list(crop) if crop is not None else None, (cfg.get("train_cfg") or {}).get("max_iters")


def row(family: str, model: dict) -> dict:
    metafile_config = Path(model["Config"]).relative_to("configs").with_suffix("").as_posix()
    weights = model.get("Weights")
    for bad, good in URL_FIXES.items():
        weights = weights.replace(bad, good) if weights else weights
    name = NAME_FIXES.get(metafile_config, metafile_config)
    moved = CONFIG_MOVES.get((metafile_config, weights.split("/")[-2] if weights else ""))
    name = moved or name
    _, crop, iters = crop_and_iters(name)
    results, meta = model["Results"], model.get("Metadata", {})
    metrics = results.get("Metrics", {})
    out = dict(name=name, family=family, collection=model.get("In Collection"), dataset=results.get("Dataset"))
    out |= dict(crop=crop, iters=iters, batch_size=meta.get("Batch Size"))
    out |= dict(mIoU=metrics.get("mIoU"), mIoU_ms_flip=metrics.get("mIoU(ms+flip)"), weights=weights)
    out |= dict(memory_gb=meta.get("Memory (GB)"), architecture=meta.get("Architecture"))
    out["other_metrics"] = {k: metrics[k] for k in OTHER_METRICS if k in metrics} or None
    out["alias"] = model.get("Alias")
    if metafile_config != name and not moved:
        out["metafile_name"] = Path(metafile_config).name
    if moved:
        out["metafile_config"] = metafile_config
    return {k: v for k, v in out.items() if v is not None}


def unpublished(named: set[str]) -> list[dict]:
    rows = []
    for path in sorted(CONFIGS.glob("*/*.py")):
        name = f"{path.parent.name}/{path.stem}"
        if path.parent.name == "_base_" or name in named:
            continue
        cfg, crop, iters = crop_and_iters(name)
        dataset = ((cfg.get("test_dataloader") or {}).get("dataset") or {}).get("type")
        rows.append(dict(name=name, family=path.parent.name, dataset=dataset, crop=crop, iters=iters))
    return rows


def main(out: Path) -> None:
    logging.disable(logging.WARNING)
    warnings.simplefilter("ignore")
    models = [
        row(metafile.parent.name, model)
        for metafile in sorted(CONFIGS.glob("*/metafile.yaml"))
        for model in yaml.safe_load(metafile.read_text()).get("Models") or []
    ]
    source = (
        "MMSegmentation 1.2.2 configs/*/metafile.yaml (crop and iters from the resolved config); unpublished: its "
        "config files that no metafile row names"
    )
    record = dict(source=source, models=models, unpublished=unpublished({m["name"] for m in models}))
    out.write_bytes(gzip.compress(json.dumps(record, separators=(",", ":")).encode(), mtime=0))
    print(f"{len(models)} models, {len(record['unpublished'])} unpublished -> {out} ({out.stat().st_size} bytes)")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
