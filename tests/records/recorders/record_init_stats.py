"""Record how MMSegmentation 1.2.2 initialises a freshly built model: per-parameter mean and std over seeds.

Run with the reference environment's Python:
    $HOME/mmref/bin/python tests/records/recorders/record_init_stats.py \
        tests/records/init_stats/mmseg_1.2.2_init_stats.json.gz

For each of the FCN, DeepLabV3 and DeepLabV3+ R18/R50/R101 Cityscapes 80k configs: ``model.pretrained = None``,
SyncBN -> BN, then for each of eight seeds ``torch.manual_seed``, ``MODELS.build`` and ``model.init_weights()``
as MMEngine's runner does (``_zoo.init_rows``: constant parameters get std 0 and their exact value, the others
the averages over the seeds of each model's mean and std). Seeded: running it twice writes identical bytes.
"""

from __future__ import annotations

import sys
from pathlib import Path

from _zoo import init_record, init_rows, setup, write_json

RECORDER = "tests/records/recorders/record_init_stats.py"
FAMILIES = ("deeplabv3plus", "deeplabv3", "fcn")
DEPTHS = ("r18", "r50", "r101")


def main(out: Path) -> None:
    setup()
    names = [f"{family}_{depth}-d8_4xb2-80k_cityscapes-512x1024" for family in FAMILIES for depth in DEPTHS]
    rows = {name: init_rows(f"{name.split('_')[0]}/{name}") for name in names}
    out.parent.mkdir(parents=True, exist_ok=True)
    write_json(out, dict(init_record(rows), recorder=RECORDER))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
