"""Pictures people look at: colour overlays with a legend, label PNGs, training curves, confusion matrices."""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

IGNORE_COLOUR = (0, 0, 0)


def colorize(label: np.ndarray, palette: Sequence[Sequence[int]]) -> np.ndarray:
    """HxW class indices -> HxWx3 RGB colours (ignored/unknown values are black)."""
    table = np.zeros((256, 3), np.uint8)
    table[: len(palette)] = np.asarray(palette, np.uint8)[:256]
    return table[label.astype(np.int64).clip(0, 255)]


def save_label_png(label: np.ndarray, palette: Sequence[Sequence[int]], path: str | Path) -> None:
    """A palette-indexed PNG: pixel values are the class indices, viewers show the class colours."""
    image = Image.fromarray(label.astype(np.uint8), mode="P")
    flat = np.zeros((256, 3), np.uint8)
    flat[: len(palette)] = np.asarray(palette, np.uint8)[:256]
    image.putpalette(flat.flatten().tolist())
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    image.save(path)


def overlay(
    img_bgr: np.ndarray,
    label: np.ndarray,
    palette: Sequence[Sequence[int]],
    classes: Sequence[str] | None = None,
    opacity: float = 0.5,
    ignore_index: int = 255,
) -> np.ndarray:
    """Blend class colours onto the image (BGR out); with ``classes``, add a legend of the classes present."""
    colours = colorize(label, palette)[:, :, ::-1]
    mask = (label != ignore_index)[..., None]
    blended = np.where(mask, img_bgr * (1 - opacity) + colours * opacity, img_bgr).astype(np.uint8)
    if classes is None:
        return blended
    present = [int(c) for c in np.unique(label) if c != ignore_index and c < len(classes)]
    return add_legend(blended, [(str(classes[c]), tuple(int(v) for v in palette[c])) for c in present])


def add_legend(img_bgr: np.ndarray, entries: list[tuple[str, tuple[int, int, int]]]) -> np.ndarray:
    """A white strip under the image with one colour swatch and name per entry."""
    if not entries:
        return img_bgr
    scale = max(0.35, min(img_bgr.shape[1] / 900, 0.8))
    row_h = int(22 * scale / 0.5)
    width = img_bgr.shape[1]
    rows, x, y = [], 0, 0
    for name, _ in entries:
        text_w = cv2.getTextSize(name, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)[0][0] + row_h + 12
        if x and x + text_w > width:
            x, y = 0, y + 1
        rows.append((x, y))
        x += text_w
    strip = np.full(((y + 1) * row_h + 4, width, 3), 255, np.uint8)
    for (name, rgb), (px, py) in zip(entries, rows):
        top = py * row_h + 2
        cv2.rectangle(strip, (px + 2, top + 2), (px + row_h - 4, top + row_h - 4), rgb[::-1], -1)
        cv2.putText(
            strip, name, (px + row_h, top + row_h - 6), cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), 1, cv2.LINE_AA
        )
    return np.concatenate([img_bgr, strip], axis=0)


