"""The split stage's figure: images per class in each subset. Its own module, apart from
blockbench.figures (a run's figures), so that editing how runs are drawn leaves the split stage's
code, and so under Snakemake every training keyed on it, untouched."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .plotting import figure


def class_distribution(record: dict, path: str | Path, title: str) -> None:
    """Grouped bars of images per class in train / val / test, counts on top."""
    counts = record["class_counts"]
    subsets = ["train", "val", "test"]
    classes = sorted(counts["train"], key=int)
    width = 0.27
    x = np.arange(len(classes))
    with figure(path, figsize=(9, 4.5)) as (fig, ax):
        for i, subset in enumerate(subsets):
            values = [counts[subset][c] for c in classes]
            bars = ax.bar(x + (i - 1) * width, values, width, label=f"{subset} (n={sum(values):,})")
            ax.bar_label(
                bars, labels=[f"{v:,}" for v in values], fontsize=6, rotation=90, padding=2
            )
        minority = set(map(str, record["config"]["minority_classes"]))
        ax.set_xticks(x, [f"{c}*" if c in minority else c for c in classes])
        ax.set_xlabel("class (* = minority class)")
        ax.set_ylabel("images")
        ax.set_title(title)
        ax.margins(y=0.2)
        ax.legend(loc="upper center", ncols=3)
