"""IoUMetric: a confusion matrix over all evaluated pixels, and the numbers derived from it.

Per class: IoU, Acc (recall), Dice, Fscore, Precision, Recall; overall: aAcc and the means over
classes (mIoU, mAcc, ...), all in percent with two decimals as MMSegmentation reports them.
Classes absent from both labels and predictions give NaN and are left out of the means.
``class_scalars`` gives the per-class columns as flat ``IoU.<class>``/``Acc.<class>`` ... keys (full
precision, in percent) for scalars.json and ``save_best``/``EarlyStoppingHook(monitor=...)``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from seglab import dist
from seglab.errors import ConfigError
from seglab.registry import METRICS

ALLOWED = ("mIoU", "mDice", "mFscore")


@METRICS.register()
class IoUMetric:
    """Accumulates predictions against labels; ``compute`` returns the summary and the class table."""

    IGNORED_ARGS = {"collect_device": "cpu", "output_dir": None, "format_only": False, "prefix": None}

    def __init__(
        self,
        ignore_index: int = 255,
        iou_metrics: Sequence[str] = ("mIoU",),
        nan_to_num: float | None = None,
        beta: float = 1.0,
        collect_device: str = "cpu",
        output_dir: str | None = None,
        format_only: bool = False,
        prefix: str | None = None,
    ) -> None:
        unknown = [m for m in iou_metrics if m not in ALLOWED]
        if unknown:
            raise ConfigError(f"IoUMetric: unknown iou_metrics {unknown}; use any of {list(ALLOWED)}")
        self.ignore_index = ignore_index
        self.metrics = list(iou_metrics)
        self.nan_to_num = nan_to_num
        self.beta = beta
        self.class_names: tuple[str, ...] = ()
        self.confusion: torch.Tensor | None = None
        self._reduced: np.ndarray | None = None  # the confusion summed over processes, set by compute()

    def reset(self, class_names: Sequence[str]) -> None:
        self.class_names = tuple(class_names)
        n = len(self.class_names)
        self.confusion = torch.zeros((n, n), dtype=torch.int64)
        self._reduced = None

    def process(self, samples: Sequence[dict]) -> None:
        """Add each sample's ``pred_sem_seg`` against its ``gt_sem_seg`` to the confusion matrix."""
        n = len(self.class_names)
        for sample in samples:
            pred = sample["pred_sem_seg"].reshape(-1).to("cpu", torch.int64)
            label = sample["gt_sem_seg"].reshape(-1).to("cpu", torch.int64)
            valid = (label != self.ignore_index) & (label >= 0) & (label < n)
            index = label[valid] * n + pred[valid].clamp(0, n - 1)
            self.confusion += torch.bincount(index, minlength=n * n).reshape(n, n)

    def total_confusion(self) -> np.ndarray:
        """The confusion matrix summed over all processes (rows: label, columns: prediction)."""
        return dist.all_reduce_sum(self.confusion.clone()).numpy()

    def compute(self) -> tuple[dict[str, float], dict[str, list[float]]]:
        """(summary such as ``{'aAcc': .., 'mIoU': .., 'mAcc': ..}``, per-class columns)."""
        self._reduced = self.total_confusion().astype(np.float64)
        return summarize(self._reduced, self.metrics, self.beta, self.nan_to_num)

    def class_scalars(self) -> dict[str, float]:
        """``{'IoU.<class>': .., 'Acc.<class>': .., ...}`` of the last ``compute``: the class table's values
        unrounded (percent; NaN for a class absent from labels and predictions unless ``nan_to_num``)."""
        if self._reduced is None:
            return {}
        scalars = {}
        for name, values in metric_columns(self._reduced, self.metrics, self.beta).items():
            values = values * 100
            if self.nan_to_num is not None:
                values = np.nan_to_num(values, nan=self.nan_to_num)
            scalars.update({f"{name}.{cls}": float(v) for cls, v in zip(self.class_names, values)})
        return scalars


def summarize(
    confusion: np.ndarray, metrics: Sequence[str] = ("mIoU",), beta: float = 1.0, nan_to_num: float | None = None
) -> tuple[dict[str, float], dict[str, list[float]]]:
    """Metrics from a confusion matrix (rows: label, columns: prediction)."""
    columns = metric_columns(confusion, metrics, beta)
    intersect = np.diag(confusion)
    a_acc = intersect.sum() / max(confusion.sum(1).sum(), 1)
    summary = {"aAcc": round(float(a_acc) * 100, 2)}
    for name, values in columns.items():
        summary[f"m{name}"] = round(float(np.nanmean(values)) * 100, 2) if np.any(~np.isnan(values)) else float("nan")
    per_class = {}
    for name, values in columns.items():
        values = np.round(values * 100, 2)
        if nan_to_num is not None:
            values = np.nan_to_num(values, nan=nan_to_num)
        per_class[name] = [float(v) for v in values]
    return summary, per_class


def metric_columns(confusion: np.ndarray, metrics: Sequence[str], beta: float = 1.0) -> dict[str, np.ndarray]:
    """Per-class IoU, Acc, Dice, Fscore, Precision, Recall (fractions, NaN where undefined) as asked."""
    intersect = np.diag(confusion)
    area_label = confusion.sum(1)
    area_pred = confusion.sum(0)
    with np.errstate(divide="ignore", invalid="ignore"):
        columns: dict[str, np.ndarray] = {}
        if "mIoU" in metrics:
            columns["IoU"] = intersect / (area_label + area_pred - intersect)
            columns["Acc"] = intersect / area_label
        if "mDice" in metrics:
            columns["Dice"] = 2 * intersect / (area_label + area_pred)
            columns.setdefault("Acc", intersect / area_label)
        if "mFscore" in metrics:
            precision = intersect / area_pred
            recall = intersect / area_label
            columns["Fscore"] = (1 + beta**2) * precision * recall / (beta**2 * precision + recall)
            columns["Precision"] = precision
            columns["Recall"] = recall
    return columns


def format_table(class_names: Sequence[str], per_class: dict[str, list[float]]) -> str:
    """A boxed text table with one row per class, values centred as MMSegmentation prints them."""
    headers = ["Class", *per_class]
    rows = [[str(name), *(str(per_class[col][i]) for col in per_class)] for i, name in enumerate(class_names)]
    widths = [max(len(r[c]) for r in [headers, *rows]) + 2 for c in range(len(headers))]
    rule = "+" + "+".join("-" * w for w in widths) + "+"

    def line(cells: list[str]) -> str:
        return "|" + "|".join(cell.center(w) for cell, w in zip(cells, widths)) + "|"

    return "\n".join([rule, line(headers), rule, *(line(r) for r in rows), rule])
