"""Figures of a run and of the study: titled, labelled and deterministic PNGs written atomically
(through blockbench.plotting)."""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # before pyplot loads (blockbench.plotting does the same)
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.patches import Rectangle  # noqa: E402
from matplotlib.ticker import MaxNLocator, PercentFormatter  # noqa: E402

from .plotting import figure  # noqa: E402


def _curves(history, path, title, columns, ylabel, selected_epoch, percent=False) -> None:
    """Shared body of loss_curves / accuracy_curves: one line per column against epoch."""
    with figure(path, figsize=(7, 4.5)) as (fig, ax):
        for column, label in columns:
            ax.plot(history["epoch"], history[column], marker="o", markersize=3, label=label)
        if selected_epoch is not None:
            ax.axvline(
                selected_epoch,
                color="0.4",
                linestyle="--",
                linewidth=1,
                label=f"selected epoch ({selected_epoch})",
            )
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        if percent:
            ax.yaxis.set_major_formatter(PercentFormatter(xmax=1))
        ax.set_xlabel("epoch")
        ax.set_ylabel(ylabel)
        ax.set_title(title)
        ax.grid(alpha=0.3)
        ax.legend()


def loss_curves(
    history: pd.DataFrame, path: str | Path, title: str, selected_epoch: int | None = None
) -> None:
    """Train and validation loss per epoch; the selected epoch as a dashed vertical line."""
    _curves(
        history,
        path,
        title,
        [("train_loss", "train"), ("val_loss", "validation")],
        "loss",
        selected_epoch,
    )


def accuracy_curves(
    history: pd.DataFrame, path: str | Path, title: str, selected_epoch: int | None = None
) -> None:
    """Train and validation accuracy (as %) per epoch; the selected epoch as a dashed line."""
    _curves(
        history,
        path,
        title,
        [("train_acc", "train"), ("val_acc", "validation")],
        "accuracy",
        selected_epoch,
        percent=True,
    )


def confusion_matrix(counts: np.ndarray, path: str | Path, title: str, labels=None) -> None:
    """Confusion matrix (rows actual, columns predicted) coloured by row share, cells annotated."""
    counts = np.asarray(counts)
    labels = [str(i) for i in range(len(counts))] if labels is None else list(labels)
    totals = counts.sum(axis=1, keepdims=True)
    share = np.divide(counts, totals, out=np.zeros(counts.shape), where=totals > 0)
    cmap = plt.get_cmap("Blues")
    with figure(path, figsize=(8, 7)) as (fig, ax):
        im = ax.imshow(share, cmap=cmap, vmin=0, vmax=1)
        for (i, j), n in np.ndenumerate(counts):
            r, g, b, _ = cmap(share[i, j])
            dark = 0.299 * r + 0.587 * g + 0.114 * b < 0.5
            ax.text(
                j,
                i,
                f"{n:,}\n{share[i, j]:.1%}",
                ha="center",
                va="center",
                fontsize=7,
                color="white" if dark else "black",
            )
        ax.set_xticks(range(len(labels)), labels)
        ax.set_yticks(range(len(labels)), labels)
        ax.set_xlabel("predicted")
        ax.set_ylabel("actual")
        ax.set_title(title)
        fig.colorbar(
            im,
            ax=ax,
            fraction=0.046,
            pad=0.04,
            label="share of actual class",
            format=PercentFormatter(xmax=1),
        )


