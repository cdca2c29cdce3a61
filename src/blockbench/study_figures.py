"""Figures that compare runs: overlaid curves, per-run figures side by side, recall by run."""

from __future__ import annotations

from pathlib import Path

import matplotlib.image as mpimg
import numpy as np
import pandas as pd

from .figures import figure

CURVES = {
    "loss": ("train_loss", "val_loss", "cross-entropy loss"),
    "accuracy": ("train_acc", "val_acc", "accuracy"),
}


def overlay_curves(
    histories: dict[str, pd.DataFrame],
    path: str | Path,
    title: str,
    kinds: tuple[str, ...] = ("loss", "accuracy"),
) -> None:
    """One panel per kind; each run one colour, train dashed and validation solid."""
    with figure(path, ncols=len(kinds), figsize=(6.5 * len(kinds), 4.5), squeeze=False) as (
        fig,
        axes,
    ):
        for ax, kind in zip(axes[0], kinds):
            train_col, val_col, ylabel = CURVES[kind]
            for i, (name, h) in enumerate(histories.items()):
                colour = f"C{i}"
                ax.plot(
                    h["epoch"], h[train_col], "--", color=colour, alpha=0.7, label=f"{name} train"
                )
                ax.plot(h["epoch"], h[val_col], "-", color=colour, label=f"{name} validation")
            ax.set_xlabel("epoch")
            ax.set_ylabel(ylabel)
            if kind == "loss":
                ax.set_yscale("log")
            ax.grid(alpha=0.3)
            ax.legend(fontsize=8)
        fig.suptitle(title)


def side_by_side(images: dict[str, str | Path], path: str | Path, title: str) -> None:
    """Per-run PNGs of one kind next to each other, each under its run's label."""
    arrays = {label: mpimg.imread(p) for label, p in images.items()}
    h = max(a.shape[0] for a in arrays.values())
    w = sum(a.shape[1] for a in arrays.values())
    scale = 14 / max(w / 100, 1)
    with figure(
        path, ncols=len(arrays), figsize=(w / 100 * scale, h / 100 * scale + 0.6), squeeze=False
    ) as (fig, axes):
        for ax, (label, a) in zip(axes[0], arrays.items()):
            ax.imshow(a)
            ax.set_title(label, fontsize=11)
            ax.axis("off")
        fig.suptitle(title, fontsize=13)


def recall_by_run(recalls: pd.DataFrame, path: str | Path, title: str, minority: list[int]) -> None:
    """Grouped bars: recall of each minority class and the majority mean, per run."""
    cols = [str(c) for c in minority] + ["majority mean"]
    x = np.arange(len(recalls))
    width = 0.8 / len(cols)
    with figure(path, figsize=(max(8, 1.1 * len(recalls)), 5.2)) as (fig, ax):
        for i, col in enumerate(cols):
            label = (
                f"class {col} (minority)" if col != "majority mean" else "majority classes, mean"
            )
            ax.bar(x + (i - (len(cols) - 1) / 2) * width, recalls[col], width, label=label)
        ax.set_xticks(x, recalls.index, rotation=30, ha="right")
        ax.set_ylabel("test recall")
        ax.set_ylim(max(0.0, float(recalls[cols].min().min()) - 0.05), 1.0)
        ax.set_title(title)
        ax.grid(axis="y", alpha=0.3)
        ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.3), ncols=len(cols))


def remedy_recall(recalls: dict[str, dict[str, float]], path: str | Path, title: str) -> None:
    """One panel per architecture: mean minority recall per remedy, the balanced bound as a line."""
    with figure(path, ncols=len(recalls), figsize=(6 * len(recalls), 5.2), squeeze=False) as (
        fig,
        axes,
    ):
        for ax, (arch, values) in zip(axes[0], recalls.items()):
            names = list(values)
            bound_name = names[-1]
            bars = names[:-1]
            colours = ["0.55" if n == "none" else "C0" for n in bars]
            ax.bar(range(len(bars)), [values[n] for n in bars], color=colours)
            ax.axhline(values[bound_name], color="C3", linestyle="--", label=bound_name)
            ax.axhspan(
                values[bound_name] - 0.01,
                values[bound_name],
                color="C3",
                alpha=0.12,
                label="within 1 pp of the bound",
            )
            for i, n in enumerate(bars):
                ax.text(i, values[n], f"{values[n]:.3f}", ha="center", va="bottom", fontsize=8)
            ax.set_xticks(range(len(bars)), bars, rotation=30, ha="right")
            low = min(values.values())
            ax.set_ylim(max(0.0, low - 0.1), 1.0)
            ax.set_ylabel("mean recall of the minority classes (test)")
            ax.set_title(arch)
            ax.grid(axis="y", alpha=0.3)
            ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.32), ncols=2)
        fig.suptitle(title)
