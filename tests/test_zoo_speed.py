"""``benchmarks/zoo_speed.py``'s driver: one config per family that both toolboxes ship, and the Markdown table
with the best time of each side, their ratio and the per-round ratio range (the noise band)."""

from __future__ import annotations

import argparse
import importlib.util
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "zoo_speed.py"


def _load():
    spec = importlib.util.spec_from_file_location("zoo_speed", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_representative_configs_keep_to_what_mmsegmentation_ships() -> None:
    zoo_speed = _load()
    available = {"fcn/fcn_r18-d8_4xb2-80k_cityscapes-512x1024", "pspnet/pspnet_r50-d8_4xb2-40k_cityscapes-512x1024"}
    chosen = zoo_speed.representative_configs(["fcn", "pspnet", "upernet"], {}, available)
    assert chosen == {"fcn": "fcn/fcn_r18-d8_4xb2-80k_cityscapes-512x1024", "pspnet": sorted(available)[1]}
    assert zoo_speed.representative_configs(["fcn"], {})["fcn"].startswith("fcn/fcn_r50-d8")


def test_markdown_table_reports_best_times_ratio_and_noise_band() -> None:
    zoo_speed = _load()
    args = argparse.Namespace(mode="train", batch=2)
    runs = {
        "fcn": {"seglab": [{"ms": 900.0}, {"ms": 1000.0}], "mmseg": [{"ms": 1000.0}, {"ms": 1000.0}]},
        "san": {"seglab": [{"ms": 500.0}], "mmseg": [{"error": "mmcv ops"}]},
    }
    table = zoo_speed.markdown_table({"fcn": "fcn/fcn_x", "san": "san/san_y"}, runs, args).splitlines()
    assert table[0].startswith("| family | config | seglab s/iter | MMSegmentation s/iter | time ratio |")
    assert table[2] == "| fcn | fcn_x | 0.900 | 1.000 | 0.90 | 0.90-1.00 |"
    assert table[3] == "| san | san_y | 0.500 | n/a | n/a | n/a |"