def per_class_bars(per_class: dict, path: str | Path, title: str, minority=()) -> None:
    """Grouped precision / recall / F1 bars per class (sklearn classification_report dict)."""
    classes = sorted((c for c in per_class if c.isdigit()), key=int)
    minority = set(map(str, minority))
    metrics = [("precision", "precision"), ("recall", "recall"), ("f1-score", "F1")]
    width = 0.27
    x = np.arange(len(classes))
    with figure(path, figsize=(10, 4.8)) as (fig, ax):
        for i, (key, label) in enumerate(metrics):
            values = [per_class[c][key] for c in classes]
            bars = ax.bar(x + (i - 1) * width, values, width, label=label)
            ax.bar_label(
                bars, labels=[f"{v:.3f}" for v in values], fontsize=6, rotation=90, padding=2
            )
        ax.set_xticks(
            x,
            [
                f"{c}{'*' if c in minority else ''}\nn={int(per_class[c]['support']):,}"
                for c in classes
            ],
        )
        ax.set_xlabel("class (* = minority class; n = support)")
        ax.set_ylabel("score")
        ax.set_ylim(0, 1.15)
        ax.set_yticks(np.linspace(0, 1, 6))
        ax.set_title(title)
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1))


def roc_curves(y_true: np.ndarray, proba: np.ndarray, path: str | Path, title: str) -> None:
    """One-vs-rest ROC per class plus micro and macro averages, AUC in the legend.

    Classes with no positive (or no negative) example have no ROC curve and are left out. When every
    curve is above TPR 0.9 at FPR 0.1 (a good classifier, curves crowded in the top-left corner), an
    inset zooms on that corner; it then sits where no curve runs.
    """
    # scikit-learn is imported here, not at the top: the stages that draw no ROC (split,
    # aggregate) do not pay for it at start-up
    from sklearn.metrics import auc, roc_curve
    from sklearn.preprocessing import label_binarize

    classes = np.arange(proba.shape[1])
    y_bin = label_binarize(y_true, classes=classes)
    present = [k for k in classes if 0 < y_bin[:, k].sum() < len(y_bin)]
    grid = np.linspace(0, 1, 1001)
    cmap = plt.get_cmap("tab10")
    curves = []  # (fpr, tpr, label, style)
    tprs = []
    for k in present:
        fpr, tpr, _ = roc_curve(y_bin[:, k], proba[:, k])
        curves.append(
            (
                fpr,
                tpr,
                f"class {k} (AUC {auc(fpr, tpr):.4f})",
                {"color": cmap(k % 10), "linewidth": 1},
            )
        )
        tprs.append(np.interp(grid, fpr, tpr))
    fpr, tpr, _ = roc_curve(y_bin.ravel(), proba.ravel())
    curves.append(
        (
            fpr,
            tpr,
            f"micro-average (AUC {auc(fpr, tpr):.4f})",
            {"color": "black", "linewidth": 2, "linestyle": "--"},
        )
    )
    if tprs:
        mean_tpr = np.mean(tprs, axis=0)
        curves.append(
            (
                grid,
                mean_tpr,
                f"macro-average (AUC {auc(grid, mean_tpr):.4f})",
                {"color": "crimson", "linewidth": 2, "linestyle": ":"},
            )
        )
    low = min(np.interp(0.1, fpr, tpr) for fpr, tpr, _, _ in curves)
    with figure(path, figsize=(7.5, 7)) as (fig, ax):
        for fpr, tpr, label, style in curves:
            ax.plot(fpr, tpr, label=label, **style)
        ax.plot([0, 1], [0, 1], color="0.6", linestyle="-.", linewidth=1, label="chance (AUC 0.5)")
        if low >= 0.9:
            inset = ax.inset_axes([0.42, 0.45, 0.45, 0.4])
            for fpr, tpr, _, style in curves:
                inset.plot(fpr, tpr, **style)
            inset.set(xlim=(0, 0.1), ylim=(np.floor(low * 20) / 20 - 0.01, 1.005))
            inset.tick_params(labelsize=7)
            inset.grid(alpha=0.3)
            ax.indicate_inset_zoom(inset, edgecolor="0.5")
        ax.set(xlim=(-0.01, 1.01), ylim=(-0.01, 1.01), aspect="equal")
        ax.set_xlabel("false positive rate")
        ax.set_ylabel("true positive rate")
        ax.set_title(title)
        ax.legend(loc="lower right", fontsize=7, title="one-vs-rest", title_fontsize=8)


