"""Figures that compare configurations (the aggregate stage): curves as a mean over seeds with
their range, bars of means with 95% intervals, precision-recall curves, reliability diagrams,
and per-run figures side by side. Panels of one quantity share their y-axis."""

from __future__ import annotations

from pathlib import Path

import matplotlib.image as mpimg
import numpy as np
import pandas as pd
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

from .figures import figure

CURVES = {
    "loss": ("train_loss", "val_loss", "cross-entropy loss (log scale)"),
    "accuracy": ("train_acc", "val_acc", "accuracy"),
}


def mean_curves(
    histories: dict[str, list[pd.DataFrame]],
    path: str | Path,
    title: str,
    kinds: tuple[str, ...] = ("loss", "accuracy"),
) -> None:
    """One panel per kind; each configuration one colour: the mean over its seeds (train dashed,
    validation solid) and the range over seeds shaded."""
    with figure(path, ncols=len(kinds), figsize=(6.5 * len(kinds), 4.6), squeeze=False) as (
        fig,
        axes,
    ):
        for ax, kind in zip(axes[0], kinds):
            train_col, val_col, ylabel = CURVES[kind]
            for i, (name, runs) in enumerate(histories.items()):
                colour = f"C{i}"
                n = min(len(h) for h in runs)
                epochs = runs[0]["epoch"].to_numpy()[:n]
                for col, style, part in ((train_col, "--", "train"), (val_col, "-", "validation")):
                    v = np.stack([h[col].to_numpy()[:n] for h in runs])
                    ax.plot(epochs, v.mean(0), style, color=colour, label=f"{name} {part}")
                    if len(runs) > 1:
                        ax.fill_between(epochs, v.min(0), v.max(0), color=colour, alpha=0.12)
            ax.set_xlabel("epoch")
            ax.set_ylabel(ylabel)
            if kind == "loss":
                ax.set_yscale("log")
            ax.grid(alpha=0.3)
            ax.legend(fontsize=7)
        fig.suptitle(title)


def _or(value, default):
    """`value`, or `default` when it is missing (None or NaN: one seed has no interval)."""
    return default if value is None or (isinstance(value, float) and np.isnan(value)) else value


def bars(
    panels: dict[str, dict[str, tuple[float, float | None, float | None]]],
    path: str | Path,
    title: str,
    ylabel: str,
    reference: dict[str, tuple[str, float]] | None = None,
    markers: dict[str, dict[str, float]] | None = None,
) -> None:
    """One panel per key of `panels`: a bar per label at its mean with the 95% interval as an
    error bar (none for one seed); `reference` draws a labelled horizontal line per panel and
    `markers` a labelled point per bar (e.g. the original study's number). Shared y-axis."""
    n_panels = len(panels)
    widest = max(len(v) for v in panels.values())
    with figure(
        path,
        ncols=n_panels,
        figsize=(max(5.0, 0.75 * widest + 2) * n_panels, 5.4),
        squeeze=False,
        sharey=True,
    ) as (fig, axes):
        lows = []
        for ax, (panel, values) in zip(axes[0], panels.items()):
            labels = list(values)
            means = np.array([values[k][0] for k in labels])
            lo = np.array([_or(values[k][1], values[k][0]) for k in labels])
            hi = np.array([_or(values[k][2], values[k][0]) for k in labels])
            x = np.arange(len(labels))
            ax.bar(x, means, color="C0", alpha=0.8)
            ax.errorbar(x, means, yerr=[means - lo, hi - means], fmt="none", ecolor="k", capsize=3)
            lows.append(float(lo.min()))
            if reference and panel in reference:
                name, value = reference[panel]
                ax.axhline(value, color="C3", linestyle="--", label=name)
                lows.append(value)
            if markers and panel in markers:
                pts = [(i, markers[panel][k]) for i, k in enumerate(labels) if k in markers[panel]]
                if pts:
                    ax.plot(*zip(*pts), "D", color="C1", label="original study")
                    lows.append(min(v for _, v in pts))
            ax.set_xticks(x, labels, rotation=35, ha="right", fontsize=8)
            ax.set_title(panel, fontsize=10)
            ax.grid(axis="y", alpha=0.3)
            if ax.get_legend_handles_labels()[0]:
                ax.legend(fontsize=8, loc="lower right")
        axes[0][0].set_ylabel(ylabel)
        top = max(max(_or(v[2], v[0]) for v in p.values()) for p in panels.values())
        top = max([top, *[v for _, v in (reference or {}).values()]])
        top = max([top, *[v for m in (markers or {}).values() for v in m.values()]])
        low = min(lows)
        pad = 0.08 * max(top - low, 1e-6)
        axes[0][0].set_ylim(low - pad, top + pad)
        fig.suptitle(title)