def side_by_side(img_bgr, gt, pred, palette, classes, opacity: float = 0.5) -> np.ndarray:
    """Ground truth overlay | prediction overlay, titled, with one legend for both."""
    panels = []
    for title, label in (("ground truth", gt), ("prediction", pred)):
        panel = overlay(img_bgr, label, palette, None, opacity)
        cv2.putText(panel, title, (4, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (255, 255, 255), 1, cv2.LINE_AA)
        panels.append(panel)
    combined = np.concatenate(panels, axis=1)
    present = sorted({int(c) for c in np.unique(np.concatenate([gt.ravel(), pred.ravel()])) if c < len(classes)})
    return add_legend(combined, [(str(classes[c]), tuple(int(v) for v in palette[c])) for c in present])


class PredictionWriter:
    """Called with each evaluated batch: saves ground truth | prediction pictures to ``show_dir`` and
    palette-indexed predicted label maps to ``out_dir``, as ``NAME.png`` in both.

    ``names`` maps each absolute image path to its NAME (``seglab.output_names.dataset_output_names``,
    which checks beforehand that no two images share one); an image not in it is named by its stem."""

    def __init__(
        self,
        classes: Sequence[str],
        palette: Sequence[Sequence[int]] | None,
        show_dir: str | Path | None = None,
        out_dir: str | Path | None = None,
        names: dict[str, str] | None = None,
    ) -> None:
        self.use_classes(classes, palette)
        self.show_dir = Path(show_dir) if show_dir else None
        self.out_dir = Path(out_dir) if out_dir else None
        self.names = names or {}

    @classmethod
    def for_dataset(cls, dataset, show_dir: str | Path | None, out_dir: str | Path | None) -> PredictionWriter | None:
        """A writer naming ``dataset``'s images by ``seglab.output_names`` (None without folders); a name
        shared by two images, or an output that would replace a dataset file, fails here, before any work.
        Classes and palette start as the dataset's; ``use_classes`` sets the model's once it is built."""
        if not (show_dir or out_dir):
            return None
        from seglab.output_names import dataset_output_names

        names = dataset_output_names(dataset, [show_dir, out_dir])
        meta = getattr(dataset, "dataset_meta", None) or {}
        return cls(meta.get("classes") or (), meta.get("palette"), show_dir, out_dir, names)

    def use_classes(self, classes: Sequence[str], palette: Sequence[Sequence[int]] | None) -> None:
        """The class names and colours the pictures show (the model's, which may come from its checkpoint)."""
        from seglab.data.datasets.base import make_palette

        self.classes = tuple(classes)
        self.palette = palette or make_palette(len(self.classes))

    def __call__(self, samples: list[dict]) -> None:
        import os

        from seglab.data.io import read_image, write_image

        for sample in samples:
            name = self.names.get(os.path.abspath(sample["img_path"])) or Path(sample["img_path"]).stem
            pred = sample["pred_sem_seg"].cpu().numpy()
            if self.out_dir is not None:
                save_label_png(pred.astype(np.uint8), self.palette, self.out_dir / f"{name}.png")
            if self.show_dir is not None:
                gt = sample["gt_sem_seg"][0].cpu().numpy()
                picture = side_by_side(read_image(sample["img_path"]), gt, pred, self.palette, self.classes)
                write_image(self.show_dir / f"{name}.png", picture)


# ----------------------------------------------------------------------------- training curves
def read_scalars(work_dir: str | Path) -> tuple[list[dict], list[dict]]:
    """(training records, validation records) from every run under ``work_dir``, later runs winning."""
    files = sorted(Path(work_dir).glob("*/vis_data/scalars.json"))
    if not files:
        from seglab.errors import SeglabError

        raise SeglabError(f"no */vis_data/scalars.json under '{work_dir}'; pass a training work dir")
    train: dict[int, dict] = {}
    val: dict[int, dict] = {}
    for path in files:
        for line in path.read_text().splitlines():
            if line.strip():
                record = json.loads(line)
                (val if "mIoU" in record or "aAcc" in record else train)[record["step"]] = record
    return [train[k] for k in sorted(train)], [val[k] for k in sorted(val)]


def plot_curves(work_dir: str | Path, out_png: str | Path) -> tuple[Path, Path]:
    """Loss terms and lr against iteration, and validation metrics, as a PNG and a CSV beside it."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    train, val = read_scalars(work_dir)
    out_png = Path(out_png)
    out_png.parent.mkdir(parents=True, exist_ok=True)
    fig, axes = plt.subplots(1, 3, figsize=(16, 4.5))
    steps = [r["step"] for r in train]
    loss_keys = [k for k in (train[0] if train else {}) if "loss" in k]
    for key in loss_keys:
        axes[0].plot(steps, [r.get(key, np.nan) for r in train], label=key, linewidth=1.2)
    axes[0].set(title="training losses", xlabel="iteration", ylabel="loss")
    axes[1].plot(steps, [r.get("lr", np.nan) for r in train], color="tab:purple")
    axes[1].set(title="learning rate", xlabel="iteration", ylabel="lr")
    axes[1].ticklabel_format(axis="y", style="sci", scilimits=(-3, 3))
    val_steps = [r["step"] for r in val]
    for key in ("mIoU", "mAcc", "aAcc", "mDice", "mFscore"):
        if any(key in r for r in val):
            axes[2].plot(val_steps, [r.get(key, np.nan) for r in val], marker="o", label=key)
    axes[2].set(title="validation", xlabel="iteration", ylabel="percent")
    for ax in axes:
        ax.grid(alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=8)
    fig.suptitle(f"training curves: {Path(work_dir).resolve().name}")
    fig.tight_layout()
    fig.savefig(out_png, dpi=100)
    plt.close(fig)
    out_csv = out_png.with_suffix(".csv")
    keys = list(dict.fromkeys(["step", *(k for r in train + val for k in r)]))
    with out_csv.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=keys)
        writer.writeheader()
        for record in sorted(train + val, key=lambda r: r["step"]):
            writer.writerow(record)
    return out_png, out_csv


# ----------------------------------------------------------------------------- confusion matrix
def save_confusion_matrix(confusion: np.ndarray, classes: Sequence[str], out_png: str | Path) -> tuple[Path, Path]:
    """Row-normalised matrix (rows: ground truth) as a PNG, and raw counts as a CSV beside it."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_png = Path(out_png)
    out_png.parent.mkdir(parents=True, exist_ok=True)
    totals = confusion.sum(axis=1, keepdims=True)
    normalised = np.divide(confusion, totals, out=np.zeros_like(confusion, dtype=float), where=totals > 0)
    n = len(classes)
    size = max(4.0, 0.45 * n + 2)
    fig, ax = plt.subplots(figsize=(size + 1, size))
    image = ax.imshow(normalised, cmap="Blues", vmin=0, vmax=1)
    fig.colorbar(image, ax=ax, fraction=0.046)
    ax.set_xticks(range(n), [str(c) for c in classes], rotation=60, ha="right", fontsize=8)
    ax.set_yticks(range(n), [str(c) for c in classes], fontsize=8)
    ax.set(xlabel="prediction", ylabel="ground truth", title="confusion matrix (rows sum to 1)")
    if n <= 30:
        for i in range(n):
            for j in range(n):
                value = normalised[i, j]
                ax.text(
                    j,
                    i,
                    f"{value:.2f}",
                    ha="center",
                    va="center",
                    fontsize=7,
                    color="white" if value > 0.5 else "black",
                )
    fig.tight_layout()
    fig.savefig(out_png, dpi=100)
    plt.close(fig)
    out_csv = out_png.with_suffix(".csv")
    with out_csv.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["ground truth \\ prediction", *classes])
        for name, row in zip(classes, confusion.astype(np.int64)):
            writer.writerow([name, *row.tolist()])
    return out_png, out_csv