def tsne(
    features: np.ndarray,
    labels: np.ndarray,
    path: str | Path,
    title: str,
    seed: int = 0,
    max_points: int = 2000,
) -> int:
    """2-D t-SNE of a seeded subsample of `features`, coloured by true class; returns the points."""
    from sklearn.manifold import TSNE
    from threadpoolctl import threadpool_limits

    n_total = len(features)
    if n_total > max_points:
        idx = np.sort(np.random.default_rng(seed).choice(n_total, size=max_points, replace=False))
    else:
        idx = np.arange(n_total)
    x = np.asarray(features)[idx].reshape(len(idx), -1).astype(np.float64)
    y = np.asarray(labels)[idx]
    n = len(idx)
    perplexity = min(30.0, (n - 1) / 3)
    # One OpenMP thread: the same embedding on any machine, and no spin-waiting slowdown (100x seen)
    # when another process keeps the cores busy.
    with threadpool_limits(limits=1, user_api="openmp"):
        emb = TSNE(
            n_components=2, init="pca", random_state=seed, perplexity=perplexity
        ).fit_transform(x)
    cmap = plt.get_cmap("tab10")
    with figure(path, figsize=(7.5, 6.5)) as (fig, ax):
        for c in np.unique(y):
            ax.scatter(
                *emb[y == c].T, s=6, color=cmap(int(c) % 10), label=str(c), alpha=0.8, linewidths=0
            )
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_xlabel("t-SNE 1")
        ax.set_ylabel("t-SNE 2")
        ax.set_title(f"{title}\n{n:,} of {n_total:,} points, perplexity {perplexity:.3g}")
        ax.legend(title="true class", loc="upper left", bbox_to_anchor=(1.01, 1), markerscale=2.5)
    return n


def example_grid(
    images: np.ndarray,
    true: np.ndarray,
    pred: np.ndarray,
    prob: np.ndarray,
    path: str | Path,
    title: str,
    correct: bool,
    n: int = 36,
    seed: int = 0,
) -> list[int]:
    """Grid of up to `n` correctly classified or misclassified images; return the indices shown.

    Images are drawn round-robin over true classes (seeded class order and picks within a class),
    so every class with a candidate appears before any class appears twice; shown grouped by class.
    """
    true, pred = np.asarray(true), np.asarray(pred)
    candidates = np.flatnonzero((true == pred) if correct else (true != pred))
    rng = np.random.default_rng(seed)
    queue = []  # (round, class position, index): sorting gives the round-robin order
    for position, c in enumerate(rng.permutation(np.unique(true[candidates]))):
        for rnd, i in enumerate(rng.permutation(candidates[true[candidates] == c])):
            queue.append((rnd, position, int(i)))
    shown = sorted((i for _, _, i in sorted(queue)[: max(n, 0)]), key=lambda i: true[i])
    what = "correctly classified" if correct else "misclassified"
    if not shown:
        with figure(path, figsize=(6, 2.5)) as (fig, ax):
            ax.axis("off")
            ax.set_title(title)
            ax.text(0.5, 0.5, f"no {what} images", ha="center", va="center", fontsize=14)
        return shown
    cols = math.ceil(math.sqrt(len(shown)))
    rows = math.ceil(len(shown) / cols)
    # one axes holding every tile (placed by `extent`): as fast to draw for 36 tiles as for one
    # (an axes per tile took most of the plot stage's time)
    with figure(path, figsize=(max(6.5, 1.4 * cols), 1.5 * rows + 1.0)) as (fig, ax):
        for k, i in enumerate(shown):
            x, y = _tile_origin(k, cols, gap_x=0.12, gap_y=0.32)
            ax.imshow(images[i], cmap="gray", vmin=0, vmax=255, extent=(x, x + 1, y + 1, y))
            ax.text(
                x + 0.5,
                y - 0.06,
                f"{true[i]} → {pred[i]} ({prob[i]:.2f})",
                fontsize=8,
                ha="center",
                va="bottom",
                color="darkgreen" if correct else "firebrick",
            )
        _tile_axes(ax, rows, cols, gap_x=0.12, gap_y=0.32)
        fig.suptitle(
            f"{title}\n{len(shown)} of {len(candidates):,} {what} images, grouped by true class\n"
            "tile: true → predicted (predicted-class probability)",
            fontsize=11,
        )
    return shown