def severity(levels: pd.DataFrame, path: str | Path, threshold: float) -> None:
    """Test accuracy, balanced accuracy and minority recall against the imbalance ratio ρ (log
    axis): per architecture (colour) and remedy (solid: none; dashed, dash-dot, ...: each remedy,
    the same style for both architectures) the mean over seeds with its 95% interval shaded;
    minority recall's `threshold` (a rate, as the study declares it; drawn in %) as a dotted
    black line."""
    panels = [
        ("accuracy %", "test accuracy (%)"),
        ("balanced accuracy %", "balanced accuracy (%)"),
        ("minority recall %", "minority classes' mean recall (%)"),
    ]
    with figure(path, ncols=3, figsize=(16, 4.8), squeeze=False) as (fig, axes):
        archs = list(dict.fromkeys(levels["architecture"]))
        remedies = [r for r in dict.fromkeys(levels["remedy"]) if r != "none"]
        styles = ["--", "-.", (0, (5, 1, 1, 1, 1, 1)), (0, (8, 2))]
        for ax, (col, ylabel) in zip(axes[0], panels):
            for (arch, remedy), df in levels.groupby(["architecture", "remedy"], sort=False):
                df = df.sort_values("rho")
                colour = f"C{archs.index(arch)}"
                style = "-" if remedy == "none" else styles[remedies.index(remedy) % len(styles)]
                n = int(df["seeds"].min())
                ax.plot(
                    df["rho"],
                    df[col],
                    linestyle=style,
                    marker="o",
                    ms=3,
                    color=colour,
                    label=f"{arch}, remedy {remedy} ({n} seed{'s' if n != 1 else ''})",
                )
                # no interval at one seed (a column of None): the band is the mean itself
                lo = df[f"{col} lo"].astype(float).fillna(df[col])
                hi = df[f"{col} hi"].astype(float).fillna(df[col])
                ax.fill_between(df["rho"], lo, hi, color=colour, alpha=0.15)
            if col == "minority recall %":
                line = round(100 * threshold, 2)
                ax.axhline(line, color="k", linestyle=":", label=f"recall {line:g}%")
            ax.set_xscale("log")
            ax.set_xlabel("imbalance ratio ρ (largest / smallest training class, log scale)")
            ax.set_ylabel(ylabel)
            ax.grid(alpha=0.3, which="both")
        axes[0][2].legend(fontsize=7, loc="lower left")
        fig.suptitle("Imbalance severity: mean over seeds, 95% interval shaded")


def pr_curves(
    panels: dict[str, dict[str, pd.DataFrame]], classes: list[int], path: str | Path, title: str
) -> None:
    """One panel per architecture: each run's precision-recall curve of the minority classes
    pooled (mean precision over the classes at each recall), first seed."""
    grid = np.linspace(0, 1, 201)
    with figure(
        path, ncols=len(panels), figsize=(5.6 * len(panels), 4.8), squeeze=False, sharey=True
    ) as (fig, axes):
        for ax, (panel, runs) in zip(axes[0], panels.items()):
            for i, (label, df) in enumerate(runs.items()):
                curves = []
                for c in classes:
                    part = df[df["class"].astype(str) == str(c)].sort_values("recall")
                    # interpolated precision: the best precision at this recall or more
                    prec = np.maximum.accumulate(part["precision"].to_numpy()[::-1])[::-1]
                    curves.append(np.interp(grid, part["recall"].to_numpy(), prec))
                ax.plot(grid, np.mean(curves, 0), color=f"C{i}", label=label)
            ax.set_xlabel("recall (minority classes)")
            ax.set_title(panel, fontsize=10)
            ax.grid(alpha=0.3)
            ax.legend(fontsize=7, loc="lower left")
        axes[0][0].set_ylabel("precision, mean over the minority classes")
        fig.suptitle(title)


MIN_BIN_IMAGES = 20  # a reliability point from fewer images is noise: not drawn


def reliability(panels: dict[str, dict[str, pd.DataFrame]], path: str | Path, title: str) -> None:
    """Reliability diagrams: accuracy against mean confidence per confidence bin with at least
    MIN_BIN_IMAGES images, first seed; the diagonal is perfect calibration."""
    with figure(
        path, ncols=len(panels), figsize=(5.2 * len(panels), 4.8), squeeze=False, sharey=True
    ) as (fig, axes):
        for ax, (panel, runs) in zip(axes[0], panels.items()):
            ax.plot([0, 1], [0, 1], ":", color="0.4", label="perfect calibration")
            for i, (label, df) in enumerate(runs.items()):
                d = df[df["images"] >= MIN_BIN_IMAGES]
                ax.plot(d["confidence"], d["accuracy"], "o-", ms=3, color=f"C{i}", label=label)
            ax.set_xlabel("confidence (top-class probability)")
            ax.set_title(panel, fontsize=10)
            ax.grid(alpha=0.3)
            ax.legend(fontsize=7, loc="upper left")
        axes[0][0].set_ylabel("accuracy in the bin")
        fig.suptitle(title)


def side_by_side(images: dict[str, str | Path], path: str | Path, title: str) -> None:
    """Per-run PNGs of one kind next to each other (each carries its own title; the keys only
    order them)."""
    arrays = {label: mpimg.imread(p) for label, p in images.items()}
    h = max(a.shape[0] for a in arrays.values())
    w = sum(a.shape[1] for a in arrays.values())
    scale = 14 / max(w / 100, 1)
    with figure(
        path, ncols=len(arrays), figsize=(w / 100 * scale, h / 100 * scale + 0.6), squeeze=False
    ) as (fig, axes):
        for ax, a in zip(axes[0], arrays.values()):
            ax.imshow(a)
            ax.axis("off")
        fig.suptitle(title, fontsize=13)


PARETO_COSTS = [
    ("MACs (M)", "MACs per image (millions, log scale)"),
    ("parameters", "parameters (log scale)"),
    ("step s", "training-step time, s (benchmark, log scale)"),
]
PARETO_METRICS = [("accuracy %", "test accuracy (%)"), ("minority recall %", "minority recall (%)")]


def pareto(sweep: pd.DataFrame, path: str | Path) -> None:
    """Accuracy (top) and minority recall (bottom) against each cost (columns, log axis): per
    block type (colour) its widths joined narrow to wide, the mean over seeds with its 95%
    interval as a band; each point labelled with its seed count. A cost not measured (a width the
    benchmark has not timed) leaves its point out of that column."""
    sweep = sweep[sweep["seeds"] > 0]
    with figure(path, nrows=2, ncols=3, figsize=(16, 8.5), squeeze=False) as (fig, axes):
        for col, (cost, xlabel) in enumerate(PARETO_COSTS):
            for row, (metric, ylabel) in enumerate(PARETO_METRICS):
                ax = axes[row][col]
                for i, (kind, df) in enumerate(sweep.groupby("block type", sort=False)):
                    df = df.dropna(subset=[cost]).sort_values(cost)
                    if df.empty:
                        continue
                    x = df[cost].astype(float)
                    y = df[metric].astype(float)
                    lo = df[f"{metric} lo"].astype(float).fillna(y)
                    hi = df[f"{metric} hi"].astype(float).fillna(y)
                    colour = f"C{i}"
                    ax.plot(x, y, "-o", ms=4, color=colour, label=kind)
                    ax.fill_between(x, lo, hi, color=colour, alpha=0.18)
                    for xi, yi, n in zip(x, y, df["seeds"]):
                        ax.annotate(
                            f"n={n}",
                            (xi, yi),
                            textcoords="offset points",
                            xytext=(3, -10),
                            fontsize=6,
                            color=colour,
                        )
                ax.set_xscale("log")
                # plain numbers at the decades and 2x, 5x between; no crowded minor labels
                ax.xaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
                ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
                ax.xaxis.set_minor_formatter(NullFormatter())
                ax.set_xlabel(xlabel)
                ax.set_ylabel(ylabel)
                ax.grid(alpha=0.3, which="both")
        axes[0][0].legend(fontsize=8, loc="lower right")
        fig.suptitle("Block type at equal cost: mean over seeds, 95% interval shaded")