def _tile_origin(k: int, cols: int, gap_x: float, gap_y: float) -> tuple[float, float]:
    """Top-left corner of tile `k` (row-major) on a grid of unit tiles `gap_*` apart."""
    row, col = divmod(k, cols)
    return col * (1 + gap_x), row * (1 + gap_y) + gap_y


def _tile_axes(ax, rows: int, cols: int, gap_x: float, gap_y: float) -> None:
    """Fit the axes to a grid of `rows` x `cols` unit tiles (row 0 at the top), no frame."""
    ax.set_xlim(-gap_x / 2, cols * (1 + gap_x) - gap_x / 2)
    ax.set_ylim(rows * (1 + gap_y) + gap_y / 4, 0)
    ax.set_aspect("equal")
    ax.axis("off")


def _filter_tiles(weights: np.ndarray, kind: str) -> tuple[np.ndarray, str]:
    """Tiles [n, h, w] to draw for a weight tensor, and a note saying what a tile shows."""
    w = np.asarray(weights, dtype=np.float64)
    if w.ndim != 4:
        raise ValueError(f"filters: expected a 4-D weight tensor, got shape {w.shape}")
    out, n_in, kh, kw = w.shape
    if kind == "depthwise" and n_in == 1:
        return w[:, 0], f"each tile: one channel's {kh}×{kw} depthwise kernel"
    if kind == "pointwise" and (kh, kw) == (1, 1):
        cols = math.ceil(math.sqrt(n_in))
        rows = math.ceil(n_in / cols)
        tiles = np.full((out, rows * cols), np.nan)
        tiles[:, :n_in] = w[:, :, 0, 0]
        return tiles.reshape(
            out, rows, cols
        ), f"each tile: one output filter's {n_in} input weights,\nreshaped to {rows}×{cols}"
    if kind == "conv":
        return (
            w.mean(axis=1),
            f"each tile: one output filter's {kh}×{kw} kernel,\n"
            f"averaged over its {n_in} input channels",
        )
    raise ValueError(f"filters: weights of shape {w.shape} do not fit kind {kind!r}")


def filters(weights: np.ndarray, path: str | Path, title: str, kind: str) -> int:
    """One small tile per filter on a shared symmetric colour scale; return the tiles drawn.

    kind: "depthwise" [C,1,k,k], "pointwise" [out,in,1,1] or "conv" [out,in,k,k] (mean over inputs).
    """
    tiles, note = _filter_tiles(weights, kind)
    vmax = float(np.nanmax(np.abs(tiles))) or 1.0
    cmap = plt.get_cmap("RdBu_r").with_extremes(bad="0.85")
    cols = math.ceil(math.sqrt(len(tiles)))
    rows = math.ceil(len(tiles) / cols)
    # one axes holding every tile (placed by `extent`, framed by a rectangle), as example_grid
    with figure(path, figsize=(max(4.5, 0.62 * cols + 1.6), 0.62 * rows + 1.5)) as (fig, ax):
        for i, tile in enumerate(tiles):
            x, y = _tile_origin(i, cols, gap_x=0.35, gap_y=0.35)
            im = ax.imshow(tile, cmap=cmap, vmin=-vmax, vmax=vmax, extent=(x, x + 1, y + 1, y))
            ax.add_patch(Rectangle((x, y), 1, 1, fill=False, linewidth=0.8, edgecolor="black"))
            ax.text(x + 0.5, y - 0.04, str(i), fontsize=6, ha="center", va="bottom")
        _tile_axes(ax, rows, cols, gap_x=0.35, gap_y=0.35)
        fig.colorbar(im, ax=ax, label="weight", fraction=0.05, pad=0.02)
        fig.suptitle(f"{title}\n{note}", fontsize=10)
        drawn = len(ax.images)
    return drawn
